import NIOCore
import NIOHTTP1

/// Runs an ``HTTPPhaseMachine`` on an HTTP/1.1 connection. It sits right after NIO's request
/// decoder (``install(after:in:)``), where it sees request heads and ends coming in and
/// response heads and ends going out, and keeps working across requests, whatever the HTTP
/// framework does after it (Hummingbird adds its own handlers only once the first head is
/// known). Its ``bytesObserver`` goes first in the pipeline, so that the first byte of a request
/// on an idle connection starts the header deadline.
///
/// On expiry it counts the phase through `onExpiry`, answers a late head with
/// `408 {"error":{"code":"request_timeout",…}}` when no response is under way, and closes.
public final class HTTPDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    private var machine: HTTPPhaseMachine
    private let onExpiry: @Sendable (ConnectionPhase) -> Void
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    /// The deadline of the phase armed last, for the 408's message.
    private var armedFor: TimeAmount = .zero
    private var started = false
    /// A 101 was written: out of the pipeline at the next flush.
    private var leaving = false
    /// Put first in the pipeline: reports bytes before they are decoded.
    public let bytesObserver: BytesObserver

    public init(deadlines: HTTPPhaseMachine.Deadlines, onExpiry: @escaping @Sendable (ConnectionPhase) -> Void = { _ in }) {
        machine = HTTPPhaseMachine(deadlines: deadlines)
        self.onExpiry = onExpiry
        bytesObserver = BytesObserver()
        bytesObserver.handler = self
    }

    /// Inserts the handler after NIO's HTTP/1 request decoder, which the HTTP framework has put
    /// in `pipeline` already. Throws when there is none (the pipeline is not HTTP/1).
    public func install(in pipeline: ChannelPipeline.SynchronousOperations) throws {
        let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try pipeline.addHandler(self, position: .after(decoder.handler))
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start() }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: perform(machine.headReceived())
        case .body: break
        case .end: perform(machine.endReceived())
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            let upgrading = head.status == .switchingProtocols
            context.write(data, promise: promise)
            perform(machine.responseHeadWritten(switchingProtocols: upgrading))
            // The connection is a WebSocket from now on: its frames are no HTTP parts. The
            // handler leaves at the flush that sends the 101 (NIO's upgrader writes and flushes
            // it in one call: leaving here would lose that flush, and the upgrade would hang).
            if upgrading { leaving = true }
        case .body:
            context.write(data, promise: promise)
        case .end:
            context.write(data, promise: promise)
            perform(machine.responseEnded())
        }
    }

    public func flush(context: ChannelHandlerContext) {
        context.flush()
        if leaving { leave(context: context) }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { perform(machine.quiesce()) }
        context.fireUserInboundEventTriggered(event)
    }

    fileprivate func bytesReceived() {
        perform(machine.bytesReceived())
    }

    private func start() {
        guard !started else { return }
        started = true
        perform(machine.connected())
    }

    private func leave(context: ChannelHandlerContext) {
        leaving = false
        let pipeline = context.pipeline.syncOperations
        pipeline.removeHandler(context: context, promise: nil)
        pipeline.removeHandler(bytesObserver, promise: nil)
    }

    private func perform(_ action: HTTPPhaseMachine.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .arm(_, let after):
            timer?.cancel()
            armedFor = after
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: after) {
                let handler = loopBound.value
                handler.timer = nil
                handler.perform(handler.machine.timerFired())
            }
        case .disarm:
            timer?.cancel()
            timer = nil
        case .close(let phase, let answer):
            timer?.cancel()
            timer = nil
            onExpiry(phase)
            if answer { writeRequestTimeout(context: context) }
            context.closeConnection()
        case .closeNow:
            timer?.cancel()
            timer = nil
            context.closeConnection()
        }
    }

    private func writeRequestTimeout(context: ChannelHandlerContext) {
        let seconds = armedFor.nanoseconds / 1_000_000_000
        let body = ByteBuffer(
            string: #"{"error":{"code":"request_timeout","message":"the request head did not arrive within \#(seconds) s"}}"#)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .requestTimeout, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// The first handler of the pipeline: tells its ``HTTPDeadlineHandler`` that bytes arrived.
    public final class BytesObserver: ChannelInboundHandler, RemovableChannelHandler {
        public typealias InboundIn = ByteBuffer
        public typealias InboundOut = ByteBuffer
        fileprivate weak var handler: HTTPDeadlineHandler?

        public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            handler?.bytesReceived()
            context.fireChannelRead(data)
        }
    }
}

@available(*, unavailable)
extension HTTPDeadlineHandler: Sendable {}
