import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import HypervisionCore
import HypervisionNetwork
import HypervisionStream
import NIOCore
import NIOSSL
import Synchronization

/// The scene stream over WebSocket (`/api/v1/walls/{id}/stream`): the same messages as the TCP
/// port, one per text message. The token may come in the subscribe message, `?token=` or a
/// bearer header (browsers cannot set headers on a WebSocket).
///
/// The subscribe message must arrive within ``subscribeTimeout`` of the upgrade (it carries the
/// token: this is the stream's authentication deadline). Every refusal is sent as an `error`
/// message before the connection closes.
public struct WallStreamRoutes: Sendable {
    let hub: SceneHub
    let authority: TokenAuthority
    /// The HTTP port's admission; its metrics count the streams closed for want of a subscribe.
    let gate: ConnectionGate
    /// Bytes queued for one WebSocket beyond which it counts as not writable (the hub skips it
    /// ahead to a fresh scene once it drains).
    public var highWaterBytes = 256 * 1024
    /// The subscribe message must arrive within this time of the upgrade.
    public var subscribeTimeout: Duration = .seconds(10)
    /// How long the lines already queued (an `error`) may take to go out once the client's
    /// side has ended, before the connection is closed anyway.
    public var drainTimeout: Duration = .seconds(5)

    public init(hub: SceneHub, authority: TokenAuthority, gate: ConnectionGate) {
        self.hub = hub
        self.authority = authority
        self.gate = gate
    }

    /// The WebSocket routes of the API port: `/api/v1/walls/{id}/stream`. The token may come as
    /// `?token=` or a bearer header; the subscribe message's own `token` wins.
    public var webSocketRouter: Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.ws("/api/v1/walls/:id/stream") { inbound, outbound, context in
            let request = context.request
            let wall = context.requestContext.parameters.get("id") ?? ""
            let queryToken = request.uri.queryParameters["token"].map(String.init)
            let headerToken = TokenAuthority.bearer(request.headers[.authorization])
            try await serve(wall: wall, token: queryToken ?? headerToken, inbound: inbound, outbound: outbound)
        }
        return router
    }

    /// The HTTP server of the API port: HTTP/1.1 with the WebSocket upgrade for scene streams
    /// (``webSocketRouter``), behind the port's admission and per-phase deadlines (see
    /// ``GuardedHTTPChannel``), with TLS when `tls` is set.
    public func serverBuilder(deadlines: HTTPPhaseMachine.Deadlines, tls: TLSConfiguration?) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        let gate = self.gate
        return HTTPServerBuilder { responder in
            // No idle timeout of Hummingbird's: the deadline handler owns every phase.
            let upgrade = HTTP1WebSocketUpgradeChannel(
                responder: responder, webSocketResponder: webSocketResponder, configuration: .init(http1: .init(idleTimeout: nil)))
            if let tls {
                return GuardedHTTPChannel(
                    base: try TLSChannel(upgrade, tlsConfiguration: tls), gate: gate, deadlines: deadlines, plainText: false)
            }
            return GuardedHTTPChannel(base: upgrade, gate: gate, deadlines: deadlines, plainText: true)
        }
    }

    /// Set once, read from another task.
    private final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// Which part of a stream's connection ended.
    private enum Ended: Sendable {
        /// Everything the hub queued is sent and the queue is closed (refused, slow, shutting
        /// down), or the client is gone.
        case writer
        /// The client's side ended (it left), or the subscribe message was refused.
        case reader
        case subscribeDeadline
        case drainDeadline
    }

    private func serve(wall: String, token: String?, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let sink = WebSocketSink(highWaterBytes: highWaterBytes)
        let heardFrom = Flag()
        let timeout = subscribeTimeout
        let gate = self.gate
        try await withThrowingTaskGroup(of: Ended.self) { group in
            // Writer: drains the sink's queue into the socket; ends when the queue is closed and
            // empty. Never cancelled while there is a line to send, so a refusal's `error` line
            // always goes out before the close.
            group.addTask {
                for await line in sink.lines {
                    var text = String(decoding: line, as: UTF8.self)
                    if text.hasSuffix("\n") { text.removeLast() }
                    try await outbound.write(.text(text))
                    sink.sent(line.count)
                }
                return .writer
            }
            // Reader: the first message subscribes; later ones are ignored. Ends when the client leaves.
            group.addTask {
                var subscription: SceneHub.SubscriptionID?
                defer {
                    if let subscription { hub.unsubscribe(subscription) }
                    sink.close()
                }
                for try await message in inbound.messages(maxSize: SubscribeRequest.defaultMaximumLineBytes) {
                    guard subscription == nil else { continue }
                    heardFrom.set()
                    guard let request = subscribeRequest(message, wall: wall, token: token, sink: sink) else { return .reader }
                    switch hub.subscribe(request, sink: sink) {
                    case .success(let id):
                        subscription = id
                        sink.onWritabilityChange.set { [hub] writable in hub.writabilityChanged(id, writable: writable) }
                    case .failure(let error):
                        sink.refuse(error)
                        return .reader
                    }
                }
                return .reader
            }
            // The subscribe message (with its token) must come in time.
            group.addTask {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled && !heardFrom.isSet {
                    gate.deadlineExpired(.firstMessage)
                    sink.refuse(StreamError(code: .badRequest, message: "no subscribe message within \(timeout.components.seconds) s"))
                }
                return .subscribeDeadline
            }
            while let ended = try await group.next() {
                switch ended {
                case .writer, .drainDeadline:
                    group.cancelAll()
                    return
                case .reader:
                    // Whatever was queued (a refusal) still goes out, for a bounded time.
                    sink.close()
                    let drain = drainTimeout
                    group.addTask {
                        try? await Task.sleep(for: drain)
                        return .drainDeadline
                    }
                case .subscribeDeadline:
                    continue
                }
            }
        }
    }

    /// The subscribe request of a first message, or nil after refusing it on the sink.
    private func subscribeRequest(_ message: WebSocketMessage, wall: String, token: String?, sink: WebSocketSink) -> SubscribeRequest? {
        guard case .text(let text) = message else {
            sink.refuse(StreamError(code: .badRequest, message: "the subscribe message must be a text message"))
            return nil
        }
        var request: SubscribeRequest
        do throws(StreamError) {
            request = try SubscribeRequest(line: Array(text.utf8))
        } catch {
            sink.refuse(error)
            return nil
        }
        guard request.wall == wall else {
            sink.refuse(StreamError(code: .badRequest, message: "this stream is for wall \(wall), not \(request.wall)"))
            return nil
        }
        request.token = request.token ?? token
        switch authority.authorize(secret: request.token, for: .subscribe(wall: wall)) {
        case .allowed:
            return request
        case .unauthenticated(let why):
            sink.refuse(StreamError(code: .unauthorized, message: why))
        case .forbidden(let why):
            sink.refuse(StreamError(code: .forbidden, message: why))
        }
        return nil
    }
}

/// A WebSocket subscriber's queue: the hub appends lines; the connection's writer task sends them.
///
/// Bounded: past `highWaterBytes` queued the sink tells the hub it is not writable, and the hub
/// then holds that subscriber's updates until it drains. Past ``hardLimitBytes`` (a hub that
/// kept sending) the sink takes nothing more and closes: what is queued goes out, then the
/// connection ends, and one subscriber can never hold more than that in the daemon's memory.
final class WebSocketSink: SceneSink {
    struct State {
        var pending = 0
        var writable = true
        var closed = false
    }
    let lines: AsyncStream<[UInt8]>
    private let continuation: AsyncStream<[UInt8]>.Continuation
    private let state = Mutex(State())
    private let highWaterBytes: Int
    /// Eight times the high-water mark: room for a large scene on top of a full queue.
    let hardLimitBytes: Int

    init(highWaterBytes: Int) {
        self.highWaterBytes = highWaterBytes
        self.hardLimitBytes = 8 * highWaterBytes
        (lines, continuation) = AsyncStream.makeStream(of: [UInt8].self)
    }

    /// Called when the queue goes over its high-water mark (false) and back under it (true).
    let onWritabilityChange = CallbackSlot<Bool, Void>()

    var isClosed: Bool { state.withLock { $0.closed } }

    func send(_ line: [UInt8]) {
        enum Outcome {
            case queued(writabilityChange: Bool?)
            case dropped
            case overflowed
        }
        let outcome: Outcome = state.withLock { state in
            guard !state.closed else { return .dropped }
            guard state.pending + line.count <= hardLimitBytes else {
                state.closed = true
                return .overflowed
            }
            state.pending += line.count
            if state.writable && state.pending > highWaterBytes {
                state.writable = false
                return .queued(writabilityChange: false)
            }
            return .queued(writabilityChange: nil)
        }
        switch outcome {
        case .queued(let change):
            continuation.yield(line)
            if let change { onWritabilityChange(change) }
        case .dropped:
            break
        case .overflowed:
            continuation.finish()
        }
    }

    /// The writer sent `bytes` of the queue.
    func sent(_ bytes: Int) {
        let change: Bool? = state.withLock { state in
            state.pending -= bytes
            if !state.writable && state.pending <= highWaterBytes / 4 {
                state.writable = true
                return true
            }
            return nil
        }
        if let change { onWritabilityChange(change) }
    }

    func refuse(_ error: StreamError) {
        send(WireLine.error(error))
        close()
    }

    func close() {
        state.withLock { $0.closed = true }
        continuation.finish()
    }
}
