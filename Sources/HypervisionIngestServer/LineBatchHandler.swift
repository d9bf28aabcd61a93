import NIOCore

/// Gathers the messages of one read burst (lines on TCP, datagrams on UDP) into a single batch,
/// so a gateway that streams a thousand pings costs one transaction, not a thousand. A batch is
/// passed on at the end of each read (`channelReadComplete`) or as soon as it holds
/// `maximumLines`.
public final class ReadBurstBatchHandler<Message>: ChannelInboundHandler {
    public typealias InboundIn = Message
    public typealias InboundOut = [Message]

    private let maximumLines: Int
    private var pending: [Message] = []

    public init(maximumLines: Int) {
        precondition(maximumLines > 0)
        self.maximumLines = maximumLines
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
        if pending.count >= maximumLines { flush(context: context) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
        context.fireChannelReadComplete()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        flush(context: context)
        context.fireChannelInactive()
    }

    private func flush(context: ChannelHandlerContext) {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        context.fireChannelRead(wrapInboundOut(batch))
    }
}

/// Batches of lines, for line protocols over TCP.
public typealias LineBatchHandler = ReadBurstBatchHandler<ByteBuffer>

/// Closes a connection that has been silent (or unable to take our answers) for too long,
/// telling the peer why first.
public final class IdleConnectionCloser: ChannelInboundHandler {
    public typealias InboundIn = [ByteBuffer]
    public typealias InboundOut = [ByteBuffer]

    public init() {}

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent {
            let reason = event == .write ? "answers not read" : "no data"
            let line = NDJSONIngestProtocol.fatal(code: "idle_timeout", message: "closing an idle connection (\(reason))")
            context.writeAndFlush(NIOAny(ByteBuffer(string: line)), promise: nil)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
