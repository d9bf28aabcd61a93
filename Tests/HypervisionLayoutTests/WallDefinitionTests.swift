import HypervisionCore
import Testing

@testable import HypervisionLayout

@Suite("Wall geometry and validation")
struct WallDefinitionTests {
    @Test("Bezels become hidden pixels between displays at each display's density")
    func canvasWithBezelCompensation() throws {
        let wall = try Fixtures.wall(Fixtures.readmeWallJSON)
        // 1.75 mm per facing bezel at 3840 px / 1209.6 mm = 3.1746 px/mm: 11.11 px, rounded to 11.
        #expect(wall.canvasWidth == 3 * 3840 + 2 * 11)
        #expect(wall.canvasHeight == 2 * 2160 + 11)
        #expect(wall.displays.map(\.id) == ["r0c0", "r0c1", "r0c2", "r1c0", "r1c1", "r1c2"])
        #expect(wall.display(id: "r1c2")?.rect == PixelRect(x: 7702, y: 2171, width: 3840, height: 2160))
        #expect(wall.regions[1].rect == PixelRect(x: 3851, y: 0, width: 7691, height: 4331))
    }

    @Test("Different bezels per display: the widest gap of a boundary keeps the canvas a grid")
    func unevenBezels() throws {
        var thick = DisplaySpec.uhd55
        thick.bezel = Bezel(top: 1.75, right: 10, bottom: 1.75, left: 1.75)
        let definition = WallDefinition(
            id: "w", title: "w", rows: 2, columns: 2, displays: [.uhd55, .uhd55, thick, .uhd55], regions: [])
        let wall = try definition.compile()
        // r1c0's right bezel: 10 mm * 3.1746 + 1.75 mm * 3.1746 = 37.3 px -> 37 (wider than row 0's 11).
        #expect(wall.display(id: "r0c1")?.rect.x == 3840 + 37)
        #expect(wall.canvasWidth == 2 * 3840 + 37)
    }

    @Test("Fit: a 16:9 video is letterboxed inside a square tile, centred, in whole pixels")
    func letterbox() {
        let square = PixelRect(x: 100, y: 0, width: 1000, height: 1000)
        #expect(Fit.place(.widescreen, in: square, mode: .contain).content == PixelRect(x: 100, y: 218, width: 1000, height: 563))
        let exact = PixelRect(x: 0, y: 0, width: 1920, height: 1080)
        #expect(Fit.place(.widescreen, in: exact, mode: .contain).content == exact)
        let tall = PixelRect(x: 0, y: 0, width: 1280, height: 1440)
        #expect(Fit.place(.widescreen, in: tall, mode: .cover).content == PixelRect(x: -640, y: 0, width: 2560, height: 1440))
    }

    @Test("Every named preset covers its grid exactly once, largest tile first", arguments: Preset.names)
    func presetTilesPartitionTheGrid(name: String) throws {
        let preset = try #require(Preset(name: name))
        let (rows, columns) = preset.gridSize
        var covered = Array(repeating: 0, count: rows * columns)
        for tile in preset.tiles {
            for r in tile.row...tile.lastRow {
                for c in tile.column...tile.lastColumn { covered[r * columns + c] += 1 }
            }
        }
        #expect(covered.allSatisfy { $0 == 1 })
        let areas = preset.tiles.map { $0.rows * $0.columns }
        #expect(areas == areas.sorted(by: >))
        let expectedCount = ["1x1": 1, "2x2": 4, "3x3": 9, "4x4": 16, "1+5": 6, "1+7": 8, "2+8": 10, "1+12": 13][name]
        #expect(preset.tiles.count == expectedCount)
    }

    @Test("2+8 on 2x2 displays: the big tiles cover whole displays, the small ones stay inside one")
    func twoPlusEightSpanning() throws {
        let wall = try Fixtures.cameraWall(rows: 2, columns: 2, preset: .twoPlusEight)
        let slots = wall.regions[0].slots
        #expect(slots.count == 10)
        #expect(slots[0] == PixelRect(x: 0, y: 0, width: 3840, height: 2160))
        #expect(slots[1] == PixelRect(x: 3851, y: 0, width: 3840, height: 2160))
        #expect(slots[2] == PixelRect(x: 0, y: 2171, width: 1920, height: 1080))
        #expect(slots[9] == PixelRect(x: 5771, y: 3251, width: 1920, height: 1080))
    }

    @Test("1x1 on 2x2 displays spans all four, bezel gaps included")
    func oneByOneSpanning() throws {
        let wall = try Fixtures.cameraWall(rows: 2, columns: 2, preset: .grid(rows: 1, columns: 1))
        #expect(wall.regions[0].slots == [PixelRect(x: 0, y: 0, width: 7691, height: 4331)])
    }

    @Test("perDisplay repeats the preset on each display, largest tiles of every display first")
    func perDisplay() throws {
        let wall = try Fixtures.cameraWall(rows: 1, columns: 2, preset: .onePlusFive, perDisplay: true)
        let slots = wall.regions[0].slots
        #expect(slots.count == 12)
        #expect(slots[0] == PixelRect(x: 0, y: 0, width: 2560, height: 1440))
        #expect(slots[1] == PixelRect(x: 3851, y: 0, width: 2560, height: 1440))
        #expect(slots[2] == PixelRect(x: 2560, y: 0, width: 1280, height: 720))
    }

    @Test("A preset that would put a bezel across a tile is refused, with the tile named")
    func presetAcrossBezel() {
        let definition = WallDefinition(
            id: "w", title: "w", rows: 2, columns: 2, display: .uhd55,
            regions: [Region(id: "cams", area: CellRange(row: 0, column: 0, rows: 2, columns: 2), content: .cameras(PresetPlacement(.onePlusTwelve), defaults: []))])
        #expect(definition.problems() == [
            WallProblem(.presetDoesNotFit, "/regions/0/preset", "region cams: preset 1+12 on 2x2 displays would put a bezel across the middle of tile 0 (rows 1-2, columns 1-2 of its 4x4 grid)")
        ])
        let threeByThree = WallDefinition(
            id: "w", title: "w", rows: 2, columns: 2, display: .uhd55,
            regions: [Region(id: "cams", area: CellRange(row: 0, column: 0, rows: 2, columns: 2), content: .cameras(PresetPlacement(.onePlusFive), defaults: []))])
        #expect(threeByThree.problems().map(\.message) == [
            "region cams: preset 1+5 has 3 columns, which cannot be aligned to 2 display columns (one count must divide the other)"
        ])
    }

    @Test("Validation reports every problem at once, each with its path")
    func allProblemsAtOnce() {
        var zero = DisplaySpec.uhd55
        zero.pixelWidth = 0
        let definition = WallDefinition(
            id: "bad id!", title: "t", rows: 1, columns: 3, displays: [.uhd55, zero, .uhd55],
            regions: [
                Region(id: "a", area: CellRange(row: 0, column: 0, rows: 1, columns: 2), content: .incidents),
                Region(id: "b", area: CellRange(row: 0, column: 1), content: .web(url: "https://x.local")),
                Region(id: "a", area: CellRange(row: 0, column: 3), content: .incidents),
                Region(id: "f", area: CellRange(row: 0, column: 2), content: .preset(PresetPlacement(.grid(rows: 1, columns: 1)), sources: ["c1", "c2"])),
            ])
        let problems = definition.problems()
        #expect(problems.map(\.description) == [
            "/id: wall id \"bad id!\" must be 1 to 64 characters from A-Z a-z 0-9 . _ - :, starting with a letter or digit",
            "/displays/r0c1: display r0c1 has a pixel size of 0x2160; each side must be 1 to 16384",
            "/regions/1/area: regions a and b overlap on display r0c1",
            "/regions/2/id: region id a is already used by region 0",
            "/regions/2/area: region a (row 0, column 3) is not inside the 1x3 display grid (rows 0-0, columns 0-2)",
        ])
        #expect(problems.map(\.code) == [.idInvalid, .displayInvalid, .regionsOverlap, .idDuplicate, .regionOffCanvas])
    }

    @Test("A fixed preset with more sources than tiles, and misaligned displays")
    func tooManySourcesAndMisaligned() {
        var hd = DisplaySpec.uhd55
        hd.pixelWidth = 1920
        hd.pixelHeight = 1080
        let misaligned = WallDefinition(id: "w", title: "w", rows: 2, columns: 1, displays: [.uhd55, hd], regions: [])
        #expect(misaligned.problems().map(\.message) == [
            "displays in column 0 must share a pixel width: r0c0 has 3840, r1c0 has 1920"
        ])
        let crowded = WallDefinition(
            id: "w", title: "w", rows: 1, columns: 1, display: .uhd55,
            regions: [Region(id: "f", area: CellRange(row: 0, column: 0), content: .preset(PresetPlacement(.grid(rows: 1, columns: 1)), sources: ["c1", "c2"]))])
        #expect(crowded.problems() == [
            WallProblem(.tooManySources, "/regions/0/sources", "region f lists 2 sources but preset 1x1 has 1 tiles")
        ])
    }

    @Test("The README definition decodes and compiles")
    func decodesReadmeWall() throws {
        let wall = try Fixtures.wall(Fixtures.readmeWallJSON)
        #expect(wall.id == "cic-paris")
        #expect(wall.regions.map(\.region.id) == ["map", "cams"])
        #expect(wall.regions[1].slots.count == 10)
        #expect(wall.tuning.minimumDwellSeconds == 20)
    }

    @Test("Decoding collects every structural problem: unknown fields, types, unknown preset")
    func decodingProblems() throws {
        let json = try JSONValue(parsing: """
            {"id": "w", "colour": "red",
             "displays": {"rows": 1, "columns": "2", "default": {"width": 3840, "height": 2160, "widthMm": 1209.6}},
             "regions": [{"id": "c", "area": {"row": 0, "column": 0}, "kind": "cameras", "preset": "5x5"},
                         {"id": "m", "area": {"row": 0, "column": 1}, "kind": "hologram"}]}
            """)
        let error = try #require(throws: WallDefinitionError.self) { try WallDefinition(json: json) }
        #expect(error.problems.map(\.description) == [
            "/colour: unknown field colour; expected one of displays, id, regions, title, tuning",
            "/displays/columns: columns must be a number",
            "/displays/default/heightMm: heightMm is required",
            "/regions/0/preset: unknown preset 5x5; known presets: 1x1, 2x2, 3x3, 4x4, 1+5, 1+7, 2+8, 1+12, or {\"custom\": {...}} for other grids",
            "/regions/1/kind: kind hologram is not one of preset, cameras, map, incidents, web",
        ])
    }

    @Test("Custom grids with spans, and their problems")
    func customGrid() throws {
        let json = try JSONValue(parsing: """
            {"id": "w", "displays": {"rows": 1, "columns": 1, "default": {"width": 3840, "height": 2160, "widthMm": 1209.6, "heightMm": 680.4}},
             "regions": [{"id": "c", "area": {"row": 0, "column": 0}, "kind": "cameras",
                          "preset": {"custom": {"rows": 3, "columns": 4, "spans": [{"row": 0, "column": 0, "rows": 2, "columns": 3}]}}}]}
            """)
        let wall = try WallDefinition.compile(json: json)
        #expect(wall.regions[0].slots.count == 7)
        #expect(wall.regions[0].slots[0] == PixelRect(x: 0, y: 0, width: 2880, height: 1440))
        let overlapping = Preset.custom(rows: 2, columns: 2, spans: [CellRange(row: 0, column: 0, rows: 2), CellRange(row: 1, column: 0, columns: 2)])
        let definition = WallDefinition(
            id: "w", title: "w", rows: 1, columns: 1, display: .uhd55,
            regions: [Region(id: "c", area: CellRange(row: 0, column: 0), content: .cameras(PresetPlacement(overlapping), defaults: []))])
        #expect(definition.problems().map(\.description) == [
            "/regions/0/preset/custom/spans/1: span 1 (row 1, columns 0-1) overlaps span 0 (rows 0-1, column 0)"
        ])
    }
}
