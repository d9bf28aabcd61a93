import HypervisionCore
import HypervisionLive
import HypervisionStore
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the callsigns units announce (Cursor-on-Target `contact@callsign`): the live picture
/// at once, the `units` table a moment later in one statement for all changes, so a TAK client
/// that repeats its callsign in every event costs one dictionary lookup per event.
public final class CallsignRegistry: Service, Sendable {
    private let live: LiveState
    private let history: HistoryStore
    private let logger: Logger
    private let state = Mutex<(known: [UnitID: String], pending: [UnitID: String])>(([:], [:]))
    /// Units remembered at most; beyond, the oldest knowledge is simply re-learned.
    private let capacity = 200_000

    public init(live: LiveState, history: HistoryStore, logger: Logger) {
        self.live = live
        self.history = history
        self.logger = logger
    }

    public func note(_ callsigns: [(UnitID, String)]) {
        let changed: [(UnitID, String)] = state.withLock { state in
            var changed: [(UnitID, String)] = []
            for (unit, callsign) in callsigns where state.known[unit] != callsign {
                if state.known.count >= capacity { state.known.removeAll(keepingCapacity: true) }
                state.known[unit] = callsign
                state.pending[unit] = callsign
                changed.append((unit, callsign))
            }
            return changed
        }
        for (unit, callsign) in changed {
            let current = live.picture.unit(unit)
            live.picture.upsert(unit: Unit(id: unit, callsign: callsign, kind: current?.kind, agency: current?.agency))
        }
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(2))
            await flush()
        }
        await flush()
    }

    private func flush() async {
        let pending = state.withLock { state in
            let taken = state.pending
            state.pending = [:]
            return taken
        }
        guard !pending.isEmpty else { return }
        do {
            try await history.recordCallsigns(pending.map { (unit: $0.key, callsign: $0.value) })
        } catch {
            // Kept for the next round; the live picture already has them.
            state.withLock { state in state.pending.merge(pending) { current, _ in current } }
            logger.debug("callsigns not stored yet", metadata: ["error": "\(DatabaseErrors.describe(error))"])
        }
    }
}
