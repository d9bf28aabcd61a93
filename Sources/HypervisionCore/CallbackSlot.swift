import Synchronization

/// A callback set after its owner is made (an observer, a writability hook) and then called from
/// any thread, as often as every version published.
///
/// Not a `Mutex<(closure)?>`: a closure read out of a generic container through `inout` is
/// written back re-abstracted, wrapped in one more thunk, on every access. Each call then costs
/// more than the one before, and after some 100,000 calls the chain of thunks overflows the
/// stack: a daemon that relays its walls crashed within minutes that way. Here the closure is a
/// field of a struct, whose layout no generic substitution changes, so it is stored once as it was
/// given.
public final class CallbackSlot<Input, Output>: Sendable {
    private struct Stored: Sendable {
        let call: @Sendable (Input) -> Output
    }
    private let stored = Mutex<Stored?>(nil)

    public init() {}

    /// Sets (or replaces, or with nil removes) the callback.
    public func set(_ callback: (@Sendable (Input) -> Output)?) {
        stored.withLock { $0 = callback.map(Stored.init(call:)) }
    }

    public var isSet: Bool { stored.withLock { $0 != nil } }

    /// Calls the callback, outside the lock; nil when none is set.
    @discardableResult
    public func callAsFunction(_ input: Input) -> Output? {
        guard let current = stored.withLock({ $0 }) else { return nil }
        return current.call(input)
    }
}
