import HypervisionCore

/// A wall as an operator describes it: the grid of physical displays and the regions of the canvas.
///
/// This is the unchecked description (what a YAML file or `PUT /api/v1/walls/{id}` says). Turn it
/// into a ``WallLayout`` with ``compile()``, which checks everything and reports every problem at
/// once, so an operator fixes a file in one round trip rather than one error at a time.
public struct WallDefinition: Sendable, Hashable {
    /// Safe in URLs and scene paths: the unit id alphabet (`A-Z a-z 0-9 . _ - :`).
    public var id: String
    public var title: String
    /// Number of display rows, top to bottom.
    public var rows: Int
    /// Number of display columns, left to right.
    public var columns: Int
    /// One entry per display, row-major (`displays[row * columns + column]`).
    public var displays: [DisplaySpec]
    /// Regions in the order they were written; that order breaks ties everywhere (fill order, z).
    public var regions: [Region]
    public var tuning: LayoutTuning

    public init(
        id: String, title: String, rows: Int, columns: Int, displays: [DisplaySpec], regions: [Region],
        tuning: LayoutTuning = LayoutTuning()
    ) {
        self.id = id
        self.title = title
        self.rows = rows
        self.columns = columns
        self.displays = displays
        self.regions = regions
        self.tuning = tuning
    }

    /// A wall whose displays are all the same model.
    public init(
        id: String, title: String, rows: Int, columns: Int, display: DisplaySpec, regions: [Region],
        tuning: LayoutTuning = LayoutTuning()
    ) {
        self.init(
            id: id, title: title, rows: rows, columns: columns,
            displays: Array(repeating: display, count: max(0, rows) * max(0, columns)), regions: regions, tuning: tuning)
    }

    /// The display at a grid position, nil outside the grid.
    public func display(row: Int, column: Int) -> DisplaySpec? {
        guard row >= 0, row < rows, column >= 0, column < columns else { return nil }
        let index = row * columns + column
        return index < displays.count ? displays[index] : nil
    }

    /// The id renderers subscribe with: `r{row}c{column}`, both from zero.
    public static func displayID(row: Int, column: Int) -> String { "r\(row)c\(column)" }
}

/// Bezel widths of one display, in millimetres. Sides may differ (edge displays often have a
/// thicker outer bezel), and so may displays of one wall.
public struct Bezel: Sendable, Hashable {
    public var top: Double
    public var right: Double
    public var bottom: Double
    public var left: Double

    public init(top: Double, right: Double, bottom: Double, left: Double) {
        self.top = top
        self.right = right
        self.bottom = bottom
        self.left = left
    }

    /// The same width on every side.
    public init(all width: Double) { self.init(top: width, right: width, bottom: width, left: width) }
}

/// One physical display: its resolution, the physical size of its active area, and its bezels.
public struct DisplaySpec: Sendable, Hashable {
    public var pixelWidth: Int
    public var pixelHeight: Int
    /// Width of the active (lit) area, millimetres.
    public var widthMillimetres: Double
    /// Height of the active (lit) area, millimetres.
    public var heightMillimetres: Double
    public var bezel: Bezel

    public init(pixelWidth: Int, pixelHeight: Int, widthMillimetres: Double, heightMillimetres: Double, bezel: Bezel) {
        self.pixelWidth = pixelWidth
        self.pixelHeight = pixelHeight
        self.widthMillimetres = widthMillimetres
        self.heightMillimetres = heightMillimetres
        self.bezel = bezel
    }

    /// A 55-inch 4K video-wall panel with a 3.5 mm bezel-to-bezel gap, the most common model.
    public static let uhd55 = DisplaySpec(
        pixelWidth: 3840, pixelHeight: 2160, widthMillimetres: 1209.6, heightMillimetres: 680.4, bezel: Bezel(all: 1.75))

    /// Horizontal pixel density, pixels per millimetre.
    var pixelsPerMillimetreX: Double { Double(pixelWidth) / widthMillimetres }
    /// Vertical pixel density, pixels per millimetre.
    var pixelsPerMillimetreY: Double { Double(pixelHeight) / heightMillimetres }
}

/// A block of whole displays: the top-left display and how many rows and columns it spans.
///
/// Regions are given in display cells rather than canvas pixels on purpose: a region edge then
/// always falls on a display edge, so no region can put a bezel through a tile by construction.
public struct CellRange: Sendable, Hashable, CustomStringConvertible {
    public var row: Int
    public var column: Int
    public var rows: Int
    public var columns: Int

    public init(row: Int, column: Int, rows: Int = 1, columns: Int = 1) {
        self.row = row
        self.column = column
        self.rows = rows
        self.columns = columns
    }

    public var lastRow: Int { row + rows - 1 }
    public var lastColumn: Int { column + columns - 1 }

    public func contains(row r: Int, column c: Int) -> Bool {
        r >= row && r <= lastRow && c >= column && c <= lastColumn
    }

    public func intersects(_ other: CellRange) -> Bool {
        row <= other.lastRow && other.row <= lastRow && column <= other.lastColumn && other.column <= lastColumn
    }

    /// `rows 0-1, columns 2-3` (or `row 0, column 2` for a single cell), as problems quote it.
    public var description: String {
        let rowText = rows == 1 ? "row \(row)" : "rows \(row)-\(lastRow)"
        let columnText = columns == 1 ? "column \(column)" : "columns \(column)-\(lastColumn)"
        return rowText + ", " + columnText
    }
}

/// A part of the wall given to one kind of content.
public struct Region: Sendable, Hashable {
    /// Unique on the wall; map, incident and web tiles are keyed by it in the scene.
    public var id: String
    /// The displays the region covers.
    public var area: CellRange
    public var content: RegionContent

    public init(id: String, area: CellRange, content: RegionContent) {
        self.id = id
        self.area = area
        self.content = content
    }
}

/// What a region shows and how it is chosen.
public enum RegionContent: Sendable, Hashable {
    /// Fixed sources in a preset layout, in slot order (slot 0 is the largest tile). Nothing
    /// automatic ever replaces them: this is for the screens operators arrange by hand.
    case preset(PresetPlacement, sources: [String])
    /// An automatic camera region: the layout engine fills the preset's slots from the priority
    /// rules. `defaults` is the region's normal content, shown when nothing more urgent is happening.
    case cameras(PresetPlacement, defaults: [String])
    /// One map tile covering the region.
    case map(MapViewportPolicy)
    /// One tile listing the active incidents.
    case incidents
    /// One tile showing a web page (a dashboard).
    case web(url: String)

    /// The wire name of the kind, as in the wall definition's `kind` field.
    public var kindName: String {
        switch self {
        case .preset: "preset"
        case .cameras: "cameras"
        case .map: "map"
        case .incidents: "incidents"
        case .web: "web"
        }
    }

    /// The preset of a preset or camera region.
    public var placement: PresetPlacement? {
        switch self {
        case .preset(let placement, _), .cameras(let placement, _): placement
        default: nil
        }
    }
}

/// A preset and whether it covers the region once or is repeated on each of its displays.
public struct PresetPlacement: Sendable, Hashable {
    public var preset: Preset
    /// When true, every display of the region gets its own copy of the preset (a 2x4 block of
    /// displays with `2x2` per display gives 32 tiles). Slots are still ordered by size first.
    public var perDisplay: Bool

    public init(_ preset: Preset, perDisplay: Bool = false) {
        self.preset = preset
        self.perDisplay = perDisplay
    }
}

/// How a map region chooses its viewport.
public struct MapViewportPolicy: Sendable, Hashable {
    /// What a fitted viewport keeps in view.
    public enum Interest: String, Sendable, Hashable, CaseIterable {
        /// Active (open or acknowledged) incidents.
        case incidents
        /// Units whose status is `emergency`.
        case emergencies
        /// Every live unit that is not stale.
        case units
    }

    /// The viewport when nothing of interest exists, or always when `fit` is empty.
    public var fixed: BoundingBox?
    /// What to fit to; empty for a fixed viewport.
    public var fit: [Interest]
    /// Margin around the fitted points, metres.
    public var paddingMetres: Double
    /// The smallest span the viewport may show, metres (the minimum scale: a single unit does not
    /// zoom the map to a few metres).
    public var minimumSpanMetres: Double

    public init(fixed: BoundingBox?, fit: [Interest] = [], paddingMetres: Double = 200, minimumSpanMetres: Double = 1000) {
        self.fixed = fixed
        self.fit = fit
        self.paddingMetres = paddingMetres
        self.minimumSpanMetres = minimumSpanMetres
    }
}

/// The numbers that trade responsiveness for calm. Per wall, because a supervisor's wall and an
/// incident wall want different answers.
public struct LayoutTuning: Sendable, Hashable {
    /// How much higher (in priority points) a challenger must score to replace an incumbent, or to
    /// take a larger tile from one. Priority bands are described on ``PriorityRules``.
    public var replacementMargin: Double
    /// How long a source keeps its tile before a non-urgent challenger may replace or demote it.
    public var minimumDwellSeconds: Double
    /// Challengers at or above this priority (pins, emergencies) ignore the minimum dwell.
    public var urgentPriority: Double
    /// How long an offline camera stays in its tile (shown as offline) before it is replaced.
    public var offlineGraceSeconds: Double
    /// Half-life of a camera event's priority.
    public var eventHalfLifeSeconds: Double
    /// Age of a unit's last fix after which its marker is flagged stale.
    public var unitStaleSeconds: Double

    public init(
        replacementMargin: Double = 50, minimumDwellSeconds: Double = 20, urgentPriority: Double = 4000,
        offlineGraceSeconds: Double = 30, eventHalfLifeSeconds: Double = 60, unitStaleSeconds: Double = 120
    ) {
        self.replacementMargin = replacementMargin
        self.minimumDwellSeconds = minimumDwellSeconds
        self.urgentPriority = urgentPriority
        self.offlineGraceSeconds = offlineGraceSeconds
        self.eventHalfLifeSeconds = eventHalfLifeSeconds
        self.unitStaleSeconds = unitStaleSeconds
    }
}
