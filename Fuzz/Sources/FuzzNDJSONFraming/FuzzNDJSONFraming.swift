import FuzzSupport
import HypervisionCore
import HypervisionIngest
import HypervisionIngestServer
import NIOCore
import NIOEmbedded

// The NDJSON ingest port's framing, built as the server builds it (its line decoder, then the
// read-burst batcher), fed in reads split where the fuzzer
// chooses (the input's first byte picks the split). Checked: the lines handed on are the input's
// lines in order, batches respect their cap, and the line limit the README documents
// (`ingest.tcp.maxLineBytes`: a longer line closes the connection) holds exactly. Each line then
// goes where the server sends it: the first to the auth line parser, the others to the ping
// decoder.

/// Small, so that short inputs cross it.
private let maximumLineBytes = 64
private let maximumBatchLines = 4
private let decoder = JSONPingDecoder()

@main enum FuzzNDJSONFraming {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let control = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    let channel = EmbeddedChannel()
    do {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(
            ByteToMessageHandler(NDJSONLineDecoder(firstLineLimit: maximumLineBytes, lineLimit: maximumLineBytes)))
        try pipeline.addHandler(LineBatchHandler(maximumLines: maximumBatchLines))
    } catch {
        Fuzz.check(false, "the pipeline could not be built: \(error)")
    }

    var lines: [[UInt8]] = []
    var fed = 0
    var closed = false
    for read in Fuzz.reads(count: stream.count, control: control) {
        channel.pipeline.fireChannelRead(ByteBuffer(bytes: stream[read]))
        channel.pipeline.fireChannelReadComplete()
        fed = read.upperBound
        collect(channel, into: &lines)
        do {
            try channel.throwIfErrorCaught()
        } catch is LineTooLongError {
            // The server answers line_too_long and closes: nothing after this is read.
            closed = true
            break
        } catch {
            Fuzz.check(false, "framing failed with \(error)")
        }
    }
    // The end of the stream (or the close after line_too_long): an unterminated last line is
    // framed too (a gateway that half-closes after its last ping has it stored), unless it is
    // over the limit. Finishing also breaks the channel's reference cycle with its pipeline,
    // which would otherwise show up as a leak.
    if closed {
        _ = try? channel.finish(acceptAlreadyClosed: true)
    } else {
        do {
            _ = try channel.finish(acceptAlreadyClosed: true)
        } catch is LineTooLongError {
            closed = true
        } catch {
            Fuzz.check(false, "framing failed at the end of the stream with \(error)")
        }
        collect(channel, into: &lines)
    }

    // What the server should have seen: every line of what was fed, without its "\n" (a "\r"
    // before it is left for the reader), and the unterminated tail at the end.
    var expected: [[UInt8]] = []
    var start = 0
    for i in 0..<fed where stream[i] == UInt8(ascii: "\n") {
        expected.append(Array(stream[start..<i]))
        start = i + 1
    }
    if !closed && fed > start { expected.append(Array(stream[start..<fed])) }
    func content(_ line: [UInt8]) -> Int { line.last == UInt8(ascii: "\r") ? line.count - 1 : line.count }
    var pending = fed - start
    if pending > 0 && stream[fed - 1] == UInt8(ascii: "\r") { pending -= 1 }

    Fuzz.check(lines.count <= expected.count, "\(lines.count) lines framed from \(expected.count)")
    Fuzz.check(Array(expected.prefix(lines.count)) == lines, "the framed lines are not the input's lines")
    let longest = expected.map(content).max() ?? 0
    if closed {
        Fuzz.check(
            longest > maximumLineBytes || pending > maximumLineBytes,
            "line_too_long with no line over \(maximumLineBytes) bytes (longest \(longest), pending \(pending))")
    } else {
        Fuzz.check(lines.count == expected.count, "\(expected.count - lines.count) lines were not framed")
        for line in lines {
            Fuzz.check(content(line) <= maximumLineBytes, "a \(line.count)-byte line passed a \(maximumLineBytes)-byte limit")
        }
    }

    // The lines as the server reads them: one more trailing "\r" dropped, the first line tried
    // as the auth line, blank lines skipped, the rest decoded as pings.
    for (index, var line) in lines.enumerated() {
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        if index == 0, NDJSONIngestProtocol.authToken(line) != nil { continue }
        if line.isEmpty { continue }
        switch decoder.decodeLine(line) {
        case .ping(let ping):
            Fuzz.checkDecoded(ping, maximumStringBytes: decoder.limits.maximumStringBytes)
            Fuzz.validate(ping)
        case .invalid(let error):
            Fuzz.checkOffsets(in: error.message, inputCount: line.count)
        }
    }
    return 0
}

private func collect(_ channel: EmbeddedChannel, into lines: inout [[UInt8]]) {
    while let batch = try? channel.readInbound(as: [ByteBuffer].self) {
        Fuzz.check(!batch.isEmpty && batch.count <= maximumBatchLines, "a batch of \(batch.count) lines")
        for line in batch { lines.append(Array(line.readableBytesView)) }
    }
}
