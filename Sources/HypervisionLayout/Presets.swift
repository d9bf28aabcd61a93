/// A named arrangement of tiles on an abstract grid, which a region maps onto its displays.
///
/// Named presets are what operators pick from (1x1, 2x2, 3x3, 4x4, 1+5, 1+7, 2+8, 1+12); `custom`
/// covers the rest: a grid with some cells merged into larger tiles.
public enum Preset: Sendable, Hashable, CustomStringConvertible {
    /// `rows` x `columns` equal tiles (1x1, 2x2, 3x3, 4x4 by name).
    case grid(rows: Int, columns: Int)
    /// One large tile (2x2 cells of a 3x3 grid) and five small ones around it.
    case onePlusFive
    /// One large tile (3x3 cells of a 4x4 grid) and seven small ones along two edges.
    case onePlusSeven
    /// Two large tiles side by side (2x2 cells each of a 4x4 grid) above eight small ones.
    case twoPlusEight
    /// One large tile in the middle (2x2 cells of a 4x4 grid) and twelve small ones around it.
    case onePlusTwelve
    /// A `rows` x `columns` grid in which each span merges a block of cells into one tile; cells no
    /// span covers are 1x1 tiles.
    case custom(rows: Int, columns: Int, spans: [CellRange])

    /// The names operators write, in the order they are listed in error messages.
    public static let names = ["1x1", "2x2", "3x3", "4x4", "1+5", "1+7", "2+8", "1+12"]

    /// Largest custom grid side: beyond this tiles are too small to watch.
    public static let maximumCustomSide = 16

    /// The preset with this name, nil when the name is unknown.
    public init?(name: String) {
        switch name {
        case "1x1": self = .grid(rows: 1, columns: 1)
        case "2x2": self = .grid(rows: 2, columns: 2)
        case "3x3": self = .grid(rows: 3, columns: 3)
        case "4x4": self = .grid(rows: 4, columns: 4)
        case "1+5": self = .onePlusFive
        case "1+7": self = .onePlusSeven
        case "2+8": self = .twoPlusEight
        case "1+12": self = .onePlusTwelve
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .grid(let rows, let columns): "\(rows)x\(columns)"
        case .onePlusFive: "1+5"
        case .onePlusSeven: "1+7"
        case .twoPlusEight: "2+8"
        case .onePlusTwelve: "1+12"
        case .custom(let rows, let columns, _): "custom \(rows)x\(columns)"
        }
    }

    /// Rows and columns of the abstract grid.
    public var gridSize: (rows: Int, columns: Int) {
        switch self {
        case .grid(let rows, let columns): (rows, columns)
        case .onePlusFive: (3, 3)
        case .onePlusSeven, .twoPlusEight, .onePlusTwelve: (4, 4)
        case .custom(let rows, let columns, _): (rows, columns)
        }
    }

    /// The tiles as cell ranges of the abstract grid, largest first, then top to bottom and left
    /// to right. Slot `n` of a region is tile `n` of this list, so slot 0 is the most prominent.
    ///
    /// For a custom preset this assumes ``problems(path:)`` found nothing.
    public var tiles: [CellRange] {
        var tiles: [CellRange]
        switch self {
        case .grid(let rows, let columns):
            tiles = cells(rows: 0..<rows, columns: 0..<columns)
        case .onePlusFive:
            tiles = [CellRange(row: 0, column: 0, rows: 2, columns: 2)] + singles([(0, 2), (1, 2), (2, 0), (2, 1), (2, 2)])
        case .onePlusSeven:
            tiles = [CellRange(row: 0, column: 0, rows: 3, columns: 3)]
                + singles([(0, 3), (1, 3), (2, 3), (3, 0), (3, 1), (3, 2), (3, 3)])
        case .twoPlusEight:
            tiles = [CellRange(row: 0, column: 0, rows: 2, columns: 2), CellRange(row: 0, column: 2, rows: 2, columns: 2)]
            tiles += cells(rows: 2..<4, columns: 0..<4)
        case .onePlusTwelve:
            let center = CellRange(row: 1, column: 1, rows: 2, columns: 2)
            tiles = [center]
            tiles += cells(rows: 0..<4, columns: 0..<4).filter { !center.contains(row: $0.row, column: $0.column) }
        case .custom(let rows, let columns, let spans):
            tiles = spans
            for cell in cells(rows: 0..<rows, columns: 0..<columns)
            where !spans.contains(where: { $0.contains(row: cell.row, column: cell.column) }) {
                tiles.append(cell)
            }
        }
        return tiles.sorted { a, b in
            let areaA = a.rows * a.columns, areaB = b.rows * b.columns
            if areaA != areaB { return areaA > areaB }
            if a.row != b.row { return a.row < b.row }
            return a.column < b.column
        }
    }

    private func cells(rows: Range<Int>, columns: Range<Int>) -> [CellRange] {
        var out: [CellRange] = []
        for row in rows {
            for column in columns { out.append(CellRange(row: row, column: column)) }
        }
        return out
    }

    private func singles(_ positions: [(Int, Int)]) -> [CellRange] {
        positions.map { CellRange(row: $0.0, column: $0.1) }
    }

    /// What is wrong with a custom preset's own grid (empty for named presets).
    func problems(path: String) -> [WallProblem] {
        guard case .custom(let rows, let columns, let spans) = self else { return [] }
        var problems: [WallProblem] = []
        let side = 1...Self.maximumCustomSide
        guard side.contains(rows), side.contains(columns) else {
            return [WallProblem(.presetInvalid, path, "custom grid \(rows)x\(columns) must have 1 to \(Self.maximumCustomSide) rows and columns")]
        }
        for (index, span) in spans.enumerated() {
            let spanPath = path + "/spans/\(index)"
            if span.rows < 1 || span.columns < 1 || span.row < 0 || span.column < 0 || span.lastRow >= rows
                || span.lastColumn >= columns
            {
                problems.append(WallProblem(.presetInvalid, spanPath, "span (\(span)) is not inside the \(rows)x\(columns) grid"))
                continue
            }
            for (otherIndex, other) in spans.enumerated().prefix(index) where other.intersects(span) {
                problems.append(WallProblem(.presetInvalid, spanPath, "span \(index) (\(span)) overlaps span \(otherIndex) (\(other))"))
            }
        }
        return problems
    }
}

/// One axis (horizontal or vertical) of a block of displays: where each display starts on the
/// canvas and how many pixels it has along that axis.
struct DisplayAxis {
    var origins: [Int]
    var sizes: [Int]

    var count: Int { origins.count }
    func end(_ index: Int) -> Int { origins[index] + sizes[index] }
}

/// Why a preset cannot be laid out on a region's displays, in words an operator can act on.
struct PresetMismatch: Error {
    var message: String
}

extension Preset {
    /// Maps the preset's tiles onto a block of displays, in slot order.
    ///
    /// Each axis of the preset grid must either subdivide every display into the same number of
    /// cells (`cells % displays == 0`) or group whole displays into each cell (`displays % cells
    /// == 0`); then every grid line that is not a display edge lies inside a display. A tile is
    /// accepted when it lies inside one display, or when all four of its edges are display edges
    /// (it covers whole displays exactly): either way no bezel crosses the middle of its video.
    func place(columns xAxis: DisplayAxis, rows yAxis: DisplayAxis) -> Result<[PixelRect], PresetMismatch> {
        let (gridRows, gridColumns) = gridSize
        guard let xLines = AxisMapping(cells: gridColumns, axis: xAxis) else {
            return .failure(PresetMismatch(message: "preset \(self) has \(gridColumns) columns, which cannot be aligned to \(xAxis.count) display columns (one count must divide the other)"))
        }
        guard let yLines = AxisMapping(cells: gridRows, axis: yAxis) else {
            return .failure(PresetMismatch(message: "preset \(self) has \(gridRows) rows, which cannot be aligned to \(yAxis.count) display rows (one count must divide the other)"))
        }
        var rects: [PixelRect] = []
        for (index, tile) in tiles.enumerated() {
            let columnSpan = (tile.column, tile.column + tile.columns), rowSpan = (tile.row, tile.row + tile.rows)
            let insideOne = xLines.insideOneDisplay(columnSpan) && yLines.insideOneDisplay(rowSpan)
            let onEdges = xLines.onDisplayEdges(columnSpan) && yLines.onDisplayEdges(rowSpan)
            guard insideOne || onEdges else {
                return .failure(PresetMismatch(message: "preset \(self) on \(yAxis.count)x\(xAxis.count) displays would put a bezel across the middle of tile \(index) (\(tile) of its \(gridRows)x\(gridColumns) grid)"))
            }
            let x = xLines.start(columnSpan.0), y = yLines.start(rowSpan.0)
            rects.append(PixelRect(x: x, y: y, width: xLines.end(columnSpan.1) - x, height: yLines.end(rowSpan.1) - y))
        }
        return .success(rects)
    }
}

/// The pixel position of every line of a preset grid along one axis of a block of displays.
private struct AxisMapping {
    let axis: DisplayAxis
    /// Grid cells per display (subdividing) — 1 when displays are grouped.
    let cellsPerDisplay: Int
    /// Displays per grid cell (grouping) — 1 when displays are subdivided.
    let displaysPerCell: Int

    init?(cells: Int, axis: DisplayAxis) {
        guard cells > 0, axis.count > 0 else { return nil }
        if cells % axis.count == 0 {
            cellsPerDisplay = cells / axis.count
            displaysPerCell = 1
        } else if axis.count % cells == 0 {
            cellsPerDisplay = 1
            displaysPerCell = axis.count / cells
        } else {
            return nil
        }
        self.axis = axis
    }

    /// Canvas coordinate where a tile starting at grid line `line` begins.
    func start(_ line: Int) -> Int {
        let display = line / cellsPerDisplay * displaysPerCell
        return axis.origins[display] + axis.sizes[display] * (line % cellsPerDisplay) / cellsPerDisplay
    }

    /// Canvas coordinate one past where a tile ending at grid line `line` ends. At a display edge
    /// this is the end of the display before the line, not the start of the next one: the pixels
    /// between them are hidden behind the bezels.
    func end(_ line: Int) -> Int {
        if line % cellsPerDisplay == 0 {
            let display = line / cellsPerDisplay * displaysPerCell - 1
            return axis.end(display)
        }
        return start(line)
    }

    /// Whether grid lines `span.0 ..< span.1` stay within a single display.
    func insideOneDisplay(_ span: (Int, Int)) -> Bool {
        displaysPerCell == 1 && span.0 / cellsPerDisplay == (span.1 - 1) / cellsPerDisplay
    }

    /// Whether both ends of the span are display edges.
    func onDisplayEdges(_ span: (Int, Int)) -> Bool {
        span.0 % cellsPerDisplay == 0 && span.1 % cellsPerDisplay == 0
    }
}
