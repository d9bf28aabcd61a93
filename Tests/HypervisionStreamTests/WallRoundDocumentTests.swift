import HypervisionCore
import HypervisionLayout
import Testing

@testable import HypervisionStream

/// The shared unit operations of a wall round are used only between documents that show exactly
/// the units they were computed for; anything else falls back to the document's own diff.
struct WallRoundDocumentTests {
    static func scene(units: [String: Double]) -> Scene {
        var members: [String: SceneUnit] = [:]
        for (id, latitude) in units {
            members[id] = SceneUnit(
                id: id, callsign: nil, kind: nil, position: GeoPoint(latitude: latitude, longitude: 2.35), heading: nil, status: nil,
                time: Timestamp(microseconds: 1_795_428_000_000_000), stale: false)
        }
        return Scene(
            wall: "w", seq: 0, generatedAt: Timestamp(microseconds: 1_795_428_000_000_000), canvasWidth: 100, canvasHeight: 100,
            displays: [], tiles: [:], units: members, incidents: [:], moved: 0)
    }

    static func round(_ scene: Scene, version: UInt64, base: UInt64, operations: [JSONPatch.Operation], shows: Bool = true)
        -> WallRoundDocument<Scene>
    {
        WallRoundDocument(content: scene, unitsVersion: version, baseUnitsVersion: base, unitOperations: operations, showsSceneUnits: shows)
    }

    @Test func theRoundsOperationsAreUsedOnlyFromTheirBaseVersion() throws {
        let before = Self.scene(units: ["A": 48.1, "B": 48.2])
        let after = Self.scene(units: ["A": 48.15, "B": 48.2])
        let own = after.changes(since: before)
        #expect(own == [.replace(path: "/units/A/lat", value: .number(48.15))])
        // A marker that only the shared operations carry shows which path was taken.
        let marker: [JSONPatch.Operation] = [.replace(path: "/units/A/lat", value: .number(1))]
        /// The patch's operations, the stamp left out.
        func operations(_ document: WallRoundDocument<Scene>, since previous: WallRoundDocument<Scene>) throws -> [JSONPatch.Operation] {
            guard let bytes = document.encodedPatch(since: previous, seq: 11) else { return [] }
            return try JSONPatch(json: JSONValue(parsing: bytes)).operations.filter { $0.path != "/seq" && $0.path != "/generatedAt" }
        }

        let previous = Self.round(before, version: 7, base: 6, operations: [])
        #expect(try operations(Self.round(after, version: 8, base: 7, operations: marker), since: previous) == marker)
        // Operations from another version: not applicable, computed afresh.
        #expect(try operations(Self.round(after, version: 9, base: 8, operations: marker), since: previous) == own)
        // Same version: the units are equal, nothing to compute.
        #expect(try operations(Self.round(before, version: 7, base: 6, operations: marker), since: previous).isEmpty)
        // A document that does not show all of its scene's units never uses them.
        #expect(try operations(Self.round(after, version: 8, base: 7, operations: marker, shows: false), since: previous) == own)
        #expect(
            try operations(
                Self.round(after, version: 8, base: 7, operations: marker), since: Self.round(before, version: 7, base: 6, operations: [], shows: false))
                == own)
        // As values (no round sends them), the operations are the document's own diff.
        #expect(Self.round(after, version: 8, base: 7, operations: marker).changes(since: previous) == own)
    }

    /// The wire form: the other members' operations, the round's unit operations spliced in as
    /// encoded once, then the stamp; applied to the previous document it gives the next one.
    @Test func theSplicedPatchRebuildsTheNextDocument() throws {
        let before = Self.scene(units: ["A": 48.1, "B": 48.2])
        var after = Self.scene(units: ["A": 48.15, "C": 48.3])
        after.moved = 2
        after.generatedAt = after.generatedAt.adding(seconds: 1)
        let operations = SceneUnit.changes(from: before.units, to: after.units)
        let previous = Self.round(before, version: 3, base: 2, operations: [])
        let next = Self.round(after, version: 4, base: 3, operations: operations)
        let bytes = try #require(next.encodedPatch(since: previous, seq: 11))
        let patch = try JSONPatch(json: JSONValue(parsing: bytes))
        #expect(try patch.applied(to: before.json(seq: 10)) == after.json(seq: 11))
        // Only the units changed: the patch is theirs and the stamp.
        var unitsOnly = after
        unitsOnly.moved = 0
        let unitsPatch = try #require(Self.round(unitsOnly, version: 4, base: 3, operations: operations).encodedPatch(since: previous, seq: 11))
        #expect(try JSONPatch(json: JSONValue(parsing: unitsPatch)).applied(to: before.json(seq: 10)) == unitsOnly.json(seq: 11))
        // Nothing but the time changed: nothing is published.
        var later = before
        later.generatedAt = later.generatedAt.adding(seconds: 5)
        #expect(Self.round(later, version: 3, base: 2, operations: []).encodedPatch(since: previous, seq: 11) == nil)
        // A view without the map keeps its own diff, through the same wire form.
        let own = try #require(Self.round(after, version: 4, base: 3, operations: [], shows: false).encodedPatch(since: previous, seq: 11))
        #expect(try JSONPatch(json: JSONValue(parsing: own)).applied(to: before.json(seq: 10)) == after.json(seq: 11))
    }
}
