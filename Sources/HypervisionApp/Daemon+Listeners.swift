import Hummingbird
import HummingbirdCore
import HypervisionCore
import HypervisionHTTP
import HypervisionIngestServer
import HypervisionNetwork
import HypervisionStore
import HypervisionStream
import Logging
import NIOSSL
import ServiceLifecycle

extension Daemon {
    /// Every port the configuration turns on: the API (routes, WebSocket stream, wall pages),
    /// then the ingest ports (NDJSON over TCP, OsmAnd, Cursor-on-Target over TCP and UDP, JSON
    /// over UDP), then the scene subscription port. Each calls `onBound` once listening.
    func makeListeners(
        host: String, tls: ListenerTLS, authority: TokenAuthority, storage: StorageParts, live: LiveParts, walls: WallParts,
        cluster: ClusterParts?, incidents: IncidentDesk, overlays: BasemapOverlays, liveLoaded: Flag, onBound: @escaping @Sendable () -> Void
    ) -> [any Service] {
        let api = configuration.api
        let ingest = configuration.ingest.listening(on: host)
        var listeners: [any Service] = [
            makeAPIServer(
                host: host, tls: tls.http, authority: authority, storage: storage, live: live, walls: walls, cluster: cluster,
                incidents: incidents, overlays: overlays, liveLoaded: liveLoaded, onBound: onBound)
        ]
        if configuration.ingest.tcpEnabled {
            listeners.append(
                NDJSONIngestServer(
                    configuration: ingest.tcp, tls: tls.tcpIngest, intake: live.intake("tcp"), authority: authority, logger: logger,
                    metricsFactory: metricsFactory, onBound: { _ in onBound() }))
        }
        if api.osmandEnabled {
            let router = Router(context: PeerRequestContext.self)
            OsmAndRoutes(intake: live.intake("osmand"), authority: authority, configuration: api.osmand).addRoutes(to: router)
            let gate = ConnectionGate(port: "ingest.osmand", limits: api.osmandLimits, metricsFactory: metricsFactory)
            listeners.append(
                Application(
                    router: router,
                    server: OsmAndRoutes.serverBuilder(gate: gate, deadlines: api.deadlines, tls: tls.osmand),
                    configuration: .init(address: .hostname(host, port: api.osmand.port), serverName: "hypervisiond-osmand"),
                    onServerRunning: { [logger] channel in
                        logger.notice(
                            "OsmAnd ingest listening",
                            metadata: ["address": "\(channel.localAddress?.description ?? "?")", "tls": "\(tls.osmand != nil)"])
                        onBound()
                    },
                    logger: logger))
        }
        if configuration.ingest.cotEnabled {
            // One intake for both: the same events, counted as one protocol.
            let cot = live.intake("cot")
            listeners.append(
                CoTIngestServer(
                    configuration: ingest.cot, tls: tls.cot, intake: cot, logger: logger, metricsFactory: metricsFactory,
                    onBound: { _ in onBound() }))
            listeners.append(
                UDPIngestServer(
                    configuration: ingest.cotDatagrams, intake: cot, logger: logger, metricsFactory: metricsFactory,
                    onBound: { _ in onBound() }))
        }
        if configuration.ingest.udpEnabled {
            listeners.append(
                UDPIngestServer(
                    configuration: ingest.udp, intake: live.intake("udp"), logger: logger, metricsFactory: metricsFactory,
                    onBound: { _ in onBound() }))
        }
        if configuration.stream.subscriptionsEnabled {
            var subscriptions = configuration.stream.subscriptions
            subscriptions.host = host
            subscriptions.tls = tls.subscriptions
            listeners.append(
                SubscriptionServer(
                    configuration: subscriptions, hub: walls.hub, authority: authority, logger: logger, metricsFactory: metricsFactory,
                    onBound: { _ in onBound() }))
        }
        return listeners
    }

    /// The API port: every route, behind the error middleware, with the connection guard's caps
    /// and per-phase deadlines (Hummingbird closes nothing by itself).
    private func makeAPIServer(
        host: String, tls: TLSConfiguration?, authority: TokenAuthority, storage: StorageParts, live: LiveParts, walls: WallParts,
        cluster: ClusterParts?, incidents: IncidentDesk, overlays: BasemapOverlays, liveLoaded: Flag, onBound: @escaping @Sendable () -> Void
    ) -> some Service {
        let api = configuration.api
        let router = Router()
        // First: middleware wraps only the routes added after it.
        router.add(middleware: APIErrorMiddleware())
        PingIngestRoutes(intake: live.intake("http"), authority: authority, limits: api.ingest).addRoutes(to: router)
        IncidentRoutes(desk: incidents, authority: authority).addRoutes(to: router)
        CameraRoutes(store: storage.cameras, authority: authority, configuration: api.cameras, incidents: incidents, live: live.state)
            .addRoutes(to: router)
        QueryRoutes(live: live.state, history: storage.history, incidents: storage.incidents, authority: authority).addRoutes(to: router)
        WallRoutes(walls: walls.service, authority: authority).addRoutes(to: router)
        ClusterRoutes(node: cluster?.node, directory: cluster?.directory, authority: authority).addRoutes(to: router)
        WallPageRoutes().addRoutes(to: router)
        BasemapRoutes(settings: api.basemap, overlays: overlays, logger: logger).addRoutes(to: router)
        let spoolLimit = configuration.store.spoolMaximumBytes
        HealthRoutes(registry: registry) { [status = storage.status, writer = storage.writer] in
            PipelineSnapshot(
                database: status.current, databaseSummary: status.summary, spoolBytes: writer.spooledBytes,
                spoolMaximumBytes: spoolLimit, queuedPings: writer.queuedPings, liveLoaded: liveLoaded.isSet)
        }.addRoutes(to: router)
        let gate = ConnectionGate(port: "http", limits: api.limits, metricsFactory: metricsFactory)
        var streamRoutes = WallStreamRoutes(hub: walls.hub, authority: authority, gate: gate)
        streamRoutes.subscribeTimeout = .nanoseconds(configuration.stream.subscriptions.subscribeTimeout.nanoseconds)
        return Application(
            router: router,
            server: streamRoutes.serverBuilder(deadlines: api.deadlines, tls: tls),
            configuration: .init(address: .hostname(host, port: api.port), serverName: "hypervisiond"),
            onServerRunning: { [logger] channel in
                logger.notice("HTTP listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")", "tls": "\(tls != nil)"])
                onBound()
            },
            logger: logger)
    }
}
