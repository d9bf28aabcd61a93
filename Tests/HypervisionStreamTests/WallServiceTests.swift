import HypervisionCore
import HypervisionLayout
import HypervisionStore
import Logging
import HypervisionTestSupport
import Synchronization
import Testing

@testable import HypervisionStream

/// The wall service without a database: changes are only recorded where they are made, the
/// round puts them on the walls, waiters are resumed by the round that applies their change, and
/// the scene log rebuilds what was published.
@Suite struct WallServiceTests {
    static let camera = CameraState(
        camera: Camera(
            id: "cam-x", name: "Far camera", position: GeoPoint(latitude: 48.95, longitude: 2.10), heading: 0, fieldOfView: 60, range: 200,
            streams: [Camera.Stream(transport: .hls, quality: "main", url: "http://vms.local/x.m3u8")], status: .online),
        statusSince: WallPartsTests.t0.adding(seconds: -3_600))

    struct Setup {
        let service: WallService
        let hub: SceneHub
        let log: MemorySceneLog
        let clock: Locked<Timestamp>
    }

    static func setup() -> Setup {
        let hub = SceneHub()
        let log = MemorySceneLog()
        let clock = Locked(WallPartsTests.t0)
        var configuration = WallService.Configuration()
        configuration.interval = .milliseconds(20)
        let service = WallService(
            configuration: configuration, hub: hub, log: log, logger: Logger(label: "wall-tests"), now: { clock.value },
            inputs: { _ in LiveInputs(cameras: ["cam-x": Self.camera], camerasRevision: 1) })
        return Setup(service: service, hub: hub, log: log, clock: clock)
    }

    static func tiles(_ hub: SceneHub, _ wall: String) -> [String: JSONValue] {
        hub.current(StreamKey(wall: wall))?.json["tiles"]?.objectValue ?? [:]
    }

    @Test func changesWaitForTheNextRoundAndNeverComputeWhereTheyAreMade() throws {
        let s = Self.setup()
        try s.service.define(json: WallPartsTests.definition("ops"), origin: .api)
        #expect(s.hub.current(StreamKey(wall: "ops")) == nil, "defining records; the round lays out")
        s.service.runRound()
        let first = try #require(s.hub.current(StreamKey(wall: "ops")))
        #expect(s.hub.current(StreamKey(wall: "ops", display: "r0c1")) != nil, "each display's view is published too")

        try s.service.pin(wall: "ops", Pin(camera: "cam-x", pinnedAt: WallPartsTests.t0, expiresAt: WallPartsTests.t0.adding(seconds: 60)))
        #expect(s.hub.current(StreamKey(wall: "ops"))?.seq == first.seq, "a pin is recorded, not laid out")
        #expect(s.service.pins(wall: "ops").map(\.camera) == ["cam-x"])
        s.service.runRound()
        #expect((Self.tiles(s.hub, "ops")["cam-x"]?["reason"]?.stringValue ?? "").contains("pinned"))

        // The pin lapses: the round at its expiry drops it.
        s.clock.mutate { $0 = WallPartsTests.t0.adding(seconds: 60) }
        s.service.runRound()
        #expect(Self.tiles(s.hub, "ops")["cam-x"] == nil)
        #expect(s.service.pins(wall: "ops").isEmpty)

        #expect(throws: WallServiceError.unknownWall("nope")) { try s.service.pin(wall: "nope", Pin(camera: "cam-x", pinnedAt: WallPartsTests.t0)) }
        try s.service.remove(id: "ops")
        #expect(s.hub.current(StreamKey(wall: "ops")) != nil, "removed at the next round")
        s.service.runRound()
        #expect(s.hub.current(StreamKey(wall: "ops")) == nil && s.hub.current(StreamKey(wall: "ops", display: "r0c1")) == nil)
    }

    @Test func aRedefinedWallStartsAfreshAndLosesTheDisplaysItNoLongerHas() throws {
        let s = Self.setup()
        try s.service.define(json: WallPartsTests.definition("ops"), origin: .api)
        s.service.runRound()
        var smaller = WallPartsTests.definition("ops", preset: "3x3").objectValue!
        smaller["displays"] = ["rows": 1, "columns": 1, "default": ["width": 1920, "height": 1080, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.5]]
        smaller["regions"] = [["id": "cams", "area": ["row": 0, "column": 0], "kind": "cameras", "preset": "2x2", "sources": ["cam-x"]]]
        try s.service.define(json: .object(smaller), origin: .api)
        s.service.runRound()
        #expect(s.hub.current(StreamKey(wall: "ops", display: "r0c1")) == nil, "r0c1 is gone")
        #expect(s.hub.current(StreamKey(wall: "ops", display: "r0c0")) != nil)
        #expect(Self.tiles(s.hub, "ops")["cam-x"] != nil && Self.tiles(s.hub, "ops")["map"] == nil)
    }

    @Test func theLogRebuildsWhatWasPublishedAndAFailedWriteIsRetried() async throws {
        let s = Self.setup()
        try s.service.define(json: WallPartsTests.definition("ops"), origin: .api)
        s.service.runRound()
        try s.service.pin(wall: "ops", Pin(camera: "cam-x", pinnedAt: WallPartsTests.t0))
        s.clock.mutate { $0 = WallPartsTests.t0.adding(seconds: 1) }
        s.service.runRound()
        s.log.failing = true
        await s.service.flushLog()
        #expect(s.log.entries.isEmpty)
        s.log.failing = false
        await s.service.flushLog()
        #expect(s.log.entries.map(\.kind) == [.scene, .patch], "a keyframe, then a patch on it")
        let rebuilt = try #require(try await s.service.scene(wall: "ops", at: WallPartsTests.t0.adding(seconds: 1)))
        #expect(rebuilt == s.hub.current(StreamKey(wall: "ops"))?.json, "the log rebuilds the scene served")
        #expect(try await s.service.scene(wall: "ops", at: WallPartsTests.t0.adding(seconds: -1)) == nil)

        // Definitions stored through the API come back at the next start.
        try await s.service.save(id: "ops", definition: WallPartsTests.definition("ops"))
        let restarted = Self.setup()
        let log = s.log
        let again = WallService(hub: restarted.hub, log: log, logger: Logger(label: "wall-tests"), inputs: { _ in LiveInputs() })
        #expect(try await again.loadStored().isEmpty)
        #expect(again.definition(id: "ops")?.origin == .api)
    }

    /// With the loop running: `settle()` returns once the round that took every change so far
    /// has ended, never before; nothing sleeps for a guessed time.
    @Test(.timeLimit(.minutes(1)))
    func settleAwaitsTheRoundThatAppliesTheChange() async throws {
        let s = Self.setup()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await s.service.run() }
            try s.service.define(json: WallPartsTests.definition("ops"), origin: .api)
            #expect(await s.service.settle())
            #expect(s.hub.current(StreamKey(wall: "ops")) != nil)
            try s.service.pin(wall: "ops", Pin(camera: "cam-x", pinnedAt: WallPartsTests.t0))
            #expect(await s.service.settle())
            #expect(Self.tiles(s.hub, "ops")["cam-x"] != nil)
            group.cancelAll()
        }
        #expect(await s.service.settle(), "nothing left to apply")
        try s.service.pin(wall: "ops", Pin(camera: "cam-1", pinnedAt: WallPartsTests.t0))
        #expect(await s.service.settle() == false, "the loop has stopped: no round will apply it")
    }
}
