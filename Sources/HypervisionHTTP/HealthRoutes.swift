import Foundation
import Hummingbird
import HypervisionStore
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
/// `/metrics` (Prometheus text format).
public struct HealthRoutes<Context: RequestContext>: Sendable {
    public let snapshot: @Sendable () -> PipelineSnapshot
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry, snapshot: @escaping @Sendable () -> PipelineSnapshot) {
        self.registry = registry
        self.snapshot = snapshot
    }

    public func addRoutes(to router: Router<Context>) {
        router.get("/healthz") { _, _ in
            Self.json(["status": "ok"], status: .ok)
        }
        router.get("/readyz") { _, _ in
            let s = snapshot()
            let ready = s.database == .ready && s.liveLoaded
            let spoolState: String
            if s.spoolBytes == 0 {
                spoolState = "empty"
            } else if s.database == .ready {
                spoolState = "replaying"
            } else {
                spoolState = "spooling"
            }
            let body: [String: Any] = [
                "status": ready ? "ready" : "not_ready",
                "database": s.databaseSummary,
                "spool": ["state": spoolState, "bytes": s.spoolBytes, "maxBytes": s.spoolMaximumBytes],
                "queuedPings": s.queuedPings,
                "live": s.liveLoaded ? "loaded" : "loading",
            ]
            return Self.json(body, status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16_384)
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The OpenAPI document, compiled in from `Schemas/openapi/openapi.yaml`.
public enum OpenAPIDocument {
    public static var bytes: [UInt8] { PackageResources.openapi_yaml }
}
