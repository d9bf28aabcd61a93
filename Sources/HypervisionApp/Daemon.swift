import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HypervisionCore
import HypervisionDemo
import HypervisionHTTP
import HypervisionIngestServer
import HypervisionLayout
import HypervisionLive
import HypervisionNetwork
import HypervisionStore
import HypervisionStream
import HummingbirdWebSocket
import NIOSSL
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// The composition root: turns a ``DaemonConfiguration`` into running services under one
/// `ServiceGroup`, and owns the embedded PostgreSQL when there is no external database.
public struct Daemon {
    public var configuration: DaemonConfiguration
    public var configurationFile: String?
    public var overrides: [String: String]
    public var logger: Logger
    public var logLevel: LogLevelControl
    public var registry: PrometheusCollectorRegistry
    public var metricsFactory: any MetricsFactory
    public var environment: [String: String]

    public init(
        configuration: DaemonConfiguration, configurationFile: String?, overrides: [String: String], logger: Logger,
        logLevel: LogLevelControl, registry: PrometheusCollectorRegistry, metricsFactory: any MetricsFactory,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.configuration = configuration
        self.configurationFile = configurationFile
        self.overrides = overrides
        self.logger = logger
        self.logLevel = logLevel
        self.registry = registry
        self.metricsFactory = metricsFactory
        self.environment = environment
    }

    /// Runs until SIGTERM or SIGINT, then shuts down in order: listeners, the writer (pending
    /// pings committed or spooled), the database client, and last the embedded cluster.
    public func run() async throws {
        let notifier = SystemdNotifier(environment: environment)
        let stateDirectory = configuration.resolvedStateDirectory(environment: environment)
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError(key: "state.dir", problem: "cannot create \(stateDirectory): \(error.localizedDescription)")
        }
        logger.info("state directory", metadata: ["path": "\(stateDirectory)"])
        // Before anything starts: a TLS file that cannot be loaded stops the start-up at once.
        let tls = try ListenerTLS(configuration)

        var embedded: EmbeddedPostgres?
        let endpoint: DatabaseEndpoint
        if configuration.databaseURL.isEmpty && !DatabaseEndpoint.environmentSelectsServer(environment) {
            var settings = EmbeddedPostgresConfiguration(baseDirectory: stateDirectory)
            settings.binDirectory = configuration.embeddedBinDirectory
            settings.systemUser = configuration.embeddedUser
            let cluster = EmbeddedPostgres(configuration: settings, logger: logger)
            notifier.status("starting the embedded PostgreSQL")
            endpoint = try await cluster.start()
            embedded = cluster
            logger.notice("using the embedded PostgreSQL", metadata: ["socket": "\(endpoint.unixSocketPath)"])
        } else {
            endpoint = try DatabaseEndpoint.resolve(
                url: configuration.databaseURL, environment: environment, currentUser: currentUserName())
            logger.notice("using an external PostgreSQL", metadata: ["endpoint": "\(endpoint)"])
        }

        let stopDeadline = StopDeadline(timeout: configuration.shutdownTimeout, logger: logger)
        do {
            try await runServices(endpoint: endpoint, stateDirectory: stateDirectory, tls: tls, notifier: notifier, stopDeadline: stopDeadline)
        } catch {
            try? embedded?.stop(timeout: stopDeadline.remaining)
            throw error
        }
        try embedded?.stop(timeout: stopDeadline.remaining)
    }

    /// Without tokens nobody is authenticated, so nothing may listen beyond this machine.
    var httpHost: String {
        if configuration.tokens.isEmpty && !["127.0.0.1", "::1", "localhost"].contains(configuration.httpHost) {
            return "127.0.0.1"
        }
        return configuration.httpHost
    }

    private func runServices(
        endpoint: DatabaseEndpoint, stateDirectory: String, tls: ListenerTLS, notifier: SystemdNotifier, stopDeadline: StopDeadline
    ) async throws {
        if configuration.tokens.isEmpty {
            logger.warning(
                "no access tokens configured (auth.tokens): authentication is off, so listening on loopback only",
                metadata: ["configured_host": "\(configuration.httpHost)", "listening_host": "\(httpHost)"])
        }
        // The server ends a runaway statement; Database closes the connection of one whose
        // server does not answer at all, a little later.
        let statementTimeout = configuration.databaseStatementTimeout
        let poolSize = configuration.databasePoolSize
        let database = try Database(
            endpoint: endpoint,
            configure: { pool in
                pool.options.maximumConnections = poolSize
                pool.options.additionalStartupParameters.append(("statement_timeout", String(statementTimeout.nanoseconds / 1_000_000)))
                pool.options.additionalStartupParameters.append(("idle_in_transaction_session_timeout", "60000"))
            },
            logger: logger, defaultDeadline: statementTimeout + .seconds(2), metricsFactory: metricsFactory)

        let status = DatabaseStatus()
        let store = PingStore(database: database)
        let spool = try Spool(directory: stateDirectory + "/spool", maximumBytes: configuration.spoolMaximumBytes)
        let writer = PingWriter(
            store: store, status: status, spool: spool, configuration: configuration.writer, logger: logger,
            metricsFactory: metricsFactory)

        let progressWindow = configuration.writer.writeTimeout + configuration.writer.retryInterval * 2 + .seconds(5)
        let systemd = SystemdService(
            notifier: notifier, status: status, writer: writer, progressWindow: progressWindow,
            watchdogInterval: SystemdNotifier.watchdogInterval(environment: environment), logger: logger)

        var supervisorConfiguration = DatabaseSupervisorConfiguration()
        supervisorConfiguration.retentionDays = configuration.retentionDays
        supervisorConfiguration.partitionsAhead = configuration.partitionsAhead
        let supervisor = DatabaseSupervisor(
            database: database, store: store, status: status, configuration: supervisorConfiguration,
            logger: logger,
            onReady: {})

        // The live picture: updated by every ingest path before the database write.
        let liveMetrics = LiveUnitMetrics(factory: metricsFactory)
        let live = LiveState(picture: LivePicture(configuration: configuration.livePicture, onUnitCountChange: liveMetrics.observe))
        let observe: @Sendable ([Ping]) -> Void = { live.picture.apply($0) }
        let cameraStore = CameraStore(database: database)
        let incidentStore = IncidentStore(database: database)
        let history = HistoryStore(database: database)
        let callsigns = CallsignRegistry(live: live, history: history, logger: logger, capacity: configuration.unitsMaximumLive)
        func intake(_ name: String) -> PingIntake {
            PingIntake(
                storage: writer, protocol: name, metricsFactory: metricsFactory, observe: observe,
                observeCallsigns: { callsigns.note($0) })
        }

        // Walls: definitions, the layout loop, the hub that serves scenes to renderers.
        var hubConfiguration = SceneHub.Configuration()
        hubConfiguration.subscriber = SubscriberStateMachine.Configuration(
            maximumMessagesPerSecond: configuration.subscriptionMaximumRate,
            heartbeatInterval: .milliseconds(Int64(configuration.subscriptionHeartbeatSeconds * 1000)))
        hubConfiguration.maximumSubscribers = configuration.subscriptionMaximumConnections * 2
        hubConfiguration.history = SceneHistory.Limits(
            maximumPatches: configuration.subscriptionHistoryMaximumPatches, maximumBytes: configuration.subscriptionHistoryMaximumBytes)
        let hub = SceneHub(configuration: hubConfiguration, metricsFactory: metricsFactory)
        var wallConfiguration = WallService.Configuration()
        wallConfiguration.interval = .milliseconds(Int64(configuration.wallsIntervalMilliseconds))
        wallConfiguration.keyframeInterval = .seconds(Int64(configuration.wallsKeyframeSeconds))
        let layoutCameras = LayoutCameras()
        let walls = WallService(
            configuration: wallConfiguration, hub: hub, log: SceneLogStore(database: database), logger: logger,
            metricsFactory: metricsFactory, inputs: { unitsSince in live.layoutInputs(at: .now(), unitsSince: unitsSince, cameras: layoutCameras) })
        Self.loadWallFiles(into: walls, directory: configuration.wallsDirectory, logger: logger)
        if configuration.demo {
            do {
                // Defined as through the API, so that operators can change its presets from the
                // console (PUT); a change is kept in PostGIS and comes back at the next start.
                try walls.define(json: DemoWall.definition, origin: .api)
            } catch {
                logger.error("the demo wall is refused", metadata: ["error": "\(error)"])
            }
        }
        // Set once the live picture is rebuilt: /readyz waits for it, and so does the demo.
        let liveLoaded = Flag()
        let loader = LiveStateLoader(
            live: live, status: status, spool: spool, history: history, cameras: cameraStore, incidents: incidentStore, walls: walls, logger: logger,
            onLoaded: {
                liveLoaded.set()
                systemd.databaseReady()
            })

        let router = Router()
        // First: middleware wraps only the routes added after it.
        router.add(middleware: APIErrorMiddleware())
        let authority = TokenAuthority(tokens: configuration.tokens)
        PingIngestRoutes(intake: intake("http"), authority: authority, limits: configuration.httpIngest).addRoutes(to: router)
        let incidents = IncidentDesk(store: incidentStore, router: configuration.incidentRouter, live: live)
        IncidentRoutes(desk: incidents, authority: authority).addRoutes(to: router)
        CameraRoutes(store: cameraStore, authority: authority, configuration: configuration.cameras, incidents: incidents, live: live)
            .addRoutes(to: router)
        QueryRoutes(live: live, history: history, incidents: incidentStore, authority: authority).addRoutes(to: router)
        WallRoutes(walls: walls, authority: authority).addRoutes(to: router)
        // The wall pages beside the preview: renderer, console, basemap (issue 17).
        let basemapOverlays = BasemapOverlays()
        WallPageRoutes().addRoutes(to: router)
        BasemapRoutes(settings: configuration.wallPages.basemap, overlays: basemapOverlays, logger: logger).addRoutes(to: router)
        let spoolLimit = configuration.spoolMaximumBytes
        HealthRoutes(registry: registry) {
            PipelineSnapshot(
                database: status.current, databaseSummary: status.summary, spoolBytes: writer.spooledBytes,
                spoolMaximumBytes: spoolLimit, queuedPings: writer.queuedPings, liveLoaded: liveLoaded.isSet)
        }.addRoutes(to: router)
        // Hummingbird closes nothing by itself: caps and per-phase deadlines are the guard's.
        let httpGate = ConnectionGate(
            port: "http",
            limits: AdmissionLimits(
                maximumConnections: configuration.httpMaximumConnections, maximumPerAddress: configuration.httpMaximumConnectionsPerAddress),
            metricsFactory: metricsFactory)
        var streamRoutes = WallStreamRoutes(hub: hub, authority: authority, gate: httpGate)
        streamRoutes.subscribeTimeout = .seconds(configuration.subscriptionSubscribeTimeoutSeconds)
        let http = Application(
            router: router,
            server: streamRoutes.serverBuilder(deadlines: configuration.httpDeadlines, tls: tls.http),
            configuration: .init(address: .hostname(httpHost, port: configuration.httpPort), serverName: "hypervisiond"),
            onServerRunning: { [logger] channel in
                logger.notice("HTTP listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")", "tls": "\(tls.http != nil)"])
                systemd.listenerBound()
            },
            logger: logger)

        let reload = ReloadService(
            filePath: configurationFile, overrides: overrides, initial: configuration, logLevel: logLevel,
            supervisor: supervisor, notifier: notifier, logger: logger,
            onReload: { [logger, directory = configuration.wallsDirectory] fresh in
                if fresh.wallsDirectory != directory {
                    logger.warning("walls.directory changed: restart to use the new directory; reloading the old one")
                }
                Self.loadWallFiles(into: walls, directory: directory, logger: logger)
            })

        // Started in this order, stopped in reverse: the database (its pool) stops last so the
        // writer can flush through it; systemd hears STOPPING=1 first.
        // Every listener reports when bound; READY=1 waits for as many as there are here.
        var listeners: [any Service] = [http]
        if configuration.tcpIngestEnabled {
            var tcp = configuration.tcpIngest
            tcp.host = httpHost
            listeners.append(
                NDJSONIngestServer(
                    configuration: tcp, tls: tls.tcpIngest, intake: intake("tcp"),
                    authority: authority, logger: logger, metricsFactory: metricsFactory, onBound: { _ in systemd.listenerBound() }))
        }
        if configuration.osmandEnabled {
            let osmandRouter = Router(context: PeerRequestContext.self)
            OsmAndRoutes(
                intake: intake("osmand"), authority: authority,
                configuration: configuration.osmand
            ).addRoutes(to: osmandRouter)
            let osmandGate = ConnectionGate(
                port: "ingest.osmand",
                limits: AdmissionLimits(
                    maximumConnections: configuration.osmandMaximumConnections,
                    maximumPerAddress: configuration.osmandMaximumConnectionsPerAddress),
                metricsFactory: metricsFactory)
            listeners.append(
                Application(
                    router: osmandRouter,
                    server: OsmAndRoutes.serverBuilder(gate: osmandGate, deadlines: configuration.httpDeadlines, tls: tls.osmand),
                    configuration: .init(address: .hostname(httpHost, port: configuration.osmand.port), serverName: "hypervisiond-osmand"),
                    onServerRunning: { [logger] channel in
                        logger.notice(
                            "OsmAnd ingest listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")", "tls": "\(tls.osmand != nil)"])
                        systemd.listenerBound()
                    },
                    logger: logger))
        }
        if configuration.cotEnabled {
            var cot = configuration.cot
            cot.host = httpHost
            let cotIntake = intake("cot")
            listeners.append(
                CoTIngestServer(
                    configuration: cot, tls: tls.cot, intake: cotIntake, logger: logger, metricsFactory: metricsFactory,
                    onBound: { _ in systemd.listenerBound() }))
            var datagrams = UDPIngestConfiguration()
            datagrams.host = httpHost
            datagrams.port = cot.port
            datagrams.allowedNetworks = cot.allowedNetworks
            datagrams.format = .cursorOnTarget
            datagrams.name = "ingest.cot"
            listeners.append(
                UDPIngestServer(
                    configuration: datagrams, intake: cotIntake, logger: logger, metricsFactory: metricsFactory,
                    onBound: { _ in systemd.listenerBound() }))
        }
        if configuration.udpIngestEnabled {
            var udp = configuration.udpIngest
            udp.host = httpHost
            listeners.append(
                UDPIngestServer(
                    configuration: udp, intake: intake("udp"),
                    logger: logger, metricsFactory: metricsFactory, onBound: { _ in systemd.listenerBound() }))
        }
        if configuration.subscriptionsEnabled {
            var subscriptions = SubscriptionServerConfiguration()
            subscriptions.host = httpHost
            subscriptions.port = configuration.subscriptionPort
            subscriptions.maximumConnections = configuration.subscriptionMaximumConnections
            subscriptions.maximumUnsubscribed = configuration.subscriptionMaximumUnsubscribed
            subscriptions.maximumConnectionsPerAddress = configuration.subscriptionMaximumConnectionsPerAddress
            subscriptions.maximumUnsubscribedPerAddress = configuration.subscriptionMaximumUnsubscribedPerAddress
            subscriptions.subscribeTimeout = .seconds(Int64(configuration.subscriptionSubscribeTimeoutSeconds))
            subscriptions.tls = tls.subscriptions
            listeners.append(
                SubscriptionServer(
                    configuration: subscriptions, hub: hub, authority: authority, logger: logger, metricsFactory: metricsFactory,
                    onBound: { _ in systemd.listenerBound() }))
        }
        systemd.expect(listeners: listeners.count)
        // The hub's service comes after the listeners so that it stops before them: renderers are
        // told `shutting_down` and closed, and the listeners then have no connection to wait for.
        var services: [any Service] = [database, supervisor, writer, loader, callsigns, LiveUnitKeeper(picture: live.picture, logger: logger), walls]
            + listeners + [SceneHubService(hub: hub)]
        if configuration.demo {
            services.append(
                DemoFeed(
                    intake: intake("demo"), cameras: cameraStore, incidents: incidents, history: history, live: live, isReady: { liveLoaded.isSet },
                    logger: logger,
                    video: DemoVideo(port: configuration.wallPages.demoVideoPort, ports: configuration.wallPages.demoVideoPorts),
                    overlays: basemapOverlays))
        }
        services.append(reload)
        services.append(systemd)
        // Last, so it hears of the stop first and times all of it.
        services.append(stopDeadline)
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Services still running this late are cancelled; StopDeadline ends the process if even
        // that does not finish them.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout * 0.8
        let group = ServiceGroup(configuration: groupConfiguration)
        try await group.run()
    }
}

extension Daemon {
    /// Defines the walls of the walls directory; a file that cannot be used is logged with its
    /// problems and its previous definition (if any) is kept.
    static func loadWallFiles(into walls: WallService, directory: String, logger: Logger) {
        guard !directory.isEmpty else { return }
        let (definitions, unreadable) = WallFiles.load(directory: directory)
        for (path, problem) in unreadable {
            logger.error("wall file unreadable", metadata: ["path": "\(path)", "problem": "\(problem)"])
        }
        for (path, error) in walls.loadFiles(definitions) {
            logger.error("wall file refused", metadata: ["path": "\(path)", "problem": "\(error)"])
        }
        logger.notice("walls loaded", metadata: ["directory": "\(directory)", "walls": "\(walls.wallIDs)"])
    }

}

/// The TLS of every TCP port, from ``TLSFiles``; nil where the port is plain.
struct ListenerTLS {
    var http: TLSConfiguration?
    var tcpIngest: TLSConfiguration?
    var cot: TLSConfiguration?
    var osmand: TLSConfiguration?
    var subscriptions: TLSConfiguration?

    init(_ configuration: DaemonConfiguration) throws(ConfigurationError) {
        http = try configuration.httpTLS.serverConfiguration()
        tcpIngest = try configuration.tcpIngestTLS.serverConfiguration()
        cot = try configuration.cotTLS.serverConfiguration()
        osmand = try configuration.osmandTLS.serverConfiguration()
        subscriptions = try configuration.subscriptionTLS.serverConfiguration()
    }
}

func currentUserName() -> String {
    if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return "postgres"
}
