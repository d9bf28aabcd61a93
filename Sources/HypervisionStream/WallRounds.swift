import HypervisionCore
import HypervisionLayout

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

/// What one round takes from the recorded changes: the walls as they are defined now, what the
/// operators asked of each (lapsed pins already dropped), and the walls removed since the last
/// round.
public struct RoundSnapshot: Sendable {
    public var walls: [String: WallRegistry.Entry]
    public var actions: OperatorActions
    public var removed: Set<String>
    /// Every change up to this revision is in the snapshot.
    public var revision: UInt64
}

/// What a round must do to the hub's streams before it computes, from the walls it laid out
/// last time and the snapshot it took. Pure.
///
/// - A wall removed since the last round loses every stream (its subscribers get `not_found`).
/// - A wall defined anew (new, or with a new generation) starts from nothing: no engine state,
///   no units, a keyframe next in the log; the streams of displays it no longer has go, the
///   wall's own stream goes on.
struct RoundPlan: Sendable, Hashable {
    /// A wall laid out from nothing this round.
    struct Start: Sendable, Hashable {
        var id: String
        /// The displays of its new layout: the streams of the others go.
        var keepingDisplays: Set<String>
    }

    var removed: [String] = []
    var started: [Start] = []

    static func make(previous: [String: UInt64], snapshot: RoundSnapshot) -> RoundPlan {
        var plan = RoundPlan()
        let gone = snapshot.removed.union(previous.keys.filter { snapshot.walls[$0] == nil })
        plan.removed = gone.sorted()
        for (id, entry) in snapshot.walls.sorted(by: { $0.key < $1.key }) {
            guard snapshot.removed.contains(id) || previous[id] != entry.generation else { continue }
            plan.started.append(Start(id: id, keepingDisplays: Set(entry.layout.displays.map(\.id))))
        }
        return plan
    }
}

/// One wall between rounds, as only the round loop sees it.
struct WallRoundState: Sendable {
    var generation: UInt64
    var layout: WallLayout
    var state: LayoutState?
    /// The ``UnitMirror`` revision `state` was computed at: only then may the next round pass
    /// the engine the units changed since.
    var stateUnitsRevision: UInt64?
    /// The units of the last scene published, and their version (see ``WallRoundDocument``).
    var units: [String: SceneUnit] = [:]
    var unitsVersion: UInt64 = 0
    var log = KeyframePolicy.Marks()
}

/// The round loop's own state and what one round does: computes every wall from one snapshot of
/// the live picture, publishes each scene and its per-display views to the hub, and queues the
/// scene log's entries. Only the loop (one round at a time) touches it.
struct WallRounds: Sendable {
    private(set) var walls: [String: WallRoundState] = [:]
    private var mirror = UnitMirror()
    /// Versions of unit sets, unique across walls and redefinitions (0: no units yet).
    private var lastUnitsVersion: UInt64 = 0
    let keyframes: KeyframePolicy

    init(keyframes: KeyframePolicy) {
        self.keyframes = keyframes
    }

    /// The live picture's revision the next round asks changes since.
    var unitsRevision: UInt64? { mirror.revision }

    /// Runs one round: `snapshot` of the walls, `live` read for it, at `time`.
    ///
    /// A wall that another daemon lays out (`laidOutHere` false) is skipped, and its state
    /// dropped: its streams here are relayed from that daemon, and if this daemon takes the wall
    /// over, it starts from nothing, continuing the sequence numbers relayed so far.
    /// `later`: where the round leaves the sinks of its lines, to hand them over after it (nil:
    /// at each publish).
    mutating func run(
        _ snapshot: RoundSnapshot, live: LiveInputs, at time: Timestamp, hub: SceneHub, log: SceneLogWriter?,
        laidOutHere: (String) -> Bool = { _ in true }, loggedHere: (String) -> Bool = { _ in true }, handingOverLater later: PendingHandOvers? = nil
    ) {
        let plan = RoundPlan.make(previous: walls.mapValues(\.generation), snapshot: snapshot)
        for id in plan.removed {
            walls[id] = nil
            hub.removeWall(id)
        }
        for start in plan.started {
            guard let entry = snapshot.walls[start.id] else { continue }
            walls[start.id] = WallRoundState(generation: entry.generation, layout: entry.layout)
            // Displays that no longer exist lose their streams; the wall's own stream goes on.
            hub.removeWall(start.id, keepingDisplays: start.keepingDisplays)
        }
        let previousRevision = mirror.revision
        let changedUnits = mirror.absorb(live)
        for id in walls.keys.sorted() {
            // Out of the dictionary while it changes: the engine then holds the only copy of the
            // previous state and reuses its marker storage instead of copying it.
            guard var wall = walls.removeValue(forKey: id) else { continue }
            defer { walls[id] = wall }
            guard laidOutHere(id) else {
                if wall.state != nil || wall.unitsVersion != 0 {
                    wall = WallRoundState(generation: wall.generation, layout: wall.layout)
                }
                continue
            }
            let actions = snapshot.actions[id]
            let inputs = LayoutInputs(
                wall: wall.layout, cameras: live.cameras, units: mirror.units, incidents: live.incidents, events: live.events,
                pins: actions.pins, tours: actions.tours, now: time, camerasRevision: live.camerasRevision,
                changedUnits: wall.stateUnitsRevision == previousRevision ? changedUnits : nil)
            let startsAfresh = wall.state == nil
            let (scene, state) = LayoutEngine.compute(inputs, previous: wall.state.take())
            wall.state = state
            wall.stateUnitsRevision = mirror.revision
            publish(scene, wall: &wall, time: time, hub: hub, log: loggedHere(id) ? log : nil, startsAfresh: startsAfresh, later: later)
        }
    }

    /// A wall laid out afresh (`startsAfresh`) whose streams were relayed from a daemon that laid
    /// it out before jumps its sequence numbers
    /// to the present in microseconds: no version of another daemon can have that number (each
    /// numbers from its start time in microseconds, one per version), so numbers never repeat
    /// across owners, and a renderer resuming from before the takeover gets the full scene.
    private mutating func publish(
        _ scene: Scene, wall: inout WallRoundState, time: Timestamp, hub: SceneHub, log: SceneLogWriter?, startsAfresh: Bool = false,
        later: PendingHandOvers?
    ) {
        let id = wall.layout.definition.id
        let key = StreamKey(wall: id)
        func jump(_ key: StreamKey) -> UInt64? {
            guard startsAfresh, let current = hub.current(key), current.document is RelayedDocument else { return nil }
            return max(current.seq + 1, UInt64(max(1, time.microseconds)))
        }
        // The units' operations, once for the scene and every view showing them.
        let baseVersion = wall.unitsVersion
        // The engine names the markers that changed when it updated them from the previous state,
        // whose markers are the last published ones.
        let unitOperations = SceneUnit.encodedChanges(from: wall.units, to: scene.units, keys: wall.state?.unitChanges)
        if unitOperations.count > 0 || wall.unitsVersion == 0 {
            lastUnitsVersion += 1
            wall.unitsVersion = lastUnitsVersion
        }
        wall.units = scene.units
        let round = WallRoundDocument(
            content: scene, unitsVersion: wall.unitsVersion, baseUnitsVersion: baseVersion, encodedUnitOperations: unitOperations.bytes,
            showsSceneUnits: true)
        if let seq = hub.publish(key, content: round, as: jump(key), handingOverLater: later), let log {
            logChange(wall: &wall, key: key, seq: seq, time: time, hub: hub, log: log)
        }
        for display in wall.layout.displays {
            guard let view = scene.view(display: display.id) else { continue }
            // A view holds all of the scene's units (a map is on its display) or none.
            let displayKey = StreamKey(wall: id, display: display.id)
            hub.publish(
                displayKey, content: round.sharing(with: view, showsSceneUnits: view.units.count == scene.units.count), as: jump(displayKey),
                handingOverLater: later)
        }
    }

    private func logChange(wall: inout WallRoundState, key: StreamKey, seq: UInt64, time: Timestamp, hub: SceneHub, log: SceneLogWriter) {
        guard let current = hub.current(key) else { return }
        var decision = keyframes.decide(wall.log, seq: seq, at: time)
        var entry: SceneLogEntry?
        if case .patch(let base) = decision {
            if let operations = hub.operations(key, since: base) {
                entry = SceneLogEntry(
                    wall: key.wall, seq: Int64(seq), base: Int64(base), generatedAt: time, kind: .patch,
                    json: String(decoding: operations, as: UTF8.self))
            } else {
                decision = .keyframe
            }
        }
        let logged = entry ?? SceneLogEntry(
            wall: key.wall, seq: Int64(seq), base: nil, generatedAt: time, kind: .scene, json: String(decoding: current.encoded, as: UTF8.self))
        wall.log = KeyframePolicy.marks(wall.log, after: decision, seq: seq, at: time)
        log.enqueue(logged)
    }
}
