/// A rectangle in whole pixels: `x`, `y` of the top-left corner, then its size.
///
/// Whole pixels because renderers place video surfaces on pixel boundaries, and because integer
/// arithmetic is what makes the same inputs give a byte-identical scene on every machine.
public struct PixelRect: Sendable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// One past the right edge.
    public var maxX: Int { x + width }
    /// One past the bottom edge.
    public var maxY: Int { y + height }
    public var area: Int { width * height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }

    /// The centre, doubled so that it stays an integer (used only for comparing distances).
    var doubledCenter: (x: Int, y: Int) { (2 * x + width, 2 * y + height) }

    /// Whether the two rectangles share at least one pixel (touching edges do not count).
    public func intersects(_ other: PixelRect) -> Bool {
        x < other.maxX && other.x < maxX && y < other.maxY && other.y < maxY
    }

    /// The pixels both rectangles share, or nil when they share none.
    public func intersection(_ other: PixelRect) -> PixelRect? {
        let left = max(x, other.x), top = max(y, other.y)
        let right = min(maxX, other.maxX), bottom = min(maxY, other.maxY)
        guard left < right, top < bottom else { return nil }
        return PixelRect(x: left, y: top, width: right - left, height: bottom - top)
    }

    /// Whether `other` lies entirely inside this rectangle.
    public func contains(_ other: PixelRect) -> Bool {
        other.x >= x && other.y >= y && other.maxX <= maxX && other.maxY <= maxY
    }

    /// The same rectangle seen from a coordinate system whose origin is at `origin`.
    public func translated(byX dx: Int, y dy: Int) -> PixelRect {
        PixelRect(x: x + dx, y: y + dy, width: width, height: height)
    }

    public var description: String { "\(width)x\(height)+\(x)+\(y)" }
}

/// A width-to-height ratio kept as two integers (16:9), so the letterbox is exact.
public struct AspectRatio: Sendable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// The aspect of almost every surveillance stream; used when a source does not state one.
    public static let widescreen = AspectRatio(width: 16, height: 9)

    public var description: String { "\(width):\(height)" }
}

/// How a video is placed in its tile so that it keeps its aspect ratio.
///
/// The scene always carries the resulting content rectangle, so a renderer never has to redo the
/// arithmetic (and two renderers of one wall can never disagree about it).
public enum FitMode: String, Sendable, Hashable, CaseIterable {
    /// The whole picture is visible; bars fill the rest of the tile (letterbox or pillarbox).
    case contain
    /// The picture fills the tile; what overflows is cropped.
    case cover
    /// The picture is stretched to the tile (only for sources with no intrinsic aspect: maps, web pages).
    case fill
}

/// The placement of content inside a tile: the mode, the source aspect and the content rectangle.
public struct Fit: Sendable, Hashable {
    public var mode: FitMode
    /// The source's aspect ratio, nil for sources that adapt to any shape (maps, panels, web pages).
    public var aspect: AspectRatio?
    /// Where the content is drawn, in canvas pixels. Inside the tile for `contain` and `fill`;
    /// larger than the tile (and clipped to it) for `cover`.
    public var content: PixelRect

    public init(mode: FitMode, aspect: AspectRatio?, content: PixelRect) {
        self.mode = mode
        self.aspect = aspect
        self.content = content
    }

    /// Places content of `aspect` in `tile`, centred. Integer arithmetic only: the centring
    /// remainder goes to the right/bottom bar, so results are identical on every platform.
    public static func place(_ aspect: AspectRatio, in tile: PixelRect, mode: FitMode) -> Fit {
        guard aspect.width > 0, aspect.height > 0, !tile.isEmpty, mode != .fill else {
            return Fit(mode: mode == .fill ? .fill : mode, aspect: aspect, content: tile)
        }
        // Compare tile.w / tile.h with a.w / a.h without division.
        let tileIsWider = tile.width * aspect.height > tile.height * aspect.width
        let limitByHeight = (mode == .contain) == tileIsWider
        var width: Int, height: Int
        if limitByHeight {
            height = tile.height
            width = (tile.height * aspect.width + aspect.height / 2) / aspect.height
        } else {
            width = tile.width
            height = (tile.width * aspect.height + aspect.width / 2) / aspect.width
        }
        if mode == .contain {
            width = min(width, tile.width)
            height = min(height, tile.height)
        }
        let x = tile.x + floorDivide(tile.width - width, 2)
        let y = tile.y + floorDivide(tile.height - height, 2)
        return Fit(mode: mode, aspect: aspect, content: PixelRect(x: x, y: y, width: width, height: height))
    }
}

@inline(__always) func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
