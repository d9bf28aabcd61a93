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
        let timer = SceneHubService(hub: hub, interval: .seconds(5))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await timer.run() }
            try await Task.sleep(for: .milliseconds(300))  // the timer sleeps its longest now
            hub.publish(key, content: ["v": 1] as JSONValue)  // the slot is free: sent at once
            let published = SceneHub.monotonicNow()
            hub.publish(key, content: ["v": 2] as JSONValue)  // held until the next slot, 100 ms on
            try await Task.sleep(for: .milliseconds(800))
            let lines = sink.received
            try #require(lines.count == 3)
            try #require(published - lines[1].at < 50_000_000, "the second publish must come well before the slot")
            let gap = Double(lines[2].at - lines[1].at) / 1e6
            // At its slot (100 ms less the 12.5 ms early tolerance), not at the timer's 5 s.
            #expect(gap >= 87 && gap < 600, "\(gap) ms between the two updates")
            group.cancelAll()
        }
    }
}
