import Foundation
import HypervisionConfiguration
import HypervisionCore
import HypervisionDemo
import HypervisionHTTP
import HypervisionIngestServer
import HypervisionLive
import HypervisionNetwork
import HypervisionStore
import HypervisionStream
import NIOSSL
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals

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
        if configuration.store.databaseURL.isEmpty && !DatabaseEndpoint.environmentSelectsServer(environment) {
            var settings = EmbeddedPostgresConfiguration(baseDirectory: stateDirectory)
            settings.binDirectory = configuration.store.embeddedBinDirectory
            settings.systemUser = configuration.store.embeddedUser
            let cluster = EmbeddedPostgres(configuration: settings, logger: logger)
            notifier.status("starting the embedded PostgreSQL")
            endpoint = try await cluster.start()
            embedded = cluster
            logger.notice("using the embedded PostgreSQL", metadata: ["socket": "\(endpoint.unixSocketPath)"])
        } else {
            endpoint = try DatabaseEndpoint.resolve(
                url: configuration.store.databaseURL, environment: environment, currentUser: currentUserName())
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
    var listeningHost: String {
        if configuration.tokens.isEmpty && !["127.0.0.1", "::1", "localhost"].contains(configuration.api.host) {
            return "127.0.0.1"
        }
        return configuration.api.host
    }

    /// Wires the parts into one `ServiceGroup`. Started in the order of the list, stopped in
    /// reverse: the database (its pool) stops last so that the writer can flush through it, the
    /// scene hub before the listeners so that renderers are told `shutting_down`, and the stop
    /// deadline hears of the stop first and times all of it.
    private func runServices(
        endpoint: DatabaseEndpoint, stateDirectory: String, tls: ListenerTLS, notifier: SystemdNotifier, stopDeadline: StopDeadline
    ) async throws {
        if configuration.tokens.isEmpty {
            logger.warning(
                "no access tokens configured (auth.tokens): authentication is off, so listening on loopback only",
                metadata: ["configured_host": "\(configuration.api.host)", "listening_host": "\(listeningHost)"])
        }
        let storage = try StorageParts(
            configuration: configuration.store, node: configuration.cluster.node, endpoint: endpoint, stateDirectory: stateDirectory, logger: logger, metricsFactory: metricsFactory)
        let systemd = SystemdService(
            notifier: notifier, status: storage.status, writer: storage.writer, progressWindow: configuration.store.writerProgressWindow,
            watchdogInterval: SystemdNotifier.watchdogInterval(environment: environment), logger: logger)
        let cluster = ClusterParts(configuration: configuration, storage: storage, logger: logger, metricsFactory: metricsFactory)
        let live = LiveParts(
            configuration: configuration, storage: storage, publisher: cluster?.publisher, logger: logger, metricsFactory: metricsFactory)
        let walls = WallParts(
            configuration: configuration.stream, demo: configuration.demo.enabled, storage: storage, live: live, ownership: cluster?.ownership,
            logger: logger, metricsFactory: metricsFactory)
        let clusterServices = cluster?.services(live: live, walls: walls, storage: storage) ?? []
        // Set once the live picture is rebuilt: /readyz waits for it, and so does the demo.
        let liveLoaded = Flag()
        let loader = LiveStateLoader(
            live: live.state, status: storage.status, spool: storage.spool, history: storage.history, cameras: storage.cameras,
            incidents: storage.incidents, walls: walls.service, logger: logger,
            onLoaded: {
                liveLoaded.set()
                systemd.databaseReady()
            })
        let authority = TokenAuthority(tokens: configuration.tokens)
        let basemapOverlays = BasemapOverlays()
        let incidents = IncidentDesk(store: storage.incidents, router: configuration.incidentRouter, onChange: { live.state.picture.upsert(incident: $0) })
        // Every listener reports when bound; READY=1 waits for as many as there are here.
        let listeners = makeListeners(
            host: listeningHost, tls: tls, authority: authority, storage: storage, live: live, walls: walls, cluster: cluster, incidents: incidents,
            overlays: basemapOverlays, liveLoaded: liveLoaded, onBound: { systemd.listenerBound() })
        systemd.expect(listeners: listeners.count)

        var services: [any Service] = [storage.database, storage.supervisor, storage.writer, loader] + live.services + clusterServices
            + [walls.service]
            + listeners + [SceneHubService(hub: walls.hub)]
        if configuration.demo.enabled {
            services.append(
                DemoFeed(
                    intake: live.intake("demo"), cameras: storage.cameras, incidents: incidents, history: storage.history, live: live.state,
                    isReady: { liveLoaded.isSet }, logger: logger, video: configuration.demo.video, overlays: basemapOverlays))
        }
        services.append(
            ReloadService(
                filePath: configurationFile, overrides: overrides, initial: configuration, logLevel: logLevel,
                supervisor: storage.supervisor, notifier: notifier, logger: logger,
                onReload: { [logger, directory = configuration.stream.wallsDirectory] fresh in
                    if fresh.stream.wallsDirectory != directory {
                        logger.warning("walls.directory changed: restart to use the new directory; reloading the old one")
                    }
                    Self.loadWallFiles(into: walls.service, directory: directory, logger: logger)
                }))
        services.append(systemd)
        services.append(stopDeadline)
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Services still running this late are cancelled; StopDeadline ends the process if even
        // that does not finish them.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout * 0.8
        try await ServiceGroup(configuration: groupConfiguration).run()
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
        http = try configuration.api.tls.serverConfiguration()
        tcpIngest = try configuration.ingest.tcpTLS.serverConfiguration()
        cot = try configuration.ingest.cotTLS.serverConfiguration()
        osmand = try configuration.api.osmandTLS.serverConfiguration()
        subscriptions = try configuration.stream.tls.serverConfiguration()
    }
}

func currentUserName() -> String {
    if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return "postgres"
}
