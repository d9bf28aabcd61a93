
/// A polygon with optional holes, as in a GeoJSON `Polygon`: the first ring is the outer
/// boundary, the others are holes. Every ring is closed (last position equals the first).
///
/// ``covers(_:)`` follows PostGIS `ST_Covers(polygon::geometry, point::geometry)`: the test is
/// planar in longitude/latitude degrees (straight edges on the plate carrée, not geodesics, and
/// no wrapping at the antimeridian — a sector across ±180 must be sent as two polygons, as in
/// PostGIS geometry), and a point on any ring, outer or hole, counts as covered. Inside is decided
/// by the even-odd rule over all rings, which for a valid polygon (holes inside the shell, rings
/// not crossing) is exactly "inside the shell and not strictly inside a hole". Validity in the
/// OGC sense (self-intersection) is not checked; PostGIS does not check it in `ST_Covers` either.
/// A point lying within a few ulps of an edge may be classified either way: PostGIS uses robust
/// predicates, this uses plain doubles.
public struct GeoPolygon: Sendable, Hashable {
    /// The default bound on positions over all rings: large enough for a hand-drawn sector or a
    /// commune boundary, small enough that one request cannot make the server index megabytes.
    public static let maximumVertices = 10_000

    /// Outer ring first, then the holes; each ring closed.
    public let rings: [[GeoPoint]]
    /// The planar extent of all rings (never crossing the antimeridian: planar semantics). For a
    /// valid polygon it is the outer ring's; taking every ring keeps ``covers(_:)`` exactly the
    /// even-odd rule even for a hole drawn outside its shell.
    public let bounds: BoundingBox
    private let index: EdgeIndex

    /// Creates a polygon after checking its rings: at least one ring, at least four positions per
    /// ring, each ring closed, every position a valid WGS 84 point, and at most `maximumVertices`
    /// positions in all.
    public init(rings: [[GeoPoint]], maximumVertices: Int = GeoPolygon.maximumVertices) throws(ValidationError) {
        guard !rings.isEmpty else { throw ValidationError(.polygonEmpty, "a polygon needs at least one ring") }
        let total = rings.reduce(0) { $0 + $1.count }
        guard total <= maximumVertices else {
            throw ValidationError(
                .polygonTooManyVertices, "the polygon has \(total) positions; at most \(maximumVertices) are accepted")
        }
        for (r, ring) in rings.enumerated() {
            guard ring.count >= 4 else {
                throw ValidationError(
                    .polygonRingTooShort,
                    "ring \(r) has \(ring.count) positions; a closed ring needs at least 4 (the first repeated last)")
            }
            for (p, point) in ring.enumerated() {
                do {
                    _ = try GeoPoint.validated(latitude: point.latitude, longitude: point.longitude)
                } catch {
                    throw ValidationError(error.code, "ring \(r) position \(p): \(error.message)")
                }
            }
            guard ring.first == ring.last else {
                throw ValidationError(.polygonRingNotClosed, "ring \(r) is not closed: its last position must equal its first")
            }
        }
        self.rings = rings
        var west = Double.infinity, south = Double.infinity, east = -Double.infinity, north = -Double.infinity
        for point in rings.joined() {
            west = min(west, point.longitude)
            east = max(east, point.longitude)
            south = min(south, point.latitude)
            north = max(north, point.latitude)
        }
        self.bounds = BoundingBox(unchecked: west, south, east, north)
        self.index = EdgeIndex(rings: rings)
    }

    /// Creates a polygon from GeoJSON `coordinates` of a `Polygon`: rings of `[lon, lat]` or
    /// `[lon, lat, alt]` positions (the altitude is ignored).
    public init(geoJSONCoordinates coordinates: [[[Double]]], maximumVertices: Int = GeoPolygon.maximumVertices)
        throws(ValidationError)
    {
        let total = coordinates.reduce(0) { $0 + $1.count }
        guard total <= maximumVertices else {
            throw ValidationError(
                .polygonTooManyVertices, "the polygon has \(total) positions; at most \(maximumVertices) are accepted")
        }
        var rings: [[GeoPoint]] = []
        rings.reserveCapacity(coordinates.count)
        for (r, ring) in coordinates.enumerated() {
            var points: [GeoPoint] = []
            points.reserveCapacity(ring.count)
            for (p, position) in ring.enumerated() {
                guard position.count == 2 || position.count == 3 else {
                    throw ValidationError(
                        .positionInvalid, "ring \(r) position \(p) has \(position.count) numbers; expected [lon, lat] or [lon, lat, alt]")
                }
                points.append(GeoPoint(latitude: position[1], longitude: position[0]))
            }
            rings.append(points)
        }
        try self.init(rings: rings, maximumVertices: maximumVertices)
    }

    /// Whether `point` is inside the polygon or on its boundary (see the type's discussion).
    public func covers(_ point: GeoPoint) -> Bool {
        guard bounds.contains(point) else { return false }
        return index.covers(x: point.longitude, y: point.latitude)
    }

    public static func == (lhs: GeoPolygon, rhs: GeoPolygon) -> Bool { lhs.rings == rhs.rings }
    public func hash(into hasher: inout Hasher) { hasher.combine(rings) }
}

/// The polygon's edges bucketed by latitude band, so a point test looks only at the edges whose
/// latitude span contains the point instead of all 10,000 (a horizontal ray from the point can
/// only cross such edges, and the point can only lie on such edges).
private struct EdgeIndex: Sendable {
    struct Edge: Sendable {
        var x1, y1, x2, y2: Double
        var minX, maxX, minY, maxY: Double
    }

    let edges: [Edge]
    let minY: Double
    let bandHeight: Double
    let bandCount: Int
    /// Compressed rows: the edges of band `b` are `bandEdges[bandStarts[b]..<bandStarts[b + 1]]`.
    let bandStarts: [Int32]
    let bandEdges: [Int32]

    init(rings: [[GeoPoint]]) {
        var edges: [Edge] = []
        for ring in rings {
            for i in 0..<(ring.count - 1) {
                let a = ring[i], b = ring[i + 1]
                edges.append(
                    Edge(
                        x1: a.longitude, y1: a.latitude, x2: b.longitude, y2: b.latitude,
                        minX: min(a.longitude, b.longitude), maxX: max(a.longitude, b.longitude),
                        minY: min(a.latitude, b.latitude), maxY: max(a.latitude, b.latitude)))
            }
        }
        let minY = edges.map(\.minY).min() ?? 0
        let maxY = edges.map(\.maxY).max() ?? 0
        let span = maxY - minY
        // About four edges per band; fewer bands when long edges would be copied into too many
        // of them (a star of spikes spanning the whole height), so the index stays O(edges).
        var bandCount = span > 0 ? max(1, min(4_096, edges.count / 4)) : 1
        while bandCount > 1 {
            let height = span / Double(bandCount)
            let copies = edges.reduce(0) { total, edge in
                total + Self.band(edge.maxY, minY, height, bandCount) - Self.band(edge.minY, minY, height, bandCount) + 1
            }
            if copies <= 8 * edges.count + 1_024 { break }
            bandCount /= 2
        }
        let height = span > 0 ? span / Double(bandCount) : 1
        var counts = [Int32](repeating: 0, count: bandCount + 1)
        for edge in edges {
            for b in Self.band(edge.minY, minY, height, bandCount)...Self.band(edge.maxY, minY, height, bandCount) {
                counts[b + 1] += 1
            }
        }
        for b in 0..<bandCount { counts[b + 1] += counts[b] }
        var fill = counts
        var bandEdges = [Int32](repeating: 0, count: Int(counts[bandCount]))
        for (e, edge) in edges.enumerated() {
            for b in Self.band(edge.minY, minY, height, bandCount)...Self.band(edge.maxY, minY, height, bandCount) {
                bandEdges[Int(fill[b])] = Int32(e)
                fill[b] += 1
            }
        }
        self.edges = edges
        self.minY = minY
        self.bandHeight = height
        self.bandCount = bandCount
        self.bandStarts = counts
        self.bandEdges = bandEdges
    }

    /// Monotone in `y`, so an edge spanning [minY, maxY] is listed in every band a point with a
    /// latitude in that span maps to.
    @inline(__always)
    static func band(_ y: Double, _ minY: Double, _ height: Double, _ count: Int) -> Int {
        let b = ((y - minY) / height).rounded(.down)
        if !(b >= 0) { return 0 }
        return b >= Double(count - 1) ? count - 1 : Int(b)
    }

    func covers(x: Double, y: Double) -> Bool {
        let b = Self.band(y, minY, bandHeight, bandCount)
        var inside = false
        for i in bandStarts[b]..<bandStarts[b + 1] {
            let e = edges[Int(bandEdges[Int(i)])]
            guard y >= e.minY, y <= e.maxY else { continue }
            // On the boundary: collinear with the edge and within its extent.
            if x >= e.minX, x <= e.maxX, (e.x2 - e.x1) * (y - e.y1) - (e.y2 - e.y1) * (x - e.x1) == 0 {
                return true
            }
            // Even-odd crossing of a ray towards +x, half-open in y so a vertex is counted once.
            if (e.y1 > y) != (e.y2 > y) {
                let xCross = e.x1 + (y - e.y1) * (e.x2 - e.x1) / (e.y2 - e.y1)
                if x < xCross { inside.toggle() }
            }
        }
        return inside
    }
}
