import NIOCore

/// The whole pipeline of a connection that was not admitted: it says why when the protocol has a
/// way to (an HTTP 503, an NDJSON `error` line), and closes.
///
/// The refusal is written, then the output is shut down so the client reads it before the
/// close; what the client sends meanwhile is read and dropped (closing with unread bytes would
/// reset the connection, and a reset may destroy the refusal before the client reads it). The
/// connection closes as soon as the client closes its side, or after `linger` at the latest:
/// a refused client costs one socket for at most that long.
public final class RefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let message: ByteBuffer?
    private let linger: TimeAmount
    private var started = false
    private var timer: Scheduled<Void>?

    /// - Parameters:
    ///   - message: the bytes that explain the refusal; nil on protocols with no way to say it
    ///     (Cursor-on-Target, or a TLS port, where plain text would only confuse the client).
    ///   - linger: the longest the refused connection stays open.
    public init(message: ByteBuffer?, linger: TimeAmount = .seconds(2)) {
        self.message = message
        self.linger = linger
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Read and dropped: nothing a refused client says is looked at.
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event as? ChannelEvent == .inputClosed {
            context.closeConnection()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if let message { context.writeAndFlush(wrapOutboundOut(message), promise: nil) }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let shutdown = context.eventLoop.makePromise(of: Void.self)
        shutdown.futureResult.whenFailure { _ in loopBound.value.close(promise: nil) }
        context.close(mode: .output, promise: shutdown)
        timer = context.eventLoop.scheduleTask(in: linger) { loopBound.value.closeConnection() }
    }
}
