import Foundation
import HypervisionCore
import Testing

@testable import HypervisionLayout

/// Golden scenes: one per preset, compared byte for byte with the files in `Golden/`.
///
/// Regenerate after an intended change with `UPDATE_GOLDEN=1 swift test --filter GoldenSceneTests`
/// and review the diff like code.
@Suite("Golden scenes")
struct GoldenSceneTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static let cases: [(name: String, preset: String, perDisplay: Bool)] = [
        ("1x1", "\"1x1\"", false), ("2x2", "\"2x2\"", false), ("3x3", "\"3x3\"", true), ("4x4", "\"4x4\"", false),
        ("1+5", "\"1+5\"", true), ("1+7", "\"1+7\"", true), ("2+8", "\"2+8\"", false), ("1+12", "\"1+12\"", true),
        ("custom", #"{"custom": {"rows": 2, "columns": 4, "spans": [{"row": 0, "column": 0, "rows": 2, "columns": 2}]}}"#, false),
    ]

    /// A 2x3 wall of 4K displays: the preset on the left 2x2 block, a map and an incident panel on the right.
    static func wall(preset: String, perDisplay: Bool) throws -> WallLayout {
        try Fixtures.wall(
            """
            {"id": "golden", "title": "Golden",
             "displays": {"rows": 2, "columns": 3,
                          "default": {"width": 3840, "height": 2160, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.75},
                          "overrides": {"r1c2": {"bezelMm": {"top": 1.75, "right": 6, "bottom": 6, "left": 1.75}}}},
             "regions": [
               {"id": "cams", "area": {"row": 0, "column": 0, "rows": 2, "columns": 2}, "kind": "cameras",
                "preset": \(preset), "perDisplay": \(perDisplay), "sources": ["cam-0001", "cam-0002", "cam-0003"]},
               {"id": "map", "area": {"row": 0, "column": 2}, "kind": "map",
                "viewport": {"west": 2.30, "south": 48.83, "east": 2.40, "north": 48.88},
                "fit": {"include": ["incidents", "emergencies"], "paddingMetres": 200, "minimumSpanMetres": 1000}},
               {"id": "incidents", "area": {"row": 1, "column": 2}, "kind": "incidents"}
             ]}
            """)
    }

    static func inputs(wall: WallLayout) -> LayoutInputs {
        let F = Fixtures.self
        var cameras = (1...12).map { F.camera(RandomWorld.cameraID($0), north: Double($0) * 400, east: 0) }
        cameras.append(F.camera("cam-0100", north: 0, east: 1500, range: 250))
        cameras[4].camera.status = .degraded
        let unit = LayoutUnit(
            id: UnitID(trusted: "PN-75-BAC-12"), callsign: "BAC 12", kind: .car, position: F.offset(north: 10, east: 1600),
            heading: 270, status: .emergency, time: F.at(-3))
        let patrol = LayoutUnit(
            id: UnitID(trusted: "GN-64-PSIG-3"), callsign: "PSIG 3", kind: .motorbike, position: F.offset(north: 800, east: 300),
            heading: 12.5, status: .available, time: F.at(-400))
        return LayoutInputs(
            wall: wall, cameras: F.cameras(cameras), units: [unit.id: unit, patrol.id: patrol],
            incidents: [
                Incident(id: "INC-2026-0173", category: "rixe", priority: 2, location: F.offset(north: 1780, east: 0), openedAt: F.at(-300), summary: "Rixe devant la gare"),
                Incident(id: "INC-2026-0174", category: "vol", priority: 4, location: F.offset(north: 3200, east: 100), status: .acknowledged, openedAt: F.at(-120)),
            ],
            events: [CameraEvent(cameraID: "cam-0007", kind: .motion, occurredAt: F.at(-40), expiresAt: F.at(20))],
            pins: [Pin(camera: "cam-0011", pinnedAt: F.at(-600), expiresAt: F.at(600), pinnedBy: "j.dupont")],
            tours: [GuardTour(id: "quais", cameras: (1...12).map(RandomWorld.cameraID), dwellSeconds: 15, startedAt: F.at(-32))],
            now: F.at(0))
    }

    static func scene(_ name: String) throws -> Scene {
        let spec = try #require(cases.first { $0.name == name })
        let wall = try wall(preset: spec.preset, perDisplay: spec.perDisplay)
        return LayoutEngine.compute(inputs(wall: wall), previous: nil, seq: 1240).0
    }

    @Test("The scene of each preset matches its golden file byte for byte", arguments: cases.map(\.name))
    func golden(name: String) throws {
        let encoded = try Self.scene(name).encoded()
        let file = Self.goldenDirectory.appendingPathComponent("scene-\(name).json")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil {
            try FileManager.default.createDirectory(at: Self.goldenDirectory, withIntermediateDirectories: true)
            try Data((encoded + "\n").utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(encoded + "\n" == expected, "scene-\(name).json differs; regenerate with UPDATE_GOLDEN=1 if intended")
    }
}
