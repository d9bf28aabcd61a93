import HypervisionCore
import HypervisionLayout
import Synchronization

/// Where changes to the walls are recorded: definitions (``WallRegistry``), what the operators
/// asked (``OperatorActions``) and the round schedule (``RoundSchedule``), behind one lock.
///
/// Recording is all a caller does (an HTTP handler, a reload): it never computes a layout. The
/// round loop takes everything recorded at the start of each round (``beginRound(at:)``) and
/// reports its end (``endRound(at:)``), which resumes whoever waits for a change to be applied.
/// The rules are those of the pure types; this class only keeps them consistent under
/// concurrency and parks the waiters.
final class WallDesk: Sendable {
    private struct State {
        var registry = WallRegistry()
        var actions = OperatorActions()
        var schedule: RoundSchedule
        var waiting: [RoundSchedule.Waiter: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state: Mutex<State>

    init(interval: Duration) {
        state = Mutex(State(schedule: RoundSchedule(interval: interval)))
    }

    // MARK: Definitions

    /// Adds or replaces a wall; the next round lays it out.
    func define(json: JSONValue, origin: WallOrigin) throws(WallServiceError) -> WallLayout {
        try state.withLock { state throws(WallServiceError) in
            let layout = try state.registry.define(json: json, origin: origin)
            _ = state.schedule.record()
            return layout
        }
    }

    func loadFiles(_ definitions: [(path: String, json: JSONValue)]) -> [(path: String, error: WallServiceError)] {
        state.withLock { state in
            let problems = state.registry.loadFiles(definitions)
            for id in state.registry.removedSinceTaken where state.registry[id] == nil { state.actions.forget(wall: id) }
            _ = state.schedule.record()
            return problems
        }
    }

    func remove(id: String) throws(WallServiceError) {
        try state.withLock { state throws(WallServiceError) in
            try state.registry.remove(id: id)
            state.actions.forget(wall: id)
            _ = state.schedule.record()
        }
    }

    func checkChangeable(id: String) throws(WallServiceError) {
        try state.withLock { state throws(WallServiceError) in try state.registry.checkChangeable(id: id) }
    }

    func entry(id: String) -> WallRegistry.Entry? { state.withLock { $0.registry[id] } }

    var ids: [String] { state.withLock { $0.registry.ids } }

    // MARK: Operator actions

    /// Runs `change` on the operator actions of an existing wall, and records it.
    func act<T: Sendable>(on wall: String, _ change: (inout OperatorActions) -> T) throws(WallServiceError) -> T {
        try state.withLock { state throws(WallServiceError) in
            guard state.registry[wall] != nil else { throw .unknownWall(wall) }
            let result = change(&state.actions)
            _ = state.schedule.record()
            return result
        }
    }

    func actions(on wall: String) -> OperatorActions.Wall { state.withLock { $0.actions[wall] } }

    // MARK: Rounds

    /// The loop starts: its first round is due at once.
    func loopStarted(at now: ContinuousClock.Instant) {
        state.withLock { $0.schedule.started(at: now) }
    }

    /// A round starts at `time`: lapsed pins are dropped, and it takes everything recorded.
    func beginRound(at time: Timestamp) -> RoundSnapshot {
        state.withLock { state in
            state.actions.expire(at: time)
            let revision = state.schedule.roundStarts()
            return RoundSnapshot(
                walls: state.registry.entries, actions: state.actions, removed: state.registry.takeRemovals(), revision: revision)
        }
    }

    /// The round ended at `now`: its waiters are resumed. Returns when the next is due.
    func endRound(at now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let (resumed, next) = state.withLock { state in
            let (ready, next) = state.schedule.roundEnded(at: now)
            return (ready.compactMap { state.waiting.removeValue(forKey: $0) }, next)
        }
        for continuation in resumed { continuation.resume(returning: true) }
        return next
    }

    /// The loop ended: whoever waits is resumed with false, and nobody waits from now on.
    func loopStopped() {
        let resumed = state.withLock { state in
            state.schedule.stopped().compactMap { state.waiting.removeValue(forKey: $0) }
        }
        for continuation in resumed { continuation.resume(returning: false) }
    }

    /// The revision of the latest change recorded.
    var recorded: UInt64 { state.withLock { $0.schedule.recorded } }

    /// Waits until a round that took `revision` has ended. False when no round will (the loop
    /// stopped) or the task was cancelled.
    func applied(_ revision: UInt64) async -> Bool {
        let parked = ParkedWaiter()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { state in
                    if Task.isCancelled { return false }
                    guard let waiter = state.schedule.wait(for: revision) else { return revision <= state.schedule.applied }
                    state.waiting[waiter] = continuation
                    parked.set(waiter)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let cancelled: CheckedContinuation<Bool, Never>? = state.withLock { state in
                guard let waiter = parked.waiter, state.schedule.cancel(waiter) else { return nil }
                return state.waiting.removeValue(forKey: waiter)
            }
            cancelled?.resume(returning: false)
        }
    }
}

/// The waiter a task parked, for its cancellation handler.
private final class ParkedWaiter: Sendable {
    private let value = Mutex<RoundSchedule.Waiter?>(nil)
    func set(_ waiter: RoundSchedule.Waiter) { value.withLock { $0 = waiter } }
    var waiter: RoundSchedule.Waiter? { value.withLock { $0 } }
}
