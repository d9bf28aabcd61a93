import HypervisionCore
import HypervisionLayout

/// Random but reproducible live states and walls for property tests and benchmarks.
enum RandomWorld {
    static func cameraID(_ index: Int) -> String {
        let digits = String(index)
        return "cam-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func inputs(wall: WallLayout, cameraCount: Int, random: inout SeededRandom, now: Timestamp) -> LayoutInputs {
        var cameras: [String: CameraState] = [:]
        for index in 0..<cameraCount {
            let id = cameraID(index)
            var state = Fixtures.camera(
                id, north: Double.random(in: -3000...3000, using: &random), east: Double.random(in: -3000...3000, using: &random),
                range: Double.random(in: 100...400, using: &random))
            state.camera.fieldOfView = Double.random(in: 60...360, using: &random)
            state.camera.heading = Double(Int.random(in: 0..<360, using: &random))
            if Int.random(in: 0..<20, using: &random) == 0 { state.camera.status = .degraded }
            cameras[id] = state
        }
        var units: [UnitID: LayoutUnit] = [:]
        for index in 0..<60 {
            let id = UnitID(trusted: "PN-75-U\(index)")
            units[id] = LayoutUnit(
                id: id, callsign: "U\(index)",
                position: Fixtures.offset(north: Double.random(in: -3000...3000, using: &random), east: Double.random(in: -3000...3000, using: &random)),
                heading: Double(Int.random(in: 0..<360, using: &random)),
                status: index % 20 == 0 ? .emergency : .available, time: now.adding(seconds: -Double(Int.random(in: 0..<300, using: &random))))
        }
        let incidents = (0..<6).map { index in
            Incident(
                id: "INC-2026-\(1000 + index)", category: "rixe", priority: 1 + index % 5,
                location: Fixtures.offset(north: Double.random(in: -2500...2500, using: &random), east: Double.random(in: -2500...2500, using: &random)),
                openedAt: now.adding(seconds: -600))
        }
        let events = (0..<min(40, cameraCount)).map { _ in
            let age = Double(Int.random(in: 0..<120, using: &random))
            return CameraEvent(
                cameraID: cameraID(Int.random(in: 0..<cameraCount, using: &random)), kind: .motion,
                occurredAt: now.adding(seconds: -age), expiresAt: now.adding(seconds: 300 - age))
        }
        return LayoutInputs(
            wall: wall, cameras: cameras, units: units, incidents: incidents, events: events,
            pins: [Pin(camera: cameraID(0), pinnedAt: now.adding(seconds: -10))],
            tours: [GuardTour(id: "tour", cameras: (10..<22).map(cameraID), dwellSeconds: 15, startedAt: now.adding(seconds: -100))],
            now: now)
    }

    /// A random wall: a grid of 4K displays cut into non-overlapping regions with presets that fit.
    static func wall(random: inout SeededRandom) -> WallLayout? {
        let rows = Int.random(in: 1...4, using: &random), columns = Int.random(in: 1...4, using: &random)
        var taken = Array(repeating: false, count: rows * columns)
        var regions: [Region] = []
        let presets = Preset.names.compactMap(Preset.init(name:))
        for row in 0..<rows {
            for column in 0..<columns where !taken[row * columns + column] {
                var height = Int.random(in: 1...(rows - row), using: &random)
                var width = Int.random(in: 1...(columns - column), using: &random)
                while (row..<row + height).contains(where: { r in (column..<column + width).contains { taken[r * columns + $0] } }) {
                    if width > 1 { width -= 1 } else { height -= 1 }
                }
                for r in row..<row + height { for c in column..<column + width { taken[r * columns + c] = true } }
                let area = CellRange(row: row, column: column, rows: height, columns: width)
                let id = "r\(regions.count)"
                if Int.random(in: 0..<5, using: &random) == 0 {
                    regions.append(Region(id: id, area: area, content: .map(MapViewportPolicy(fixed: nil, fit: [.incidents, .units]))))
                    continue
                }
                // The first preset (from a random start) that fits this block.
                let start = Int.random(in: 0..<presets.count, using: &random)
                let perDisplay = Bool.random(using: &random)
                for offset in 0..<presets.count {
                    let candidate = Region(
                        id: id, area: area, content: .cameras(PresetPlacement(presets[(start + offset) % presets.count], perDisplay: perDisplay), defaults: []))
                    let probe = WallDefinition(id: "rnd", title: "rnd", rows: rows, columns: columns, display: .uhd55, regions: regions + [candidate])
                    if probe.problems().isEmpty {
                        regions.append(candidate)
                        break
                    }
                }
            }
        }
        return try? WallDefinition(id: "rnd", title: "rnd", rows: rows, columns: columns, display: .uhd55, regions: regions).compile()
    }
}
