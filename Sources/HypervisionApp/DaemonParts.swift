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
    private let writer: PingWriter
    private let metricsFactory: any MetricsFactory

    init(configuration: DaemonConfiguration, storage: StorageParts, logger: Logger, metricsFactory: any MetricsFactory) {
        let metrics = LiveUnitMetrics(factory: metricsFactory)
        state = LiveState(picture: LivePicture(configuration: configuration.units, onUnitCountChange: metrics.observe))
        callsigns = CallsignRegistry(live: state, history: storage.history, logger: logger, capacity: configuration.units.maximumUnits)
        services = [callsigns, LiveUnitKeeper(picture: state.picture, logger: logger)]
        writer = storage.writer
        self.metricsFactory = metricsFactory
    }

    /// The path of one ingest protocol into the writer, showing its pings on the live picture.
    func intake(_ name: String) -> PingIntake {
        PingIntake(
            storage: writer, protocol: name, metricsFactory: metricsFactory, observe: { [state] in state.picture.apply($0) },
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
