import HypervisionCore
import HypervisionLive
import HypervisionStore
import HypervisionTestSupport
import Logging
import PostgresNIO
import Testing

/// The live picture against PostGIS itself on the same points: radius (`ST_DWithin` on
/// geography), k nearest (`ORDER BY ST_Distance` on geography), bounding box (`ST_Intersects`
/// with `ST_MakeEnvelope`, split in two across the antimeridian) and polygon (`ST_Covers` on
/// geometry). Thousands of random points, with clusters at both poles, on both sides of the
/// antimeridian, on the exact edges ±90/±180, and a dense city.
@Suite(.serialized) struct PostGISComparisonTests {
    /// Distances from PostGIS (GeographicLib) and from the live picture (Vincenty) agree far
    /// better than this; radii closer than this to a point's distance are nudged away.
    static let tolerance = 0.001

    /// The points, their picture, and the database holding the same points in table `pts`.
    struct World: Sendable {
        let points: [(id: String, point: GeoPoint)]
        let picture: LivePicture
        let endpoint: DatabaseEndpoint
    }

    static func makeWorld(seed: UInt64, count: Int) async throws -> World {
        var rng = SeededRandom(seed: seed)
        var points: [(id: String, point: GeoPoint)] = []
        for i in 0..<count {
            let point: GeoPoint
            if i % 4 == 0 {
                // A dense city: Lyon, a few hundred metres across.
                point = GeoPoint(
                    latitude: 45.7640 + .random(in: -0.004...0.004, using: &rng), longitude: 4.8357 + .random(in: -0.006...0.006, using: &rng))
            } else {
                point = randomPoint(&rng)
            }
            let digits = String(i)
            points.append(("U" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits, point))
        }
        let picture = LivePicture(clock: { t0.adding(seconds: 10) })
        picture.load(positions: points.map { ping($0.id, $0.point.latitude, $0.point.longitude, time: t0) })

        let endpoint = try await TestPostgres.shared.makeDatabase()
        let ids = points.map(\.id), lons = points.map(\.point.longitude), lats = points.map(\.point.latitude)
        try await TestPostgres.withClient(endpoint) { client in
            let logger = TestPostgres.logger
            try await client.query("CREATE EXTENSION IF NOT EXISTS postgis", logger: logger)
            try await client.query(
                "CREATE TABLE pts (id text PRIMARY KEY, geog geography(Point, 4326) NOT NULL, geom geometry(Point, 4326) NOT NULL)",
                logger: logger)
            try await client.query(
                """
                INSERT INTO pts (id, geog, geom)
                SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326)::geography, ST_SetSRID(ST_MakePoint(x, y), 4326)
                FROM unnest(\(ids)::text[], \(lons)::float8[], \(lats)::float8[]) AS t(i, x, y)
                """, logger: logger)
            // What went in is what PostGIS holds, bit for bit.
            let rows = try await client.query("SELECT count(*) FROM pts WHERE ST_X(geom) = ST_X(geog::geometry) AND ST_Y(geom) = ST_Y(geog::geometry)", logger: logger)
            for try await stored in rows.decode(Int64.self) { #expect(stored == Int64(count)) }
        }
        #expect(picture.unitCount == count)
        return World(points: points, picture: picture, endpoint: endpoint)
    }

    /// `(id, distance)` rows of a query.
    static func rows(_ client: PostgresClient, _ query: PostgresQuery) async throws -> [(String, Double)] {
        var out: [(String, Double)] = []
        for try await row in try await client.query(query, logger: TestPostgres.logger).decode((String, Double).self) { out.append(row) }
        return out
    }

    static func ids(_ client: PostgresClient, _ query: PostgresQuery) async throws -> Set<String> {
        var out: Set<String> = []
        for try await id in try await client.query(query, logger: TestPostgres.logger).decode(String.self) { out.insert(id) }
        return out
    }

    /// Query centres: random ones drawn like the points, exact points of the data, and the
    /// places that break naive code.
    static func centres(_ world: World, _ rng: inout SeededRandom, count: Int) -> [GeoPoint] {
        var centres: [GeoPoint] = [
            GeoPoint(latitude: 90, longitude: 0), GeoPoint(latitude: -90, longitude: 0), GeoPoint(latitude: 0, longitude: 180),
            GeoPoint(latitude: 0, longitude: -180), GeoPoint(latitude: 45.7640, longitude: 4.8357),
            GeoPoint(latitude: 65, longitude: -179.9), GeoPoint(latitude: 89.99, longitude: 100),
        ]
        while centres.count < count {
            if Bool.random(using: &rng) {
                centres.append(world.points.randomElement(using: &rng)!.point)
            } else {
                centres.append(randomPoint(&rng))
            }
        }
        return centres
    }

    /// Whether Vincenty's iteration fails to converge from `centre` to some point (nearly
    /// antipodal pairs), where the geodesic is found by a search instead; see
    /// ``nearlyAntipodalDistancesMatch()``.
    static func needsTheAntipodalSearch(_ world: World, _ centre: GeoPoint) -> Bool {
        world.points.contains { Geodesy.inverse(centre, $0.point).solver == .antipodalSearch }
    }

    /// Checks one radius query; returns whether it matched.
    @discardableResult
    static func compareRadius(_ world: World, _ client: PostgresClient, centre: GeoPoint, radius requested: Double) async throws -> Bool {
        // Keep the radius at least `tolerance` away from every point's distance, so a sub-millimetre
        // difference between the two geodesic solvers cannot decide the answer.
        var radius = requested
        let distances = world.points.map { Geodesy.distance(centre, $0.point) }
        while distances.contains(where: { abs($0 - radius) < 2 * tolerance }) { radius += 5 * tolerance }
        let got = world.picture.units(near: centre, radius: radius)
        let expected = try await rows(
            client,
            """
            SELECT id, ST_Distance(geog, c) FROM pts, (SELECT ST_SetSRID(ST_MakePoint(\(centre.longitude), \(centre.latitude)), 4326)::geography AS c) q
            WHERE ST_DWithin(geog, c, \(radius)) ORDER BY 2, id COLLATE "C"
            """)
        let gotIDs = got.map(\.unit.id.rawValue), expectedIDs = expected.map(\.0)
        var matched = Set(gotIDs) == Set(expectedIDs)
        #expect(Set(gotIDs) == Set(expectedIDs), "radius \(radius) m around \(centre): only live \(Set(gotIDs).subtracting(expectedIDs).sorted().prefix(10)), only PostGIS \(Set(expectedIDs).subtracting(gotIDs).sorted().prefix(10))")
        let expectedDistance = Dictionary(uniqueKeysWithValues: expected)
        // One issue per query, not one per unit: a wrong solver would otherwise bury the log in
        // thousands of lines and hide the failure that matters.
        var differing: [String] = []
        for result in got {
            guard let pg = expectedDistance[result.unit.id.rawValue], let live = result.distance else { continue }
            if abs(pg - live) > tolerance {
                differing.append("\(result.unit.id) (\(result.unit.position)): live \(live) m, PostGIS \(pg) m")
            }
        }
        if !differing.isEmpty {
            matched = false
            Issue.record("\(differing.count) distances from \(centre) differ beyond \(tolerance) m, for example \(differing.prefix(3).joined(separator: "; "))")
        }
        // Nearest first in both.
        #expect(got.map { $0.distance ?? -1 } == got.map { $0.distance ?? -1 }.sorted())
        return matched
    }

    /// Checks one k-nearest query; returns whether it matched.
    @discardableResult
    static func compareNearest(_ world: World, _ client: PostgresClient, centre: GeoPoint, k: Int) async throws -> Bool {
        let got = world.picture.nearest(to: centre, k: k)
        // The k nearest, and every further row as near as the k-th (within the tolerance), so
        // a tie at the k-th place (dozens of units on a pole) shows.
        let expected = try await rows(
            client,
            """
            WITH d AS (
                SELECT id, ST_Distance(geog, c) AS dist
                FROM pts, (SELECT ST_SetSRID(ST_MakePoint(\(centre.longitude), \(centre.latitude)), 4326)::geography AS c) q)
            SELECT id, dist FROM d
            WHERE dist <= (SELECT dist FROM d ORDER BY dist, id COLLATE "C" OFFSET \(k - 1) LIMIT 1) + \(tolerance)
            ORDER BY dist, id COLLATE "C"
            """)
        var matched = true
        func fail(_ message: String) {
            matched = false
            Issue.record("nearest \(k) to \(centre): \(message)")
        }
        guard got.count == min(k, world.points.count) else {
            fail("live gave \(got.count) units")
            return false
        }
        for (i, result) in got.enumerated() where abs((result.distance ?? -1) - expected[i].1) > tolerance {
            fail("place \(i): live \(result.unit.id) at \(result.distance ?? -1) m, PostGIS \(expected[i].0) at \(expected[i].1) m")
            return false
        }
        // Same ids in the same order, except among places whose distances are within the
        // tolerance of each other (a tie for one solver may be a hair apart for the other).
        var start = 0
        while start < min(k, expected.count) {
            var end = start + 1
            while end < expected.count, expected[end].1 - expected[end - 1].1 <= tolerance { end += 1 }
            let allowed = Set(expected[start..<end].map(\.0))
            for i in start..<min(end, k) where !allowed.contains(got[i].unit.id.rawValue) {
                fail("place \(i): live \(got[i].unit.id), PostGIS \(expected[i].0)")
            }
            start = end
        }
        return matched
    }

    // MARK: Radius and nearest

    @Test func radiusMatchesSTDWithin() async throws {
        let world = try await Self.makeWorld(seed: 11, count: 4_000)
        let radii: [Double] = [0, 3, 50, 250, 1_000, 10_000, 150_000, 1_000_000, 5_000_000, 15_000_000]
        try await TestPostgres.withClient(world.endpoint) { client in
            var rng = SeededRandom(seed: 12)
            for (q, centre) in Self.centres(world, &rng, count: 180).enumerated() {
                let radius = q < radii.count * 2 ? radii[q % radii.count] : radii.randomElement(using: &rng)! * .random(in: 0.5...2, using: &rng)
                try await Self.compareRadius(world, client, centre: centre, radius: radius)
            }
        }
    }

    @Test func nearestMatchesOrderByDistance() async throws {
        let world = try await Self.makeWorld(seed: 21, count: 4_000)
        try await TestPostgres.withClient(world.endpoint) { client in
            var rng = SeededRandom(seed: 22)
            for centre in Self.centres(world, &rng, count: 150) {
                let k = [1, 2, 5, 10, 50, 200].randomElement(using: &rng)!
                try await Self.compareNearest(world, client, centre: centre, k: k)
            }
        }
    }

    /// Points nearly opposite each other on the globe, where Vincenty's iteration is slowest to
    /// converge (or does not): the live picture must still agree with PostGIS to the millimetre.
    @Test func nearlyAntipodalDistancesMatch() async throws {
        let world = try await Self.makeWorld(seed: 31, count: 2_000)
        var rng = SeededRandom(seed: 32)
        var centres: [GeoPoint] = []
        for _ in 0..<40 {
            let p = world.points.randomElement(using: &rng)!.point
            // The antipode, moved by up to ~0.5 degree.
            let lat = max(-90, min(90, -p.latitude + .random(in: -0.5...0.5, using: &rng)))
            centres.append(normalized(latitude: lat, longitude: p.longitude + 180 + .random(in: -0.5...0.5, using: &rng)))
        }
        let searched = centres.filter { Self.needsTheAntipodalSearch(world, $0) }.count
        #expect(searched > 0, "the centres must include pairs where Vincenty does not converge")
        try await TestPostgres.withClient(world.endpoint) { [centres] client in
            for centre in centres {
                // Beyond the longest geodesic (~20,003.9 km): every point, so every distance is compared.
                try await Self.compareRadius(world, client, centre: centre, radius: 20_004_000)
                try await Self.compareRadius(world, client, centre: centre, radius: 20_000_000)
                try await Self.compareNearest(world, client, centre: centre, k: 20)
            }
        }
    }

    // MARK: Boxes and polygons

    @Test func boundingBoxesMatchSTIntersects() async throws {
        let world = try await Self.makeWorld(seed: 41, count: 4_000)
        var rng = SeededRandom(seed: 42)
        var boxes: [BoundingBox] = [
            try BoundingBox(west: 179.9, south: -1, east: -179.9, north: 1),  // across the antimeridian
            try BoundingBox(west: 170, south: 40, east: -170, north: 70),
            try BoundingBox(west: -180, south: -90, east: 180, north: 90),
            try BoundingBox(west: 0, south: 89.9, east: 180, north: 90),
            try BoundingBox(west: -180, south: -90, east: 180, north: -89.8),
            try BoundingBox(west: 180, south: -90, east: 180, north: 90),  // the meridian itself
            try BoundingBox(west: -180, south: -90, east: -180, north: 90),
            try BoundingBox(west: 4.83, south: 45.762, east: 4.84, north: 45.766),  // part of the city
        ]
        for _ in 0..<250 {
            let a = world.points.randomElement(using: &rng)!.point, b = randomPoint(&rng)
            let size = [0.002, 0.01, 0.1, 1, 30, 400].randomElement(using: &rng)!
            let west = a.longitude
            let east = normalized(latitude: 0, longitude: a.longitude + size * .random(in: 0...1, using: &rng)).longitude
            let south = max(-90, min(a.latitude, b.latitude) - size / 10)
            let north = min(90, south + size)
            boxes.append(try BoundingBox(west: west, south: south, east: east, north: north))
        }
        #expect(boxes.contains { $0.crossesAntimeridian })
        let allBoxes = boxes
        try await TestPostgres.withClient(world.endpoint) { client in
            for box in allBoxes {
                let got = world.picture.units(in: box).map(\.unit.id.rawValue)
                let expected: Set<String>
                if box.west > box.east {
                    expected = try await Self.ids(
                        client,
                        """
                        SELECT id FROM pts WHERE ST_Intersects(geom, ST_MakeEnvelope(\(box.west), \(box.south), 180, \(box.north), 4326))
                           OR ST_Intersects(geom, ST_MakeEnvelope(-180, \(box.south), \(box.east), \(box.north), 4326))
                        """)
                } else {
                    expected = try await Self.ids(
                        client,
                        "SELECT id FROM pts WHERE ST_Intersects(geom, ST_MakeEnvelope(\(box.west), \(box.south), \(box.east), \(box.north), 4326))")
                }
                #expect(Set(got) == expected, "box \(box): only live \(Set(got).subtracting(expected).sorted().prefix(10)), only PostGIS \(expected.subtracting(got).sorted().prefix(10))")
                #expect(got.count == Set(got).count, "duplicates in \(box)")
            }
        }
    }

    @Test func polygonsMatchSTCovers() async throws {
        let world = try await Self.makeWorld(seed: 51, count: 4_000)
        var rng = SeededRandom(seed: 52)
        var polygons: [[[GeoPoint]]] = []
        func ring(_ coordinates: [(Double, Double)]) -> [GeoPoint] {  // (lon, lat)
            coordinates.map { GeoPoint(latitude: $0.1, longitude: $0.0) }
        }
        // A cap around the north pole, a band along the antimeridian (points on its edge), the city with a hole.
        polygons.append([ring([(-180, 85), (180, 85), (180, 90), (-180, 90), (-180, 85)])])
        polygons.append([ring([(179, -1), (180, -1), (180, 1), (179, 1), (179, -1)])])
        polygons.append([ring([(-180, -1), (-179, -1), (-179, 1), (-180, 1), (-180, -1)])])
        polygons.append([
            ring([(4.830, 45.760), (4.842, 45.760), (4.842, 45.768), (4.830, 45.768), (4.830, 45.760)]),
            ring([(4.834, 45.763), (4.838, 45.763), (4.838, 45.765), (4.834, 45.765), (4.834, 45.763)]),
        ])
        // A triangle whose vertices are data points: they lie on its boundary.
        let corners = (0..<3).map { _ in world.points[Int.random(in: 0..<world.points.count, using: &rng) & ~3].point }
        polygons.append([corners + [corners[0]]])
        for _ in 0..<60 {
            // Random star-shaped rings around data points, with a smaller star hole.
            let c = world.points.randomElement(using: &rng)!.point
            let lat = max(-80, min(80, c.latitude)), lon = max(-170, min(170, c.longitude))
            let size = [0.003, 0.05, 1, 8].randomElement(using: &rng)!
            func star(_ scale: Double, _ n: Int) -> [GeoPoint] {
                var ring = (0..<n).map { i -> GeoPoint in
                    let angle = Double(i) / Double(n) * 2 * .pi
                    let r = scale * .random(in: 0.3...1, using: &rng)
                    return GeoPoint(latitude: lat + r * sin(angle) * 0.9, longitude: lon + r * cos(angle))
                }
                ring.append(ring[0])
                return ring
            }
            polygons.append([star(size, Int.random(in: 3...300, using: &rng)), star(size * 0.2, 12)])
        }
        let allPolygons = polygons
        try await TestPostgres.withClient(world.endpoint) { client in
            var nonEmpty = 0
            for rings in allPolygons {
                let polygon = try GeoPolygon(rings: rings)
                let got = world.picture.units(in: polygon).map(\.unit.id.rawValue)
                let wkt = "POLYGON(" + rings.map { "(" + $0.map { "\($0.longitude) \($0.latitude)" }.joined(separator: ",") + ")" }.joined(separator: ",") + ")"
                let expected = try await Self.ids(client, "SELECT id FROM pts WHERE ST_Covers(ST_GeomFromText(\(wkt), 4326), geom)")
                if !expected.isEmpty { nonEmpty += 1 }
                #expect(Set(got) == expected, "polygon \(wkt.prefix(200)): only live \(Set(got).subtracting(expected).sorted().prefix(10)), only PostGIS \(expected.subtracting(got).sorted().prefix(10))")
            }
            #expect(nonEmpty >= allPolygons.count / 3, "most polygons hold points: \(nonEmpty) of \(allPolygons.count)")
        }
    }
}
