import HypervisionCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a zone analysis grid cannot be made.
public enum ZoneGridError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The box reaches beyond Web Mercator's latitudes (±``ZoneGrid/maximumLatitude``), where
    /// PostGIS cannot project it.
    case outsideProjection(latitude: Double)
    /// The box crosses the antimeridian (west > east).
    case crossesAntimeridian
    /// The cell size is not a positive, finite length.
    case cellSizeInvalid(Double)

    public var description: String {
        switch self {
        case .outsideProjection(let latitude):
            return "latitude \(latitude) is beyond ±\(ZoneGrid.maximumLatitude), the limit of the Web Mercator projection the cells are drawn in"
        case .crossesAntimeridian: return "a zone analysis box cannot cross the antimeridian"
        case .cellSizeInvalid(let size): return "cell size \(size) m is not a positive length"
        }
    }
}

/// The hexagonal cells of a zone analysis, exactly as PostGIS draws them.
///
/// The cells are `ST_HexagonGrid(size, box)` with the box projected to Web Mercator (EPSG:3857),
/// where `size` (the edge) is stretched by 1 / cos(latitude) so that a cell measures
/// ``cellMetres`` on the ground at the box's centre latitude. How many cells that is depends on
/// the *projected* box, not on the ground: near the poles Mercator stretches north–south
/// distances without bound, and a box spanning all longitudes is 40,075 km wide, although its
/// west and east edges are the same meridian. So the count is computed here the way
/// PostGIS computes its grid (`lwgeom_generate_grid.c`, PostGIS 3.1 and later):
///
/// - the projected box is the envelope's bounding box as PostGIS serialises it: each edge
///   rounded outwards to a 32-bit float;
/// - columns are `1.5 × size` apart, and the first and last are dropped when the box only grazes
///   them by less than their half-overlap;
/// - rows are `√3 × size` apart, offset by half a row in odd columns, so even and odd columns
///   have their own row ranges.
///
/// ``cellCount`` is then the number of rows `ST_HexagonGrid` returns; the tests compare it with
/// PostGIS on random boxes.
public struct ZoneGrid: Sendable, Hashable {
    /// Web Mercator's latitude limit: the world is square there (`atan(sinh(π))`).
    public static let maximumLatitude = 85.051_128_779_806_59
    /// The sphere's radius of EPSG:3857.
    static let radius = 6_378_137.0

    public let west: Double
    public let south: Double
    public let east: Double
    public let north: Double
    /// The cell edge asked for, in metres on the ground at the centre latitude.
    public let cellMetres: Double
    /// The edge in projected metres: the `size` argument of `ST_HexagonGrid`.
    public let projectedEdge: Double
    /// The grid's column range, and the row ranges of even and odd columns (PostGIS's `i`, `j`).
    public let columns: ClosedRange<Int64>
    public let evenRows: ClosedRange<Int64>
    public let oddRows: ClosedRange<Int64>

    /// Plans the grid of `cellMetres` cells over a box in degrees (already valid as a
    /// ``BoundingBox``). Refuses boxes PostGIS cannot project and ones crossing the antimeridian.
    public init(cellMetres: Double, west: Double, south: Double, east: Double, north: Double) throws(ZoneGridError) {
        guard cellMetres.isFinite, cellMetres > 0 else { throw .cellSizeInvalid(cellMetres) }
        guard west <= east else { throw .crossesAntimeridian }
        for latitude in [south, north] where !(abs(latitude) <= Self.maximumLatitude) {
            throw .outsideProjection(latitude: latitude)
        }
        self.west = west
        self.south = south
        self.east = east
        self.north = north
        self.cellMetres = cellMetres
        // Web Mercator stretches lengths by 1/cos(latitude): scale the cell so it measures
        // `cellMetres` on the ground at the box's centre latitude.
        let size = cellMetres / cos((south + north) / 2 * .pi / 180)
        projectedEdge = size
        let xmin = Double(Self.floatDown(Self.x(west))), xmax = Double(Self.floatUp(Self.x(east)))
        let ymin = Double(Self.floatDown(Self.y(south))), ymax = Double(Self.floatUp(Self.y(north)))
        // PostGIS's hexagon_grid_state, in the same order of floating-point operations.
        let columnWidth = 1.5 * size
        let rowHeight = size * 2 * 0.8660254037844387
        var first = (xmin / columnWidth).rounded(.down)
        if xmin - first * columnWidth > size { first += 1 }
        var last = (xmax / columnWidth).rounded(.up)
        if last * columnWidth - xmax > size { last -= 1 }
        // PostGIS walks at least the first column even when the range is empty.
        columns = Int64(first)...Int64(max(first, last))
        evenRows = Int64((ymin / rowHeight + 0.5).rounded(.down))...Int64((ymax / rowHeight + 0.5).rounded(.down))
        oddRows = Int64((ymin / rowHeight).rounded(.down))...Int64((ymax / rowHeight).rounded(.down))
    }

    /// How many cells `ST_HexagonGrid` generates over the box.
    public var cellCount: Int64 {
        // Odd and even as C's `i % 2` tells them: -1 is odd.
        let evens = Self.floorDiv(columns.upperBound, 2) - Self.floorDiv(columns.lowerBound + 1, 2) + 1
        let odds = Int64(columns.count) - evens
        return evens * Int64(evenRows.count) + odds * Int64(oddRows.count)
    }

    /// Longitude to EPSG:3857 x, as PROJ's `webmerc` computes it.
    static func x(_ longitude: Double) -> Double { radius * (longitude * (Double.pi / 180)) }

    /// Latitude to EPSG:3857 y, as PROJ's `webmerc` computes it (`asinh(tan φ)`).
    static func y(_ latitude: Double) -> Double { radius * asinh(tan(latitude * (Double.pi / 180))) }

    /// The largest 32-bit float at or below `value` (PostGIS's `next_float_down`).
    static func floatDown(_ value: Double) -> Float {
        let rounded = Float(value)
        return Double(rounded) <= value ? rounded : rounded.nextDown
    }

    /// The smallest 32-bit float at or above `value` (PostGIS's `next_float_up`).
    static func floatUp(_ value: Double) -> Float {
        let rounded = Float(value)
        return Double(rounded) >= value ? rounded : rounded.nextUp
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
