import HypervisionCore
import Testing

@testable import HypervisionStream

private func ms(_ milliseconds: UInt64) -> UInt64 { milliseconds * 1_000_000 }

@Suite struct SubscriberStateMachineTests {
    /// 10 updates per second, a heartbeat after 2 s of silence, 1 MiB of unsent bytes, 30 s of stall.
    let configuration = SubscriberStateMachine.Configuration(
        maximumMessagesPerSecond: 10, heartbeatInterval: .seconds(2), maximumPendingBytes: 1 << 20, stallTimeout: .seconds(30))

    func subscribed(since: UInt64? = nil, currentSeq: UInt64 = 10, at now: UInt64 = 0) -> SubscriberStateMachine {
        var machine = SubscriberStateMachine(configuration: configuration)
        _ = machine.subscribed(since: since, currentSeq: currentSeq, now: now)
        return machine
    }

    @Test func configurationInNanoseconds() {
        #expect(configuration.minimumIntervalNanoseconds == ms(100))
        #expect(configuration.heartbeatIntervalNanoseconds == ms(2000))
        #expect(configuration.stallTimeoutNanoseconds == ms(30_000))
        #expect(SubscriberStateMachine.Configuration(heartbeatInterval: .milliseconds(1500)).heartbeatIntervalNanoseconds == ms(1500))
    }

    @Test func firstAnswerDependsOnSince() {
        var machine = SubscriberStateMachine(configuration: configuration)
        #expect(machine.deliveredSeq == nil)
        #expect(machine.nextDeadline == nil)
        #expect(machine.subscribed(since: nil, currentSeq: 10, now: 0) == .sendScene)
        #expect(machine.deliveredSeq == 10)

        machine = SubscriberStateMachine(configuration: configuration)
        #expect(machine.subscribed(since: 10, currentSeq: 10, now: 0) == .sendHeartbeat(seq: 10))
        machine = SubscriberStateMachine(configuration: configuration)
        #expect(machine.subscribed(since: 4, currentSeq: 10, now: 0) == .sendPatch(base: 4))
        // A since from the future: the history answers `updateLine(since: 99)` with a full scene.
        machine = SubscriberStateMachine(configuration: configuration)
        #expect(machine.subscribed(since: 99, currentSeq: 10, now: 0) == .sendPatch(base: 99))
        #expect(machine.deliveredSeq == 10)
    }

    @Test func sendsAtOnceWhenTheSlotIsOpenThenCoalesces() {
        let tolerance = configuration.slotToleranceNanoseconds
        #expect(tolerance == ms(100) / 8)
        var machine = subscribed()
        #expect(machine.published(seq: 11, now: ms(150)) == .sendPatch(base: 10))
        #expect(machine.published(seq: 12, now: ms(160)) == .none)
        #expect(machine.published(seq: 13, now: ms(200)) == .none)
        #expect(machine.latestSeq == 13)
        #expect(machine.deliveredSeq == 11)
        // The next slot is 100 ms after the last update, taken up to the tolerance early.
        #expect(machine.nextDeadline == ms(250) - tolerance)
        #expect(machine.tick(now: ms(250) - tolerance - 1) == .none)
        #expect(machine.tick(now: ms(250) - tolerance) == .sendPatch(base: 11))
        #expect(machine.deliveredSeq == 13)
        #expect(machine.tick(now: ms(400)) == .none)
        // Nothing waiting: the next deadline is the heartbeat's.
        #expect(machine.nextDeadline == ms(250) - tolerance + ms(2000))
    }

    /// A wall publishing at the subscriber's own rate, with scheduling jitter either way: every
    /// version goes out when published (none waits for a tick), and the rate is still kept.
    @Test func publishesAtTheRateWithJitterAreSentAtOnceAndKeepTheRate() {
        var machine = subscribed()
        var random = SeededRandom(seed: 3)
        var sent: [UInt64] = []
        for round in UInt64(1)...100 {
            let now = round * ms(100) + UInt64.random(in: 0...ms(8), using: &random)
            let action = machine.published(seq: 10 + round, now: now)
            #expect(action == .sendPatch(base: 10 + round - 1), "round \(round) waited for its slot")
            sent.append(now)
        }
        // Never more than one update beyond the rate in any stretch of time.
        for (index, time) in sent.enumerated() {
            for later in (index + 1)..<sent.count {
                #expect(sent[later] - time + ms(100) >= UInt64(later - index) * ms(100) - configuration.slotToleranceNanoseconds)
            }
        }
    }

    /// Publishing much faster than the rate: updates come at the rate, with no drift from the
    /// tolerance (100 updates in 10 s at 10/s, not 114).
    @Test func fastPublishesAreCoalescedToTheRate() {
        var machine = subscribed()
        var updates = 0
        for step in UInt64(1)...10_000 {
            let now = step * ms(1)
            if machine.published(seq: 10 + step, now: now) != .none { updates += 1 }
            if machine.tick(now: now) != .none { updates += 1 }
        }
        #expect(updates >= 99 && updates <= 101, "\(updates) updates")
    }

    @Test func heartbeatsAfterSilenceOnly() {
        var machine = subscribed()
        #expect(machine.nextDeadline == ms(2000))
        #expect(machine.tick(now: ms(1999)) == .none)
        #expect(machine.tick(now: ms(2000)) == .sendHeartbeat(seq: 10))
        #expect(machine.nextDeadline == ms(4000))
        #expect(machine.tick(now: ms(2500)) == .none)
        // An update resets the silence.
        #expect(machine.published(seq: 11, now: ms(3000)) == .sendPatch(base: 10))
        #expect(machine.tick(now: ms(4500)) == .none)
        #expect(machine.tick(now: ms(5000)) == .sendHeartbeat(seq: 11))
    }

    @Test func unwritableConnectionPausesThenGetsOneCombinedPatch() {
        var machine = subscribed()
        #expect(machine.writabilityChanged(false, now: ms(1000)) == .none)
        #expect(machine.isPaused)
        for seq in UInt64(11)...15 { #expect(machine.published(seq: seq, now: ms(1000 + seq)) == .none) }
        // No heartbeat either while nothing can be written.
        #expect(machine.tick(now: ms(10_000)) == .none)
        #expect(machine.nextDeadline == ms(31_000))
        #expect(machine.writabilityChanged(true, now: ms(12_000)) == .sendPatch(base: 10))
        #expect(machine.deliveredSeq == 15)
        #expect(!machine.isPaused)
    }

    @Test func tooManyPendingBytesSkipsToAFullScene() {
        var machine = subscribed()
        #expect(machine.outboundBytesPending(2 << 20, now: ms(100)) == .none)
        // New work while the renderer has not read the last: dropped, not queued.
        #expect(machine.published(seq: 11, now: ms(500)) == .none)
        #expect(machine.isPaused)
        #expect(machine.published(seq: 12, now: ms(600)) == .none)
        #expect(machine.nextDeadline == ms(30_500))
        // Still more than half the limit pending: stay paused.
        #expect(machine.outboundBytesPending(600_000, now: ms(1000)) == .none)
        #expect(machine.isPaused)
        #expect(machine.outboundBytesPending(100_000, now: ms(2000)) == .sendScene)
        #expect(machine.deliveredSeq == 12)
        #expect(machine.published(seq: 13, now: ms(2200)) == .sendPatch(base: 12))
    }

    @Test func oneLargeWriteAloneDoesNotSkip() {
        var machine = subscribed()
        // A large scene was just written; the renderer reads it in time.
        #expect(machine.outboundBytesPending(5 << 20, now: ms(1)) == .none)
        #expect(!machine.isPaused)
        #expect(machine.outboundBytesPending(0, now: ms(50)) == .none)
        #expect(machine.published(seq: 11, now: ms(200)) == .sendPatch(base: 10))
    }

    @Test func writableAgainAlsoEndsAnOverflow() {
        var machine = subscribed()
        _ = machine.outboundBytesPending(2 << 20, now: ms(100))
        #expect(machine.published(seq: 11, now: ms(500)) == .none)
        #expect(machine.writabilityChanged(false, now: ms(600)) == .none)
        #expect(machine.writabilityChanged(true, now: ms(700)) == .sendScene)
    }

    @Test func stalledSubscriberIsClosed() {
        var machine = subscribed()
        _ = machine.writabilityChanged(false, now: ms(1000))
        _ = machine.published(seq: 11, now: ms(2000))
        #expect(machine.tick(now: ms(30_999)) == .none)
        let action = machine.tick(now: ms(31_000))
        guard case .close(let error) = action else {
            Issue.record("expected close, got \(action)")
            return
        }
        #expect(error.code == .slowConsumer)
        #expect(error.message == #"read nothing for 30 s; reconnect with "since" to resume"#)
        #expect(machine.isClosed)
        #expect(machine.nextDeadline == nil)
        #expect(machine.published(seq: 12, now: ms(31_001)) == .none)
        #expect(machine.writabilityChanged(true, now: ms(31_002)) == .none)
        #expect(machine.tick(now: ms(40_000)) == .none)
    }

    @Test func secondSubscribeAndShutdown() {
        var machine = subscribed()
        #expect(machine.subscribed(since: nil, currentSeq: 10, now: 1) == .close(StreamError(code: .badRequest, message: "already subscribed on this connection")))
        #expect(machine.isClosed)
        #expect(machine.shutdown() == .none)
        var other = subscribed()
        guard case .close(let error) = other.shutdown() else {
            Issue.record("expected close")
            return
        }
        #expect(error.code == .shuttingDown)
    }

    @Test func idleSubscriberIsSmall() {
        let size = MemoryLayout<SubscriberStateMachine>.size
        // Reported in the hand-off: the whole per-subscriber delivery state is a few dozen bytes.
        print("MemoryLayout<SubscriberStateMachine>.size = \(size), stride = \(MemoryLayout<SubscriberStateMachine>.stride)")
        #expect(size <= 128)
    }

    /// The first answer is made outside the hub's lock; a publish meanwhile must not send a
    /// patch that would reach the renderer before it.
    @Test func nothingOvertakesTheFirstAnswer() {
        var machine = SubscriberStateMachine(configuration: configuration)
        #expect(machine.subscribed(since: 4, currentSeq: 10, now: 0) == .sendPatch(base: 4))
        machine.holdUntilFirstLineSent()
        #expect(machine.published(seq: 11, now: ms(150)) == .none)
        #expect(machine.tick(now: ms(5_000)) == .none)
        #expect(machine.nextDeadline == nil)
        // Sent: what waited goes out, from what the first answer delivered.
        #expect(machine.firstLineSent(now: ms(5_000)) == .sendPatch(base: 10))
        #expect(machine.firstLineSent(now: ms(5_001)) == .none)
    }
}
