
/// A longitude/latitude rectangle, `west,south,east,north` in degrees, as in `?bbox=` and
/// RFC 7946 §5.
///
/// Semantics are planar in degrees with the edges included, like PostGIS
/// `ST_Intersects(position::geometry, ST_MakeEnvelope(west, south, east, north, 4326))`: a point is
/// inside when `south <= lat <= north` and its longitude lies in `[west, east]`. When `west > east`
/// the box crosses the antimeridian (RFC 7946 §5.2) and the longitude test becomes
/// `lon >= west || lon <= east`; the meridian ±180 belongs to such a box under both spellings.
public struct BoundingBox: Sendable, Hashable, CustomStringConvertible {
    public let west: Double
    public let south: Double
    public let east: Double
    public let north: Double

    /// Creates a box after checking every edge: finite, latitudes in [-90, 90], longitudes in
    /// [-180, 180], and `south <= north`.
    public init(west: Double, south: Double, east: Double, north: Double) throws(ValidationError) {
        for (name, value) in [("west", west), ("south", south), ("east", east), ("north", north)] {
            guard value.isFinite else { throw ValidationError(.notFinite, "bbox \(name) is not a finite number") }
        }
        for (name, value) in [("west", west), ("east", east)] where !(-180.0...180.0).contains(value) {
            throw ValidationError(.lonOutOfRange, "bbox \(name) \(value) is outside [-180, 180]")
        }
        for (name, value) in [("south", south), ("north", north)] where !(-90.0...90.0).contains(value) {
            throw ValidationError(.latOutOfRange, "bbox \(name) \(value) is outside [-90, 90]")
        }
        guard south <= north else {
            throw ValidationError(.bboxSouthAboveNorth, "bbox south \(south) is north of north \(north)")
        }
        self.init(unchecked: west, south, east, north)
    }

    /// Parses `west,south,east,north` (the `?bbox=` query parameter). Spaces around the numbers
    /// are tolerated because people paste boxes from GIS tools that write `2.25, 48.81, …`.
    public init(parsing text: some StringProtocol) throws(ValidationError) {
        // Bounded before splitting: a query parameter is attacker-sized.
        guard text.utf8.count <= 200 else {
            throw ValidationError(.bboxInvalid, "bbox must be four numbers west,south,east,north")
        }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            throw ValidationError(
                .bboxInvalid, "bbox must be four numbers west,south,east,north (found \(parts.count) fields)")
        }
        var values: [Double] = []
        for (index, part) in parts.enumerated() {
            let trimmed = part.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()
            // Decimal only: `Double(_:)` would also read hex floats, `nan` and `inf`.
            guard let value = Double(decimalText: String(trimmed)) else {
                let name = ["west", "south", "east", "north"][index]
                if let other = Double(String(trimmed)), !other.isFinite {
                    throw ValidationError(.notFinite, "bbox \(name) is not a finite number")
                }
                throw ValidationError(.bboxInvalid, "bbox \(name) \"\(String(part.prefix(24)))\" is not a number")
            }
            values.append(value)
        }
        try self.init(west: values[0], south: values[1], east: values[2], north: values[3])
    }

    /// Creates a box from edges already known to be valid: a polygon's extent, a viewport the
    /// layout engine computed within range. Nothing is checked.
    public init(trustedWest west: Double, south: Double, east: Double, north: Double) {
        self.init(unchecked: west, south, east, north)
    }

    init(unchecked west: Double, _ south: Double, _ east: Double, _ north: Double) {
        self.west = west
        self.south = south
        self.east = east
        self.north = north
    }

    /// Whether the box wraps across the antimeridian (its west edge is east of its east edge).
    public var crossesAntimeridian: Bool { west > east }

    /// Whether `point` lies inside the box or on its edges.
    public func contains(_ point: GeoPoint) -> Bool {
        guard point.latitude >= south, point.latitude <= north else { return false }
        if crossesAntimeridian { return point.longitude >= west || point.longitude <= east }
        return point.longitude >= west && point.longitude <= east
    }

    /// The middle of the box (across the antimeridian when the box crosses it).
    public var center: GeoPoint {
        var longitude = (west + east) / 2
        if crossesAntimeridian { longitude = longitude > 0 ? longitude - 180 : longitude + 180 }
        return GeoPoint(latitude: (south + north) / 2, longitude: longitude)
    }

    public var description: String { "\(west),\(south),\(east),\(north)" }
}
