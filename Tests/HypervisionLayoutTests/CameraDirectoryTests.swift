import HypervisionCore
import Testing

@testable import HypervisionLayout

@Suite("The cameras kept from one computation to the next")
struct CameraDirectoryTests {
    typealias F = Fixtures

    @Test("Keeping the cameras while their revision stays the same gives the scene a fresh start gives", arguments: 0..<6)
    func keptEqualsFresh(seed: UInt64) throws {
        var random = SeededRandom(seed: 900 + seed)
        let wall = try F.wall(F.readmeWallJSON)
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 60, random: &random, now: F.t0)
        inputs.camerasRevision = 1
        var kept = LayoutEngine.compute(inputs, previous: nil).1
        var fresh = kept
        var reused = 0
        for round in 1...60 {
            inputs.now = inputs.now.adding(seconds: Double(Int.random(in: 0...5_000, using: &random)) / 1000)
            // Now and then the cameras change, and their revision with them.
            if Int.random(in: 0..<4, using: &random) == 0 {
                let id = RandomWorld.cameraID(Int.random(in: 0..<70, using: &random))
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    inputs.cameras[id] = nil
                case 1:
                    inputs.cameras[id]?.camera.status = Bool.random(using: &random) ? .offline : .online
                    inputs.cameras[id]?.statusSince = inputs.now
                default:
                    var state = F.camera(
                        id, north: Double.random(in: -3000...3000, using: &random), east: Double.random(in: -3000...3000, using: &random),
                        range: Double.random(in: 100...400, using: &random))
                    state.camera.heading = Double(Int.random(in: 0..<360, using: &random))
                    inputs.cameras[id] = state
                }
                inputs.camerasRevision = UInt64(round + 1)
            } else {
                reused += 1
            }
            // Incidents open and close, so that coverage changes too.
            if !inputs.incidents.isEmpty, Bool.random(using: &random) {
                let index = Int.random(in: 0..<inputs.incidents.count, using: &random)
                inputs.incidents[index].status = inputs.incidents[index].isActive ? .closed : .open
            }
            let (keptScene, keptState) = LayoutEngine.compute(inputs, previous: kept)
            var unknown = inputs
            unknown.camerasRevision = nil
            let (freshScene, freshState) = LayoutEngine.compute(unknown, previous: fresh)
            #expect(keptScene.encoded() == freshScene.encoded(), "seed \(seed), round \(round)")
            #expect(keptState.cameras?.revision == inputs.camerasRevision)
            (kept, fresh) = (keptState, freshState)
        }
        #expect(reused > 20, "most rounds must keep the cameras")
    }

    @Test("The engine keeps its cameras while the revision stays the same, so the caller must change it with the cameras")
    func sameRevisionKeepsTheCameras() throws {
        let wall = try F.wall(F.readmeWallJSON)
        var random = SeededRandom(seed: 77)
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 40, random: &random, now: F.t0)
        inputs.camerasRevision = 7
        let state = LayoutEngine.compute(inputs, previous: nil).1
        let renamed = try #require(inputs.cameras.keys.sorted().first)
        inputs.cameras[renamed]?.camera.name = "Renamed"
        // Same revision: the engine ranks from the cameras it kept.
        let (_, keptState) = LayoutEngine.compute(inputs, previous: state)
        #expect(keptState.cameras?.states.contains { $0.camera.id == renamed && $0.camera.name == "Renamed" } == false)
        inputs.camerasRevision = 8
        let (_, freshState) = LayoutEngine.compute(inputs, previous: state)
        #expect(freshState.cameras?.states.contains { $0.camera.id == renamed && $0.camera.name == "Renamed" } == true)
    }
}
