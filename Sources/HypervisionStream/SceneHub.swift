import HypervisionCore
import Metrics
import Synchronization

/// Where a subscriber's bytes go: a TCP connection or a WebSocket. Implementations hand the
/// bytes to their event loop or writer and return at once; the hub never waits on a subscriber.
public protocol SceneSink: AnyObject, Sendable {
    /// Queues one wire line (a scene, patch, heartbeat or error) for sending.
    func send(_ line: [UInt8])
    /// Closes the connection once what was queued has been sent.
    func close()
    /// Hands what ``send(_:)`` and ``close()`` queued to the connection's writer. The hub calls
    /// it once every line of a publish is queued: a writer woken for each line took the round's
    /// core fifty times a round with fifty renderers, since the woken thread preempts the round.
    func handOver()
}

extension SceneSink {
    /// For a sink whose ``send(_:)`` hands each line over already.
    public func handOver() {}
}

/// Sinks whose lines publishes have queued, to hand over together later: a wall round runs in
/// the real-time class, and waking an event loop takes that loop's task lock, which an ordinary
/// thread may hold (the round then waits for it, the classic priority inversion). The round hands
/// its sinks over once it has left that class.
public final class PendingHandOvers: Sendable {
    private let sinks = Mutex<[any SceneSink]>([])

    public init() {}

    func add(_ more: some Sequence<any SceneSink>) {
        sinks.withLock { $0.append(contentsOf: more) }
    }

    /// Hands every sink added so far over (see ``SceneSink/handOver()``).
    public func handOver() {
        let taken = sinks.withLock { sinks in
            var taken: [any SceneSink] = []
            swap(&taken, &sinks)
            return taken
        }
        for sink in taken { sink.handOver() }
    }
}

/// The scene hub: for every stream (a wall, or one display of it) the current scene, a bounded
/// history of patches, and its subscribers with their delivery state machines.
///
/// All state sits behind one `Mutex`; every method decides under the lock and writes to sinks
/// after releasing it, so a slow socket never holds the lock, and publishing never waits on
/// subscribers. Time comes from the caller-supplied clocks, so tests drive it.
public final class SceneHub: Sendable {
    /// Limits for every stream and subscriber of the hub.
    public struct Configuration: Sendable, Hashable {
        public var subscriber = SubscriberStateMachine.Configuration()
        public var history = SceneHistory.Limits()
        /// Subscribers across all streams; one more is refused (`too_many_subscribers`).
        public var maximumSubscribers = 10_000
        public init() {}
    }

    /// A subscription, to report writability and to unsubscribe.
    public struct SubscriptionID: Sendable, Hashable {
        let key: StreamKey
        let number: UInt64
    }

    private struct Subscriber {
        var machine: SubscriberStateMachine
        let sink: any SceneSink
    }

    private struct Stream {
        var history: SceneHistory
        var subscribers: [UInt64: Subscriber] = [:]

        /// Tells every subscriber `error` and closes it (the one line, made once for all); none
        /// is left afterwards.
        mutating func dismissAll(with error: StreamError) -> [Delivery] {
            let line = WireLine.error(error)
            defer { subscribers = [:] }
            return subscribers.values.map { Delivery(sink: $0.sink, line: line, close: true) }
        }
    }

    private struct State {
        var streams: [StreamKey: Stream] = [:]
        var nextSubscriber: UInt64 = 1
        /// The last sequence number of each stream removed, so a stream created again under the
        /// same key (a wall replaced or deleted and defined again) never reuses a number.
        var retired: [StreamKey: UInt64] = [:]
        var subscriberCount = 0
        var shutDown = false
        /// When the timer (``SceneHubService``) will next call ``tick()`` (monotonic ns); a
        /// publish that leaves an update waiting for an earlier slot wakes it.
        var timerWakesAt: UInt64 = .max
        /// When the history gauges were last recorded (monotonic ns).
        var historyReportedAt: UInt64 = 0
    }

    /// One write (or close) decided under the lock and performed after it, so that a full
    /// scene is encoded (once per version, on first need) outside the lock.
    private struct Delivery {
        let sink: any SceneSink
        let line: SceneHistory.Update?
        let close: Bool
        /// The first answer to a subscribe with `since`: counted by what it turns out to be.
        var resume = false
        /// The first answer to a subscribe: once sent, the subscriber is released (see
        /// ``SubscriberStateMachine/holdUntilFirstLineSent()``).
        var first: SubscriptionID?

        init(sink: any SceneSink, line: [UInt8], close: Bool) {
            self.init(sink: sink, update: .line(line), close: close)
        }

        init(sink: any SceneSink, update: SceneHistory.Update?, close: Bool) {
            self.sink = sink
            self.line = update
            self.close = close
        }
    }

    public let configuration: Configuration
    private let state = Mutex(State())
    private let monotonicNanoseconds: @Sendable () -> UInt64
    private let wallClock: @Sendable () -> Timestamp
    /// Sequence numbers of new streams start here: the daemon's start time in microseconds, so
    /// a renderer resuming with a `since` from before a restart is never given patches of
    /// another scene history.
    private let firstSequence: UInt64
    /// Wakes the timer before its planned time (see ``State/timerWakesAt``).
    private let timerAlarm = Alarm()
    private let metrics: HubMetrics
    private let observer = CallbackSlot<(StreamKey, UInt64, [UInt8]?), Void>()

    /// - Parameter metricsFactory: for the history's reach and the resumes (see ``HubMetrics``).
    public init(
        configuration: Configuration = Configuration(),
        monotonicNanoseconds: @escaping @Sendable () -> UInt64 = SceneHub.monotonicNow,
        wallClock: @escaping @Sendable () -> Timestamp = { .now() },
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.configuration = configuration
        self.monotonicNanoseconds = monotonicNanoseconds
        self.wallClock = wallClock
        self.firstSequence = UInt64(max(1, wallClock().microseconds))
        self.metrics = HubMetrics(factory: metricsFactory)
    }

    /// Publishes new content for a stream (creating it on first use). Returns the new sequence
    /// number, or nil when nothing changed since the last published version (the document's own
    /// ``StreamDocument/changes(since:)`` is empty).
    ///
    /// `forced`: the sequence number the version must have, for a scene relayed from the daemon
    /// that lays the wall out (see ``SceneHistory/publish(_:as:now:)``). `later`: the lines are
    /// queued, and their sinks handed over when the caller says (see ``PendingHandOvers``).
    @discardableResult
    public func publish(
        _ key: StreamKey, content: some StreamDocument, as forced: UInt64? = nil, handingOverLater later: PendingHandOvers? = nil
    ) -> UInt64? {
        let now = monotonicNanoseconds()
        let time = wallClock()
        var wakeTimer = false
        let (seq, operations, deliveries): (UInt64?, [UInt8]?, [Delivery]) = state.withLock { state in
            // Taken out of the dictionary while it changes: a copy left behind would make the
            // history's patch deque copy itself on every publish.
            guard var stream = state.streams.removeValue(forKey: key) else {
                let seq = forced ?? max(firstSequence, UInt64(max(1, time.microseconds)), (state.retired[key] ?? 0) + 1)
                state.streams[key] = Stream(
                    history: SceneHistory(key: key, seq: seq, document: content, limits: configuration.history, now: now))
                return (seq, nil, [])
            }
            defer { state.streams[key] = stream }
            guard let (seq, operations) = stream.history.publish(content, as: forced, now: now) else { return (nil, nil, []) }
            var deliveries: [Delivery] = []
            var earliest = UInt64.max
            for (number, var subscriber) in stream.subscribers {
                let action = subscriber.machine.published(seq: seq, now: now)
                if perform(action, for: subscriber, history: stream.history, time: time, into: &deliveries) {
                    stream.subscribers[number] = nil
                    state.subscriberCount -= 1
                } else {
                    stream.subscribers[number] = subscriber
                    earliest = min(earliest, subscriber.machine.nextDeadline ?? .max)
                }
            }
            // An update held for its subscriber's slot goes out at that slot, not at the
            // timer's next round: a late slot would add up to a whole timer interval.
            if earliest < state.timerWakesAt {
                state.timerWakesAt = earliest
                wakeTimer = true
            }
            return (seq, operations.isEmpty ? nil : operations, deliveries)
        }
        if wakeTimer { timerAlarm.ring() }
        deliver(deliveries, handingOverLater: later)
        if let seq { observer((key, seq, operations)) }
        return seq
    }

    /// Starts a stream again at `seq`, whatever it held: its subscribers are told `error` and
    /// closed (they come back with `since` and get the full scene), and its history begins anew.
    ///
    /// For a relay that laid a wall out alone while cut off from the database: its numbers were
    /// its own, and the owner's, which it relays again, may be lower. A version numbered by one
    /// daemon is never served under another's number.
    public func restart(_ key: StreamKey, content: some StreamDocument, as seq: UInt64, because error: StreamError) {
        let now = monotonicNanoseconds()
        let deliveries: [Delivery] = state.withLock { state in
            let deliveries = state.streams[key]?.dismissAll(with: error) ?? []
            state.subscriberCount -= deliveries.count
            state.streams[key] = Stream(history: SceneHistory(key: key, seq: seq, document: content, limits: configuration.history, now: now))
            return deliveries
        }
        deliver(deliveries)
        observer((key, seq, nil))
    }

    /// Called after every version published, with its stream, sequence number and the encoded
    /// operations from the version before (nil for a stream's first version, or after a gap):
    /// how a daemon that lays a wall out relays it to the others.
    public func observePublications(_ observer: @escaping @Sendable (_ key: StreamKey, _ seq: UInt64, _ operations: [UInt8]?) -> Void) {
        self.observer.set(observer)
    }

    /// Adds a subscriber to an existing stream. It is sent the full scene, or the patches since
    /// `since` when the history still holds them.
    public func subscribe(_ request: SubscribeRequest, sink: any SceneSink) -> Result<SubscriptionID, StreamError> {
        let now = monotonicNanoseconds()
        let time = wallClock()
        let key = request.key
        let (result, deliveries): (Result<SubscriptionID, StreamError>, [Delivery]) = state.withLock { state in
            if state.shutDown { return (.failure(StreamError(code: .shuttingDown, message: "the daemon is shutting down")), []) }
            guard var stream = state.streams[key] else {
                let wallExists = state.streams.keys.contains { $0.wall == key.wall }
                let message = wallExists
                    ? "wall \(key.wall) has no display \(key.display ?? "")"
                    : "no wall \(key.wall)"
                return (.failure(StreamError(code: .notFound, message: message)), [])
            }
            guard state.subscriberCount < configuration.maximumSubscribers else {
                return (
                    .failure(StreamError(code: StreamError.Code(rawValue: "too_many_subscribers"),
                                         message: "the hub serves \(configuration.maximumSubscribers) subscribers at most")), []
                )
            }
            var subscriber = Subscriber(machine: SubscriberStateMachine(configuration: configuration.subscriber), sink: sink)
            let action = subscriber.machine.subscribed(since: request.since, currentSeq: stream.history.seq, now: now)
            var deliveries: [Delivery] = []
            let number = state.nextSubscriber
            state.nextSubscriber += 1
            if !perform(action, for: subscriber, history: stream.history, time: time, into: &deliveries) {
                if !deliveries.isEmpty {
                    subscriber.machine.holdUntilFirstLineSent()
                    deliveries[0].first = SubscriptionID(key: key, number: number)
                }
                stream.subscribers[number] = subscriber
                state.subscriberCount += 1
                state.streams[key] = stream
            }
            if request.since != nil {
                if case .sendHeartbeat = action { metrics.resumed(.current) }
                if !deliveries.isEmpty, case .sendPatch = action { deliveries[0].resume = true }
            }
            return (.success(SubscriptionID(key: key, number: number)), deliveries)
        }
        deliver(deliveries)
        return result
    }

    public func unsubscribe(_ id: SubscriptionID) {
        state.withLock { state in
            if state.streams[id.key]?.subscribers.removeValue(forKey: id.number) != nil { state.subscriberCount -= 1 }
        }
    }

    /// The connection stopped (false) or resumed (true) taking bytes.
    public func writabilityChanged(_ id: SubscriptionID, writable: Bool) {
        update(id) { machine, now in machine.writabilityChanged(writable, now: now) }
    }

    /// Bytes handed to the connection and not yet sent (for sinks that know it, e.g. WebSockets).
    public func pendingBytes(_ id: SubscriptionID, _ bytes: Int) {
        update(id) { machine, now in machine.outboundBytesPending(bytes, now: now) }
    }

    private func update(_ id: SubscriptionID, _ event: (inout SubscriberStateMachine, UInt64) -> SubscriberStateMachine.Action) {
        let now = monotonicNanoseconds()
        let time = wallClock()
        let deliveries: [Delivery] = state.withLock { state in
            guard var stream = state.streams.removeValue(forKey: id.key) else { return [] }
            defer { state.streams[id.key] = stream }
            guard var subscriber = stream.subscribers[id.number] else { return [] }
            var deliveries: [Delivery] = []
            let action = event(&subscriber.machine, now)
            if perform(action, for: subscriber, history: stream.history, time: time, into: &deliveries) {
                stream.subscribers[id.number] = nil
                state.subscriberCount -= 1
            } else {
                stream.subscribers[id.number] = subscriber
            }
            return deliveries
        }
        deliver(deliveries)
    }

    /// Runs the timers: coalesced updates whose slot came, heartbeats, stalled subscribers.
    /// Returns when (monotonic ns) the next of them is due, nil when none is.
    @discardableResult
    public func tick() -> UInt64? {
        let now = monotonicNanoseconds()
        let time = wallClock()
        let history: (window: UInt64, bytes: Int)? = state.withLock { state in
            // The gauges once a second: a minimum over every stream is not worth each tick.
            guard now &- state.historyReportedAt >= 1_000_000_000 || state.historyReportedAt == 0 else { return nil }
            state.historyReportedAt = now
            var window = UInt64.max
            var bytes = 0
            for stream in state.streams.values {
                window = min(window, stream.history.window(now: now))
                bytes += stream.history.heldPatchBytes
            }
            return (window == .max ? 0 : window, bytes)
        }
        if let history { metrics.recordHistory(window: history.window, bytes: history.bytes) }
        let (deliveries, next): ([Delivery], UInt64) = state.withLock { state in
            // Until the timer sleeps again, any publish that holds an update wakes it.
            state.timerWakesAt = .max
            var deliveries: [Delivery] = []
            var next = UInt64.max
            for key in Array(state.streams.keys) {
                guard state.streams[key]?.subscribers.isEmpty == false, var stream = state.streams.removeValue(forKey: key) else { continue }
                defer { state.streams[key] = stream }
                for (number, var subscriber) in stream.subscribers {
                    guard let deadline = subscriber.machine.nextDeadline else { continue }
                    guard deadline <= now else {
                        next = min(next, deadline)
                        continue
                    }
                    let action = subscriber.machine.tick(now: now)
                    if perform(action, for: subscriber, history: stream.history, time: time, into: &deliveries) {
                        stream.subscribers[number] = nil
                        state.subscriberCount -= 1
                    } else {
                        stream.subscribers[number] = subscriber
                        next = min(next, subscriber.machine.nextDeadline ?? .max)
                    }
                }
            }
            return (deliveries, next)
        }
        deliver(deliveries)
        return next == .max ? nil : next
    }

    /// Waits until `next` (a ``tick()`` result) but at most `longest`, or until a publish
    /// leaves an update due earlier. The timer's sleep: one task at a time calls it.
    public func waitForTimers(next: UInt64?, longest: Duration) async {
        let now = monotonicNanoseconds()
        let wait = min(next.map { $0 > now ? $0 - now : 0 } ?? .max, UInt64(longest.nanoseconds))
        state.withLock { $0.timerWakesAt = now &+ wait }
        guard wait > 0 else { return }
        await timerAlarm.wait(atMost: .nanoseconds(Int64(wait)))
    }

    /// The current version of a stream's document (its JSON and bytes are made on first use,
    /// outside the hub's lock).
    public func current(_ key: StreamKey) -> PublishedDocument? {
        state.withLock { $0.streams[key]?.history.current }
    }

    /// The RFC 6902 operations (a JSON array) from `since` to the current scene of a stream,
    /// when the history still holds them.
    public func operations(_ key: StreamKey, since: UInt64) -> [UInt8]? {
        state.withLock { $0.streams[key]?.history.composedOperations(since: since) }
    }

    /// The streams that exist (walls and their displays).
    public var keys: [StreamKey] { state.withLock { Array($0.streams.keys) } }

    public var subscriberCount: Int { state.withLock { $0.subscriberCount } }

    /// Removes every stream of a wall (it was deleted), or only the display streams not in
    /// `keepingDisplays` (it was redefined); their subscribers get `not_found` and are closed.
    public func removeWall(_ wall: String, keepingDisplays: Set<String>? = nil) {
        let deliveries: [Delivery] = state.withLock { state in
            var deliveries: [Delivery] = []
            for key in state.streams.keys where key.wall == wall {
                if let keep = keepingDisplays, key.display.map(keep.contains) ?? true { continue }
                var stream = state.streams.removeValue(forKey: key)!
                state.retired[key] = stream.history.seq
                let message = key.display.map { "display \($0) of wall \(wall) was removed" } ?? "wall \(wall) was removed"
                let dismissed = stream.dismissAll(with: StreamError(code: .notFound, message: message))
                state.subscriberCount -= dismissed.count
                deliveries += dismissed
            }
            return deliveries
        }
        deliver(deliveries)
    }

    /// Closes every subscriber with `shutting_down` and refuses new ones.
    public func shutdown() {
        let deliveries: [Delivery] = state.withLock { state in
            state.shutDown = true
            var deliveries: [Delivery] = []
            let farewell = StreamError(code: .shuttingDown, message: "the daemon is shutting down")
            for key in state.streams.keys {
                deliveries += state.streams[key]!.dismissAll(with: farewell)
            }
            state.subscriberCount = 0
            return deliveries
        }
        deliver(deliveries)
    }

    /// Turns an action into a delivery. Returns true when the subscriber is done (closed).
    private func perform(
        _ action: SubscriberStateMachine.Action, for subscriber: Subscriber, history: SceneHistory, time: Timestamp,
        into deliveries: inout [Delivery]
    ) -> Bool {
        switch action {
        case .none:
            return false
        case .sendScene:
            deliveries.append(Delivery(sink: subscriber.sink, update: .scene(history.current), close: false))
        case .sendPatch(let base):
            if let update = history.update(since: base) { deliveries.append(Delivery(sink: subscriber.sink, update: update, close: false)) }
        case .sendHeartbeat(let seq):
            deliveries.append(Delivery(sink: subscriber.sink, line: WireLine.heartbeat(seq: seq, time: time), close: false))
        case .close(let error):
            deliveries.append(Delivery(sink: subscriber.sink, line: WireLine.error(error), close: true))
            return true
        }
        return false
    }

    private func deliver(_ deliveries: [Delivery], handingOverLater later: PendingHandOvers? = nil) {
        for delivery in deliveries {
            if let line = delivery.line {
                delivery.sink.send(line.bytes)
                if delivery.resume { metrics.resumed(line.isPatch ? .patch : .scene) }
            }
            if delivery.close { delivery.sink.close() }
            if let id = delivery.first { update(id) { machine, now in machine.firstLineSent(now: now) } }
        }
        // Every line queued before any writer is woken: sinks sharing a writer cost one wake-up.
        if let later {
            later.add(deliveries.lazy.map(\.sink))
        } else {
            for delivery in deliveries { delivery.sink.handOver() }
        }
    }
}

extension SceneHub {
    /// Nanoseconds of the monotonic clock since the hub's module was loaded.
    public static let monotonicNow: @Sendable () -> UInt64 = {
        let origin = monotonicOrigin  // initialised on first use: read it before the clock
        let elapsed = ContinuousClock.now - origin
        return UInt64(elapsed.components.seconds) * 1_000_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000)
    }
}

private let monotonicOrigin = ContinuousClock.now

/// A sleep that another thread may cut short: ``wait(atMost:)`` returns after the duration or
/// at the first ``ring()``, whichever comes first. A ring while nobody waits is kept for the next wait.
final class Alarm: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        var rung = false
    }
    private let state = Mutex(State())

    func ring() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    func wait(atMost duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
            group.addTask { await self.waitForRing() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ringNow = state.withLock { state in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if ringNow { continuation.resume() }
            }
        } onCancel: {
            // Resumes the waiter (the sleep won); a ring left over makes one early wake, harmless.
            self.ring()
        }
    }
}

/// The hub's metrics; labels are a fixed set.
///
/// - `hypervision_scene_history_window_seconds`: how far back the shortest history of all
///   streams reaches: a renderer away for less can resume with patches (if their net change is
///   smaller than the scene). Recorded about once a second.
/// - `hypervision_scene_history_bytes`: encoded patch bytes held by all streams.
/// - `hypervision_scene_resumes_total{result}`: subscribes with `since`, by what they got:
///   `patch`, `scene` (outside the history, or the net change not smaller than the scene) or
///   `current` (nothing missed: a heartbeat).
final class HubMetrics: Sendable {
    enum Resume: String, CaseIterable {
        case patch, scene, current
    }

    private let window: Gauge
    private let bytes: Gauge
    private let resumes: [Resume: Counter]

    init(factory: any MetricsFactory) {
        window = Gauge(label: "hypervision_scene_history_window_seconds", factory: factory)
        bytes = Gauge(label: "hypervision_scene_history_bytes", factory: factory)
        resumes = Dictionary(uniqueKeysWithValues: Resume.allCases.map { result in
            (result, Counter(label: "hypervision_scene_resumes_total", dimensions: [("result", result.rawValue)], factory: factory))
        })
    }

    func recordHistory(window nanoseconds: UInt64, bytes held: Int) {
        window.record(Double(nanoseconds) / 1e9)
        bytes.record(held)
    }

    func resumed(_ result: Resume) { resumes[result]?.increment() }
}
