import HypervisionCore

/// One thing wrong with a wall definition: a stable code, where (a JSON pointer into the
/// definition as written) and what, in words an operator can act on.
public struct WallProblem: Sendable, Hashable, CustomStringConvertible {
    /// A stable machine-readable code, snake case on the wire. Add new codes; never rename one.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let fieldMissing = Code(rawValue: "field_missing")
        public static let fieldTypeInvalid = Code(rawValue: "field_type_invalid")
        public static let fieldUnknown = Code(rawValue: "field_unknown")
        public static let valueInvalid = Code(rawValue: "value_invalid")
        public static let idInvalid = Code(rawValue: "id_invalid")
        public static let idDuplicate = Code(rawValue: "id_duplicate")
        public static let displayInvalid = Code(rawValue: "display_invalid")
        /// Displays that share a column (row) must share a pixel width (height).
        public static let displaysMisaligned = Code(rawValue: "displays_misaligned")
        public static let regionOffCanvas = Code(rawValue: "region_off_canvas")
        public static let regionsOverlap = Code(rawValue: "regions_overlap")
        public static let presetUnknown = Code(rawValue: "preset_unknown")
        public static let presetInvalid = Code(rawValue: "preset_invalid")
        public static let presetDoesNotFit = Code(rawValue: "preset_does_not_fit")
        public static let tooManySources = Code(rawValue: "too_many_sources")
        public static let sourceDuplicate = Code(rawValue: "source_duplicate")
    }

    public var code: Code
    /// A JSON pointer into the definition as written (`/regions/1/preset`); empty for the whole.
    public var path: String
    public var message: String

    public init(_ code: Code, _ path: String, _ message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path.isEmpty ? "/" : path): \(message)" }
}

/// Every problem found in a wall definition. Thrown as a whole so an operator sees them all.
public struct WallDefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [WallProblem]

    public init(problems: [WallProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "; ") }
}

/// Limits that keep a definition (and so a scene and its computation) bounded.
enum WallLimits {
    static let maximumSide = 16
    static let maximumPixels = 16_384
    static let maximumMillimetres = 10_000.0
    static let maximumBezelMillimetres = 100.0
    static let maximumRegions = 64
    static let maximumSources = 256
    static let maximumTitleBytes = 256
    static let maximumURLBytes = 2_048
}

extension WallDefinition {
    /// Every problem with this definition, in the order they appear in it. Empty when valid.
    public func problems() -> [WallProblem] {
        var problems: [WallProblem] = []
        if (try? UnitID(id)) == nil {
            problems.append(WallProblem(.idInvalid, "/id", "wall id \"\(id.prefix(64))\" must be 1 to 64 characters from A-Z a-z 0-9 . _ - :, starting with a letter or digit"))
        }
        if title.utf8.count > WallLimits.maximumTitleBytes {
            problems.append(WallProblem(.valueInvalid, "/title", "title is longer than \(WallLimits.maximumTitleBytes) bytes"))
        }
        let sides = 1...WallLimits.maximumSide
        guard sides.contains(rows), sides.contains(columns) else {
            problems.append(WallProblem(.valueInvalid, "/displays", "a wall has 1 to \(WallLimits.maximumSide) rows and columns of displays, not \(rows)x\(columns)"))
            return problems
        }
        guard displays.count == rows * columns else {
            problems.append(WallProblem(.valueInvalid, "/displays", "\(rows)x\(columns) displays need \(rows * columns) display descriptions, found \(displays.count)"))
            return problems
        }
        let displaysValid = appendDisplayProblems(to: &problems)
        appendRegionProblems(to: &problems, geometryKnown: displaysValid)
        if !(tuning.urgentPriority.isFinite) {
            problems.append(WallProblem(.valueInvalid, "/tuning/urgentPriority", "urgentPriority must be a finite number of points"))
        }
        if tuning.replacementMargin < 0 || !tuning.replacementMargin.isFinite {
            problems.append(WallProblem(.valueInvalid, "/tuning/replacementMargin", "replacementMargin must be a finite number of points, 0 or more"))
        }
        for (name, value) in [
            ("minimumDwellSeconds", tuning.minimumDwellSeconds), ("offlineGraceSeconds", tuning.offlineGraceSeconds),
            ("unitStaleSeconds", tuning.unitStaleSeconds),
        ] where !(value >= 0 && value <= 86_400) {
            problems.append(WallProblem(.valueInvalid, "/tuning/\(name)", "\(name) must be between 0 and 86400 seconds"))
        }
        if !(tuning.eventHalfLifeSeconds > 0 && tuning.eventHalfLifeSeconds <= 86_400) {
            problems.append(WallProblem(.valueInvalid, "/tuning/eventHalfLifeSeconds", "eventHalfLifeSeconds must be more than 0 and at most 86400 seconds"))
        }
        return problems
    }

    /// Checks the definition and derives its geometry, or throws every problem found.
    public func compile() throws(WallDefinitionError) -> WallLayout {
        let problems = problems()
        guard problems.isEmpty else { throw WallDefinitionError(problems: problems) }
        return WallLayout(checked: self)
    }

    /// Returns whether the displays are consistent enough to compute a canvas.
    private func appendDisplayProblems(to problems: inout [WallProblem]) -> Bool {
        var valid = true
        let pixels = 1...WallLimits.maximumPixels
        for row in 0..<rows {
            for column in 0..<columns {
                let display = displays[row * columns + column]
                let id = Self.displayID(row: row, column: column)
                let path = "/displays/\(id)"
                if !pixels.contains(display.pixelWidth) || !pixels.contains(display.pixelHeight) {
                    problems.append(WallProblem(.displayInvalid, path, "display \(id) has a pixel size of \(display.pixelWidth)x\(display.pixelHeight); each side must be 1 to \(WallLimits.maximumPixels)"))
                    valid = false
                }
                if !(display.widthMillimetres > 0 && display.widthMillimetres <= WallLimits.maximumMillimetres)
                    || !(display.heightMillimetres > 0 && display.heightMillimetres <= WallLimits.maximumMillimetres)
                {
                    problems.append(WallProblem(.displayInvalid, path, "display \(id) has a physical size of \(display.widthMillimetres)x\(display.heightMillimetres) mm; each side must be more than 0 and at most \(Int(WallLimits.maximumMillimetres)) mm"))
                    valid = false
                }
                let bezel = display.bezel
                for (side, width) in [("top", bezel.top), ("right", bezel.right), ("bottom", bezel.bottom), ("left", bezel.left)]
                where !(width >= 0 && width <= WallLimits.maximumBezelMillimetres) {
                    problems.append(WallProblem(.displayInvalid, path + "/bezelMm", "display \(id) has a \(side) bezel of \(width) mm; bezels are 0 to \(Int(WallLimits.maximumBezelMillimetres)) mm"))
                    valid = false
                }
            }
        }
        guard valid else { return false }
        // The canvas is a grid: one pixel width per column and one pixel height per row.
        for column in 0..<columns {
            let first = displays[column].pixelWidth
            if let row = (1..<rows).first(where: { displays[$0 * columns + column].pixelWidth != first }) {
                let other = displays[row * columns + column].pixelWidth
                problems.append(WallProblem(.displaysMisaligned, "/displays/\(Self.displayID(row: row, column: column))", "displays in column \(column) must share a pixel width: \(Self.displayID(row: 0, column: column)) has \(first), \(Self.displayID(row: row, column: column)) has \(other)"))
                valid = false
            }
        }
        for row in 0..<rows {
            let first = displays[row * columns].pixelHeight
            if let column = (1..<columns).first(where: { displays[row * columns + $0].pixelHeight != first }) {
                let other = displays[row * columns + column].pixelHeight
                problems.append(WallProblem(.displaysMisaligned, "/displays/\(Self.displayID(row: row, column: column))", "displays in row \(row) must share a pixel height: \(Self.displayID(row: row, column: 0)) has \(first), \(Self.displayID(row: row, column: column)) has \(other)"))
                valid = false
            }
        }
        return valid
    }

    private func appendRegionProblems(to problems: inout [WallProblem], geometryKnown: Bool) {
        if regions.count > WallLimits.maximumRegions {
            problems.append(WallProblem(.valueInvalid, "/regions", "a wall has at most \(WallLimits.maximumRegions) regions, found \(regions.count)"))
            return
        }
        let geometry = geometryKnown ? WallGeometry(self) : nil
        var firstIndexByID: [String: Int] = [:]
        var onCanvas: [Int] = []
        var fixedSourceRegion: [String: String] = [:]
        for (index, region) in regions.enumerated() {
            let path = "/regions/\(index)"
            if (try? UnitID(region.id)) == nil {
                problems.append(WallProblem(.idInvalid, path + "/id", "region id \"\(region.id.prefix(64))\" must be 1 to 64 characters from A-Z a-z 0-9 . _ - :, starting with a letter or digit"))
            } else if let first = firstIndexByID[region.id] {
                problems.append(WallProblem(.idDuplicate, path + "/id", "region id \(region.id) is already used by region \(first)"))
            } else {
                firstIndexByID[region.id] = index
            }
            let area = region.area
            if area.rows < 1 || area.columns < 1 || area.row < 0 || area.column < 0 || area.lastRow >= rows
                || area.lastColumn >= columns
            {
                problems.append(WallProblem(.regionOffCanvas, path + "/area", "region \(region.id) (\(area)) is not inside the \(rows)x\(columns) display grid (rows 0-\(rows - 1), columns 0-\(columns - 1))"))
            } else {
                for other in onCanvas where regions[other].area.intersects(area) {
                    let shared = firstSharedDisplay(area, regions[other].area)
                    problems.append(WallProblem(.regionsOverlap, path + "/area", "regions \(regions[other].id) and \(region.id) overlap on display \(shared)"))
                }
                onCanvas.append(index)
                if let placement = region.content.placement {
                    let presetProblems = placement.preset.problems(path: path + "/preset/custom")
                    problems += presetProblems
                    if presetProblems.isEmpty, let geometry,
                        case .failure(let mismatch) = geometry.slots(for: area, placement: placement)
                    {
                        problems.append(WallProblem(.presetDoesNotFit, path + "/preset", "region \(region.id): \(mismatch.message)"))
                    }
                }
            }
            switch region.content {
            case .preset(let placement, let sources), .cameras(let placement, let sources):
                let isFixed = region.content.kindName == "preset"
                var seen: Set<String> = []
                for (sourceIndex, source) in sources.enumerated() {
                    if !seen.insert(source).inserted {
                        problems.append(WallProblem(.sourceDuplicate, path + "/sources/\(sourceIndex)", "camera \(source) is listed twice in region \(region.id)"))
                    }
                    if (try? UnitID(source)) == nil {
                        problems.append(WallProblem(.idInvalid, path + "/sources/\(sourceIndex)", "camera id \"\(source.prefix(64))\" is not a valid id"))
                    }
                    if isFixed {
                        if let other = fixedSourceRegion[source], other != region.id {
                            problems.append(WallProblem(.sourceDuplicate, path + "/sources/\(sourceIndex)", "camera \(source) is already fixed in region \(other); a camera is shown at most once on a wall"))
                        } else {
                            fixedSourceRegion[source] = region.id
                        }
                    }
                }
                if sources.count > WallLimits.maximumSources {
                    problems.append(WallProblem(.tooManySources, path + "/sources", "region \(region.id) lists \(sources.count) sources; at most \(WallLimits.maximumSources)"))
                } else if isFixed, let geometry, presetFits(geometry, region),
                    case .success(let slots) = geometry.slots(for: region.area, placement: placement), sources.count > slots.count
                {
                    problems.append(WallProblem(.tooManySources, path + "/sources", "region \(region.id) lists \(sources.count) sources but preset \(placement.preset)\(placement.perDisplay ? " per display" : "") has \(slots.count) tiles"))
                }
            case .map(let policy):
                if policy.fixed == nil && policy.fit.isEmpty {
                    problems.append(WallProblem(.fieldMissing, path, "map region \(region.id) needs a fixed viewport, a fit, or both"))
                }
                if let box = policy.fixed, !(box.south >= -90 && box.north <= 90 && box.south < box.north && box.west >= -180 && box.east <= 180 && box.west < box.east) {
                    problems.append(WallProblem(.valueInvalid, path + "/viewport", "viewport must have -90 <= south < north <= 90 and -180 <= west < east <= 180"))
                }
                if !(policy.paddingMetres >= 0 && policy.paddingMetres <= 100_000) {
                    problems.append(WallProblem(.valueInvalid, path + "/fit/paddingMetres", "paddingMetres must be between 0 and 100000"))
                }
                if !(policy.minimumSpanMetres > 0 && policy.minimumSpanMetres <= 2_000_000) {
                    problems.append(WallProblem(.valueInvalid, path + "/fit/minimumSpanMetres", "minimumSpanMetres must be more than 0 and at most 2000000"))
                }
            case .incidents:
                break
            case .web(let url):
                let lower = url.lowercased()
                if url.utf8.count > WallLimits.maximumURLBytes || !(lower.hasPrefix("https://") || lower.hasPrefix("http://")) {
                    problems.append(WallProblem(.valueInvalid, path + "/url", "url must be an http(s) URL of at most \(WallLimits.maximumURLBytes) bytes"))
                }
            }
        }
        // Camera tiles are keyed by camera id and region tiles by region id: they must not collide.
        for (index, region) in regions.enumerated() {
            if let fixedIn = fixedSourceRegion[region.id] {
                problems.append(WallProblem(.idDuplicate, "/regions/\(index)/id", "region id \(region.id) is also a camera fixed in region \(fixedIn); tiles are keyed by both"))
            }
        }
    }

    private func presetFits(_ geometry: WallGeometry, _ region: Region) -> Bool {
        guard let placement = region.content.placement, placement.preset.problems(path: "").isEmpty else { return false }
        let area = region.area
        return area.rows >= 1 && area.columns >= 1 && area.row >= 0 && area.column >= 0 && area.lastRow < rows
            && area.lastColumn < columns
    }

    private func firstSharedDisplay(_ a: CellRange, _ b: CellRange) -> String {
        Self.displayID(row: max(a.row, b.row), column: max(a.column, b.column))
    }
}

/// Where each display sits on the canvas, with the bezels turned into hidden pixels.
///
/// Between two neighbouring columns the canvas leaves as many pixels as the two facing bezels
/// measure, converted at each display's own pixel density; where rows disagree (different
/// bezels), the widest gap of the column boundary is used so that the canvas stays a grid. A
/// picture spanning displays is then drawn as if the bezels were part of the screen, which is
/// what keeps a straight line straight across them.
struct WallGeometry: Sendable, Hashable {
    var columnOrigins: [Int]
    var columnWidths: [Int]
    var rowOrigins: [Int]
    var rowHeights: [Int]
    var canvasWidth: Int
    var canvasHeight: Int

    init(_ wall: WallDefinition) {
        let rows = wall.rows, columns = wall.columns
        func display(_ r: Int, _ c: Int) -> DisplaySpec { wall.displays[r * columns + c] }
        columnWidths = (0..<columns).map { display(0, $0).pixelWidth }
        rowHeights = (0..<rows).map { display($0, 0).pixelHeight }
        columnOrigins = []
        var x = 0
        for column in 0..<columns {
            columnOrigins.append(x)
            x += columnWidths[column]
            if column + 1 < columns {
                x += (0..<rows).map { r in
                    let left = display(r, column), right = display(r, column + 1)
                    return Int((left.bezel.right * left.pixelsPerMillimetreX + right.bezel.left * right.pixelsPerMillimetreX).rounded())
                }.max() ?? 0
            }
        }
        canvasWidth = x
        rowOrigins = []
        var y = 0
        for row in 0..<rows {
            rowOrigins.append(y)
            y += rowHeights[row]
            if row + 1 < rows {
                y += (0..<columns).map { c in
                    let top = display(row, c), bottom = display(row + 1, c)
                    return Int((top.bezel.bottom * top.pixelsPerMillimetreY + bottom.bezel.top * bottom.pixelsPerMillimetreY).rounded())
                }.max() ?? 0
            }
        }
        canvasHeight = y
    }

    func displayRect(row: Int, column: Int) -> PixelRect {
        PixelRect(x: columnOrigins[column], y: rowOrigins[row], width: columnWidths[column], height: rowHeights[row])
    }

    /// The canvas rectangle of a block of displays, the bezel gaps inside it included.
    func rect(of area: CellRange) -> PixelRect {
        let x = columnOrigins[area.column], y = rowOrigins[area.row]
        return PixelRect(
            x: x, y: y, width: columnOrigins[area.lastColumn] + columnWidths[area.lastColumn] - x,
            height: rowOrigins[area.lastRow] + rowHeights[area.lastRow] - y)
    }

    /// The tiles of a preset on a block of displays, in slot order (largest first).
    func slots(for area: CellRange, placement: PresetPlacement) -> Result<[PixelRect], PresetMismatch> {
        func axes(_ block: CellRange) -> (DisplayAxis, DisplayAxis) {
            let xs = DisplayAxis(
                origins: Array(columnOrigins[block.column...block.lastColumn]),
                sizes: Array(columnWidths[block.column...block.lastColumn]))
            let ys = DisplayAxis(
                origins: Array(rowOrigins[block.row...block.lastRow]), sizes: Array(rowHeights[block.row...block.lastRow]))
            return (xs, ys)
        }
        guard placement.perDisplay else {
            let (xs, ys) = axes(area)
            return placement.preset.place(columns: xs, rows: ys)
        }
        // One copy per display; then a stable sort by area keeps "largest first" across copies
        // while displays stay in row-major order within one size.
        var all: [(rect: PixelRect, order: Int)] = []
        for row in area.row...area.lastRow {
            for column in area.column...area.lastColumn {
                let (xs, ys) = axes(CellRange(row: row, column: column))
                switch placement.preset.place(columns: xs, rows: ys) {
                case .failure(let mismatch): return .failure(mismatch)
                case .success(let rects):
                    for rect in rects { all.append((rect, all.count)) }
                }
            }
        }
        all.sort { $0.rect.area != $1.rect.area ? $0.rect.area > $1.rect.area : $0.order < $1.order }
        return .success(all.map(\.rect))
    }
}
