import Hummingbird
import HypervisionCore
import HypervisionIngest
import HypervisionIngestServer
import HypervisionNetwork
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import NIOCore

/// A request context that knows the peer's address, for ports whose clients cannot send a
/// bearer token (OsmAnd and Traccar Client apps) and are allow-listed by network instead.
public struct PeerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Settings of the OsmAnd / Traccar Client port.
public struct OsmAndConfiguration: Sendable, Hashable {
    public var port: Int = 5055
    /// Senders accepted without a token (the apps have no authentication of their own).
    public var allowedNetworks: AllowedNetworks = .loopback
    public var maximumBodyBytes = 256 * 1024
    public init() {}
}

/// The OsmAnd protocol as phones running Traccar Client or OsmAnd speak it, on any path:
/// GET with a query, form POST, or the client's JSON body. Answers 200 only once durable, 400
/// with the reason otherwise. A sender outside the allowed networks may add `token=` (a token
/// with the ingest scope) to the server URL configured in the app.
public struct OsmAndRoutes: Sendable {
    let intake: PingIntake
    let authority: TokenAuthority
    let configuration: OsmAndConfiguration
    let decoder = OsmAndDecoder()
    let now: @Sendable () -> Timestamp

    public init(
        intake: PingIntake, authority: TokenAuthority, configuration: OsmAndConfiguration,
        now: @escaping @Sendable () -> Timestamp = { .now() }
    ) {
        self.intake = intake
        self.authority = authority
        self.configuration = configuration
        self.now = now
    }

    public func addRoutes(to router: Router<PeerRequestContext>) {
        for path in ["/", "**"] {
            router.get(RouterPath(path)) { request, context in try await handle(request, context) }
            router.post(RouterPath(path)) { request, context in try await handle(request, context) }
        }
    }

    private func handle(_ request: Request, _ context: PeerRequestContext) async throws -> Response {
        let query = request.uri.query ?? ""
        if !isAllowed(query: query, peer: context.remoteAddress) {
            return text(.forbidden, "forbidden: this network is not in ingest.osmand.allowedNetworks and no valid token= was given")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maximumBodyBytes)
        } catch {
            return text(.contentTooLarge, "body larger than \(configuration.maximumBodyBytes) bytes")
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        var results: [Result<RawPing, ValidationError>]
        var isBatch = false
        if contentType.hasPrefix("application/json") {
            results = body.withUnsafeReadableBytes { decoder.decodeJSON($0) }
            isBatch = results.count != 1
        } else if body.readableBytes > 0 {
            // A form body; parameters in the URL (token=…) may come along and are ignored there.
            results = [decoder.decodeParameters(String(buffer: body))]
        } else {
            results = [decoder.decodeParameters(query)]
        }
        // The protocol allows no timestamp: the position is as of now.
        let receivedAt = now().rfc3339
        let items: [JSONPingDecoder.Item] = results.map { result in
            switch result {
            case .success(var ping):
                if ping.time == nil { ping.time = receivedAt }
                return .ping(ping)
            case .failure(let error):
                return .invalid(error)
            }
        }
        if items.isEmpty { return text(.badRequest, "no location in the request") }
        let report: PingIntake.Report
        do {
            report = try await intake.submit(items)
        } catch {
            var response = text(.serviceUnavailable, "\(error.code): \(error.message)")
            response.headers[.retryAfter] = "1"
            return response
        }
        if let first = report.rejected.first, !isBatch {
            return text(.badRequest, "\(first.error.code): \(first.error.message)")
        }
        // A batch is answered 200 so the app does not resend a location that can never be stored;
        // what was refused is named in the body.
        let refused = report.rejected.map { "\($0.index): \($0.error.code): \($0.error.message)" }
        return text(.ok, refused.isEmpty ? "" : "refused\n" + refused.joined(separator: "\n"))
    }

    private func isAllowed(query: String, peer: SocketAddress?) -> Bool {
        if configuration.allowedNetworks.contains(peer) { return true }
        guard authority.isEnabled else { return false }
        for pair in query.split(separator: "&") where pair.hasPrefix("token=") {
            let token = String(pair.dropFirst("token=".count))
            if case .allowed = authority.authorize(secret: token, for: .ingest) { return true }
        }
        return false
    }

    private func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}

extension OsmAndRoutes {
    /// The HTTP server of the OsmAnd port: plain HTTP/1.1 behind the port's admission and
    /// per-phase deadlines (see ``GuardedHTTPChannel``), with TLS when `tls` is set.
    public static func serverBuilder(gate: ConnectionGate, deadlines: HTTPPhaseMachine.Deadlines, tls: TLSConfiguration?) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            // No idle timeout of Hummingbird's: the deadline handler owns every phase.
            let http1 = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: nil))
            if let tls {
                return GuardedHTTPChannel(base: try TLSChannel(http1, tlsConfiguration: tls), gate: gate, deadlines: deadlines, plainText: false)
            }
            return GuardedHTTPChannel(base: http1, gate: gate, deadlines: deadlines, plainText: true)
        }
    }
}
