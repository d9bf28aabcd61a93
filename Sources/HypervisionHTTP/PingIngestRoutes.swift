import Hummingbird
import HypervisionCore
import HypervisionIngest
import HypervisionIngestServer
import NIOCore

/// Limits of `POST /api/v1/pings`.
public struct HTTPIngestLimits: Sendable, Hashable {
    /// Largest accepted body; larger ones get 413 with the limit.
    public var maximumBodyBytes: Int = 4 << 20
    /// Most pings in one body; more get 413 with the limit.
    public var maximumItems: Int = 10_000
    public init() {}
}

/// `POST /api/v1/pings` (the `ingest` scope): one JSON ping, a JSON array of pings, or NDJSON
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

    /// The answer to a submission: `{"accepted":N,"duplicates":D,"rejected":[{"index":i,"code":…,"message":…}]}`.
    ///
    /// Written in this member order, which the README's example and the ingest tests pin (a
    /// gateway may read the counts from the front of a long report): neither `JSONEncoder` (whose
    /// order varies) nor ``JSONValue`` (sorted) writes it so.
    struct Report: ResponseGenerator, Sendable {
        struct Rejection: Sendable {
            var index: Int
            var code: String
            var message: String
        }
        var accepted: Int
        var duplicates: Int
        var rejected: [Rejection]

        init(_ report: PingIntake.Report) {
            accepted = report.accepted
            duplicates = report.duplicates
            rejected = report.rejected.map { Rejection(index: $0.index, code: $0.error.code.rawValue, message: $0.error.message) }
        }

        var json: String {
            var json = "{\"accepted\":\(accepted),\"duplicates\":\(duplicates),\"rejected\":["
            for (n, item) in rejected.enumerated() {
                if n > 0 { json += "," }
                json += "{\"index\":\(item.index),\"code\":\(jsonString(item.code)),\"message\":\(jsonString(item.message))}"
            }
            return json + "]}"
        }

        func response(from request: Request, context: some RequestContext) -> Response {
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.requiring(.scope(.ingest), of: authority).post("/api/v1/pings") { request, _ in
            try await self.ingest(request)
        }
        return routes
    }

    public func addRoutes(to router: Router<Context>) {
        router.addRoutes(routes)
    }

    func ingest(_ request: Request) async throws -> EditedResponse<Report> {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maximumBodyBytes)
        } catch {
            throw APIError.tooLarge("the body is larger than the limit of \(limits.maximumBodyBytes) bytes")
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
            throw APIError(error.code == .tooManyItems ? .contentTooLarge : .badRequest, error.code.rawValue, error.message)
        }
        // A refused write (PingWriterError) is answered by APIErrorMiddleware: 503 with
        // Retry-After, or 500 when the database refused the rows.
        let report = try await intake.submit(items)
        // A single ping that was refused is a client error; a batch answers 200 with its report.
        return EditedResponse(status: isSingleObject && !report.rejected.isEmpty ? .badRequest : .ok, response: Report(report))
    }
}

private func isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}
