import NIOCore
import NIOExtras

/// The line framing of the NDJSON ingest port: lines end with `\n` (a `\r` before it is dropped),
/// and a line longer than `maximumLineBytes` fails the stream with
/// `ByteToMessageDecoderError.PayloadTooLargeError` (answered `line_too_long`).
///
/// `ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize:)` alone is not that limit:
/// the cap applies only to bytes still waiting for their newline, so a longer line whose newline
/// came in the same read was handed on whole (up to the cap plus one read). Here every line is
/// also measured as it is cut, and the cap leaves room for the `\r` of a line exactly at the limit.
public enum LineFraming {
    public static func handler(maximumLineBytes: Int) -> ByteToMessageHandler<BoundedLineDecoder> {
        ByteToMessageHandler(BoundedLineDecoder(maximumLineBytes: maximumLineBytes), maximumBufferSize: maximumLineBytes + 1)
    }
}

/// `LineBasedFrameDecoder` with a limit on each line it cuts (see ``LineFraming``).
public final class BoundedLineDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    private let lines = LineBasedFrameDecoder()
    private let maximumLineBytes: Int

    public init(maximumLineBytes: Int) {
        self.maximumLineBytes = maximumLineBytes
    }

    public func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let line = try lines.decode(buffer: &buffer) else { return .needMoreData }
        guard line.readableBytes <= maximumLineBytes else { throw ByteToMessageDecoderError.PayloadTooLargeError() }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    /// At the end of the stream: the complete lines left, each measured, then what
    /// `LineBasedFrameDecoder` does with an unterminated tail (it reports `LeftOverBytesError`;
    /// the tail is not a line and is not read).
    public func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return try lines.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }
}

@available(*, unavailable)
extension BoundedLineDecoder: Sendable {}
