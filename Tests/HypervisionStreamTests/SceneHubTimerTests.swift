import HypervisionCore
import Synchronization
import Testing

@testable import HypervisionStream

/// Records what the hub sends, with the monotonic time of each line.
final class RecordingSink: SceneSink {
    private let lines = Mutex<[(at: UInt64, line: [UInt8])]>([])
    func send(_ line: [UInt8]) { lines.withLock { $0.append((SceneHub.monotonicNow(), line)) } }
    func close() {}
    var received: [(at: UInt64, line: [UInt8])] { lines.withLock { $0 } }
}

@Suite("The hub's timers")
struct SceneHubTimerTests {
    @Test("An update held for its subscriber's slot goes out at that slot, not at the timer's next round")
    func heldUpdateGoesOutAtItsSlot() async throws {
        var configuration = SceneHub.Configuration()
        // One update per 100 ms; the timer's longest sleep is much longer than that.
        configuration.subscriber = SubscriberStateMachine.Configuration(maximumMessagesPerSecond: 10, heartbeatInterval: .seconds(30))
        let hub = SceneHub(configuration: configuration)
        let key = StreamKey(wall: "w")
        hub.publish(key, content: ["v": 0] as JSONValue)
        let sink = RecordingSink()
        _ = hub.subscribe(SubscribeRequest(wall: "w"), sink: sink)
        #expect(sink.received.count == 1)  // the scene, at once
        // The timer's longest sleep, far beyond the slot: an update that waits for it shows.
        let timer = SceneHubService(hub: hub, interval: .seconds(20))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await timer.run() }
            try await Task.sleep(for: .milliseconds(300))  // the timer sleeps its longest now
            let beforeFirst = SceneHub.monotonicNow()
            hub.publish(key, content: ["v": 1] as JSONValue)  // the slot is free: sent at once
            hub.publish(key, content: ["v": 2] as JSONValue)  // held until the next slot, 100 ms on
            // Generous: a loaded machine may run the timer late, but never 20 s late. The held
            // update is found by its content: a test task starved for 30 s (a loaded full run)
            // lets a heartbeat in before the publishes.
            // As a scene (`"v":2`) or as a patch (`"path":"/v","value":2`), whichever is smaller.
            func carries(_ line: [UInt8], _ value: Int) -> Bool {
                let text = String(decoding: line, as: UTF8.self)
                return text.contains(#""v":\#(value)"#) || text.contains(#""path":"/v","value":\#(value)"#)
            }
            let deadline = ContinuousClock.now + .seconds(5)
            while !sink.received.contains(where: { carries($0.line, 2) }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            let lines = sink.received
            let held = try #require(lines.first { carries($0.line, 2) }, "the held update never went out")
            // The slot is 100 ms after the first update was sent (which is after `beforeFirst`),
            // less the 12.5 ms early tolerance; the timer on its own would wait 20 s.
            let delay = Double(held.at - beforeFirst) / 1e6
            let sent = lines.map { "\(Double(Int64(bitPattern: $0.at &- beforeFirst)) / 1e6) ms: \(String(decoding: $0.line.prefix(120), as: UTF8.self))" }
            #expect(delay >= 87.5 && delay < 5_000, "\(delay) ms from the first publish to the held update; lines sent: \(sent)")
            group.cancelAll()
        }
    }
}
