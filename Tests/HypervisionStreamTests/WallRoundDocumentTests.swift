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

    @Test func theRoundsOperationsAreUsedOnlyFromTheirBaseVersion() {
        let before = Self.scene(units: ["A": 48.1, "B": 48.2])
        let after = Self.scene(units: ["A": 48.15, "B": 48.2])
        let own = after.changes(since: before)
        #expect(own == [.replace(path: "/units/A/lat", value: .number(48.15))])
        // A marker that only the shared operations carry shows which path was taken.
        let marker: [JSONPatch.Operation] = [.replace(path: "/units/A/lat", value: .number(1))]

        let previous = Self.round(before, version: 7, base: 6, operations: [])
        #expect(Self.round(after, version: 8, base: 7, operations: marker).changes(since: previous) == marker)
        // Operations from another version: not applicable, computed afresh.
        #expect(Self.round(after, version: 9, base: 8, operations: marker).changes(since: previous) == own)
        // Same version: the units are equal, nothing to compute.
        #expect(Self.round(before, version: 7, base: 6, operations: marker).changes(since: previous).isEmpty)
        // A document that does not show all of its scene's units never uses them.
        #expect(Self.round(after, version: 8, base: 7, operations: marker, shows: false).changes(since: previous) == own)
        #expect(Self.round(after, version: 8, base: 7, operations: marker).changes(since: Self.round(before, version: 7, base: 6, operations: [], shows: false)) == own)
    }
}
