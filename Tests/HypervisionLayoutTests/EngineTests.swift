import HypervisionCore
import Testing

@testable import HypervisionLayout

@Suite("Layout engine rules")
struct EngineTests {
    typealias F = Fixtures

    func reason(_ scene: Scene, _ id: String) -> String? { scene.tiles[id]?.reason }

    @Test("A camera covering an active incident is shown with the incident and the distance")
    func incidentCoverage() throws {
        let wall = try Fixtures.cameraWall(preset: .grid(rows: 2, columns: 2))
        let incident = Incident(
            id: "INC-2026-0173", category: "rixe", priority: 2, location: F.offset(north: 180, east: 0), openedAt: F.at(-60))
        let inputs = LayoutInputs(
            wall: wall, cameras: F.cameras([F.camera("cam-near"), F.camera("cam-far", north: 5000)]),
            incidents: [incident], now: F.at(0))
        let (scene, _) = LayoutEngine.compute(inputs, previous: nil)
        #expect(reason(scene, "cam-near") == "covers incident INC-2026-0173 at 180 m")
        #expect(scene.tiles["cam-far"] == nil)
        #expect(scene.tiles["cam-near"]?.slot == 0)
    }

    @Test("Reasons: pins, events with their age, guard tours, emergencies")
    func reasons() throws {
        let wall = try Fixtures.cameraWall(preset: .grid(rows: 2, columns: 2))
        let unit = LayoutUnit(
            id: UnitID(trusted: "PN-75-BAC-12"), callsign: "BAC 12", position: F.offset(north: 0, east: 5000), status: .emergency,
            time: F.at(-2))
        let inputs = LayoutInputs(
            wall: wall,
            cameras: F.cameras([F.camera("cam-pin"), F.camera("cam-motion", north: 900), F.camera("cam-tour", north: 2000), F.camera("cam-unit", east: 5040)]),
            units: [unit.id: unit],
            events: [CameraEvent(cameraID: "cam-motion", kind: .motion, occurredAt: F.at(-40), expiresAt: F.at(20))],
            pins: [Pin(camera: "cam-pin", pinnedAt: F.at(-100), expiresAt: F.at(100))],
            tours: [GuardTour(id: "night", cameras: (1...12).map { $0 == 3 ? "cam-tour" : "cam-t\($0)" }, dwellSeconds: 10, startedAt: F.at(-25))],
            now: F.at(0))
        let (scene, _) = LayoutEngine.compute(inputs, previous: nil)
        #expect(reason(scene, "cam-pin") == "pinned by operator")
        #expect(reason(scene, "cam-motion") == "motion alarm 40 s ago")
        #expect(reason(scene, "cam-tour") == "guard tour 3/12")
        #expect(reason(scene, "cam-unit") == "follows BAC 12 in emergency at 40 m")
        // Slots follow priority: pin, emergency, event, tour.
        #expect(scene.tiles["cam-pin"]?.slot == 0)
        #expect(scene.tiles["cam-unit"]?.slot == 1)
        #expect(scene.tiles["cam-motion"]?.slot == 2)
        #expect(scene.tiles["cam-tour"]?.slot == 3)
    }

    @Test("When the alarm ends the region returns to its normal content")
    func alarmEnds() throws {
        let wall = try Fixtures.cameraWall(preset: .grid(rows: 1, columns: 1), defaults: ["cam-normal"])
        let cameras = F.cameras([F.camera("cam-normal"), F.camera("cam-alarm", north: 3000)])
        let event = CameraEvent(cameraID: "cam-alarm", kind: .analytics, label: "abandoned bag", occurredAt: F.at(0), expiresAt: F.at(60))
        var inputs = LayoutInputs(wall: wall, cameras: cameras, now: F.at(-30))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        #expect(scene.tiles.keys.sorted() == ["cam-normal"])
        inputs.events = [event]
        inputs.now = F.at(1)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles.keys.sorted() == ["cam-alarm"])
        #expect(reason(scene, "cam-alarm") == "analytics alarm (abandoned bag) 1 s ago")
        inputs.now = F.at(61)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles.keys.sorted() == ["cam-normal"])
        #expect(reason(scene, "cam-normal") == "normal content")
    }

    @Test("An offline camera stays in its tile as offline during the grace period, then is replaced")
    func offlineGrace() throws {
        let wall = try Fixtures.cameraWall(preset: .grid(rows: 1, columns: 1), defaults: ["cam-a", "cam-b"])
        var cameras = F.cameras([F.camera("cam-a"), F.camera("cam-b")])
        var inputs = LayoutInputs(wall: wall, cameras: cameras, now: F.at(0))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        #expect(scene.tiles.keys.sorted() == ["cam-a"])
        cameras["cam-a"]?.camera.status = .offline
        cameras["cam-a"]?.statusSince = F.at(5)
        inputs.cameras = cameras
        inputs.now = F.at(20)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        guard case .camera(_, _, let status, _)? = scene.tiles["cam-a"]?.source else {
            Issue.record("cam-a left during its grace period")
            return
        }
        #expect(status == "offline")
        inputs.now = F.at(36)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles.keys.sorted() == ["cam-b"])
        // An offline camera never comes onto the wall by itself.
        inputs.cameras["cam-b"]?.camera.status = .offline
        inputs.cameras["cam-b"]?.statusSince = F.at(0)
        (scene, _) = LayoutEngine.compute(inputs, previous: nil)
        #expect(scene.tiles.isEmpty)
    }

    @Test("A challenger replaces an incumbent only by the margin and after the minimum dwell")
    func marginAndDwell() throws {
        let tuning = LayoutTuning(replacementMargin: 50, minimumDwellSeconds: 20)
        let wall = try Fixtures.cameraWall(preset: .grid(rows: 1, columns: 1), tuning: tuning)
        let cameras = F.cameras([F.camera("cam-old", north: 1000), F.camera("cam-new", north: 3000)])
        func event(_ camera: String, _ time: Double, confidence: Double) -> CameraEvent {
            CameraEvent(cameraID: camera, kind: .motion, confidence: confidence, occurredAt: F.at(time), expiresAt: F.at(time + 300))
        }
        // cam-old: 500 + 400 * 0.5 = 700 at t=0.
        var inputs = LayoutInputs(wall: wall, cameras: cameras, events: [event("cam-old", 0, confidence: 0.5)], now: F.at(0))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        #expect(scene.tiles.keys.sorted() == ["cam-old"])
        // cam-new scores 900 at t=5 (cam-old ~ 676): beats the margin, but cam-old has dwelt only 5 s.
        inputs.events.append(event("cam-new", 5, confidence: 1))
        inputs.now = F.at(5)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles.keys.sorted() == ["cam-old"])
        // At t=20 the dwell has passed: cam-new (~ 836) beats cam-old (~ 641) by more than 50.
        inputs.now = F.at(20)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles.keys.sorted() == ["cam-new"])
        // Within the margin nothing changes: a fresh challenger at 850 vs an incumbent at ~836.
        inputs.events.append(event("cam-old", 20, confidence: 0.875))
        inputs.now = F.at(20)
        let (again, _) = LayoutEngine.compute(inputs, previous: state)
        #expect(again.tiles.keys.sorted() == ["cam-new"])
    }

    @Test("Urgent challengers (pins, emergencies) ignore the dwell time")
    func urgentIgnoresDwell() throws {
        let wall = try Fixtures.cameraWall(preset: .grid(rows: 1, columns: 1))
        let cameras = F.cameras([F.camera("cam-old", north: 1000), F.camera("cam-pin", north: 3000)])
        var inputs = LayoutInputs(
            wall: wall, cameras: cameras,
            events: [CameraEvent(cameraID: "cam-old", kind: .motion, occurredAt: F.at(0), expiresAt: F.at(300))], now: F.at(0))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        inputs.pins = [Pin(camera: "cam-pin", pinnedAt: F.at(1), pinnedBy: "j.dupont")]
        inputs.now = F.at(1)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles.keys.sorted() == ["cam-pin"])
        #expect(reason(scene, "cam-pin") == "pinned by j.dupont")
        // The pin expires: the camera leaves and the event camera comes back.
        inputs.pins[0].expiresAt = F.at(10)
        inputs.now = F.at(10)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles.keys.sorted() == ["cam-old"])
    }

    @Test("A returning camera takes the free slot nearest where it was last shown")
    func returnsNearLastPlace() throws {
        let wall = try Fixtures.cameraWall(preset: .grid(rows: 2, columns: 2))
        let names = ["cam-a", "cam-b", "cam-c", "cam-d"]
        let cameras = F.cameras(names.enumerated().map { F.camera($1, north: Double($0) * 1000) })
        func pins(_ list: [String]) -> [Pin] { list.map { Pin(camera: $0, pinnedAt: F.at(0)) } }
        var inputs = LayoutInputs(wall: wall, cameras: cameras, pins: pins(names), now: F.at(0))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        let slotOfC = try #require(scene.tiles["cam-c"]?.slot)
        // cam-b and cam-c leave; cam-c comes back alone: two free slots, it takes its own.
        inputs.pins = pins(["cam-a", "cam-d"])
        inputs.now = F.at(30)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        inputs.pins = pins(["cam-a", "cam-c", "cam-d"])
        inputs.now = F.at(60)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles["cam-c"]?.slot == slotOfC)
        #expect(scene.moved == 0)
    }

    @Test("A higher priority in a small tile is promoted once the incumbent has dwelt; moves are counted")
    func promotionCountsMoves() throws {
        let wall = try Fixtures.cameraWall(preset: .onePlusFive)
        let names = (0..<6).map { "cam-\($0)" }
        let cameras = F.cameras(names.enumerated().map { F.camera($1, north: Double($0) * 1000) })
        var inputs = LayoutInputs(
            wall: wall, cameras: cameras,
            events: names.enumerated().map { index, name in
                CameraEvent(cameraID: name, kind: .motion, confidence: 1 - Double(index) * 0.1, occurredAt: F.at(0), expiresAt: F.at(600))
            }, now: F.at(0))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        #expect(scene.tiles["cam-0"]?.slot == 0)
        // cam-5 becomes an incident camera (1900 points, not urgent); cam-0 (an event, under 900)
        // entered the big tile at t=0, so at t=5 it is still dwell-protected and keeps it.
        inputs.incidents = [Incident(id: "INC-1", category: "x", priority: 3, location: F.offset(north: 5000, east: 0), openedAt: F.at(0))]
        inputs.now = F.at(5)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles["cam-0"]?.slot == 0)
        #expect(scene.moved == 0)
        inputs.now = F.at(25)
        (scene, state) = LayoutEngine.compute(inputs, previous: state)
        #expect(scene.tiles["cam-5"]?.slot == 0)
        #expect(scene.moved == 2)
        #expect(scene.tiles["cam-0"]?.slot == 5)
    }

    @Test("Same inputs and clock give a byte-identical scene")
    func determinism() throws {
        let wall = try Fixtures.wall(Fixtures.readmeWallJSON)
        var random = SeededRandom(seed: 7)
        let inputs = RandomWorld.inputs(wall: wall, cameraCount: 120, random: &random, now: F.at(0))
        let (first, firstState) = LayoutEngine.compute(inputs, previous: nil, seq: 42)
        for _ in 0..<3 {
            let (again, againState) = LayoutEngine.compute(inputs, previous: nil, seq: 42)
            #expect(again.encoded() == first.encoded())
            #expect(againState == firstState)
        }
        let (next, _) = LayoutEngine.compute(inputs, previous: firstState, seq: 43)
        let (nextAgain, _) = LayoutEngine.compute(inputs, previous: firstState, seq: 43)
        #expect(next.encoded() == nextAgain.encoded())
        #expect(next.moved == 0)
    }

    @Test("Moving a unit's marker on the fast path gives exactly the full recompute's scene")
    func unitFastPath() throws {
        let wall = try Fixtures.wall(Fixtures.readmeWallJSON)
        var random = SeededRandom(seed: 11)
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 80, random: &random, now: F.at(0))
        let (scene, _) = LayoutEngine.compute(inputs, previous: nil)
        let mover = try #require(inputs.units.values.sorted { $0.id < $1.id }.first { $0.status != .emergency })
        var moved = mover
        moved.position = F.offset(north: 150, east: -80)
        moved.heading = 90
        inputs.units[mover.id] = moved
        inputs.now = F.at(0.5)  // ignored by the fast path: the scene keeps its clock
        var fast = scene
        try #require(LayoutEngine.moveUnit(moved, previously: mover, in: &fast, inputs: inputs))
        inputs.now = F.at(0)
        let (full, _) = LayoutEngine.compute(inputs, previous: nil)
        #expect(fast.encoded() == full.encoded())
        #expect(fast.units[mover.id.rawValue]?.heading == 90)
        var emergency = moved
        emergency.status = .emergency
        var refused = fast
        #expect(!LayoutEngine.moveUnit(emergency, previously: moved, in: &refused, inputs: inputs))
        #expect(refused == fast, "a refused move leaves the scene as it was")
    }
}
