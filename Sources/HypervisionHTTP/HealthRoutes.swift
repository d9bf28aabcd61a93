import Hummingbird
import HypervisionStore
import NIOCore
import Prometheus

/// What `/readyz` reports about the ingest pipeline, read at each request.
public struct PipelineSnapshot: Sendable {
    public var database: DatabaseStatus.State
    public var databaseSummary: String
    public var spoolBytes: Int
    public var spoolMaximumBytes: Int
    public var queuedPings: Int
    /// The live picture has been rebuilt from PostGIS (queries and walls answer as before a restart).
    public var liveLoaded: Bool

    public init(
        database: DatabaseStatus.State, databaseSummary: String, spoolBytes: Int, spoolMaximumBytes: Int, queuedPings: Int,
        liveLoaded: Bool = true
    ) {
        self.liveLoaded = liveLoaded
        self.database = database
        self.databaseSummary = databaseSummary
        self.spoolBytes = spoolBytes
        self.spoolMaximumBytes = spoolMaximumBytes
        self.queuedPings = queuedPings
    }
}

/// `/healthz` (the process answers), `/readyz` (the database is usable; spool state) and
/// `/metrics` (Prometheus text format), and the OpenAPI document. No token: load balancers and
/// systemd probes have none.
public struct HealthRoutes<Context: RequestContext>: Sendable {
    public let snapshot: @Sendable () -> PipelineSnapshot
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry, snapshot: @escaping @Sendable () -> PipelineSnapshot) {
        self.registry = registry
        self.snapshot = snapshot
    }

    /// `{"status":"ok"}`.
    struct Health: JSONResponseBody {
        var status = "ok"
    }

    /// The Readiness schema of the OpenAPI document.
    struct Readiness: JSONResponseBody {
        struct Spool: Encodable, Sendable {
            /// `empty`, `spooling` (the database is away) or `replaying`.
            var state: String
            var bytes: Int
            var maxBytes: Int
        }
        var status: String
        var database: String
        var spool: Spool
        var queuedPings: Int
        var live: String

        init(_ s: PipelineSnapshot) {
            status = s.database == .ready && s.liveLoaded ? "ready" : "not_ready"
            database = s.databaseSummary
            let state = s.spoolBytes == 0 ? "empty" : s.database == .ready ? "replaying" : "spooling"
            spool = Spool(state: state, bytes: s.spoolBytes, maxBytes: s.spoolMaximumBytes)
            queuedPings = s.queuedPings
            live = s.liveLoaded ? "loaded" : "loading"
        }

        var isReady: Bool { status == "ready" }
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("/healthz") { _, _ in Health() }
        routes.get("/readyz") { _, _ in
            let readiness = Readiness(snapshot())
            return EditedResponse(status: readiness.isReady ? .ok : .serviceUnavailable, response: readiness)
        }
        routes.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
        routes.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16_384)
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return routes
    }

    public func addRoutes(to router: Router<Context>) {
        router.addRoutes(routes)
    }
}

/// The OpenAPI document, compiled in from `Schemas/openapi/openapi.yaml`.
public enum OpenAPIDocument {
    public static var bytes: [UInt8] { PackageResources.openapi_yaml }
}
