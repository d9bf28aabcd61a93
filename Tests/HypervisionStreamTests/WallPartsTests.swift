import HypervisionCore
import HypervisionLayout
import HypervisionStore
import Testing

@testable import HypervisionStream

/// The walls' decisions, each in its pure type, tested with a clock that is a parameter and no
/// database: definitions (``WallRegistry``), operator actions (``OperatorActions``), when rounds
/// run and what they take (``RoundSchedule``), what a round does to the hub's streams
/// (``RoundPlan``), and the scene log (``KeyframePolicy``, ``SceneLogQueue``, ``SceneReplay``).
@Suite struct WallPartsTests {
    static let t0 = Timestamp(rfc3339: "2026-11-23T10:00:00Z") ?? Timestamp(seconds: 0)

    static func definition(_ id: String, preset: String = "2x2", title: String = "Test") -> JSONValue {
        try! JSONValue(
            parsing: """
                {"id": "\(id)", "title": "\(title)",
                 "displays": {"rows": 1, "columns": 2, "default": {"width": 1920, "height": 1080, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.5}},
                 "regions": [
                   {"id": "map", "area": {"row": 0, "column": 0}, "kind": "map", "viewport": {"west": 2.25, "south": 48.81, "east": 2.42, "north": 48.91}},
                   {"id": "cams", "area": {"row": 0, "column": 1}, "kind": "cameras", "preset": "\(preset)", "sources": ["cam-1"]}
                 ],
                 "tuning": {"minimumDwellSeconds": 0}}
                """)
    }

    // MARK: Registry

    @Test func everyDefinitionHasANewGenerationAndFileWallsAreNotTheAPIs() throws {
        var registry = WallRegistry()
        try registry.define(json: Self.definition("ops"), origin: .file(path: "/walls/ops.json"))
        let first = try #require(registry["ops"]).generation
        try registry.define(json: Self.definition("ops", preset: "3x3"), origin: .file(path: "/walls/ops.json"))
        #expect(try #require(registry["ops"]).generation > first, "a redefinition starts the wall afresh")
        #expect(throws: WallServiceError.definedByFile("ops", path: "/walls/ops.json")) {
            try registry.define(json: Self.definition("ops"), origin: .api)
        }
        #expect(throws: WallServiceError.definedByFile("ops", path: "/walls/ops.json")) { try registry.remove(id: "ops") }
        #expect(throws: WallServiceError.unknownWall("nope")) { try registry.remove(id: "nope") }
        var invalid = Self.definition("bad").objectValue!
        invalid["regions"] = .string("none")
        #expect(throws: WallServiceError.self) { try registry.define(json: .object(invalid), origin: .api) }
        #expect(registry.ids == ["ops"])

        try registry.define(json: Self.definition("lobby"), origin: .api)
        try registry.remove(id: "lobby")
        #expect(registry["lobby"] == nil)
        let removed = registry.takeRemovals()
        #expect(removed == ["lobby"])
        let removedAgain = registry.takeRemovals()
        #expect(removedAgain.isEmpty, "each removal is taken once")
    }

    @Test func aReloadReplacesFileWallsKeepsARefusedFilesWallAndDropsTheGoneOnes() throws {
        var registry = WallRegistry()
        _ = registry.loadFiles([("/w/a.json", Self.definition("a")), ("/w/b.json", Self.definition("b"))])
        try registry.define(json: Self.definition("api"), origin: .api)
        let before = try #require(registry["a"])
        var broken = Self.definition("a").objectValue!
        broken["displays"] = .null
        let problems = registry.loadFiles([("/w/a.json", .object(broken))])
        #expect(problems.map(\.path) == ["/w/a.json"])
        #expect(registry["a"] == before, "a refused file keeps its wall as it was")
        #expect(registry["b"] == nil && registry["api"] != nil, "b's file is gone; the API's wall stays")
        let reloadRemoved = registry.takeRemovals()
        #expect(reloadRemoved == ["b"])
    }

    // MARK: Operator actions

    @Test func pinsAndToursFollowTheirRulesAndPinsLapse() {
        var actions = OperatorActions()
        actions.pin(Pin(camera: "cam-1", pinnedAt: Self.t0, expiresAt: Self.t0.adding(seconds: 60)), on: "ops")
        actions.pin(Pin(camera: "cam-2", pinnedAt: Self.t0), on: "ops")
        actions.pin(Pin(camera: "cam-1", region: "cams", pinnedAt: Self.t0, expiresAt: Self.t0.adding(seconds: 30), pinnedBy: "desk"), on: "ops")
        #expect(actions["ops"].pins.map(\.camera) == ["cam-2", "cam-1"], "pinning again replaces the pin")
        #expect(actions["ops"].pins.last?.pinnedBy == "desk")
        let lapsedEarly = actions.expire(at: Self.t0.adding(seconds: 29.9))
        #expect(lapsedEarly == 0)
        let lapsed = actions.expire(at: Self.t0.adding(seconds: 30))
        #expect(lapsed == 1, "a pin lapses at its expiry")
        #expect(actions["ops"].pins.map(\.camera) == ["cam-2"], "a pin without expiry stays")
        let unpinned = actions.unpin(camera: "cam-2", from: "ops")
        #expect(unpinned)
        let unpinnedTwice = actions.unpin(camera: "cam-2", from: "ops")
        #expect(!unpinnedTwice)
        let unpinnedElsewhere = actions.unpin(camera: "cam-2", from: "elsewhere")
        #expect(!unpinnedElsewhere)

        let tour = GuardTour(id: "night", cameras: ["cam-1", "cam-2"], dwellSeconds: 10, startedAt: Self.t0)
        actions.start(tour, on: "ops")
        var restarted = tour
        restarted.startedAt = Self.t0.adding(seconds: 5)
        actions.start(restarted, on: "ops")
        #expect(actions["ops"].tours == [restarted], "a tour with a running tour's id restarts it")
        let stopped = actions.stopTour("night", on: "ops")
        #expect(stopped)
        let stoppedTwice = actions.stopTour("night", on: "ops")
        #expect(!stoppedTwice)
        actions.pin(Pin(camera: "cam-3", pinnedAt: Self.t0), on: "ops")
        actions.forget(wall: "ops")
        #expect(actions["ops"] == OperatorActions.Wall())
    }

    // MARK: Round schedule

    @Test func roundsKeepTheirCadenceAndAnOverrunStillRests() {
        let start = ContinuousClock.now
        var schedule = RoundSchedule(interval: .milliseconds(100))
        schedule.started(at: start)
        #expect(schedule.nextRound == start, "the first round is due at once")
        _ = schedule.roundStarts()
        let first = schedule.roundEnded(at: start + .milliseconds(10))
        #expect(first.next == start + .milliseconds(100))
        _ = schedule.roundStarts()
        // A round that ended 30 ms late: the next keeps the cadence.
        let late = schedule.roundEnded(at: start + .milliseconds(130))
        #expect(late.next == start + .milliseconds(200))
        _ = schedule.roundStarts()
        // A round that overran a whole interval: the next comes a fifth of an interval later.
        let overrun = schedule.roundEnded(at: start + .milliseconds(450))
        #expect(overrun.next == start + .milliseconds(470))
    }

    @Test func changesAreCoalescedIntoTheNextRoundAndItsWaitersResumeOnlyThen() throws {
        var schedule = RoundSchedule(interval: .milliseconds(100))
        let now = ContinuousClock.now
        schedule.started(at: now)
        let pin = schedule.record()
        let tour = schedule.record()
        let pinWait = schedule.wait(for: pin)
        let waiterOfPin = try #require(pinWait)
        let tourWait = schedule.wait(for: tour)
        let waiterOfTour = try #require(tourWait)
        let taken = schedule.roundStarts()
        #expect(taken == tour, "one round takes both changes")
        // Recorded while the round runs: not in it.
        let late = schedule.record()
        let lateWait = schedule.wait(for: late)
        let waiterOfLate = try #require(lateWait)
        let ended = schedule.roundEnded(at: now)
        #expect(Set(ended.resume) == [waiterOfPin, waiterOfTour])
        #expect(schedule.applied == tour)
        let appliedWait = schedule.wait(for: pin)
        #expect(appliedWait == nil, "applied already: nothing to wait for")
        _ = schedule.roundStarts()
        let second = schedule.roundEnded(at: now)
        #expect(second.resume == [waiterOfLate])

        let another = schedule.record()
        let anotherWait = schedule.wait(for: another)
        let unlucky = try #require(anotherWait)
        let cancelled = schedule.cancel(unlucky)
        #expect(cancelled)
        let cancelledTwice = schedule.cancel(unlucky)
        #expect(!cancelledTwice)
        let lastWait = schedule.wait(for: another)
        let last = try #require(lastWait)
        let resumedAtStop = schedule.stopped()
        #expect(resumedAtStop == [last], "a stopped loop resumes whoever waits")
        let afterwards = schedule.record()
        let afterStop = schedule.wait(for: afterwards)
        #expect(afterStop == nil, "and nobody waits for it afterwards")
    }

    // MARK: Round plan

    @Test func aRoundRemovesGoneWallsAndStartsNewOrRedefinedOnesAfresh() throws {
        var registry = WallRegistry()
        try registry.define(json: Self.definition("a"), origin: .api)
        try registry.define(json: Self.definition("b"), origin: .api)
        let first = RoundSnapshot(walls: registry.entries, actions: OperatorActions(), removed: registry.takeRemovals(), revision: 1)
        let plan = RoundPlan.make(previous: [:], snapshot: first)
        #expect(plan.removed.isEmpty && plan.started.map(\.id) == ["a", "b"])
        #expect(plan.started.first?.keepingDisplays == ["r0c0", "r0c1"])
        let laidOut = first.walls.mapValues(\.generation)
        #expect(RoundPlan.make(previous: laidOut, snapshot: first) == RoundPlan(), "nothing changed, nothing to do")

        try registry.define(json: Self.definition("a", preset: "3x3"), origin: .api)
        try registry.remove(id: "b")
        try registry.define(json: Self.definition("b"), origin: .api)
        try registry.define(json: Self.definition("c"), origin: .api)
        try registry.remove(id: "c")
        let second = RoundSnapshot(walls: registry.entries, actions: OperatorActions(), removed: registry.takeRemovals(), revision: 2)
        let next = RoundPlan.make(previous: laidOut, snapshot: second)
        #expect(next.removed == ["b", "c"], "b was removed in between (its subscribers are told), c never laid out")
        #expect(next.started.map(\.id) == ["a", "b"])
    }

    // MARK: Scene log

    @Test func theLogIsAKeyframeThenPatchesUntilTheIntervalOrAGap() {
        let policy = KeyframePolicy(interval: .seconds(60))
        var marks = KeyframePolicy.Marks()
        #expect(policy.decide(marks, seq: 10, at: Self.t0) == .keyframe, "a wall's first entry")
        marks = KeyframePolicy.marks(marks, after: .keyframe, seq: 10, at: Self.t0)
        #expect(policy.decide(marks, seq: 11, at: Self.t0.adding(seconds: 1)) == .patch(base: 10))
        marks = KeyframePolicy.marks(marks, after: .patch(base: 10), seq: 11, at: Self.t0.adding(seconds: 1))
        #expect(marks.lastKeyframe == Self.t0, "a patch is not a keyframe")
        #expect(policy.decide(marks, seq: 13, at: Self.t0.adding(seconds: 2)) == .keyframe, "a skipped sequence number breaks the chain")
        #expect(policy.decide(marks, seq: 12, at: Self.t0.adding(seconds: 60)) == .keyframe, "at least one keyframe a minute")
    }

    @Test func theQueueKeepsTheNewestWithinItsBoundAndFailedWritesGoBackFirst() {
        func entry(_ seq: Int64) -> SceneLogEntry {
            SceneLogEntry(wall: "ops", seq: seq, base: nil, generatedAt: Self.t0, kind: .scene, json: "{}")
        }
        var queue = SceneLogQueue(capacity: 3)
        for seq: Int64 in 1...4 { queue.append(entry(seq)) }
        #expect(queue.entries.map(\.seq) == [2, 3, 4] && queue.dropped == 1)
        let taken = queue.takeAll()
        queue.append(entry(5))
        queue.putBack(taken)
        #expect(queue.entries.map(\.seq) == [3, 4, 5], "the failed write's entries first, the oldest dropped")
        #expect(queue.dropped == 2)
    }

    @Test func aReplayAppliesThePatchesToTheKeyframe() throws {
        let keyframe = SceneLogEntry(wall: "ops", seq: 1, base: nil, generatedAt: Self.t0, kind: .scene, json: #"{"seq":1,"tiles":{}}"#)
        let patch = SceneLogEntry(
            wall: "ops", seq: 2, base: 1, generatedAt: Self.t0, kind: .patch,
            json: #"[{"op":"replace","path":"/seq","value":2},{"op":"add","path":"/tiles/cam-1","value":{"z":1}}]"#)
        #expect(try SceneReplay.rebuild([keyframe, patch]) == (try JSONValue(parsing: #"{"seq":2,"tiles":{"cam-1":{"z":1}}}"#)))
        #expect(try SceneReplay.rebuild([patch]) == nil, "a log that does not start with a keyframe rebuilds nothing")
        #expect(try SceneReplay.rebuild([]) == nil)
    }
}
