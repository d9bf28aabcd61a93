import HypervisionCore
import Testing

@testable import HypervisionStream

/// The history and several subscribers driven together with a simulated clock, as the hub drives
/// them: every subscriber's renderer copy must equal the scene, fast ones at their rate and slow
/// ones without holding anything back.
@Suite struct HubSimulationTests {
    struct Subscriber {
        var machine: SubscriberStateMachine
        var replica = SceneReplica()
        var updateTimes: [UInt64] = []
        var lines = 0
        var bytes = 0
        var closed: StreamError?

        init(configuration: SubscriberStateMachine.Configuration) {
            machine = SubscriberStateMachine(configuration: configuration)
        }

        /// What the hub does with an action: build the line from the history, "write" it.
        mutating func perform(_ action: SubscriberStateMachine.Action, history: SceneHistory, now: UInt64) throws {
            let line: [UInt8]?
            switch action {
            case .none: return
            case .sendScene: line = history.sceneLine()
            case .sendPatch(let base): line = history.updateLine(since: base)
            case .sendHeartbeat(let seq):
                #expect(seq == replica.seq)
                line = WireLine.heartbeat(seq: seq, time: Timestamp(microseconds: Int64(now / 1000)))
            case .close(let error):
                closed = error
                return
            }
            guard let line else { return }
            if case .sendHeartbeat = action {} else { updateTimes.append(now) }
            lines += 1
            bytes += line.count
            try replica.apply(line: line)
        }
    }

    @Test func burstIsCoalescedIntoOneCombinedPatch() throws {
        let configuration = SubscriberStateMachine.Configuration(maximumMessagesPerSecond: 10)
        // Enough units that ten steps of changes are smaller than the scene.
        var scene = MovingScene(seed: 11, unitCount: 200)
        var history = SceneHistory(key: StreamKey(wall: "cic-paris"), seq: 500, document: scene.document)
        let start = history.document
        var subscriber = Subscriber(configuration: configuration)
        try subscriber.perform(subscriber.machine.subscribed(since: nil, currentSeq: history.seq, now: 0), history: history, now: 0)
        // Ten publishes within 50 ms: none goes out on its own.
        for step in UInt64(1)...10 {
            let now = step * 5_000_000
            guard let (seq, _) = history.publish(scene.advance()) else { continue }
            #expect(subscriber.machine.published(seq: seq, now: now) == .none)
        }
        let action = subscriber.machine.tick(now: 100_000_000)
        #expect(action == .sendPatch(base: 500))
        let line = try #require(history.updateLine(since: 500))
        guard case .patch(let seq, let base, let patch) = try ServerMessage(line: line.dropLast()) else {
            Issue.record("expected one combined patch")
            return
        }
        #expect(base == 500 && seq == history.seq)
        try subscriber.perform(action, history: history, now: 100_000_000)
        #expect(subscriber.lines == 2)
        #expect(subscriber.replica.document == history.document)
        #expect(try patch.applied(to: start) == history.document)
    }

    @Test func fastSubscribersKeepTheirRateWhileOneStallsAndOneOverflows() throws {
        let configuration = SubscriberStateMachine.Configuration(
            maximumMessagesPerSecond: 10, heartbeatInterval: .seconds(1), maximumPendingBytes: 4096, stallTimeout: .seconds(30))
        var scene = MovingScene(seed: 5)
        var history = SceneHistory(key: StreamKey(wall: "cic-paris"), seq: 1_000_000, document: scene.document)
        var subscribers = (0..<4).map { _ in Subscriber(configuration: configuration) }
        // Subscriber 1 resumes at the current seq (it already holds that scene): it gets a heartbeat.
        try subscribers[1].replica.apply(.scene(seq: history.seq, scene: history.document))
        for index in subscribers.indices {
            let since: UInt64? = index == 1 ? history.seq : nil
            try subscribers[index].perform(
                subscribers[index].machine.subscribed(since: since, currentSeq: history.seq, now: 0), history: history, now: 0)
        }
        let millisecond: UInt64 = 1_000_000
        // 10 simulated seconds: a publish every 10 ms (100/s), ticks every 5 ms; then 200 ms more
        // of ticks for the last slot to come.
        for tickIndex in UInt64(1)...2040 {
            let now = tickIndex * 5 * millisecond
            // Subscriber 2 stops reading from 1 s to 4 s.
            if now == 1000 * millisecond { _ = subscribers[2].machine.writabilityChanged(false, now: now) }
            if now == 4000 * millisecond {
                try subscribers[2].perform(subscribers[2].machine.writabilityChanged(true, now: now), history: history, now: now)
            }
            // Subscriber 3 leaves 10 KB unread from 2 s to 6 s.
            if now == 2000 * millisecond { _ = subscribers[3].machine.outboundBytesPending(10_000, now: now) }
            if now == 6000 * millisecond {
                try subscribers[3].perform(subscribers[3].machine.outboundBytesPending(0, now: now), history: history, now: now)
            }
            if tickIndex % 2 == 0, tickIndex <= 2000, let (seq, _) = history.publish(scene.advance()) {
                for index in subscribers.indices {
                    try subscribers[index].perform(subscribers[index].machine.published(seq: seq, now: now), history: history, now: now)
                }
            }
            for index in subscribers.indices {
                try subscribers[index].perform(subscribers[index].machine.tick(now: now), history: history, now: now)
            }
        }
        for subscriber in subscribers {
            #expect(subscriber.closed == nil)
            #expect(subscriber.replica.seq == history.seq)
            #expect(subscriber.replica.document == history.document)
            // Never faster than the configured rate: a slot may be taken up to the tolerance early,
            // never earlier, and slots keep their phase (no drift over many updates).
            let tolerance = configuration.slotToleranceNanoseconds
            for (earlier, later) in zip(subscriber.updateTimes, subscriber.updateTimes.dropFirst()) {
                #expect(later - earlier + tolerance >= 100 * millisecond)
            }
            if let first = subscriber.updateTimes.first, let last = subscriber.updateTimes.last {
                #expect(last - first + tolerance >= UInt64(subscriber.updateTimes.count - 1) * 100 * millisecond)
            }
        }
        // The fast ones got (nearly) every slot of 10.2 s at 10/s: the first scene, 101 slots at most.
        #expect(subscribers[0].updateTimes.count >= 95 && subscribers[0].updateTimes.count <= 102, "\(subscribers[0].updateTimes.count)")
        #expect(subscribers[1].updateTimes.count >= 95)
        // The stalled one got nothing between 1 s and 4 s, then one update.
        #expect(!subscribers[2].updateTimes.contains { $0 > 1000 * millisecond && $0 < 4000 * millisecond })
        #expect(subscribers[2].updateTimes.contains(4000 * millisecond))
        // The overflowing one got nothing while 10 KB were unread, then a full scene.
        #expect(!subscribers[3].updateTimes.contains { $0 > 2000 * millisecond && $0 < 6000 * millisecond })
        #expect(subscribers[3].updateTimes.contains(6000 * millisecond))
        #expect(subscribers[3].updateTimes.count < subscribers[0].updateTimes.count - 30)
    }

    @Test func resumeInsideAndOutsideTheHistory() throws {
        var scene = MovingScene(seed: 9)
        var history = SceneHistory(key: StreamKey(wall: "w", display: "r0c1"), seq: 0, document: scene.document, limits: .init(maximumPatches: 20))
        var documents: [UInt64: JSONValue] = [0: history.document]
        while history.seq < 50 {
            if let (seq, _) = history.publish(scene.advance()) { documents[seq] = history.document }
        }
        for since: UInt64 in [45, 30, 29, 10, 50, 1000] {
            var subscriber = Subscriber(configuration: .init())
            if let held = documents[since] { try subscriber.replica.apply(.scene(seq: since, scene: held)) }
            try subscriber.perform(subscriber.machine.subscribed(since: since, currentSeq: history.seq, now: 0), history: history, now: 0)
            #expect(subscriber.replica.seq == history.seq, "since \(since)")
            #expect(subscriber.replica.document == history.document, "since \(since)")
        }
    }
}
