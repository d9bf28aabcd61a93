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
import Synchronization

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

    /// `node`: this daemon's name in a cluster (empty: alone), shown as the `application_name`
    /// of its connections, so `pg_stat_activity` says which daemon holds which.
    init(
        configuration: StoreConfiguration, node: String, endpoint: DatabaseEndpoint, stateDirectory: String, logger: Logger,
        metricsFactory: any MetricsFactory
    ) throws {
        // The server ends a runaway statement; Database closes the connection of one whose
        // server does not answer at all, a little later.
        let statementTimeout = configuration.statementTimeout
        let sessionParameters = configuration.sessionParameters(node: node)
        database = try Database(
            endpoint: endpoint,
            configure: { pool in
                pool.options.maximumConnections = configuration.poolSize
                pool.options.additionalStartupParameters += sessionParameters
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
    /// In a cluster: sends the pings taken here to the other daemons.
    private let publisher: LiveFeedPublisher?
    private let writer: PingWriter
    private let metricsFactory: any MetricsFactory

    init(
        configuration: DaemonConfiguration, storage: StorageParts, publisher: LiveFeedPublisher?, logger: Logger,
        metricsFactory: any MetricsFactory
    ) {
        let metrics = LiveUnitMetrics(factory: metricsFactory)
        state = LiveState(picture: LivePicture(configuration: configuration.units, onUnitCountChange: metrics.observe))
        callsigns = CallsignRegistry(live: state, history: storage.history, logger: logger, capacity: configuration.units.maximumUnits)
        services = [callsigns, LiveUnitKeeper(picture: state.picture, logger: logger)]
        self.publisher = publisher
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

/// With `cluster.node` set, what makes this daemon one of several on a database: the live feed
/// (this daemon's pings out, the others' in), the walls it lays out (one daemon per wall), and
/// the relay of scenes between them. Made in two steps, around the live picture and the walls
/// that it connects: ``init(configuration:storage:logger:metricsFactory:)`` before them,
/// ``services(live:walls:storage:)`` after.
struct ClusterParts {
    let node: String
    let metrics: LiveFeedMetrics
    let publisher: LiveFeedPublisher
    let ownership: WallOwnership
    /// The daemons heard on the feed (`GET /api/v1/cluster`).
    let directory = ClusterDirectory()
    private let configuration: DaemonConfiguration
    private let wallIDs: WallIDSource
    private let logger: Logger
    private let metricsFactory: any MetricsFactory

    init?(configuration: DaemonConfiguration, storage: StorageParts, logger: Logger, metricsFactory: any MetricsFactory) {
        guard configuration.cluster.isShared else { return nil }
        node = configuration.cluster.node
        self.configuration = configuration
        metrics = LiveFeedMetrics(factory: metricsFactory)
        publisher = LiveFeedPublisher(database: storage.database, node: node, metrics: metrics, logger: logger)
        let wallIDs = WallIDSource()
        self.wallIDs = wallIDs
        let owned = Gauge(label: "hypervision_cluster_walls_owned", factory: metricsFactory)
        owned.record(0)
        ownership = WallOwnership(wanted: { wallIDs.ids() })
        self.logger = logger
        self.metricsFactory = metricsFactory
        ownership.observe { [ownership] _, _ in owned.record(ownership.ownedWalls.count) }
    }

    /// The relay and the listener, once the live picture and the walls exist.
    func services(live: LiveParts, walls: WallParts, storage: StorageParts) -> [any Service] {
        wallIDs.set { walls.service.wallIDs }
        let relay = SceneRelay(
            node: node, walls: walls.service, ownership: ownership, publisher: publisher, logger: logger, metricsFactory: metricsFactory)
        ownership.observe { taken, given in relay.walls(taken: taken, given: given) }
        walls.service.observeChanges { relay.announce($0) }
        walls.hub.observePublications { key, seq, operations in relay.published(key, seq: seq, operations: operations) }
        let state = live.state
        let refresher = SharedStateRefresher(live: state, cameras: storage.cameras, incidents: storage.incidents, logger: logger)
        let listener = LiveFeedListener(
            database: storage.database, node: node, metrics: metrics, logger: logger, ownership: ownership,
            onPings: { state.picture.apply($0) },
            onMessage: { [directory] in
                if !directory.heard($0) && !refresher.heard($0) { relay.receive($0) }
            },
            onJoined: { [history = storage.history, status = storage.status] in
                relay.joined()
                // Published while this daemon was not listening: the stored latest positions
                // have it, and the tables the others may have changed meanwhile (once the
                // schema is there; before, the start-up loader reads them).
                guard status.isSchemaReady else { return }
                refresher.markAll()
                let settings = state.picture.configuration
                let since = settings.forgetAfter.map { Timestamp.now().adding(seconds: -$0) }
                state.picture.load(positions: try await history.latestPositions(heardSince: since, limit: settings.maximumUnits))
            })
        let heartbeat = ClusterHeartbeat(configuration: configuration, ownership: ownership, directory: directory, publisher: publisher)
        return [publisher, listener, relay, heartbeat, refresher]
    }
}

/// The walls defined here, for the ownership made before the walls are.
private final class WallIDSource: Sendable {
    private let source = CallbackSlot<Void, [String]>()
    func set(_ ids: @escaping @Sendable () -> [String]) { source.set(ids) }
    func ids() -> [String] { source(()) ?? [] }
}

/// The walls: definitions (files, the API, the demo), the layout loop and the hub that serves
/// scenes to renderers.
struct WallParts {
    let hub: SceneHub
    let service: WallService

    /// `ownership`: in a cluster, the walls this daemon lays out (the others are relayed).
    init(
        configuration: StreamConfiguration, demo: Bool, storage: StorageParts, live: LiveParts, ownership: WallOwnership?, logger: Logger,
        metricsFactory: any MetricsFactory
    ) {
        hub = SceneHub(configuration: configuration.hub, metricsFactory: metricsFactory)
        let inputs = WallInputs(live: live.state)
        service = WallService(
            configuration: configuration.walls, hub: hub, log: storage.sceneLog, logger: logger, metricsFactory: metricsFactory,
            laidOutHere: { ownership?.laysOut($0) ?? true }, loggedHere: { ownership?.owns($0) ?? true },
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
