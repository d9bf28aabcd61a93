import HypervisionCore
import HypervisionLayout
import HypervisionStore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// What the walls are computed from, read from the live picture once per round.
///
/// Units come as changes: those that changed since the revision the round asked for (see
/// ``WallService/init(configuration:hub:log:logger:metricsFactory:now:inputs:)``), or all of them.
public struct LiveInputs: Sendable {
    public var cameras: [String: CameraState]
    /// Changes whenever `cameras` does; nil when unknown (see ``LayoutInputs/camerasRevision``).
    public var camerasRevision: UInt64?
    /// The units that changed since the revision asked for, or every unit when ``unitsAreComplete``.
    public var units: [UnitID: LayoutUnit]
    /// Units that changed by being forgotten.
    public var removedUnits: [UnitID]
    public var unitsAreComplete: Bool
    /// The revision these units bring the walls to; asked for by the next round.
    public var unitsRevision: UInt64
    public var incidents: [Incident]
    public var events: [CameraEvent]
    public init(
        cameras: [String: CameraState] = [:], camerasRevision: UInt64? = nil, units: [UnitID: LayoutUnit] = [:],
        removedUnits: [UnitID] = [], unitsAreComplete: Bool = true, unitsRevision: UInt64 = 0, incidents: [Incident] = [],
        events: [CameraEvent] = []
    ) {
        self.cameras = cameras
        self.camerasRevision = camerasRevision
        self.units = units
        self.removedUnits = removedUnits
        self.unitsAreComplete = unitsAreComplete
        self.unitsRevision = unitsRevision
        self.incidents = incidents
        self.events = events
    }
}

/// The walls' copy of every unit, brought up to date each round with what changed.
struct UnitMirror: Sendable {
    private(set) var units: [UnitID: LayoutUnit] = [:]
    /// The live picture's revision the copy reflects; nil before the first round.
    private(set) var revision: UInt64?

    /// Takes in a round's units; returns the ids that changed, or nil when all were replaced.
    mutating func absorb(_ live: LiveInputs) -> Set<UnitID>? {
        revision = live.unitsRevision
        if live.unitsAreComplete {
            units = live.units
            return nil
        }
        var changed = Set<UnitID>(minimumCapacity: live.units.count + live.removedUnits.count)
        for (id, unit) in live.units {
            units[id] = unit
            changed.insert(id)
        }
        for id in live.removedUnits {
            units.removeValue(forKey: id)
            changed.insert(id)
        }
        return changed
    }
}

/// Why a wall operation was refused.
public enum WallServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownWall(String)
    /// The wall comes from a file in the walls directory; change the file instead.
    case definedByFile(String, path: String)
    case invalid(WallDefinitionError)

    public var description: String {
        switch self {
        case .unknownWall(let id): return "no wall \(id)"
        case .definedByFile(let id, let path): return "wall \(id) is defined by \(path); edit that file and reload"
        case .invalid(let error): return "invalid wall definition: \(error)"
        }
    }
}

/// The walls: their definitions (from files and from the API), operator pins and guard tours,
/// and the loop that recomputes each wall's scene from the live picture and publishes it, and
/// its per-display views, to the hub. Changes are logged (keyframes and patches) for review.
public final class WallService: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// How often every wall is recomputed.
        public var interval: Duration = .milliseconds(100)
        /// A full scene is logged at least this often; patches in between.
        public var keyframeInterval: Duration = .seconds(60)
        /// Log entries held while the database is slow or away; older ones are dropped first.
        public var logCapacity = 20_000
        public init() {}
    }

    /// Where a wall's definition came from.
    public enum Origin: Sendable, Hashable {
        case file(path: String)
        case api
    }

    private struct Wall {
        var layout: WallLayout
        var definition: JSONValue
        var origin: Origin
        var state: LayoutState?
        var pins: [Pin] = []
        var tours: [GuardTour] = []
        var lastKeyframe: Timestamp?
        var lastLoggedSeq: UInt64?
        /// The units of the last scene published, and their version (see ``WallRoundDocument``).
        var units: [String: SceneUnit] = [:]
        var unitsVersion: UInt64 = 0
        /// The ``UnitMirror`` revision `state` was computed at: only then may the next round
        /// pass the engine the units changed since.
        var stateUnitsRevision: UInt64?
    }

    public let configuration: Configuration
    public let hub: SceneHub
    private let inputs: @Sendable (_ unitsSince: UInt64?) -> LiveInputs
    private let log: SceneLogStore?
    private let logger: Logger
    private let now: @Sendable () -> Timestamp
    /// How long each round takes (all walls): on-call sees a layout falling behind its interval.
    private let roundDuration: Metrics.Timer
    private let walls = Mutex<[String: Wall]>([:])
    /// Versions of unit sets, unique across walls and redefinitions (0: no units yet).
    private let lastUnitsVersion = Mutex<UInt64>(0)
    private let pendingLog = Mutex<[SceneLogEntry]>([])
    /// One round at a time: the loop and API-triggered recomputes must not interleave a wall's
    /// state. Holds the units every wall is computed from.
    private let computing = Mutex(UnitMirror())

    public init(
        configuration: Configuration = Configuration(), hub: SceneHub, log: SceneLogStore?, logger: Logger,
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance,
        now: @escaping @Sendable () -> Timestamp = { .now() }, inputs: @escaping @Sendable (_ unitsSince: UInt64?) -> LiveInputs
    ) {
        self.roundDuration = Metrics.Timer(
            label: "hypervision_wall_round_duration_seconds", preferredDisplayUnit: .seconds, factory: metricsFactory)
        self.configuration = configuration
        self.hub = hub
        self.inputs = inputs
        self.log = log
        self.logger = logger
        self.now = now
    }

    // MARK: Definitions

    /// Adds or replaces a wall and publishes its first scene at once.
    @discardableResult
    public func define(json: JSONValue, origin: Origin) throws(WallServiceError) -> WallLayout {
        let layout: WallLayout
        do {
            layout = try WallDefinition.compile(json: json)
        } catch {
            throw .invalid(error)
        }
        let id = layout.definition.id
        try walls.withLock { walls throws(WallServiceError) in
            if case .file(let path) = walls[id]?.origin, origin == .api {
                throw .definedByFile(id, path: path)
            }
            let previous = walls[id]
            walls[id] = Wall(layout: layout, definition: json, origin: origin, pins: previous?.pins ?? [], tours: previous?.tours ?? [])
        }
        // Displays that no longer exist lose their streams; the wall's own stream goes on.
        hub.removeWall(id, keepingDisplays: Set(layout.displays.map(\.id)))
        recompute()
        return layout
    }

    /// Replaces every file-defined wall with `definitions` (path → JSON), as a reload does.
    /// Returns the problems of files that were refused; their previous definition is kept.
    public func loadFiles(_ definitions: [(path: String, json: JSONValue)]) -> [(path: String, error: WallServiceError)] {
        var problems: [(String, WallServiceError)] = []
        var loaded: Set<String> = []
        for (path, json) in definitions {
            do {
                let layout = try define(json: json, origin: .file(path: path))
                loaded.insert(layout.definition.id)
            } catch {
                problems.append((path, error))
                if let id = json["id"]?.stringValue { loaded.insert(id) }
            }
        }
        let removed: [String] = walls.withLock { walls in
            let gone = walls.filter { if case .file = $0.value.origin { return !loaded.contains($0.key) } else { return false } }.map(\.key)
            for id in gone { walls[id] = nil }
            return gone
        }
        for id in removed { hub.removeWall(id) }
        return problems
    }

    public func remove(id: String) throws(WallServiceError) {
        try walls.withLock { walls throws(WallServiceError) in
            guard let wall = walls[id] else { throw .unknownWall(id) }
            if case .file(let path) = wall.origin { throw .definedByFile(id, path: path) }
            walls[id] = nil
        }
        hub.removeWall(id)
    }

    /// The definition of a wall as given, and where it came from.
    public func definition(id: String) -> (json: JSONValue, origin: Origin)? {
        walls.withLock { walls in walls[id].map { ($0.definition, $0.origin) } }
    }

    public var wallIDs: [String] { walls.withLock { $0.keys.sorted() } }

    /// Stores an API-defined wall so it survives a restart.
    public func save(id: String, definition: JSONValue) async throws {
        try await log?.saveWallDefinition(id: id, json: definition.encoded())
    }

    /// Removes a stored API-defined wall.
    public func forget(id: String) async throws {
        _ = try await log?.deleteWallDefinition(id: id)
    }

    /// Defines the walls stored through the API (at start-up, once the database is ready).
    /// Returns the ids refused, with why (a definition stored by an older version, say).
    public func loadStored() async throws -> [(String, WallServiceError)] {
        guard let log else { return [] }
        var refused: [(String, WallServiceError)] = []
        for (id, text) in try await log.wallDefinitions() {
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
        try walls.withLock { walls throws(WallServiceError) in
            guard walls[id] != nil else { throw .unknownWall(id) }
            walls[id]!.pins.removeAll { $0.camera == pin.camera }
            walls[id]!.pins.append(pin)
        }
        recompute()
    }

    /// Removes a pin; false when the camera was not pinned.
    public func unpin(wall id: String, camera: String) throws(WallServiceError) -> Bool {
        let removed = try walls.withLock { walls throws(WallServiceError) -> Bool in
            guard walls[id] != nil else { throw .unknownWall(id) }
            let before = walls[id]!.pins.count
            walls[id]!.pins.removeAll { $0.camera == camera }
            return walls[id]!.pins.count != before
        }
        recompute()
        return removed
    }

    public func pins(wall id: String) -> [Pin] { walls.withLock { $0[id]?.pins ?? [] } }

    public func startTour(wall id: String, _ tour: GuardTour) throws(WallServiceError) {
        try walls.withLock { walls throws(WallServiceError) in
            guard walls[id] != nil else { throw .unknownWall(id) }
            walls[id]!.tours.removeAll { $0.id == tour.id }
            walls[id]!.tours.append(tour)
        }
        recompute()
    }

    public func stopTour(wall id: String, tour: String) throws(WallServiceError) -> Bool {
        let removed = try walls.withLock { walls throws(WallServiceError) -> Bool in
            guard walls[id] != nil else { throw .unknownWall(id) }
            let before = walls[id]!.tours.count
            walls[id]!.tours.removeAll { $0.id == tour }
            return walls[id]!.tours.count != before
        }
        recompute()
        return removed
    }

    // MARK: Computing

    /// Recomputes every wall from one snapshot of the live picture and publishes what changed.
    public func recompute() {
        computing.withLock { mirror in
            let start = ContinuousClock.now
            defer { roundDuration.recordNanoseconds((ContinuousClock.now - start).nanoseconds) }
            let live = inputs(mirror.revision)
            let previousRevision = mirror.revision
            let changedUnits = mirror.absorb(live)
            let time = now()
            for id in wallIDs {
                guard var wall = walls.withLock({ $0[id] }) else { continue }
                wall.pins.removeAll { !$0.isActive(at: time) && $0.expiresAt.map { $0 <= time } == true }
                let layoutInputs = LayoutInputs(
                    wall: wall.layout, cameras: live.cameras, units: mirror.units, incidents: live.incidents, events: live.events,
                    pins: wall.pins, tours: wall.tours, now: time, camerasRevision: live.camerasRevision,
                    changedUnits: wall.stateUnitsRevision == previousRevision ? changedUnits : nil)
                let (scene, state) = LayoutEngine.compute(layoutInputs, previous: wall.state)
                wall.state = state
                wall.stateUnitsRevision = mirror.revision
                publish(scene, wall: &wall, time: time)
                walls.withLock { walls in
                    // Keep operator changes made meanwhile; take the engine's state and log marks.
                    guard walls[id] != nil, walls[id]!.layout == wall.layout else { return }
                    walls[id]!.state = wall.state
                    walls[id]!.stateUnitsRevision = wall.stateUnitsRevision
                    walls[id]!.lastKeyframe = wall.lastKeyframe
                    walls[id]!.lastLoggedSeq = wall.lastLoggedSeq
                    walls[id]!.units = wall.units
                    walls[id]!.unitsVersion = wall.unitsVersion
                    walls[id]!.pins.removeAll { $0.expiresAt.map { $0 <= time } == true }
                }
            }
        }
    }

    private func publish(_ scene: Scene, wall: inout Wall, time: Timestamp) {
        let id = wall.layout.definition.id
        let key = StreamKey(wall: id)
        // The units' operations, once for the scene and every view showing them.
        let baseVersion = wall.unitsVersion
        // The engine names the markers that changed when it updated them from the previous state,
        // whose markers are the last published ones.
        let unitOperations = SceneUnit.changes(from: wall.units, to: scene.units, keys: wall.state?.unitChanges)
        if !unitOperations.isEmpty || wall.unitsVersion == 0 {
            wall.unitsVersion = lastUnitsVersion.withLock { version in
                version += 1
                return version
            }
        }
        wall.units = scene.units
        let round = WallRoundDocument(
            content: scene, unitsVersion: wall.unitsVersion, baseUnitsVersion: baseVersion, unitOperations: unitOperations,
            showsSceneUnits: true)
        if let seq = hub.publish(key, content: round) {
            logChange(wall: &wall, key: key, seq: seq, time: time)
        }
        for display in wall.layout.displays {
            guard let view = scene.view(display: display.id) else { continue }
            // A view holds all of the scene's units (a map is on its display) or none.
            hub.publish(
                StreamKey(wall: id, display: display.id),
                content: round.sharing(with: view, showsSceneUnits: view.units.count == scene.units.count))
        }
    }

    private func logChange(wall: inout Wall, key: StreamKey, seq: UInt64, time: Timestamp) {
        guard log != nil, let current = hub.current(key) else { return }
        let keyframeDue = wall.lastKeyframe.map { Double(time.microseconds - $0.microseconds) / 1e6 >= Self.seconds(configuration.keyframeInterval) } ?? true
        var entry: SceneLogEntry
        if !keyframeDue, let last = wall.lastLoggedSeq, last + 1 == seq, let operations = hub.operations(key, since: last) {
            entry = SceneLogEntry(
                wall: key.wall, seq: Int64(seq), base: Int64(last), generatedAt: time, kind: .patch,
                json: String(decoding: operations, as: UTF8.self))
        } else {
            entry = SceneLogEntry(
                wall: key.wall, seq: Int64(seq), base: nil, generatedAt: time, kind: .scene, json: String(decoding: current.encoded, as: UTF8.self))
            wall.lastKeyframe = time
        }
        wall.lastLoggedSeq = seq
        let capacity = configuration.logCapacity
        pendingLog.withLock { pending in
            pending.append(entry)
            if pending.count > capacity { pending.removeFirst(pending.count - capacity) }
        }
        _ = entry
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Writes the pending log entries. A failure keeps them for the next try (bounded).
    public func flushLog() async {
        guard let log else { return }
        let entries = pendingLog.withLock { pending in
            let taken = pending
            pending.removeAll()
            return taken
        }
        guard !entries.isEmpty else { return }
        do {
            try await log.append(entries)
        } catch {
            logger.warning("scene log write failed; will retry", metadata: ["entries": "\(entries.count)", "error": "\(DatabaseErrors.describe(error))"])
            let capacity = configuration.logCapacity
            pendingLog.withLock { pending in
                pending.insert(contentsOf: entries, at: 0)
                if pending.count > capacity { pending.removeFirst(pending.count - capacity) }
            }
        }
    }

    /// What `wall` showed at `time`, rebuilt from the scene log (keyframe plus patches).
    public func scene(wall: String, at time: Timestamp) async throws -> JSONValue? {
        guard let log else { return nil }
        let entries = try await log.entries(wall: wall, at: time)
        guard let first = entries.first, first.kind == .scene else { return nil }
        var document = try JSONValue(parsing: first.json)
        for entry in entries.dropFirst() {
            if entry.kind == .scene {
                document = try JSONValue(parsing: entry.json)
            } else {
                document = try JSONPatch(json: try JSONValue(parsing: entry.json)).applied(to: document)
            }
        }
        return document
    }

    public func run() async throws {
        // Two loops, so that a slow log write (the database is busy or away) never delays a
        // round: the walls keep moving while their log catches up. A graceful shutdown ends the
        // log loop's wait, never its write: a write cancelled halfway would be retried only by
        // the final flush, after a misleading warning.
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                    await self.flushLog()
                }
            }
            // Rounds on a fixed cadence (not a fixed pause after each), so a change waits at most
            // one interval; an overlong round still leaves the others a fifth of an interval.
            let clock = ContinuousClock()
            var next = clock.now + configuration.interval
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(until: next, clock: clock)
                recompute()
                next = max(next + configuration.interval, clock.now + configuration.interval / 5)
            }
        }
        // The last rounds' entries.
        await flushLog()
    }
}
