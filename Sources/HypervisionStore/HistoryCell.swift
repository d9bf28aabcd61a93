import Foundation
import HypervisionCore

/// The coarse spatial key of a stored ping: the 0.002° × 0.002° cell of a latitude/longitude
/// grid that holds its position (about 220 m north–south, less east–west away from the equator).
///
/// History rows carry no spatial index: a GiST entry per ping cost more than the row itself
/// (README, Storage). A question about a place and a time window reads the window's blocks
/// (BRIN on time) and keeps only rows whose cell can hold a point within the radius, an integer
/// test, before the exact geodesic distance runs on the few left. The cells are small and each
/// row of them is cut to the circle's width there, so few rows reach PostGIS that are not
/// within the radius: each call costs a microsecond or two, the integer test nanoseconds.
///
/// Cell numbers: `row * 180_001 + column`, row = ⌊(latitude + 90) × 500⌋ in [0, 90_000], column =
/// ⌊(longitude + 180) × 500⌋ in [0, 180_000]. Within a row, neighbouring columns are consecutive
/// numbers, so a search area is one integer range per row.
public enum HistoryCell {
    static let cellsPerDegree = 500.0
    static let columns: Int64 = 180_001
    /// Beyond this many rows (a radius of about 11 km) the ranges are not worth it.
    static let maximumRows = 100
    /// A conservative metres-per-degree of latitude: the true figure on WGS 84 is at least
    /// 110,574 m, and of longitude at least 111,319 m × cos(latitude); computed with less, a
    /// band is never too narrow.
    static let metresPerDegree = 110_000.0

    /// The cell of `point`.
    public static func cell(of point: GeoPoint) -> Int64 {
        let row = Int64((point.latitude + 90) * cellsPerDegree)
        let column = Int64((point.longitude + 180) * cellsPerDegree)
        return row * columns + column
    }

    /// The ranges of cells that can hold a point within `radius` metres (geodesic, on the WGS 84
    /// spheroid) of `center`, one per grid row, each as wide as the circle is across that row;
    /// nil when the area reaches a pole or the antimeridian, or is too large to be worth ranges:
    /// then every row of the window is tested exactly.
    public static func ranges(around center: GeoPoint, radius: Double) -> [ClosedRange<Int64>]? {
        guard radius.isFinite, radius >= 0 else { return nil }
        let latitudeSpan = radius / metresPerDegree
        let south = center.latitude - latitudeSpan, north = center.latitude + latitudeSpan
        guard south > -89, north < 89 else { return nil }
        let firstRow = Int64((south + 90) * cellsPerDegree), lastRow = Int64((north + 90) * cellsPerDegree)
        guard lastRow - firstRow < maximumRows else { return nil }
        // The narrowest degree of longitude in the band, at its latitude farthest from the
        // equator, gives the widest span in degrees.
        let farthest = max(abs(south), abs(north))
        let metresPerDegreeOfLongitude = metresPerDegree * cos(farthest * .pi / 180)
        let longitudeSpan = radius / metresPerDegreeOfLongitude
        guard center.longitude - longitudeSpan > -180, center.longitude + longitudeSpan < 180 else { return nil }
        return (firstRow...lastRow).map { row in
            // How far north or south of the centre the row's nearest edge is (0 if the row holds
            // the centre's latitude), and so how wide the circle can be within the row. The
            // metres are understated (110,000 per degree), so the width is overstated.
            let rowSouth = Double(row) / cellsPerDegree - 90, rowNorth = Double(row + 1) / cellsPerDegree - 90
            let offset = max(0, max(rowSouth - center.latitude, center.latitude - rowNorth)) * metresPerDegree
            let halfWidth = (max(0, radius * radius - offset * offset)).squareRoot() / metresPerDegreeOfLongitude
            let west = Int64((center.longitude - halfWidth + 180) * cellsPerDegree)
            let east = Int64((center.longitude + halfWidth + 180) * cellsPerDegree)
            return (row * columns + west)...(row * columns + east)
        }
    }

    /// `ranges` as an SQL condition on `column`: rows stored before cells existed (NULL) are
    /// always kept for the exact test. The numbers are integers we made, so they are written in.
    ///
    /// The ranges' whole span is tested first: one comparison drops the rows outside the band
    /// of latitudes, where the list of ranges (one per grid row, 10 to 20 for a kilometre) would
    /// be tried one by one. In a window of pings over a city that is most rows: the question
    /// ran in 51–56 ms instead of 59–87 ms on 10M stored pings (psql, six runs each, 2026-12-07).
    public static func condition(column: String, around center: GeoPoint, radius: Double) -> String {
        guard let ranges = ranges(around: center, radius: radius), let low = ranges.map(\.lowerBound).min(),
            let high = ranges.map(\.upperBound).max()
        else { return "true" }
        let tests = ranges.map { "\(column) BETWEEN \($0.lowerBound) AND \($0.upperBound)" }
        return "(\(column) IS NULL OR (\(column) BETWEEN \(low) AND \(high) AND (" + tests.joined(separator: " OR ") + ")))"
    }
}
