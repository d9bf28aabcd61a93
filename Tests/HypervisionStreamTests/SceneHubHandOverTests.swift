import HypervisionCore
import Synchronization
import Testing

@testable import HypervisionStream

/// What every sink of a test heard, in one order across sinks.
private final class SharedLog: Sendable {
    let events = Mutex<[(sink: Int, event: String)]>([])
}

private final class LoggingSink: SceneSink {
    let number: Int
    let log: SharedLog
    init(_ number: Int, log: SharedLog) {
        self.number = number
        self.log = log
    }
    func send(_ line: [UInt8]) { log.events.withLock { $0.append((number, "send")) } }
    func close() { log.events.withLock { $0.append((number, "close")) } }
    func handOver() { log.events.withLock { $0.append((number, "handOver")) } }
}

@Suite("The hub hands a publish's lines over once they are all queued")
struct SceneHubHandOverTests {
    @Test func everySinkOfAPublishIsHandedOverAfterTheLastLineIsQueued() async throws {
        var configuration = SceneHub.Configuration()
        // A slot every millisecond: the publish below is past it, so no update is held.
        configuration.subscriber = SubscriberStateMachine.Configuration(maximumMessagesPerSecond: 1_000, heartbeatInterval: .seconds(30))
        let hub = SceneHub(configuration: configuration)
        let key = StreamKey(wall: "w")
        hub.publish(key, content: ["v": 0] as JSONValue)
        let log = SharedLog()
        let sinks = (0..<5).map { LoggingSink($0, log: log) }
        for sink in sinks {
            _ = hub.subscribe(SubscribeRequest(wall: "w"), sink: sink)
        }
        // Each subscribe sends the scene and hands it over at once.
        #expect(log.events.withLock { $0 }.map(\.event) == Array(repeating: ["send", "handOver"], count: 5).flatMap { $0 })
        log.events.withLock { $0.removeAll() }
        try await Task.sleep(for: .milliseconds(20))

        hub.publish(key, content: ["v": 1] as JSONValue)
        let events = log.events.withLock { $0 }
        let lastSend = events.lastIndex { $0.event == "send" } ?? .max
        let firstHandOver = events.firstIndex { $0.event == "handOver" } ?? -1
        #expect(events.filter { $0.event == "send" }.count == 5)
        #expect(lastSend < firstHandOver, "a writer was woken before every line was queued: \(events)")
        #expect(Set(events.filter { $0.event == "handOver" }.map(\.sink)) == Set(0..<5))

        // A publish that hands over later (a wall round in the real-time class): lines queued,
        // no writer woken until the caller says so.
        log.events.withLock { $0.removeAll() }
        try await Task.sleep(for: .milliseconds(20))
        let pending = PendingHandOvers()
        hub.publish(key, content: ["v": 2] as JSONValue, handingOverLater: pending)
        #expect(log.events.withLock { $0 }.map(\.event) == Array(repeating: "send", count: 5))
        pending.handOver()
        let handedOver = log.events.withLock { $0 }.filter { $0.event == "handOver" }.map(\.sink)
        #expect(Set(handedOver) == Set(0..<5) && handedOver.count == 5)
        pending.handOver()  // taken once
        #expect(log.events.withLock { $0 }.filter { $0.event == "handOver" }.count == 5)
    }
}
