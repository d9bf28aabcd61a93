import HypervisionCore
import Testing

@testable import HypervisionStore

/// The text of the live feed between daemons: exact round trips, payloads under PostgreSQL's
/// limit, and hostile lines refused one by one.
@Suite struct LiveFeedCodecTests {
    static func ping(_ index: Int, full: Bool) -> Ping {
        Ping(
            unit: UnitID(trusted: "UNIT-\(index)"), time: Timestamp(microseconds: 1_780_000_000_000_000 + Int64(index) * 1_001),
            position: GeoPoint(latitude: 48.8566 + Double(index) * 1e-7, longitude: -2.3522 - Double(index) / 3),
            altitude: full ? 35.25 : nil, speed: full ? 0.1 + 0.2 : nil, heading: full ? 359.99 : nil, accuracy: full ? 4 : nil,
            status: full ? .enRoute : nil, battery: full ? 100 : nil, receivedAt: Timestamp(microseconds: 1_780_000_000_123_456))
    }

    @Test func pingsComeBackBitForBitAndPayloadsStayUnderTheLimit() throws {
        let pings = (0..<500).map { Self.ping($0, full: $0 % 2 == 0) }
        let payloads = LiveFeedCodec.encode(pings, node: "cic-a")
        #expect(payloads.count > 5)
        #expect(payloads.allSatisfy { $0.utf8.count <= LiveFeedCodec.maximumPayloadBytes })
        var back: [Ping] = []
        for payload in payloads {
            let decoded = try LiveFeedCodec.decode(payload)
            #expect(decoded.node == "cic-a" && decoded.refused.isEmpty)
            back += decoded.pings
        }
        #expect(back == pings)
        #expect(LiveFeedCodec.encode([], node: "cic-a").isEmpty)
    }

    @Test func badLinesAreRefusedOneByOneAndTheRestKept() throws {
        let good = LiveFeedCodec.line(Self.ping(1, full: true))
        let bad = [
            "bad id\t1\t2\t48\t2\t\t\t\t\t\t\n", "U\tx\t2\t48\t2\t\t\t\t\t\t\n", "U\t1\t2\t91\t2\t\t\t\t\t\t\n",
            "U\t1\t2\t48\tnan\t\t\t\t\t\t\n", "U\t1\t2\t48\t2\t\t\t\t\tNOPE\t\n", "U\t1\t2\t48\t2\t\t\t\t\t\t101\n", "U\t1\n",
        ]
        let decoded = try LiveFeedCodec.decode("H1 cic-b\n" + bad.joined() + good)
        #expect(decoded.pings == [Self.ping(1, full: true)])
        #expect(decoded.refused.count == bad.count, "\(decoded.refused)")
        #expect(throws: LiveFeedCodec.UnreadablePayload.self) { try LiveFeedCodec.decode(good) }
        #expect(throws: LiveFeedCodec.UnreadablePayload.self) { try LiveFeedCodec.decode("H1 \n" + good) }
        #expect(throws: LiveFeedCodec.UnreadablePayload.self) { try LiveFeedCodec.decode("") }
    }

    @Test func aPingLongerThanTheLimitStillGoesOutAlone() {
        let payloads = LiveFeedCodec.encode([Self.ping(1, full: true), Self.ping(2, full: true)], node: "n", maximumBytes: 10)
        #expect(payloads.count == 2)
    }

    @Test func packedMessagesComeBackInOrderUnderTheLimit() {
        // Multibyte text beside the separator, messages that fill a payload, one alone.
        let messages = ["S1 a w - 2 1 0 1 [\"é\"]", String(repeating: "x", count: 60), "K1 b w", String(repeating: "ü", count: 40), "U1 a w 3 1 0 1 []"]
        let packed = LiveFeedPublisher.pack(messages, maximumBytes: 100)
        #expect(packed.count > 1)
        #expect(packed.allSatisfy { $0.utf8.count <= 100 })
        #expect(packed.flatMap(LiveFeedPublisher.unpack) == messages)
        #expect(LiveFeedPublisher.unpack("H1 n\nno separator") == ["H1 n\nno separator"])
    }
}
