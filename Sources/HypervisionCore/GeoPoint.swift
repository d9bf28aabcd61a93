/// A position on the WGS 84 ellipsoid, in decimal degrees.
///
/// Latitude is in [-90, 90] and longitude in [-180, 180]; construct one through
/// ``GeoPoint/validated(latitude:longitude:)`` when the values come from outside.
public struct GeoPoint: Sendable, Hashable, CustomStringConvertible {
    public var latitude: Double
    public var longitude: Double

    /// Creates a point without checking it. Use for values that are already known to be valid.
    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }

    /// Creates a point after checking that both coordinates are finite and in range.
    public static func validated(latitude: Double, longitude: Double) throws(ValidationError) -> GeoPoint {
        guard latitude.isFinite else { throw ValidationError(.notFinite, "lat is not a finite number") }
        guard longitude.isFinite else { throw ValidationError(.notFinite, "lon is not a finite number") }
        guard (-90.0...90.0).contains(latitude) else {
            throw ValidationError(.latOutOfRange, "lat \(latitude) is outside [-90, 90]")
        }
        guard (-180.0...180.0).contains(longitude) else {
            throw ValidationError(.lonOutOfRange, "lon \(longitude) is outside [-180, 180]")
        }
        return GeoPoint(latitude: latitude, longitude: longitude)
    }

    public var description: String { "\(latitude),\(longitude)" }
}
