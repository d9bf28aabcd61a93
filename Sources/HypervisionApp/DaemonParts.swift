import HypervisionCore
import HypervisionDemo
import HypervisionIngestServer
import HypervisionLive
import HypervisionStore
import HypervisionStream
import Logging
import Metrics
import ServiceLifecycle
import PostgresNIO

// The daemon's parts, each built from its own configuration section. ``Daemon`` only puts
// them in order under one ServiceGroup.

/// PostgreSQL and everything that reads or writes it: the pool, the supervisor (migrations,
/// partitions), the durable writer with its spool, and the stores the API queries.
struct StorageParts {
    let database: Database
    let status = DatabaseStatus()
    let pings: PingStore
    let spool: Spool
    let writer: PingWriter
    let supervisor: DatabaseSupervisor
    let cameras: CameraStore
    let incidents: IncidentStore
    let history: HistoryStore
    let sceneLog: SceneLogStore

    init(
        configuration: StoreConfiguration, endpoint: DatabaseEndpoint, stateDirectory: String, logger: Logger,
        metricsFactory: any MetricsFactory
    ) throws {
        // The server ends a runaway statement; Database closes the connection of one whose
        // server does not answer at all, a little later.
        let statementTimeout = configuration.statementTimeout
        database = try Database(
            endpoint: endpoint,
            configure: { pool in
                pool.options.maximumConnections = configuration.poolSize
                pool.options.additionalStartupParameters.append(("statement_timeout", String(statementTimeout.nanoseconds / 1_000_000)))
                pool.options.additionalStartupParameters.append(("idle_in_transaction_session_timeout", "60000"))
            },
            logger: logger, defaultDeadline: statementTimeout + .seconds(2), metricsFactory: metricsFactory)
        pings = PingStore(database: database)
        spool = try Spool(directory: stateDirectory + "/spool", maximumBytes: configuration.spoolMaximumBytes)
        writer = PingWriter(
            store: pings, status: status, spool: spool, configuration: configuration.writer, logger: logger, metricsFactory: metricsFactory)
        supervisor = DatabaseSupervisor(
            database: database, store: pings, status: status, configuration: configuration.retention, logger: logger, onReady: {})
        cameras = CameraStore(database: database)
        incidents = IncidentStore(database: database)
        history = HistoryStore(database: database)
        sceneLog = SceneLogStore(database: database)
    }
}

/// The live picture, fed by every ingest path before the database write, and what keeps it:
/// the callsign registry and the keeper that forgets silent units.
struct LiveParts {
    let state: LiveState
    let callsigns: CallsignRegistry
    let services: [any Service]
    /// With `cluster.node` set: sends the pings taken here to the other daemons.
    private let publisher: LiveFeedPublisher?
    private let writer: PingWriter
    private let metricsFactory: any MetricsFactory

    init(configuration: DaemonConfiguration, storage: StorageParts, logger: Logger, metricsFactory: any MetricsFactory) {
        let metrics = LiveUnitMetrics(factory: metricsFactory)
        let state = LiveState(picture: LivePicture(configuration: configuration.units, onUnitCountChange: metrics.observe))
        self.state = state
        callsigns = CallsignRegistry(live: state, history: storage.history, logger: logger, capacity: configuration.units.maximumUnits)
        var services: [any Service] = [callsigns, LiveUnitKeeper(picture: state.picture, logger: logger)]
        if configuration.cluster.isShared {
            let node = configuration.cluster.node
            let feedMetrics = LiveFeedMetrics(factory: metricsFactory)
            let publisher = LiveFeedPublisher(database: storage.database, node: node, metrics: feedMetrics, logger: logger)
            let listener = LiveFeedListener(
                database: storage.database, node: node, metrics: feedMetrics, logger: logger,
                onPings: { state.picture.apply($0) },
                onJoined: { [history = storage.history, status = storage.status] in
                    // Published while this daemon was not listening: the stored latest positions
                    // have it (once the schema is there; before, the start-up loader does it).
                    guard status.isSchemaReady else { return }
                    let settings = state.picture.configuration
                    let since = settings.forgetAfter.map { Timestamp.now().adding(seconds: -$0) }
                    state.picture.load(positions: try await history.latestPositions(heardSince: since, limit: settings.maximumUnits))
                })
            services += [publisher, listener]
            self.publisher = publisher
        } else {
            publisher = nil
        }
        self.services = services
        writer = storage.writer
        self.metricsFactory = metricsFactory
    }

    /// The path of one ingest protocol into the writer, showing its pings on the live picture
    /// (and, in a cluster, on the other daemons' pictures).
    func intake(_ name: String) -> PingIntake {
        PingIntake(
            storage: writer, protocol: name, metricsFactory: metricsFactory,
            observe: { [state, publisher] in
                state.picture.apply($0)
                publisher?.offer($0)
            },
            observeCallsigns: { [callsigns] in callsigns.note($0) })
    }
}

/// The walls: definitions (files, the API, the demo), the layout loop and the hub that serves
/// scenes to renderers.
struct WallParts {
    let hub: SceneHub
    let service: WallService

    init(
        configuration: StreamConfiguration, demo: Bool, storage: StorageParts, live: LiveParts, logger: Logger,
        metricsFactory: any MetricsFactory
    ) {
        hub = SceneHub(configuration: configuration.hub, metricsFactory: metricsFactory)
        let inputs = WallInputs(live: live.state)
        service = WallService(
            configuration: configuration.walls, hub: hub, log: storage.sceneLog, logger: logger, metricsFactory: metricsFactory,
            inputs: { inputs.inputs(unitsSince: $0) })
        Daemon.loadWallFiles(into: service, directory: configuration.wallsDirectory, logger: logger)
        if demo {
            do {
                // Defined as through the API, so that operators can change its presets from the
                // console (PUT); a change is kept in PostGIS and comes back at the next start.
                try service.define(json: DemoWall.definition, origin: .api)
            } catch {
                logger.error("the demo wall is refused", metadata: ["error": "\(error)"])
            }
        }
    }
}
