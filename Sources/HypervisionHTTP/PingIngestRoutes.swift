import Foundation
import Hummingbird
import HypervisionCore
import HypervisionIngest
import HypervisionStore
import Logging
import Metrics
import NIOCore
import Synchronization

/// Limits of `POST /api/v1/pings`.
public struct HTTPIngestLimits: Sendable, Hashable {
    /// Largest accepted body; larger ones get 413 with the limit.
    public var maximumBodyBytes: Int = 4 << 20
    /// Most pings in one body; more get 413 with the limit.
    public var maximumItems: Int = 10_000
    public init() {}
}

/// `POST /api/v1/pings`: one JSON ping, a JSON array of pings, or NDJSON
/// (`application/x-ndjson`). Answers once the accepted pings are durable, with counts and one
/// `rejected` entry per refused item; one bad item never rejects the others.
public struct PingIngestRoutes<Context: RequestContext>: Sendable {
    let writer: PingWriter
    let authority: TokenAuthority
    let limits: HTTPIngestLimits
    let validator: PingValidator
    let metrics: IngestMetrics
    let now: @Sendable () -> Timestamp

    public init(
        writer: PingWriter, authority: TokenAuthority, limits: HTTPIngestLimits = .init(), validator: PingValidator = .init(),
        metricsFactory: any MetricsFactory, now: @escaping @Sendable () -> Timestamp = { .now() }
    ) {
        self.writer = writer
        self.authority = authority
        self.limits = limits
        self.validator = validator
        self.metrics = IngestMetrics(protocol: "http", factory: metricsFactory)
        self.now = now
    }

    public func addRoutes(to router: Router<Context>) {
        router.post("/api/v1/pings") { request, _ in
            try await self.ingest(request)
        }
    }

    func ingest(_ request: Request) async throws -> Response {
        switch authority.authorize(secret: TokenAuthority.bearer(request.headers[.authorization]), for: .ingest) {
        case .allowed: break
        case .unauthenticated(let reason): return APIError.response(.unauthorized, "unauthorized", reason)
        case .forbidden(let reason): return APIError.response(.forbidden, "forbidden", reason)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maximumBodyBytes)
        } catch {
            return APIError.response(
                .contentTooLarge, "body_too_large", "the body is larger than the limit of \(limits.maximumBodyBytes) bytes")
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? "application/json"
        let isNDJSON = contentType.hasPrefix("application/x-ndjson") || contentType.hasPrefix("application/jsonl")
        var decoderLimits = JSONPingDecoder.Limits()
        decoderLimits.maximumItems = limits.maximumItems
        let decoder = JSONPingDecoder(limits: decoderLimits)
        let items: [JSONPingDecoder.Item]
        let isSingleObject = !isNDJSON && body.readableBytesView.first(where: { !isWhitespace($0) }) == UInt8(ascii: "{")
        do {
            items = try body.withUnsafeReadableBytes { bytes throws(JSONPingDecoder.DocumentError) in
                isNDJSON ? try decoder.decodeNDJSON(bytes) : try decoder.decodeDocument(bytes)
            }
        } catch {
            metrics.rejectedBodies.increment()
            let status: HTTPResponse.Status = error.code == .tooManyItems ? .contentTooLarge : .badRequest
            return APIError.response(status, error.code.rawValue, error.message)
        }

        // Validate every item; keep the index of each valid ping for the answer.
        let receivedAt = now()
        var pings: [Ping] = []
        var rejected: [(Int, ValidationError)] = []
        pings.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            switch item {
            case .ping(let raw):
                do {
                    pings.append(try validator.validate(raw, now: receivedAt))
                } catch {
                    rejected.append((index, error))
                }
            case .invalid(let error):
                rejected.append((index, error))
            }
        }
        metrics.received.increment(by: items.count)
        for (_, error) in rejected { metrics.rejected(error.code) }

        var accepted = 0, duplicates = 0
        if !pings.isEmpty {
            do {
                let receipt = try await writer.write(pings)
                accepted = receipt.accepted
                duplicates = receipt.duplicates
            } catch {
                metrics.failed.increment(by: pings.count)
                var response = APIError.response(
                    error.code == .rejectedByDatabase ? .internalServerError : .serviceUnavailable, error.code.rawValue, error.message)
                if error.code != .rejectedByDatabase { response.headers[.retryAfter] = "1" }
                return response
            }
        }
        metrics.accepted.increment(by: accepted)
        metrics.duplicates.increment(by: duplicates)

        var json = "{\"accepted\":\(accepted),\"duplicates\":\(duplicates),\"rejected\":["
        for (n, (index, error)) in rejected.enumerated() {
            if n > 0 { json += "," }
            json += "{\"index\":\(index),\"code\":\(jsonString(error.code.rawValue)),\"message\":\(jsonString(error.message))}"
        }
        json += "]}"
        // A single ping that was refused is a client error; a batch answers 200 with its report.
        let status: HTTPResponse.Status = isSingleObject && !rejected.isEmpty ? .badRequest : .ok
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}

/// Per-protocol ingest counters, created once. Label values are bounded: the protocol names
/// and the fixed set of validation codes.
final class IngestMetrics: Sendable {
    let received: Counter
    let accepted: Counter
    let duplicates: Counter
    let failed: Counter
    let rejectedBodies: Counter
    let factory: any MetricsFactory
    let protocolName: String
    /// One counter per validation code, made on first use (the codes are a fixed, small set).
    private let rejectedByCode = Mutex<[String: Counter]>([:])

    init(protocol name: String, factory: any MetricsFactory) {
        self.factory = factory
        protocolName = name
        received = Counter(label: "hypervision_ingest_pings_total", dimensions: [("protocol", name), ("result", "received")], factory: factory)
        accepted = Counter(label: "hypervision_ingest_pings_total", dimensions: [("protocol", name), ("result", "accepted")], factory: factory)
        duplicates = Counter(label: "hypervision_ingest_pings_total", dimensions: [("protocol", name), ("result", "duplicate")], factory: factory)
        failed = Counter(label: "hypervision_ingest_pings_total", dimensions: [("protocol", name), ("result", "failed")], factory: factory)
        rejectedBodies = Counter(label: "hypervision_ingest_rejected_bodies_total", dimensions: [("protocol", name)], factory: factory)
    }

    func rejected(_ code: ValidationError.Code) {
        let counter = rejectedByCode.withLock { counters in
            if let counter = counters[code.rawValue] { return counter }
            let counter = Counter(
                label: "hypervision_ingest_rejected_total", dimensions: [("protocol", protocolName), ("code", code.rawValue)],
                factory: factory)
            counters[code.rawValue] = counter
            return counter
        }
        counter.increment()
    }
}

/// The JSON error body every endpoint uses: `{"error":{"code":…,"message":…}}`.
public enum APIError {
    public static func response(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let json = "{\"error\":{\"code\":\(jsonString(code)),\"message\":\(jsonString(message))}}"
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}

/// A JSON string literal with the escapes RFC 8259 requires.
func jsonString(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

private func isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}
