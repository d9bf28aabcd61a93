/// When the walls' rounds run, and which recorded changes each round takes. A pure state
/// machine: the loop tells it what happened, with the time, and does what it answers.
///
/// - Rounds keep a fixed cadence (not a fixed pause after each), so a change waits at most one
///   interval; a round that overran still leaves the next a fifth of an interval of rest.
/// - Changes (a wall defined or removed, a pin, a tour) are only *recorded* where they are made
///   (an HTTP handler, a reload), each with a revision number; the next round to start takes all
///   of them at once. Operator actions arriving together are so coalesced into one round, and
///   nothing but the loop ever computes a layout.
/// - Whoever needs a change to be on the walls (a test, the first `GET …/scene` of a new wall)
///   waits for its revision: ``roundEnded(at:)`` names the waiters it satisfies, ``stopped()``
///   all of them.
public struct RoundSchedule: Sendable {
    /// The handle of one waiter.
    public typealias Waiter = UInt64

    public let interval: Duration
    /// The revision of the latest change recorded.
    public private(set) var recorded: UInt64 = 0
    /// Every change up to this revision is on the walls (a round that took it has ended).
    public private(set) var applied: UInt64 = 0
    /// When the next round is due; nil before the loop started.
    public private(set) var nextRound: ContinuousClock.Instant?
    /// Whether the loop has ended (no round will come).
    public private(set) var isStopped = false
    /// The revision the round under way took; nil between rounds.
    private var taking: UInt64?
    private var waiters: [(waiter: Waiter, revision: UInt64)] = []
    private var lastWaiter: Waiter = 0

    public init(interval: Duration) {
        self.interval = interval
    }

    /// The loop starts at `now`: the first round is due at once.
    public mutating func started(at now: ContinuousClock.Instant) {
        nextRound = now
    }

    /// Records a change; returns its revision.
    public mutating func record() -> UInt64 {
        recorded += 1
        return recorded
    }

    /// A round starts: it takes every change recorded so far. Returns that revision.
    public mutating func roundStarts() -> UInt64 {
        taking = recorded
        return recorded
    }

    /// The round that started last has ended at `now`: its changes are applied. Returns the
    /// waiters to resume (their changes are on the walls) and when the next round is due.
    public mutating func roundEnded(at now: ContinuousClock.Instant) -> (resume: [Waiter], next: ContinuousClock.Instant) {
        if let taking { applied = max(applied, taking) }
        taking = nil
        let due = nextRound ?? now
        let next = max(due + interval, now + interval / 5)
        nextRound = next
        let ready = waiters.filter { $0.revision <= applied }.map(\.waiter)
        waiters.removeAll { $0.revision <= applied }
        return (ready, next)
    }

    /// Someone waits until `revision` is applied. Nil when it already is, or when no round
    /// will come (the loop stopped): the caller need not wait.
    public mutating func wait(for revision: UInt64) -> Waiter? {
        guard revision > applied, !isStopped else { return nil }
        lastWaiter += 1
        waiters.append((lastWaiter, revision))
        return lastWaiter
    }

    /// A waiter gave up (its task was cancelled). True when it was still waiting.
    public mutating func cancel(_ waiter: Waiter) -> Bool {
        guard let index = waiters.firstIndex(where: { $0.waiter == waiter }) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// The loop ended: every waiter is resumed (unsatisfied), and later ones do not wait.
    public mutating func stopped() -> [Waiter] {
        isStopped = true
        defer { waiters = [] }
        return waiters.map(\.waiter)
    }
}
