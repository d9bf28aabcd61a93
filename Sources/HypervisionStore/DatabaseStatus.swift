import Synchronization

/// What the daemon currently knows about its database, shared by the supervisor that finds it
/// out, the writer that depends on it and `/readyz` that reports it.
public final class DatabaseStatus: Sendable {
    /// The database's state as last observed.
    public enum State: Sendable, Hashable {
        /// Not reached yet since start-up; the reason says why (connection refused…).
        case connecting(reason: String)
        /// Reached, and the schema is at the version this binary needs.
        case ready
        /// Was ready, now failing; pings go to the spool.
        case unreachable(reason: String)
        /// The schema cannot be used (for instance a newer database); needs an operator.
        case failed(reason: String)
    }

    private let state = Mutex<(State, schemaReady: Bool)>((.connecting(reason: "starting"), false))
    private let observers = Mutex<[@Sendable (State) -> Void]>([])

    public init() {}

    public var current: State { state.withLock { $0.0 } }

    /// True once migrations ran in this process; stays true across later outages.
    public var isSchemaReady: Bool { state.withLock { $0.schemaReady } }

    public func update(_ new: State) {
        let changed = state.withLock { value -> Bool in
            let changed = value.0 != new
            value.0 = new
            if new == .ready { value.schemaReady = true }
            return changed
        }
        guard changed else { return }
        for observer in observers.withLock({ $0 }) { observer(new) }
    }

    /// Calls `observer` after every change of state (on the thread that changed it).
    public func onChange(_ observer: @escaping @Sendable (State) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// A one-line explanation for `/readyz` and logs.
    public var summary: String {
        switch current {
        case .connecting(let reason): return "connecting: \(reason)"
        case .ready: return "ready"
        case .unreachable(let reason): return "unreachable: \(reason)"
        case .failed(let reason): return "failed: \(reason)"
        }
    }
}
