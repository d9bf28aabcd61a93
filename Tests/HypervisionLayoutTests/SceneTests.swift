import Foundation
import HypervisionCore
import Testing

@testable import HypervisionLayout

@Suite("Scene document, per-display views and patches")
struct SceneTests {
    /// The structural rules of `Schemas/scene.schema.json` that matter most to renderers, checked
    /// here without a schema library (CI also validates the golden scenes with Python jsonschema).
    static func checkStructure(_ document: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
        func keys(_ value: JSONValue?) -> Set<String> { Set(value?.objectValue?.keys.map { $0 } ?? []) }
        func isRect(_ value: JSONValue?) -> Bool {
            keys(value) == ["x", "y", "width", "height"] && ["x", "y", "width", "height"].allSatisfy { value?[$0]?.intValue != nil }
        }
        #expect(keys(document) == ["wall", "seq", "generatedAt", "canvas", "displays", "tiles", "units", "incidents", "moved"], sourceLocation: sourceLocation)
        #expect(document["generatedAt"]?.stringValue.flatMap { Timestamp(rfc3339: $0) } != nil, sourceLocation: sourceLocation)
        for (id, rect) in document["displays"]?.objectValue ?? [:] {
            #expect(id.hasPrefix("r") && id.contains("c") && isRect(rect), sourceLocation: sourceLocation)
        }
        for (id, tile) in document["tiles"]?.objectValue ?? [:] {
            #expect(keys(tile) == ["region", "slot", "rect", "displays", "source", "fit", "reason", "z"], "tile \(id)", sourceLocation: sourceLocation)
            #expect(isRect(tile["rect"]) && isRect(tile["fit"]?["content"]), sourceLocation: sourceLocation)
            #expect(!(tile["displays"]?.objectValue?.isEmpty ?? true), sourceLocation: sourceLocation)
            let source = tile["source"]
            #expect(source?["id"]?.stringValue != nil && source?["title"]?.stringValue != nil, sourceLocation: sourceLocation)
            let extra: [String: String] = ["camera": "streams", "map": "viewport", "incidents": "incidents", "web": "url"]
            let kind = source?["kind"]?.stringValue ?? ""
            #expect(keys(source) == ["kind", "id", "title", "status", extra[kind] ?? "?"], "tile \(id) source", sourceLocation: sourceLocation)
            #expect(["contain", "cover", "fill"].contains(tile["fit"]?["mode"]?.stringValue ?? ""), sourceLocation: sourceLocation)
        }
        for (_, unit) in document["units"]?.objectValue ?? [:] {
            #expect(keys(unit).isSuperset(of: ["lat", "lon", "time", "stale"]), sourceLocation: sourceLocation)
        }
    }

    @Test("Every golden scene follows the schema's structural rules", arguments: GoldenSceneTests.cases.map(\.name))
    func goldenStructure(name: String) throws {
        Self.checkStructure(try GoldenSceneTests.scene(name).json)
    }

    @Test("A display's view holds only its tiles, in its own coordinates")
    func displayView() throws {
        let scene = try GoldenSceneTests.scene("2+8")
        let view = try #require(scene.view(display: "r1c1"))
        // r1c1 holds the last four small slots of the 2+8, three of them used (nine cameras for
        // ten slots); nothing of the map.
        #expect(view.tiles.count == 3)
        #expect(view.units.isEmpty && view.incidents.isEmpty)
        for tile in view.tiles.values {
            #expect(PixelRect(x: 0, y: 0, width: 3840, height: 2160).contains(tile.rect))
        }
        let json = view.json
        #expect(json["display"] == .string("r1c1"))
        #expect(json["size"] == .object(["width": 3840, "height": 2160]))
        // A tile spanning the whole 2x2 block (1x1 preset) is seen from r1c1 with its full extent
        // (negative origin) and the visible part limited to the display.
        let big = try GoldenSceneTests.scene("1x1").view(display: "r1c1")
        let tile = try #require(big?.json["tiles"]?["cam-0011"])
        #expect(tile["rect"] == PixelRect(x: -3851, y: -2171, width: 7691, height: 4331).json)
        #expect(tile["visible"] == PixelRect(x: 0, y: 0, width: 3840, height: 2160).json)
        let mapView = try #require(scene.view(display: "r0c2"))
        #expect(mapView.units.count == 2)
        #expect(scene.view(display: "r9c9") == nil)
    }

    @Test("Patches between successive scenes rebuild each scene exactly")
    func patchesRebuildScenes() throws {
        let wall = try Fixtures.wall(Fixtures.readmeWallJSON)
        var random = SeededRandom(seed: 5)
        var inputs = RandomWorld.inputs(wall: wall, cameraCount: 100, random: &random, now: Fixtures.at(0))
        var (scene, state) = LayoutEngine.compute(inputs, previous: nil, seq: 1)
        var document = scene.json
        for step in 2...30 {
            inputs.now = Fixtures.at(Double(step) * 5)
            inputs.events.append(
                CameraEvent(cameraID: RandomWorld.cameraID(step * 3), kind: .motion, occurredAt: inputs.now, expiresAt: inputs.now.adding(seconds: 30)))
            if let id = inputs.units.keys.sorted().dropFirst(step % 7).first {
                inputs.units[id]?.position = Fixtures.offset(north: Double(step) * 20, east: -Double(step) * 15)
            }
            (scene, state) = LayoutEngine.compute(inputs, previous: state, seq: Int64(step))
            let next = scene.json
            let patch = JSONPatch.diff(from: document, to: next)
            // Through the wire form, as a subscriber would receive it.
            let received = try JSONPatch(json: JSONValue(parsing: patch.json.encoded()))
            #expect(try received.applied(to: document).encoded() == next.encoded())
            document = next
        }
    }

    @Test("The wall definition example in Schemas/walls parses and compiles")
    func exampleWallFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Schemas/walls/cic-paris.json")
        let text = try String(contentsOf: file, encoding: .utf8)
        let wall = try WallDefinition.compile(json: JSONValue(parsing: text))
        #expect(wall.id == "cic-paris")
    }
}
