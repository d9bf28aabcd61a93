import NIOCore

/// Gathers the messages of one read burst (lines on TCP, datagrams on UDP) into a single batch,
/// so a gateway that streams a thousand pings costs one transaction, not a thousand. A batch is
/// passed on at the end of each read (`channelReadComplete`) or as soon as it holds
/// `maximumLines`, and when the input ends (the client shut its side down, or left).
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

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A half-closed connection stays open for our answers: its last lines (the decoder
        // passes an unterminated last line on at this event) must not wait for a close.
        if event as? ChannelEvent == .inputClosed { flush(context: context) }
        context.fireUserInboundEventTriggered(event)
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

/// A line longer than the limit: the stream cannot be resynchronised, the connection ends.
public struct LineTooLongError: Error, Sendable, Hashable {
    /// The limit that was exceeded.
    public var limit: Int
    /// The first line of the connection (NDJSON's auth line, held to a smaller limit).
    public var isFirstLine: Bool
}

/// Splits a byte stream into lines at each LF (a CR before it is left for the reader to drop).
///
/// Unlike NIOExtras' `LineBasedFrameDecoder` it has a limit of its own, a smaller one for the
/// first line (what an unauthenticated client may make the server hold is the auth line, a
/// hundred bytes, not a 64 KiB ping line), and an unterminated last line at the end of the input
/// is a line: `printf '…' | nc` and gateways that shut their side down after the last ping
/// have that ping stored and acknowledged rather than silently dropped.
public struct NDJSONLineDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public let firstLineLimit: Int
    public let lineLimit: Int
    private var lines = 0
    /// Bytes already searched for a newline, so a long line arriving in pieces is scanned once.
    private var scanned = 0

    public init(firstLineLimit: Int, lineLimit: Int) {
        self.firstLineLimit = firstLineLimit
        self.lineLimit = lineLimit
    }

    private var limit: Int { lines == 0 ? firstLineLimit : lineLimit }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.dropFirst(scanned).firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = view.count
            // One byte of grace: a line exactly at the limit may still end with "\r\n".
            if view.count > limit + 1 { throw LineTooLongError(limit: limit, isFirstLine: lines == 0) }
            return .needMoreData
        }
        let length = newline - view.startIndex
        // The limit is on the line, not on its terminator (the exact limit the README documents).
        if Self.content(view, length: length) > limit { throw LineTooLongError(limit: limit, isFirstLine: lines == 0) }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        scanned = 0
        lines += 1
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            if Self.content(buffer.readableBytesView, length: buffer.readableBytes) > limit {
                throw LineTooLongError(limit: limit, isFirstLine: lines == 0)
            }
            let last = buffer.readSlice(length: buffer.readableBytes)!
            lines += 1
            scanned = 0
            context.fireChannelRead(wrapInboundOut(last))
        }
        return .needMoreData
    }

    /// The length of the line's content: without the CR that may end it.
    private static func content(_ view: ByteBufferView, length: Int) -> Int {
        length > 0 && view[view.startIndex + length - 1] == UInt8(ascii: "\r") ? length - 1 : length
    }
}
