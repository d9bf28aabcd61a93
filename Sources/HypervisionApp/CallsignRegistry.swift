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
    /// Units remembered at most, in `known` and in `pending` each (the live picture's cap):
    /// beyond, `known` starts afresh (its knowledge is re-learned, one more write per unit), and
    /// while the database is away new callsigns wait for the next announcement instead
    /// (TAK clients repeat theirs in every event). A stream of made-up ids stays bounded.
    private let capacity: Int

    public init(live: LiveState, history: HistoryStore, logger: Logger, capacity: Int = 200_000) {
        self.live = live
        self.history = history
        self.logger = logger
        self.capacity = max(1, capacity)
    }

    public func note(_ callsigns: [(UnitID, String)]) {
        let changed: [(UnitID, String)] = state.withLock { state in
            var changed: [(UnitID, String)] = []
            for (unit, callsign) in callsigns where state.known[unit] != callsign {
                if state.known.count >= capacity { state.known.removeAll(keepingCapacity: true) }
                changed.append((unit, callsign))
                // No room to queue it for the database: not remembered either, so the unit's
                // next announcement tries again.
                guard state.pending[unit] != nil || state.pending.count < capacity else { continue }
                state.known[unit] = callsign
                state.pending[unit] = callsign
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
            // Kept for the next round, within the bound; the live picture already has them.
            state.withLock { state in
                for (unit, callsign) in pending where state.pending[unit] == nil && state.pending.count < capacity {
                    state.pending[unit] = callsign
                }
            }
            logger.debug("callsigns not stored yet", metadata: ["error": "\(DatabaseErrors.describe(error))"])
        }
    }
}
