import HypervisionCore
import Synchronization
import Testing

@testable import HypervisionIngestServer

/// The reader/storer hand-over of a connection: order, the bound, and both ways of ending.
@Suite struct StoreQueueTests {
    @Test func theStorerTakesEverythingThatPiledUpInOrder() async {
        let queue = StoreQueue<Int>(limit: 100)
        for n in 1...5 { #expect(await queue.push(n, weight: 1)) }
        #expect(await queue.takeAll() == [1, 2, 3, 4, 5])
        queue.done(weight: 5)
        #expect(await queue.push(6, weight: 1))
        queue.finish()
        #expect(await queue.takeAll() == [6])
        #expect(await queue.takeAll() == nil)
    }

    /// Waits (without sleeping) until `condition` holds; false after many yields.
    func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<100_000 {
            if condition() { return true }
            await Task.yield()
        }
        return condition()
    }

    @Test func aPushBeyondTheLimitWaitsUntilTheStorerIsDone() async throws {
        let queue = StoreQueue<Int>(limit: 10)
        #expect(await queue.push(1, weight: 8))
        let returned = Locked(false)
        let second = Task {
            let pushed = await queue.push(2, weight: 5)
            returned.mutate { $0 = true }
            return pushed
        }
        #expect(await eventually { queue.isProducerWaiting }, "the second push parks")
        // Still waiting: taking does not make room, only a report of what was stored does.
        #expect(await queue.takeAll() == [1])
        #expect(queue.isProducerWaiting && !returned.value)
        queue.done(weight: 8)
        #expect(await second.value)
        #expect(await queue.takeAll() == [2])
    }

    @Test func anEntryHeavierThanTheLimitStillPassesAlone() async {
        let queue = StoreQueue<String>(limit: 10)
        #expect(await queue.push("big", weight: 50))
        #expect(await queue.takeAll() == ["big"])
    }

    @Test func aStorerThatStopsReleasesAWaitingReader() async throws {
        let queue = StoreQueue<Int>(limit: 1)
        #expect(await queue.push(1, weight: 1))
        let waiting = Task { await queue.push(2, weight: 1) }
        #expect(await eventually { queue.isProducerWaiting })
        queue.abandon()
        #expect(await waiting.value == false)
        #expect(await queue.push(3, weight: 1) == false)
    }

    @Test func aCancelledReaderStopsWaiting() async throws {
        let queue = StoreQueue<Int>(limit: 1)
        #expect(await queue.push(1, weight: 1))
        let waiting = Task { await queue.push(2, weight: 1) }
        #expect(await eventually { queue.isProducerWaiting })
        waiting.cancel()
        #expect(await waiting.value == false)
    }

    @Test func aWaitingStorerWakesOnThePushAndOnTheEnd() async throws {
        let queue = StoreQueue<Int>(limit: 10)
        let taker = Task { await queue.takeAll() }
        #expect(await eventually { queue.isConsumerWaiting })
        #expect(await queue.push(7, weight: 1))
        #expect(await taker.value == [7])
        let last = Task { await queue.takeAll() }
        #expect(await eventually { queue.isConsumerWaiting })
        queue.finish()
        #expect(await last.value == nil)
    }
}

/// Submissions merged into one store keep each refused item's place in the whole.
@Suite struct PreparedMergeTests {
    @Test func aLaterSubmissionsRefusedItemsCountFromTheItemsBefore() {
        let ping = Ping(
            unit: UnitID(trusted: "PN-1"), time: Timestamp(microseconds: 1_795_428_000_000_000), position: GeoPoint(latitude: 48.85, longitude: 2.35),
            receivedAt: Timestamp(microseconds: 1_795_428_000_000_000))
        let bad = ValidationError(.notFinite, "lat is not finite")
        // Items 0-2: ping, refused, ping. Items 3-4: refused, ping.
        var merged = PingIntake.Prepared(pings: [ping, ping], rejected: [(1, bad)])
        merged.append(PingIntake.Prepared(pings: [ping], rejected: [(0, bad)]))
        #expect(merged.pings.count == 3)
        #expect(merged.rejected.map(\.index) == [1, 3])
    }
}

/// A value shared between test tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func mutate(_ body: (inout Value) -> Void) { mutex.withLock { body(&$0) } }
}
