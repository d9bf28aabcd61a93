import Foundation
import HypervisionCore
import Testing

@testable import HypervisionLayout

/// The typed scene diff (`Scene.changes(since:)`, `SceneView.changes(since:)`) against the
/// documents themselves: under random sequences of what moves on a wall, applying the typed
/// operations (through their wire bytes) to the previous document gives exactly the next one,
/// and no operation comes out when the documents are equal but for `seq` and `generatedAt`.
struct SceneDiffTests {
    /// The document without what the hub stamps.
    static func unstamped(_ document: JSONValue) -> JSONValue {
        guard var members = document.objectValue else { return document }
        members["seq"] = nil
        members["generatedAt"] = nil
        return .object(members)
    }

    static func check<Document>(
        _ previous: Document, _ next: Document, seq: UInt64, json: (Document, UInt64) -> JSONValue,
        changes: (Document, Document) -> [JSONPatch.Operation], stamp: (Document, UInt64) -> [JSONPatch.Operation],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        let before = json(previous, seq)
        let after = json(next, seq + 1)
        let operations = changes(next, previous)
        guard !operations.isEmpty else {
            #expect(unstamped(before) == unstamped(after), "no operations although the documents differ", sourceLocation: sourceLocation)
            return false
        }
        let patch = JSONPatch(operations: operations + stamp(next, seq + 1))
        let wire = patch.encodedBytes
        #expect(wire == Array(patch.json.encoded().utf8), "direct encoding differs from the JSON form's", sourceLocation: sourceLocation)
        let received = try JSONPatch(json: JSONValue(parsing: wire))
        #expect(try received.applied(to: before).encoded() == after.encoded(), sourceLocation: sourceLocation)
        return true
    }

    /// Random changes of the kinds a wall sees: markers moving, statuses, callsigns, kinds and
    /// headings appearing and disappearing, units arriving and leaving, incidents opening,
    /// changing and closing, camera events and outages, and time passing (stale markers, decay).
    static func mutate(_ inputs: inout LayoutInputs, step: Int, random: inout SeededRandom) {
        inputs.now = inputs.now.adding(seconds: Double(Int.random(in: 1...40, using: &random)))
        let ids = inputs.units.keys.sorted()
        for _ in 0..<Int.random(in: 0...12, using: &random) {
            guard let id = ids.randomElement(using: &random), var unit = inputs.units[id] else { continue }
            switch Int.random(in: 0..<9, using: &random) {
            case 0...3:
                unit.position = GeoPoint(
                    latitude: unit.position.latitude + .random(in: -0.002...0.002, using: &random),
                    longitude: unit.position.longitude + .random(in: -0.003...0.003, using: &random))
                unit.time = inputs.now
            case 4: unit.status = [UnitStatus.available, .emergency, nil].randomElement(using: &random)!
            case 5: unit.callsign = Bool.random(using: &random) ? nil : "C/\(step)~\(Int.random(in: 0..<9, using: &random))"
            case 6: unit.kind = [Unit.Kind.car, .foot, nil].randomElement(using: &random)!
            case 7: unit.heading = Bool.random(using: &random) ? nil : Double(Int.random(in: 0..<360, using: &random))
            default:
                inputs.units[id] = nil
                continue
            }
            inputs.units[id] = unit
        }
        if Int.random(in: 0..<3, using: &random) == 0 {
            let id = UnitID(trusted: "PN-75-N\(step)")
            inputs.units[id] = LayoutUnit(
                id: id, callsign: Bool.random(using: &random) ? "N\(step)" : nil,
                position: Fixtures.offset(north: .random(in: -2000...2000, using: &random), east: .random(in: -2000...2000, using: &random)),
                heading: nil, status: nil, time: inputs.now)
        }
        switch Int.random(in: 0..<6, using: &random) {
        case 0:
            inputs.incidents.append(
                Incident(
                    id: "INC-2026-\(2000 + step)", category: "vol", priority: Int.random(in: 1...5, using: &random),
                    location: Fixtures.offset(north: .random(in: -2000...2000, using: &random), east: .random(in: -2000...2000, using: &random)),
                    openedAt: inputs.now, summary: Bool.random(using: &random) ? "summary \(step)" : nil))
        case 1: if !inputs.incidents.isEmpty { inputs.incidents.removeFirst() }
        case 2: if !inputs.incidents.isEmpty { inputs.incidents[inputs.incidents.count - 1].priority = Int.random(in: 1...5, using: &random) }
        default: break
        }
        if Int.random(in: 0..<2, using: &random) == 0, let id = inputs.cameras.keys.sorted().randomElement(using: &random) {
            inputs.events.append(CameraEvent(cameraID: id, kind: .motion, occurredAt: inputs.now, expiresAt: inputs.now.adding(seconds: 60)))
        }
        if Int.random(in: 0..<5, using: &random) == 0, let id = inputs.cameras.keys.sorted().randomElement(using: &random) {
            let offline = inputs.cameras[id]!.camera.status != .offline
            inputs.cameras[id]!.camera.status = offline ? .offline : .online
            inputs.cameras[id]!.statusSince = inputs.now
        }
    }

    @Test("Typed scene and view diffs rebuild every next document, on the README wall and random walls", arguments: 0..<8)
    func typedDiffsRebuildDocuments(seed: UInt64) throws {
        var random = SeededRandom(seed: 1_000 + seed)
        let wall = try seed == 0 ? Fixtures.wall(Fixtures.readmeWallJSON) : #require(RandomWorld.wall(random: &random))
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 80, random: &random, now: Fixtures.at(0))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        var changedScenes = 0
        var changedViews = 0
        for step in 1...60 {
            Self.mutate(&inputs, step: step, random: &random)
            let (next, nextState) = LayoutEngine.compute(inputs, previous: state)
            let seq = UInt64(100 + step)
            if try Self.check(
                scene, next, seq: seq, json: { var s = $0; s.seq = Int64($1); return s.json }, changes: { $0.changes(since: $1) },
                stamp: { $0.stampOperations(seq: $1) })
            {
                changedScenes += 1
            }
            // The daemon computes the units' operations once per round and gives them to every view
            // that shows all of its scene's units.
            let sharedUnitOperations = SceneUnit.changes(from: scene.units, to: next.units)
            for display in wall.displays {
                let before = try #require(scene.view(display: display.id))
                let after = try #require(next.view(display: display.id))
                if try Self.check(
                    before, after, seq: seq, json: { var v = $0; v.seq = Int64($1); return v.json }, changes: { $0.changes(since: $1) },
                    stamp: { $0.stampOperations(seq: $1) })
                {
                    changedViews += 1
                }
                if before.units.count == scene.units.count && after.units.count == next.units.count {
                    #expect(after.changes(since: before, unitOperations: sharedUnitOperations) == after.changes(since: before))
                }
            }
            #expect(next.changes(since: scene, unitOperations: sharedUnitOperations) == next.changes(since: scene))
            (scene, state) = (next, nextState)
        }
        // The sequence really exercised the diff (a diff that never fires would pass the checks above).
        #expect(changedScenes > 40)
        #expect(changedViews > 40)
    }

    @Test("Unit operations written as text escape the path as the operations' own encoding does")
    func unitOperationTextEscapesPaths() {
        let time = Timestamp(microseconds: 1_795_000_000_000_000)
        func unit(_ id: String, latitude: Double, callsign: String?) -> SceneUnit {
            SceneUnit(
                id: id, callsign: callsign, kind: "car", position: GeoPoint(latitude: latitude, longitude: 2.35), heading: nil,
                status: "available", time: time, stale: false)
        }
        // A slash and a tilde (pointer escapes), a quote and a backslash (JSON string escapes).
        let ids = ["a/b~c", "quote\"d", "back\\slash", "plain"]
        let old = Dictionary(uniqueKeysWithValues: ids.map { ($0, unit($0, latitude: 48.85, callsign: "C \($0)")) })
        var new = old
        new["a/b~c"] = unit("a/b~c", latitude: 48.86, callsign: nil)  // a replace and a remove of a member
        new["quote\"d"] = nil  // a whole marker removed
        new["back\\slash"] = unit("back\\slash", latitude: 48.85, callsign: "other")  // a replace of a string
        new["new\"one/"] = unit("new\"one/", latitude: 48.87, callsign: nil)  // a whole marker added
        var encoded: [UInt8] = []
        let operations = SceneUnit.changes(from: old, to: new)
        JSONPatch(operations: operations).encodeElements(into: &encoded)
        let text = SceneUnit.encodedChanges(from: old, to: new)
        #expect(operations.count == 5)
        #expect(String(decoding: text.bytes, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
        #expect(text.count == operations.count)
    }

    @Test("A moved marker is one replace per changed coordinate, and equal scenes give no operation")
    func movedMarkerIsSmall() throws {
        let wall = try Fixtures.wall(Fixtures.readmeWallJSON)
        var random = SeededRandom(seed: 9)
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 40, random: &random, now: Fixtures.at(0))
        let (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        let (same, _) = LayoutEngine.compute(inputs, previous: state)
        #expect(same.changes(since: scene).isEmpty)
        let id = try #require(scene.units.keys.sorted().first)
        let unitID = UnitID(trusted: id)
        inputs.units[unitID]!.position = GeoPoint(
            latitude: inputs.units[unitID]!.position.latitude + 0.0001, longitude: inputs.units[unitID]!.position.longitude)
        let (moved, _) = LayoutEngine.compute(inputs, previous: state)
        let operations = moved.changes(since: scene)
        #expect(operations == [.replace(path: "/units/\(JSONPointer.escape(id))/lat", value: .number(moved.units[id]!.position.latitude))])
    }

    /// With `HYPERVISION_SCENE_PATCH_CORPUS=/path/file.jsonl`, writes `{"from":…,"to":…,"patch":…}`
    /// lines of successive scenes and display views with their typed patches, for
    /// `scripts/check-json-patch.py` to apply with Python's `jsonpatch` (an independent RFC 6902
    /// implementation), as a renderer in another language would.
    @Test(.enabled(if: !(ProcessInfo.processInfo.environment["HYPERVISION_SCENE_PATCH_CORPUS"] ?? "").isEmpty, "set HYPERVISION_SCENE_PATCH_CORPUS to write the scene patch corpus (scripts/test does)")) func writeSceneCrossCheckCorpus() throws {
        let path = ProcessInfo.processInfo.environment["HYPERVISION_SCENE_PATCH_CORPUS"]!
        var lines: [UInt8] = []
        func write(_ from: JSONValue, _ to: JSONValue, _ operations: [JSONPatch.Operation]) {
            guard !operations.isEmpty else { return }
            JSONValue.object(["from": from, "to": to, "patch": JSONPatch(operations: operations).json]).encode(into: &lines)
            lines.append(UInt8(ascii: "\n"))
        }
        for seed in 0..<4 {
            var random = SeededRandom(seed: 7_000 + UInt64(seed))
            let wall = try seed == 0 ? Fixtures.wall(Fixtures.readmeWallJSON) : #require(RandomWorld.wall(random: &random))
            var inputs = RandomWorld.inputs(wall: wall, cameraCount: 60, random: &random, now: Fixtures.at(0))
            var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
            for step in 1...40 {
                Self.mutate(&inputs, step: step, random: &random)
                let (next, nextState) = LayoutEngine.compute(inputs, previous: state)
                let seq = UInt64(step)
                var before = scene, after = next
                before.seq = Int64(seq)
                after.seq = Int64(seq + 1)
                write(before.json, after.json, next.changes(since: scene) + next.stampOperations(seq: seq + 1))
                for display in wall.displays {
                    guard var viewBefore = scene.view(display: display.id), var viewAfter = next.view(display: display.id) else { continue }
                    let operations = viewAfter.changes(since: viewBefore) + viewAfter.stampOperations(seq: seq + 1)
                    viewBefore.seq = Int64(seq)
                    viewAfter.seq = Int64(seq + 1)
                    write(viewBefore.json, viewAfter.json, operations)
                }
                (scene, state) = (next, nextState)
            }
        }
        try Data(lines).write(to: URL(fileURLWithPath: path))
    }
}
