import HypervisionCore
import HypervisionLive
import Synchronization


/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let current: Mutex<Timestamp>
    init(_ start: Timestamp) { current = Mutex(start) }
    var now: Timestamp { current.withLock { $0 } }
    func advance(seconds: Double) { current.withLock { $0 = $0.adding(seconds: seconds) } }
    var function: @Sendable () -> Timestamp { { self.now } }
}

let t0 = Timestamp(seconds: 1_795_000_000)

func id(_ text: String) -> UnitID { UnitID(trusted: text) }

func ping(
    _ unit: String, _ lat: Double, _ lon: Double, time: Timestamp, received: Timestamp? = nil,
    status: UnitStatus? = nil, battery: Int? = nil, speed: Double? = nil
) -> Ping {
    Ping(
        unit: id(unit), time: time, position: GeoPoint(latitude: lat, longitude: lon), speed: speed, status: status,
        battery: battery, receivedAt: received ?? time)
}

/// Wraps a longitude into [-180, 180] and folds latitudes past a pole over it, so clusters
/// drawn around a pole or the antimeridian stay valid points.
func normalized(latitude: Double, longitude: Double) -> GeoPoint {
    var lat = latitude, lon = longitude
    if lat > 90 {
        lat = 180 - lat
        lon += 180
    } else if lat < -90 {
        lat = -180 - lat
        lon += 180
    }
    while lon > 180 { lon -= 360 }
    while lon < -180 { lon += 360 }
    return GeoPoint(latitude: lat, longitude: lon)
}

/// Points that stress the index: clusters at the poles, on both sides of the antimeridian, at
/// the equator/antimeridian crossing, in a city, plus points spread over the globe and the
/// exact edges (±90, ±180).
func randomPoint(_ rng: inout SeededRandom) -> GeoPoint {
    let clusters: [(Double, Double, Double)] = [  // lat, lon, spread in degrees
        (0, 179.99, 0.05), (0, -179.99, 0.05), (45, 180, 0.3), (-30, -180, 0.3), (89.95, 0, 0.08),
        (89.999, 120, 0.01), (-89.9, -45, 0.2), (48.8566, 2.3522, 0.05), (65, 179.5, 1.0),
    ]
    switch Int.random(in: 0..<12, using: &rng) {
    case 0, 1:
        return GeoPoint(latitude: .random(in: -90...90, using: &rng), longitude: .random(in: -180...180, using: &rng))
    case 2:
        let edges: [Double] = [90, -90, 0]
        let lons: [Double] = [180, -180, 0, 179.999999]
        return GeoPoint(latitude: edges.randomElement(using: &rng)!, longitude: lons.randomElement(using: &rng)!)
    default:
        let (lat, lon, spread) = clusters.randomElement(using: &rng)!
        let dLat = Double.random(in: -spread...spread, using: &rng)
        let dLon = Double.random(in: -spread...spread, using: &rng) * (lat.magnitude > 80 ? 200 : 1)
        return normalized(latitude: lat + dLat, longitude: lon + dLon)
    }
}

/// The PostGIS-like answers computed the slow way, to compare the index against.
enum BruteForce {
    static func within(_ units: [LiveUnit], _ center: GeoPoint, _ radius: Double) -> [(UnitID, Double)] {
        units.compactMap { unit in
            let d = Geodesy.distance(center, unit.position)
            return d <= radius ? (unit.id, d) : nil
        }.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
    }

    static func nearest(_ units: [LiveUnit], _ center: GeoPoint, _ k: Int) -> [(UnitID, Double)] {
        Array(
            units.map { ($0.id, Geodesy.distance(center, $0.position)) }
                .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.prefix(k))
    }

    /// Plain even-odd over every edge, boundary inclusive: independent of the band index.
    static func covers(_ rings: [[GeoPoint]], _ p: GeoPoint) -> Bool {
        let x = p.longitude, y = p.latitude
        var inside = false
        for ring in rings {
            for i in 0..<(ring.count - 1) {
                let (x1, y1, x2, y2) = (ring[i].longitude, ring[i].latitude, ring[i + 1].longitude, ring[i + 1].latitude)
                if x >= min(x1, x2), x <= max(x1, x2), y >= min(y1, y2), y <= max(y1, y2),
                    (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) == 0
                {
                    return true
                }
                if (y1 > y) != (y2 > y), x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) { inside.toggle() }
            }
        }
        return inside
    }
}
