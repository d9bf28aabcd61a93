
// Codes for the query shapes (boxes, polygons) that HTTP queries and configuration files carry.
// Like the other codes they are published on the wire
// (HTTP 400 bodies) and never change once released.
extension ValidationError.Code {
    /// A `bbox` is not four comma-separated numbers `west,south,east,north`.
    public static let bboxInvalid = Self(rawValue: "bbox_invalid")
    /// A `bbox` whose south edge lies north of its north edge (west > east is allowed: it crosses
    /// the antimeridian; south > north has no such reading).
    public static let bboxSouthAboveNorth = Self(rawValue: "bbox_south_above_north")
    /// A polygon with no ring at all.
    public static let polygonEmpty = Self(rawValue: "polygon_empty")
    /// A ring with fewer than four positions (a closed triangle needs four: the first repeated).
    public static let polygonRingTooShort = Self(rawValue: "polygon_ring_too_short")
    /// A ring whose last position is not its first (RFC 7946 §3.1.6).
    public static let polygonRingNotClosed = Self(rawValue: "polygon_ring_not_closed")
    /// More positions over all rings than a query may carry.
    public static let polygonTooManyVertices = Self(rawValue: "polygon_too_many_vertices")
    /// A GeoJSON position that is not two or three numbers `[lon, lat(, alt)]`.
    public static let positionInvalid = Self(rawValue: "position_invalid")
}
