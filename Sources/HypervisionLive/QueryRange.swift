#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import HypervisionCore

/// The latitude/longitude rectangle a query scans before its exact test: one latitude interval and
/// up to two longitude intervals (two when it straddles the antimeridian).
///
/// For a radius it is a conservative envelope of the geodesic disc: every point within the radius
/// is inside it, whatever the latitude, so the exact Vincenty test that follows never misses one.
struct QueryRange: Sendable {
    var south: Double
    var north: Double
    var west0: Double
    var east0: Double
    /// A second longitude interval, empty (`west1 > east1`) unless the range wraps.
    var west1: Double = 1
    var east1: Double = 0

    /// Every point on Earth.
    static let everything = QueryRange(south: -90, north: 90, west0: -180, east0: 180)

    var coversEverything: Bool { south <= -90 && north >= 90 && west0 <= -180 && east0 >= 180 }

    @inline(__always)
    func contains(latitude: Double, longitude: Double) -> Bool {
        guard latitude >= south, latitude <= north else { return false }
        return (longitude >= west0 && longitude <= east0) || (longitude >= west1 && longitude <= east1)
    }

    /// The planar box itself, split in two when it crosses the antimeridian.
    init(_ box: BoundingBox) {
        south = box.south
        north = box.north
        if box.crossesAntimeridian {
            west0 = box.west
            east0 = 180
            west1 = -180
            east1 = box.east
        } else {
            west0 = box.west
            east0 = box.east
        }
    }

    init(south: Double, north: Double, west0: Double, east0: Double) {
        self.south = south
        self.north = north
        self.west0 = west0
        self.east0 = east0
    }

    /// The smallest metres per degree of latitude on WGS 84 (at the equator: a(1−e²)·π/180 ≈
    /// 110,574 m), rounded down for margin. A geodesic is never shorter than the meridian arc
    /// between its end latitudes, so |Δlat| ≤ distance / this.
    static let minimumMetresPerDegreeOfLatitude = 110_000.0

    /// A conservative envelope of all points within `radius` metres (geodesic) of `center`.
    ///
    /// Latitude: from the meridian-arc bound above. Longitude: the chord between two points is at
    /// most their geodesic distance, and its projection on the equatorial plane is at least
    /// 2·ρ·sin(Δλ/2) where ρ ≥ a·cos(φ) is the smallest parallel radius reached (N(φ) ≥ a), so
    /// Δλ ≤ 2·asin(r / 2ρ). When the disc reaches a pole, every longitude is possible. The radius
    /// is first padded by 0.6% + 1 m, a generous margin for the solvers' rounding: it only adds a
    /// few candidates, which the exact distance then filters.
    init(around center: GeoPoint, radius: Double) {
        let r = max(0, radius) * 1.006 + 1
        let dLat = r / Self.minimumMetresPerDegreeOfLatitude
        let south = center.latitude - dLat
        let north = center.latitude + dLat
        if south <= -90 || north >= 90 || !dLat.isFinite {
            self.init(south: max(-90, south), north: min(90, north), west0: -180, east0: 180)
            return
        }
        let highest = max(abs(south), abs(north)) * .pi / 180
        let rho = Geodesy.semiMajorAxis * cos(highest)
        let s = r / (2 * rho)
        guard s < 1 else {
            self.init(south: south, north: north, west0: -180, east0: 180)
            return
        }
        let dLon = 2 * asin(s) * 180 / .pi + 1e-9
        guard dLon < 180 else {
            self.init(south: south, north: north, west0: -180, east0: 180)
            return
        }
        let west = center.longitude - dLon
        let east = center.longitude + dLon
        self.init(south: south, north: north, west0: max(west, -180), east0: min(east, 180))
        if west < -180 {
            west1 = west + 360
            east1 = 180
        } else if east > 180 {
            west1 = -180
            east1 = east - 360
        }
    }
}
