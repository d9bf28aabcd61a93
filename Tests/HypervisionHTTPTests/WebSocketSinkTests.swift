import HypervisionCore
import HypervisionTestSupport
import Testing

@testable import HypervisionHTTP

/// The WebSocket subscriber's queue stays bounded whatever the hub does.
@Suite struct WebSocketSinkTests {
    /// Everything queued, in order, once the sink is closed.
    static func drained(_ sink: WebSocketSink) async -> [[UInt8]] {
        var lines: [[UInt8]] = []
        for await line in sink.lines { lines.append(line) }
        return lines
    }

    @Test func pastTheHighWaterMarkTheHubIsToldItIsNotWritableAndAgainWhenItDrains() async {
        let sink = WebSocketSink(highWaterBytes: 1_000)
        let changes = Locked<[Bool]>([])
        sink.onWritabilityChange.set { writable in changes.mutate { $0.append(writable) } }
        for _ in 0..<3 { sink.send(Array(repeating: 0x41, count: 400)) }
        #expect(changes.value == [false])
        sink.sent(400)
        #expect(changes.value == [false], "800 bytes still queued: above a quarter of the mark")
        sink.sent(400)
        sink.sent(400)
        #expect(changes.value == [false, true])
    }

    /// A hub that ignored the writability signal used to grow the queue without end; now the
    /// sink closes at the hard limit, keeps what it had queued, and takes nothing more.
    @Test func aQueuePastTheHardLimitClosesInsteadOfGrowing() async {
        let sink = WebSocketSink(highWaterBytes: 1_000)
        let line = Array(repeating: UInt8(0x42), count: 500)
        for _ in 0..<100 { sink.send(line) }  // 50,000 bytes offered, none sent
        #expect(sink.isClosed)
        guard sink.isClosed else { return }  // an open sink's stream would never end
        let queued = await Self.drained(sink)
        #expect(queued.count == sink.hardLimitBytes / line.count)
        #expect(queued.reduce(0) { $0 + $1.count } <= sink.hardLimitBytes)
        sink.send(line)
        #expect(sink.isClosed)
    }
}
