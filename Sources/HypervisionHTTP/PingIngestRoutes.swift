import Foundation
import Hummingbird
import HypervisionCore
import HypervisionIngest
import HypervisionIngestServer
import HypervisionStore
import Logging
import Metrics
import NIOCore

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
    let intake: PingIntake
    let authority: TokenAuthority
    let limits: HTTPIngestLimits

    public init(intake: PingIntake, authority: TokenAuthority, limits: HTTPIngestLimits = .init()) {
        self.intake = intake
        self.authority = authority
        self.limits = limits
    }

    public func addRoutes(to router: Router<Context>) {
        router.post("/api/v1/pings") { request, _ in
            try await self.ingest(request)
        }
    }

    func ingest(_ request: Request) async throws -> Response {
        if let refusal = authority.refusal(of: request, for: .ingest) { return refusal }
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
            intake.countRejectedBody()
            let status: HTTPResponse.Status = error.code == .tooManyItems ? .contentTooLarge : .badRequest
            return APIError.response(status, error.code.rawValue, error.message)
        }

        let report: PingIntake.Report
        do {
            report = try await intake.submit(items)
        } catch {
            var response = APIError.response(
                error.code == .rejectedByDatabase ? .internalServerError : .serviceUnavailable, error.code.rawValue, error.message)
            if error.code != .rejectedByDatabase { response.headers[.retryAfter] = "1" }
            return response
        }
        let (accepted, duplicates, rejected) = (report.accepted, report.duplicates, report.rejected)

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

extension TokenAuthority {
    /// The 401 or 403 answer for a request whose bearer token does not grant `scope`, or nil
    /// when it does.
    func refusal(of request: Request, for scope: Scope) -> Response? {
        switch authorize(secret: TokenAuthority.bearer(request.headers[.authorization]), for: scope) {
        case .allowed: return nil
        case .unauthenticated(let reason): return APIError.response(.unauthorized, "unauthorized", reason)
        case .forbidden(let reason): return APIError.response(.forbidden, "forbidden", reason)
        }
    }
}

/// The JSON error body every endpoint uses: `{"error":{"code":…,"message":…}}`.
public enum APIError {
    public static func response(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let json = "{\"error\":{\"code\":\(jsonString(code)),\"message\":\(jsonString(message))}}"
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}

private func isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}
