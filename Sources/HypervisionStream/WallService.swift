import HypervisionCore
import HypervisionLayout
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The walls as a service: it composes the parts that each do one job, and runs their loops.
///
/// - ``WallRegistry`` (definitions from files and from the API) and ``OperatorActions`` (pins
///   and guard tours) are where changes are *recorded*, through one ``WallDesk``; recording
///   never computes a layout.
/// - ``RoundSchedule`` says when rounds run and which changes each takes; ``WallRounds`` is
///   what a round does: every wall computed from one snapshot of the live picture by the pure
///   ``LayoutEngine``, the scenes and per-display views published to the ``SceneHub``.
/// - ``SceneLogWriter`` writes the scene log (``KeyframePolicy`` decides keyframe or patch) on
///   a loop of its own, so a slow database never delays a round; ``SceneReplay`` rebuilds a
///   past scene from it.
///
/// A change is on the walls at the next round, at most one interval later; ``settle()`` waits
/// for it. The service holds no state of its own beyond these parts.
public final class WallService: Service, Sendable {
    /// The walls' settings (`walls.*` in the daemon's configuration).
    public struct Configuration: Sendable, Hashable {
        /// How often every wall is recomputed.
        public var interval: Duration = .milliseconds(100)
        /// A full scene is logged at least this often; patches in between.
        public var keyframeInterval: Duration = .seconds(60)
        /// Log entries held while the database is slow or away; older ones are dropped first.
        public var logCapacity = 20_000
        /// Each round runs in the real-time class (`SCHED_FIFO` at priority 1) when the system
        /// allows it: on a busy machine a round of half a millisecond was otherwise preempted by
        /// ingest, PostgreSQL and the other threads, and took several.
        public var realTimeRounds = true
        public init() {}
    }

    /// Where a wall's definition came from.
    public typealias Origin = WallOrigin

    public let configuration: Configuration
    public let hub: SceneHub
    private let desk: WallDesk
    private let rounds: Mutex<WallRounds>
    private let inputs: @Sendable (_ unitsSince: UInt64?) -> LiveInputs
    private let logStorage: (any SceneLogStorage)?
    private let logWriter: SceneLogWriter?
    private let definitions: (any WallDefinitionStorage)?
    private let logger: Logger
    private let now: @Sendable () -> Timestamp
    /// Whether this daemon lays a wall out (false: another daemon does, and its scenes are relayed here).
    private let laidOutHere: @Sendable (String) -> Bool
    /// Whether what it lays out of a wall goes to the scene log (false while it lays a wall out
    /// only because it is cut off from the others: the log keeps one line of numbers per wall).
    private let loggedHere: @Sendable (String) -> Bool
    private let changeObserver = CallbackSlot<WallChange, Void>()
    /// How long each round takes (all walls): on-call sees a layout falling behind its interval.
    private let roundDuration: Metrics.Timer
    /// The CPU time of each round's thread: beside ``roundDuration``, it tells a round that
    /// costs more from one that waited for a core (or a lock) on a busy machine.
    private let roundCPU: Metrics.Timer
    /// Whether rounds run in the real-time class: unknown until the first round asks, then
    /// granted or refused for good (a refused request is not made again every round).
    private let realTime = Atomic<UInt8>(RealTime.unknown)
    private enum RealTime {
        static let unknown: UInt8 = 0, granted: UInt8 = 1, refused: UInt8 = 2
    }

    /// `log` keeps the scene log and the API's wall definitions (nil: neither is kept).
    /// `inputs` reads the live picture for a round, with the units changed since the revision given.
    public init(
        configuration: Configuration = Configuration(), hub: SceneHub, log: (any SceneLogStorage & WallDefinitionStorage)?,
        logger: Logger, metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance,
        now: @escaping @Sendable () -> Timestamp = { .now() }, laidOutHere: @escaping @Sendable (String) -> Bool = { _ in true },
        loggedHere: @escaping @Sendable (String) -> Bool = { _ in true },
        inputs: @escaping @Sendable (_ unitsSince: UInt64?) -> LiveInputs
    ) {
        self.laidOutHere = laidOutHere
        self.loggedHere = loggedHere
        self.roundDuration = Metrics.Timer(
            label: "hypervision_wall_round_duration_seconds", preferredDisplayUnit: .seconds, factory: metricsFactory)
        self.roundCPU = Metrics.Timer(label: "hypervision_wall_round_cpu_seconds", preferredDisplayUnit: .seconds, factory: metricsFactory)
        self.configuration = configuration
        self.hub = hub
        self.desk = WallDesk(interval: configuration.interval)
        self.rounds = Mutex(WallRounds(keyframes: KeyframePolicy(interval: configuration.keyframeInterval)))
        self.inputs = inputs
        self.logStorage = log
        self.logWriter = log.map { SceneLogWriter(storage: $0, capacity: configuration.logCapacity, logger: logger) }
        self.definitions = log
        self.logger = logger
        self.now = now
    }

    // MARK: Definitions

    /// Adds or replaces a wall; the next round lays it out.
    @discardableResult
    public func define(json: JSONValue, origin: Origin) throws(WallServiceError) -> WallLayout {
        try desk.define(json: json, origin: origin)
    }

    /// Replaces every file-defined wall with `definitions` (path → JSON), as a reload does.
    /// Returns the problems of files that were refused; their previous definition is kept.
    public func loadFiles(_ definitions: [(path: String, json: JSONValue)]) -> [(path: String, error: WallServiceError)] {
        desk.loadFiles(definitions)
    }

    /// Removes an API-defined wall; the next round closes its streams.
    public func remove(id: String) throws(WallServiceError) {
        try desk.remove(id: id)
    }

    /// Throws ``WallServiceError/definedByFile(_:path:)`` when the API may not change `id`.
    public func checkChangeable(id: String) throws(WallServiceError) {
        try desk.checkChangeable(id: id)
    }

    /// The definition of a wall as given, and where it came from.
    public func definition(id: String) -> (json: JSONValue, origin: Origin)? {
        desk.entry(id: id).map { ($0.definition, $0.origin) }
    }

    public var wallIDs: [String] { desk.ids }

    /// Stores an API-defined wall so it survives a restart (and other daemons read it).
    public func save(id: String, definition: JSONValue) async throws {
        try await definitions?.saveWallDefinition(id: id, json: definition.encoded())
        announce(.stored(wall: id))
    }

    /// Removes a stored API-defined wall.
    public func forget(id: String) async throws {
        _ = try await definitions?.deleteWallDefinition(id: id)
        announce(.forgotten(wall: id))
    }

    /// Defines the walls stored through the API (at start-up, once the database is ready).
    /// Returns the ids refused, with why (a definition stored by an older version, say).
    public func loadStored() async throws -> [(String, WallServiceError)] {
        guard let definitions else { return [] }
        var refused: [(String, WallServiceError)] = []
        for (id, text) in try await definitions.wallDefinitions() {
            do {
                try define(json: try JSONValue(parsing: text), origin: .api)
            } catch let error as WallServiceError {
                refused.append((id, error))
            }
        }
        return refused
    }

    // MARK: Operator actions

    public func pin(wall id: String, _ pin: Pin) throws(WallServiceError) {
        try desk.act(on: id) { $0.pin(pin, on: id) }
        announce(.pinned(wall: id, pin))
    }

    /// Removes a pin; false when the camera was not pinned.
    public func unpin(wall id: String, camera: String) throws(WallServiceError) -> Bool {
        let removed = try desk.act(on: id) { $0.unpin(camera: camera, from: id) }
        if removed { announce(.unpinned(wall: id, camera: camera)) }
        return removed
    }

    public func pins(wall id: String) -> [Pin] { desk.actions(on: id).pins }

    public func tours(wall id: String) -> [GuardTour] { desk.actions(on: id).tours }

    public func startTour(wall id: String, _ tour: GuardTour) throws(WallServiceError) {
        try desk.act(on: id) { $0.start(tour, on: id) }
        announce(.tourStarted(wall: id, tour))
    }

    /// Stops a tour; false when there was none of that id.
    public func stopTour(wall id: String, tour: String) throws(WallServiceError) -> Bool {
        let stopped = try desk.act(on: id) { $0.stopTour(tour, on: id) }
        if stopped { announce(.tourStopped(wall: id, tour: tour)) }
        return stopped
    }

    // MARK: Other daemons

    /// `observer` hears of every operator change made on this daemon (not of those applied with
    /// ``apply(_:)``), to tell the other daemons of a cluster.
    public func observeChanges(_ observer: @escaping @Sendable (WallChange) -> Void) {
        changeObserver.set(observer)
    }

    private func announce(_ change: WallChange) {
        changeObserver(change)
    }

    /// Applies a change made on another daemon, without announcing it again. A stored
    /// definition is read from the database.
    public func apply(_ change: WallChange) async throws {
        let id = change.wall
        switch change {
        case .pinned(_, let pin): try desk.act(on: id) { $0.pin(pin, on: id) }
        case .unpinned(_, let camera): _ = try desk.act(on: id) { $0.unpin(camera: camera, from: id) }
        case .tourStarted(_, let tour): try desk.act(on: id) { $0.start(tour, on: id) }
        case .tourStopped(_, let tour): _ = try desk.act(on: id) { $0.stopTour(tour, on: id) }
        case .stored:
            guard let definitions, let (_, text) = try await definitions.wallDefinitions().first(where: { $0.0 == id }) else { return }
            try define(json: try JSONValue(parsing: text), origin: .api)
        case .forgotten:
            if case .api? = definition(id: id)?.origin { try remove(id: id) }
        }
    }

    // MARK: Rounds

    /// Waits until every change recorded so far is on the walls (a round that took it has
    /// ended). False when no round will come (the service stopped) or the task was cancelled.
    @discardableResult
    public func settle() async -> Bool {
        await desk.applied(desk.recorded)
    }

    /// ``settle()``, waiting at most `timeout`. False when it timed out.
    @discardableResult
    public func settle(within timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.settle() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Runs one round: every wall from one snapshot of the live picture, published to the hub,
    /// then resumes whoever waited for the changes it took. Returns when the next round is due.
    /// Only the loop calls it (and tests, which then do not run the loop).
    @discardableResult
    func runRound() -> ContinuousClock.Instant {
        // Writers are woken once the round has left the real-time class (see PendingHandOvers).
        let pending = PendingHandOvers()
        let asked = realTime.load(ordering: .relaxed)
        let tryRealTime = configuration.realTimeRounds && asked != RealTime.refused
        ThreadPriority.withRealTime(priority: 1, if: tryRealTime) { raised in
            if tryRealTime && asked == RealTime.unknown { noteRealTime(raised) }
            rounds.withLock { rounds in
                let start = ContinuousClock.now
                defer { roundDuration.recordNanoseconds((ContinuousClock.now - start).nanoseconds) }
                let startCPU = ThreadCPUTime.nanoseconds()
                defer { roundCPU.recordNanoseconds(ThreadCPUTime.nanoseconds() - startCPU) }
                let live = inputs(rounds.unitsRevision)
                let time = now()
                let snapshot = desk.beginRound(at: time)
                rounds.run(
                    snapshot, live: live, at: time, hub: hub, log: logWriter, laidOutHere: laidOutHere, loggedHere: loggedHere,
                    handingOverLater: pending)
            }
        }
        pending.handOver()
        return desk.endRound(at: .now)
    }

    private func noteRealTime(_ raised: Bool) {
        guard realTime.compareExchange(expected: RealTime.unknown, desired: raised ? RealTime.granted : RealTime.refused, ordering: .relaxed).exchanged
        else { return }
        if raised {
            logger.info("wall rounds run in the real-time class (SCHED_FIFO, priority 1)")
        } else {
            logger.notice(
                "wall rounds run at normal priority: the system refused the real-time class; a busy machine may then delay rounds (grant it with LimitRTPRIO=1 in the unit, as Deploy/hypervisiond.service does, or set walls.realtime: false)"
            )
        }
    }

    // MARK: Scene log

    /// Writes the pending log entries. A failure keeps them for the next try (bounded).
    public func flushLog() async {
        await logWriter?.flush()
    }

    /// What `wall` showed at `time`, rebuilt from the scene log (keyframe plus patches).
    public func scene(wall: String, at time: Timestamp) async throws -> JSONValue? {
        guard let logStorage else { return nil }
        return try SceneReplay.rebuild(try await logStorage.entries(wall: wall, at: time, maximumPatches: 100_000))
    }

    public func run() async throws {
        // Two loops, so that a slow log write (the database is busy or away) never delays a
        // round: the walls keep moving while their log catches up. A graceful shutdown ends the
        // log loop's wait, never its write: a write cancelled halfway would be retried only by
        // the final flush, after a misleading warning.
        defer { desk.loopStopped() }
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                    await self.flushLog()
                }
            }
            let clock = ContinuousClock()
            desk.loopStarted(at: clock.now)
            var next = clock.now
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(until: next, clock: clock)
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                next = runRound()
            }
        }
        // The last rounds' entries.
        await flushLog()
    }
}
