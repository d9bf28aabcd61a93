import Synchronization
import Testing

@testable import HypervisionCore

@Suite struct CallbackSlotTests {
    @Test func anUnsetSlotAnswersNil() {
        let slot = CallbackSlot<Int, Int>()
        #expect(!slot.isSet)
        #expect(slot(1) == nil)
    }

    @Test func aSetSlotCallsTheLatestCallback() {
        let slot = CallbackSlot<Int, Int>()
        slot.set { $0 + 1 }
        #expect(slot(1) == 2)
        slot.set { $0 * 10 }
        #expect(slot(3) == 30)
        slot.set(nil)
        #expect(slot(3) == nil)
    }

    /// A hub's observer is called for every version published, hundreds of times a second. Held
    /// as a `Mutex<(closure)?>`, each read wrapped the closure in one more thunk, and this many
    /// calls overflowed the stack (a crash, after calls slower each time than the one before).
    @Test func aMillionCallsCostNoMoreThanTheFirst() async {
        let slot = CallbackSlot<(StreamLikeKey, UInt64, [UInt8]?), Void>()
        let total = Mutex(0)
        slot.set { key, seq, _ in total.withLock { $0 += key.number + Int(seq) } }
        let calls = 1_000_000
        // On a task's thread, whose stack is where the thunks would pile up.
        await Task.detached {
            for _ in 0..<calls { slot((StreamLikeKey(number: 1), 1, nil)) }
        }.value
        #expect(total.withLock { $0 } == 2 * calls)
    }
}

private struct StreamLikeKey: Sendable {
    let number: Int
}
