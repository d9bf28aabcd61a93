/// A checked wall: its canvas, where each display sits on it, and each region's tiles.
///
/// Made only by ``WallDefinition/compile()``, so everything the layout engine reads from it is
/// known to be consistent (no overlaps, presets aligned to bezels); the engine never re-checks.
public struct WallLayout: Sendable, Hashable {
    /// One physical display placed on the canvas.
    public struct Display: Sendable, Hashable {
        /// `r{row}c{column}`.
        public var id: String
        public var row: Int
        public var column: Int
        /// Where the display's pixels sit on the canvas.
        public var rect: PixelRect
    }

    /// A region placed on the canvas, with its slots when it has a preset.
    public struct PlacedRegion: Sendable, Hashable {
        public var region: Region
        /// Position in the definition: fill order and z-order.
        public var index: Int
        /// The displays it covers, bezel gaps included.
        public var rect: PixelRect
        /// Tiles of its preset in slot order (slot 0 is the largest); one tile covering the
        /// region for map, incident and web regions.
        public var slots: [PixelRect]
    }

    public let definition: WallDefinition
    public let canvasWidth: Int
    public let canvasHeight: Int
    /// Row-major.
    public let displays: [Display]
    public let regions: [PlacedRegion]

    public var id: String { definition.id }
    public var tuning: LayoutTuning { definition.tuning }

    /// The whole canvas as a rectangle.
    public var canvas: PixelRect { PixelRect(x: 0, y: 0, width: canvasWidth, height: canvasHeight) }

    /// Derives the geometry of a definition that passed ``WallDefinition/problems()``.
    init(checked definition: WallDefinition) {
        let geometry = WallGeometry(definition)
        self.definition = definition
        canvasWidth = geometry.canvasWidth
        canvasHeight = geometry.canvasHeight
        var displays: [Display] = []
        for row in 0..<definition.rows {
            for column in 0..<definition.columns {
                displays.append(
                    Display(
                        id: WallDefinition.displayID(row: row, column: column), row: row, column: column,
                        rect: geometry.displayRect(row: row, column: column)))
            }
        }
        self.displays = displays
        regions = definition.regions.enumerated().map { index, region in
            let rect = geometry.rect(of: region.area)
            var slots = [rect]
            if let placement = region.content.placement,
                case .success(let placed) = geometry.slots(for: region.area, placement: placement)
            {
                slots = placed
            }
            return PlacedRegion(region: region, index: index, rect: rect, slots: slots)
        }
    }

    /// The display with this id (`r0c1`), nil when the wall has none.
    public func display(id: String) -> Display? { displays.first { $0.id == id } }
}
