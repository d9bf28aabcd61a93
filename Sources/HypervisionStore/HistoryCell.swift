import Foundation
import HypervisionCore

/// The coarse spatial key of a stored ping: the 0.01° × 0.01° cell of a latitude/longitude grid
/// that holds its position (about 1.1 km north–south, less east–west away from the equator).
///
/// History rows carry no spatial index: a GiST entry per ping cost more than the row itself
/// (README, Storage). A question about a place and a time window reads the window's blocks
/// (BRIN on time) and keeps only rows whose cell can hold a point within the radius, an integer
/// test, before the exact geodesic distance runs on the few left.
///
/// Cell numbers: `row * 36_001 + column`, row = ⌊(latitude + 90) × 100⌋ in [0, 18_000], column =
/// ⌊(longitude + 180) × 100⌋ in [0, 36_000]. Within a row, neighbouring columns are consecutive
/// numbers, so a search area is one integer range per row.
public enum HistoryCell {
    static let cellsPerDegree = 100.0
    static let columns: Int32 = 36_001
    /// Beyond this many rows (a radius of about 20 km) the ranges are not worth it.
    static let maximumRows = 40
    /// A conservative metres-per-degree of latitude: the true figure on WGS 84 is at least
    /// 110,574 m, so a band computed with less is never too narrow.
    static let metresPerDegree = 110_000.0

    /// The cell of `point`.
    public static func cell(of point: GeoPoint) -> Int32 {
        let row = Int32((point.latitude + 90) * cellsPerDegree)
        let column = Int32((point.longitude + 180) * cellsPerDegree)
        return row * columns + column
    }

    /// The ranges of cells that can hold a point within `radius` metres (geodesic, on the WGS 84
    /// spheroid) of `center`, one per grid row; nil when the area reaches a pole or the
    /// antimeridian, or is too large to be worth ranges: then every row is tested exactly.
    public static func ranges(around center: GeoPoint, radius: Double) -> [ClosedRange<Int32>]? {
        guard radius.isFinite, radius >= 0 else { return nil }
        let latitudeSpan = radius / metresPerDegree
        let south = center.latitude - latitudeSpan, north = center.latitude + latitudeSpan
        guard south > -89, north < 89 else { return nil }
        // A degree of longitude is at least 111,319 m × cos(latitude) on WGS 84; the band's
        // latitude farthest from the equator gives the narrowest degree, so the widest span.
        let farthest = max(abs(south), abs(north))
        let longitudeSpan = radius / (metresPerDegree * cos(farthest * .pi / 180))
        let west = center.longitude - longitudeSpan, east = center.longitude + longitudeSpan
        guard west > -180, east < 180 else { return nil }
        let firstRow = Int32((south + 90) * cellsPerDegree), lastRow = Int32((north + 90) * cellsPerDegree)
        guard lastRow - firstRow < maximumRows else { return nil }
        let firstColumn = Int32((west + 180) * cellsPerDegree), lastColumn = Int32((east + 180) * cellsPerDegree)
        return (firstRow...lastRow).map { row in (row * columns + firstColumn)...(row * columns + lastColumn) }
    }

    /// `ranges` as an SQL condition on `column`: rows stored before cells existed (NULL) are
    /// always kept for the exact test. The numbers are integers we made, so they are written in.
    public static func condition(column: String, around center: GeoPoint, radius: Double) -> String {
        guard let ranges = ranges(around: center, radius: radius) else { return "true" }
        let tests = ranges.map { "\(column) BETWEEN \($0.lowerBound) AND \($0.upperBound)" }
        return "(\(column) IS NULL OR " + tests.joined(separator: " OR ") + ")"
    }
}
