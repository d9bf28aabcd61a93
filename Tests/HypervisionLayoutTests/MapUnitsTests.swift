import HypervisionCore
import Testing

@testable import HypervisionLayout

@Suite("Map markers updated from the changed units")
struct MapUnitsTests {
    typealias F = Fixtures

    /// The README wall (fitted to incidents and emergencies), and a wall whose map shows a fixed
    /// box smaller than the area the units roam, so that units drive in and out of it.
    static let fixedMapWallJSON = """
        {"id": "fixed", "title": "Fixed map",
         "displays": {"rows": 1, "columns": 2,
                      "default": {"width": 1920, "height": 1080, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.75}},
         "regions": [
           {"id": "map", "area": {"row": 0, "column": 0}, "kind": "map",
            "viewport": {"west": 2.3400, "south": 48.8480, "east": 2.3650, "north": 48.8650}},
           {"id": "cams", "area": {"row": 0, "column": 1}, "kind": "cameras", "preset": "2x2"}
         ]}
        """

    @Test("Updating the markers of the changed units gives the scene a rebuild gives, and names every marker that changed", arguments: 0..<8)
    func updateEqualsRebuild(seed: UInt64) throws {
        var random = SeededRandom(seed: 500 + seed)
        let wall = try F.wall(seed % 2 == 0 ? F.readmeWallJSON : Self.fixedMapWallJSON)
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 40, random: &random, now: F.t0)
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        var updatedRounds = 0, turnedStaleUnasked = 0
        for round in 1...80 {
            // The clock: mostly forward, by up to half the stale time; now and then back a little.
            let step = Int.random(in: 0..<12, using: &random) == 0 ? -3.0 : Double(Int.random(in: 0...60_000, using: &random)) / 1000
            inputs.now = inputs.now.adding(seconds: step)
            var changed = Set<UnitID>()
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                let id = UnitID(trusted: "PN-75-U\(Int.random(in: 0..<64, using: &random))")
                changed.insert(id)
                switch Int.random(in: 0..<10, using: &random) {
                case 0:
                    inputs.units[id] = nil
                case 1:
                    inputs.units[id]?.status = Bool.random(using: &random) ? .emergency : .busy
                case 2:
                    inputs.units[id]?.callsign = "R\(round)"
                default:
                    // Moves (in and out of the fixed map), with a fix that is new or already old.
                    let time = Bool.random(using: &random) ? inputs.now : inputs.now.adding(seconds: -Double(Int.random(in: 0..<300, using: &random)))
                    var unit =
                        inputs.units[id]
                        ?? LayoutUnit(id: id, callsign: id.rawValue, position: F.paris, status: .available, time: time)
                    if unit.status == .emergency, Bool.random(using: &random) { unit.status = .available }
                    unit.position = F.offset(
                        north: Double.random(in: -3000...3000, using: &random), east: Double.random(in: -3000...3000, using: &random))
                    unit.time = time
                    inputs.units[id] = unit
                }
            }
            inputs.changedUnits = nil
            let (rebuilt, _) = LayoutEngine.compute(inputs, previous: state)
            inputs.changedUnits = changed
            // The state's only copy, as the wall rounds pass it: the update writes the spare
            // markers in place (caught up with the round before), not a copy of them.
            let (updated, updatedState) = LayoutEngine.compute(inputs, previous: consume state)
            #expect(updated == rebuilt, "round \(round)")
            #expect(updated.encoded() == rebuilt.encoded(), "round \(round)")
            if let keys = updatedState.unitChanges {
                updatedRounds += 1
                #expect(
                    SceneUnit.changes(from: scene.units, to: updated.units, keys: keys) == SceneUnit.changes(from: scene.units, to: updated.units),
                    "round \(round)")
                // The text a round sends is the operations' own encoding, byte for byte.
                let operations = SceneUnit.changes(from: scene.units, to: updated.units, keys: keys)
                var encoded: [UInt8] = []
                JSONPatch(operations: operations).encodeElements(into: &encoded)
                let text = SceneUnit.encodedChanges(from: scene.units, to: updated.units, keys: keys)
                #expect(text.bytes == encoded && text.count == operations.count, "round \(round)")
                #expect(SceneUnit.encodedChanges(from: scene.units, to: updated.units).bytes == encoded, "round \(round)")
                turnedStaleUnasked += keys.filter { !changed.contains(UnitID(trusted: $0)) }.count
            }
            (scene, state) = (updated, updatedState)
        }
        // The test is about the update path: most rounds must take it, and some markers must turn
        // stale with no change of their unit.
        #expect(updatedRounds >= 40)
        #expect(turnedStaleUnasked > 0)
    }

    @Test("Without a change list, or after the clock went back, the markers are rebuilt")
    func rebuildsWhenItCannotUpdate() throws {
        var random = SeededRandom(seed: 77)
        let wall = try F.wall(Self.fixedMapWallJSON)
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 10, random: &random, now: F.t0)
        let (_, first) = LayoutEngine.compute(inputs, previous: nil)
        #expect(first.unitChanges == nil)
        inputs.now = F.at(1)
        inputs.changedUnits = []
        let (_, second) = LayoutEngine.compute(inputs, previous: first)
        #expect(second.unitChanges != nil)
        inputs.now = F.at(0.5)
        let (_, back) = LayoutEngine.compute(inputs, previous: second)
        #expect(back.unitChanges == nil)
        inputs.now = F.at(2)
        inputs.changedUnits = nil
        let (_, unknown) = LayoutEngine.compute(inputs, previous: second)
        #expect(unknown.unitChanges == nil)
    }
}
