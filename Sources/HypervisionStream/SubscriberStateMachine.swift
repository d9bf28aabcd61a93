import HypervisionCore

/// The delivery policy of one subscriber, as a pure state machine: events in, one ``Action`` out.
///
/// It decides *when* a subscriber gets *what*, and never holds a message: between two sends it
/// remembers only the sequence number the renderer holds and the newest one published. That is
/// what makes its three promises cheap:
///
/// - **Coalescing.** At most ``Configuration/maximumMessagesPerSecond`` updates are sent. A publish
///   inside the quiet interval after a send only moves ``latestSeq``; at the next slot one combined
///   patch takes the renderer from what it holds to the newest scene, however many publishes
///   happened in between.
/// - **Slow subscribers never cost memory or time to others.** When the connection stops taking
///   bytes (not writable, or more than ``Configuration/maximumPendingBytes`` still unsent when there
///   is something new to send) nothing more is written; the work it would have done is forgotten and,
///   once the connection drains, a fresh full scene resynchronises it. A subscriber stalled for
///   ``Configuration/stallTimeout`` is closed, so a dead link holds nothing for long.
/// - **Heartbeats.** After ``Configuration/heartbeatInterval`` without any message, a heartbeat, so
///   a renderer can tell a quiet wall from a dead link within seconds.
///
/// The caller (the hub, under the lock that also guards the stream's ``SceneHistory``) feeds it
/// events with a monotonic clock in nanoseconds, turns actions into bytes
/// (``SceneHistory/updateLine(since:)``, ``WireLine``), writes them outside the lock, and calls
/// ``tick(now:)`` no later than ``nextDeadline``.
public struct SubscriberStateMachine: Sendable {
    /// The policy's knobs, shared by all the subscribers of a hub.
    public struct Configuration: Sendable, Hashable {
        /// The time between two update slots (the inverse of the maximum message rate).
        public var minimumIntervalNanoseconds: UInt64
        /// How early an update may take its slot: a wall that publishes at the subscriber's rate
        /// would otherwise, by a little scheduling jitter, miss every other slot and wait for the
        /// hub's next tick. Slots keep their phase, so the rate over any longer window stays the
        /// maximum (at most one update more than `window / interval`, plus one).
        public var slotToleranceNanoseconds: UInt64
        /// The longest silence before a heartbeat.
        public var heartbeatIntervalNanoseconds: UInt64
        /// Unsent bytes beyond which new work is dropped in favour of a later full scene.
        public var maximumPendingBytes: Int
        /// How long a subscriber may take no bytes at all before it is closed.
        public var stallTimeoutNanoseconds: UInt64

        /// - Parameters:
        ///   - maximumMessagesPerSecond: updates per second at most; a renderer needs a few frames
        ///     per second of marker moves, not one per ping. Also the latency bound: a change waits
        ///     at most `1 / maximumMessagesPerSecond` for its slot.
        ///   - heartbeatInterval: silence before a heartbeat.
        ///   - maximumPendingBytes: bytes a subscriber may leave unread before it is skipped ahead.
        ///   - stallTimeout: how long a subscriber may read nothing before it is closed.
        public init(
            maximumMessagesPerSecond: Double = 10,
            heartbeatInterval: Duration = .seconds(2),
            maximumPendingBytes: Int = 1 << 20,
            stallTimeout: Duration = .seconds(30)
        ) {
            let rate = maximumMessagesPerSecond > 0 ? maximumMessagesPerSecond : 1
            self.minimumIntervalNanoseconds = UInt64((1_000_000_000 / rate).rounded())
            self.slotToleranceNanoseconds = minimumIntervalNanoseconds / 8
            self.heartbeatIntervalNanoseconds = Configuration.nanoseconds(heartbeatInterval)
            self.maximumPendingBytes = max(0, maximumPendingBytes)
            self.stallTimeoutNanoseconds = Configuration.nanoseconds(stallTimeout)
        }

        static func nanoseconds(_ duration: Duration) -> UInt64 {
            let (seconds, attoseconds) = duration.components
            guard seconds >= 0 else { return 0 }
            return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        }
    }

    /// What the caller does after an event.
    public enum Action: Sendable, Hashable {
        /// Nothing now.
        case none
        /// Send the current full scene (``SceneHistory/sceneLine()``).
        case sendScene
        /// Send what takes the renderer from `base` to the current scene:
        /// ``SceneHistory/updateLine(since:)`` with `base`, which is one combined patch when the
        /// history still holds it and a full scene otherwise (the renderer ends up current either way).
        case sendPatch(base: UInt64)
        /// Send a heartbeat for `seq` (``WireLine/heartbeat(seq:time:)``), with the wall-clock time.
        case sendHeartbeat(seq: UInt64)
        /// Send this error line if the connection still takes bytes, then close it.
        case close(StreamError)
    }

    private enum Phase: UInt8 {
        case awaitingSubscribe
        case active
        case closed
    }

    public let configuration: Configuration
    private var phase = Phase.awaitingSubscribe
    /// What the renderer holds once the bytes already handed to the connection arrive (TCP keeps order).
    private var delivered: UInt64 = 0
    private var latest: UInt64 = 0
    /// When the next scene or patch may be sent (less the tolerance): the coalescing slot.
    private var slotAt: UInt64 = 0
    /// When anything was last sent: the heartbeat's silence.
    private var lastWriteAt: UInt64 = 0
    /// When the subscriber stopped taking bytes (meaningful while paused).
    private var pausedSince: UInt64 = 0
    private var pendingBytes = 0
    private var writable = true
    /// More was to be sent while too many bytes were unsent: paused until the connection drains.
    private var overLimit = false
    /// The next update must be a full scene: pending work was dropped.
    private var needsScene = false
    /// The first answer is being made outside the hub's lock (a scene to encode, patches to
    /// squash): nothing may be sent before it has gone, or a patch would overtake it.
    private var holding = false

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    // MARK: State

    /// The sequence number the renderer holds (or will, once the bytes written arrive); nil before
    /// it subscribed.
    public var deliveredSeq: UInt64? { phase == .awaitingSubscribe ? nil : delivered }

    /// The newest sequence number published to this subscriber's stream.
    public var latestSeq: UInt64 { latest }

    /// Whether nothing is written to this subscriber until its connection drains.
    public var isPaused: Bool { phase == .active && (!writable || overLimit) }

    /// Whether the subscription has ended (an error was sent or it was closed).
    public var isClosed: Bool { phase == .closed }

    /// The latest monotonic time at which ``tick(now:)`` must be called: the next coalescing slot
    /// when an update is waiting, the stall deadline while paused, the next heartbeat otherwise.
    /// Nil when no tick is needed (not subscribed yet, or closed).
    public var nextDeadline: UInt64? {
        guard phase == .active, !holding else { return nil }
        if isPaused { return pausedSince &+ configuration.stallTimeoutNanoseconds }
        if hasWork { return slotAt > configuration.slotToleranceNanoseconds ? slotAt - configuration.slotToleranceNanoseconds : 0 }
        return lastWriteAt &+ configuration.heartbeatIntervalNanoseconds
    }

    private var hasWork: Bool { needsScene || delivered != latest }

    // MARK: Events

    /// The client's `subscribe` was accepted; the stream is at `currentSeq`.
    ///
    /// The first answer is immediate: a full scene without `since`, a heartbeat when `since` is
    /// current (nothing to send, but the renderer learns the link is live), else an update from
    /// `since` (patches when held, a full scene otherwise: also for a `since` from the future).
    public mutating func subscribed(since: UInt64?, currentSeq: UInt64, now: UInt64) -> Action {
        switch phase {
        case .awaitingSubscribe: break
        case .active: return close(StreamError(code: .badRequest, message: "already subscribed on this connection"))
        case .closed: return .none
        }
        phase = .active
        latest = currentSeq
        delivered = currentSeq
        slotAt = now &+ configuration.minimumIntervalNanoseconds
        lastWriteAt = now
        guard let since else { return .sendScene }
        if since == currentSeq { return .sendHeartbeat(seq: currentSeq) }
        return .sendPatch(base: since)
    }

    /// The first answer (the action of ``subscribed(since:currentSeq:now:)``) is made and sent
    /// outside the hub's lock: until ``firstLineSent(now:)``, nothing else is sent, so that a
    /// publish on another thread cannot put a patch on the wire before it.
    public mutating func holdUntilFirstLineSent() {
        if phase == .active { holding = true }
    }

    /// The first answer went to the connection: what waited is sent now if its slot has come.
    public mutating func firstLineSent(now: UInt64) -> Action {
        guard holding else { return .none }
        holding = false
        return flush(now: now)
    }

    /// The stream published `seq`.
    public mutating func published(seq: UInt64, now: UInt64) -> Action {
        guard phase == .active else { return .none }
        latest = max(latest, seq)
        return flush(now: now)
    }

    /// Time passed: sends a coalesced update whose slot has come, a heartbeat after silence, or
    /// closes a subscriber stalled for too long.
    public mutating func tick(now: UInt64) -> Action {
        guard phase == .active, !holding else { return .none }
        if isPaused {
            guard elapsed(since: pausedSince, now: now) >= configuration.stallTimeoutNanoseconds else { return .none }
            let seconds = Double(configuration.stallTimeoutNanoseconds) / 1e9
            return close(
                StreamError(
                    code: .slowConsumer,
                    message: "read nothing for \(seconds.formatted) s; reconnect with \"since\" to resume"))
        }
        let update = flush(now: now)
        if update != .none { return update }
        guard !hasWork, elapsed(since: lastWriteAt, now: now) >= configuration.heartbeatIntervalNanoseconds else {
            return .none
        }
        lastWriteAt = now
        return .sendHeartbeat(seq: delivered)
    }

    /// The connection's writability changed (NIO's `channelWritabilityChanged`, driven by its write
    /// buffer watermarks). Not writable pauses; writable again means the buffer drained below the
    /// low watermark, which also ends a pause for too many pending bytes.
    public mutating func writabilityChanged(_ writable: Bool, now: UInt64) -> Action {
        guard phase == .active else { return .none }
        let wasPaused = isPaused
        self.writable = writable
        if writable {
            overLimit = false
            pendingBytes = 0  // below the low watermark; a later report corrects this
        }
        if !wasPaused && isPaused { pausedSince = now }
        return flush(now: now)
    }

    /// The connection holds `bytes` written but not yet sent. Above
    /// ``Configuration/maximumPendingBytes`` when there is more to send, the subscriber is skipped
    /// ahead (see the type's description); it resumes once fewer than half that are pending.
    public mutating func outboundBytesPending(_ bytes: Int, now: UInt64) -> Action {
        guard phase == .active else { return .none }
        pendingBytes = bytes
        if overLimit && bytes <= configuration.maximumPendingBytes / 2 {
            overLimit = false
            if !isPaused { return flush(now: now) }
        }
        return .none
    }

    /// The daemon is stopping: say so, and close.
    public mutating func shutdown() -> Action {
        guard phase != .closed else { return .none }
        return close(StreamError(code: .shuttingDown, message: "the daemon is shutting down; reconnect with \"since\" to resume"))
    }

    // MARK: Internals

    private mutating func close(_ error: StreamError) -> Action {
        phase = .closed
        return .close(error)
    }

    /// Sends the waiting update if the slot has come and the connection takes bytes.
    private mutating func flush(now: UInt64) -> Action {
        guard phase == .active, !holding, !isPaused, hasWork, now &+ configuration.slotToleranceNanoseconds >= slotAt else { return .none }
        if pendingBytes > configuration.maximumPendingBytes {
            // The renderer has not read what it was given and there is more: queueing would grow
            // memory without bound. Forget the base (the pending work), wait for the connection to
            // drain, then resynchronise with a full scene.
            overLimit = true
            needsScene = true
            pausedSince = now
            return .none
        }
        // Early by at most the tolerance: the next slot keeps the phase. Late: it starts from now.
        slotAt = max(slotAt, now) &+ configuration.minimumIntervalNanoseconds
        lastWriteAt = now
        if needsScene {
            needsScene = false
            delivered = latest
            return .sendScene
        }
        let base = delivered
        delivered = latest
        return .sendPatch(base: base)
    }

    private func elapsed(since start: UInt64, now: UInt64) -> UInt64 {
        now >= start ? now - start : 0
    }
}

extension Double {
    /// `30` rather than `30.0` for whole numbers, for messages.
    fileprivate var formatted: String {
        rounded() == self && magnitude < 1e15 ? String(Int64(self)) : String(self)
    }
}
