#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HypervisionCore
import HypervisionLive
import Testing

@Suite struct BoundingBoxTests {
    @Test func parses() throws {
        let box = try BoundingBox(parsing: "2.25, 48.81 ,2.42,48.90")
        #expect(box.west == 2.25 && box.south == 48.81 && box.east == 2.42 && box.north == 48.90)
        #expect(!box.crossesAntimeridian)
        let wrapped = try BoundingBox(parsing: "170,-10,-170,10")
        #expect(wrapped.crossesAntimeridian)
        #expect(wrapped.contains(GeoPoint(latitude: 0, longitude: 180)))
        #expect(wrapped.contains(GeoPoint(latitude: 0, longitude: -180)))
        #expect(wrapped.contains(GeoPoint(latitude: 10, longitude: 175)))
        #expect(!wrapped.contains(GeoPoint(latitude: 0, longitude: 0)))
        #expect(box.contains(GeoPoint(latitude: 48.81, longitude: 2.42)))  // edges included
    }

    @Test(arguments: [
        ("1,2,3", "bbox_invalid"), ("1,2,3,4,5", "bbox_invalid"), ("a,2,3,4", "bbox_invalid"), ("", "bbox_invalid"),
        ("1,,3,4", "bbox_invalid"), ("nan,2,3,4", "not_finite"), ("1,2,inf,4", "not_finite"), ("1,2,1e999,4", "not_finite"),
        ("0x1p3,2,3,4", "bbox_invalid"), ("+1,2,3,4", "bbox_invalid"),
        ("-181,0,0,1", "lon_out_of_range"), ("0,0,180.5,1", "lon_out_of_range"), ("0,-91,1,1", "lat_out_of_range"),
        ("0,0,1,90.01", "lat_out_of_range"), ("0,10,1,5", "bbox_south_above_north"),
    ])
    func rejects(text: String, code: String) {
        #expect {
            try BoundingBox(parsing: text)
        } throws: { error in
            (error as? ValidationError)?.code.rawValue == code
        }
    }

    @Test func rejectsHugeText() {
        #expect(throws: ValidationError.self) { try BoundingBox(parsing: String(repeating: "1", count: 10_000)) }
    }
}

@Suite struct GeoPolygonTests {
    static let square: [GeoPoint] = [(0, 0), (0, 10), (10, 10), (10, 0), (0, 0)].map { GeoPoint(latitude: $0.1, longitude: $0.0) }
    static let hole: [GeoPoint] = [(4, 4), (6, 4), (6, 6), (4, 6), (4, 4)].map { GeoPoint(latitude: $0.1, longitude: $0.0) }

    @Test func coversWithHolesAndBoundary() throws {
        let polygon = try GeoPolygon(rings: [Self.square, Self.hole])
        func covers(_ lon: Double, _ lat: Double) -> Bool { polygon.covers(GeoPoint(latitude: lat, longitude: lon)) }
        #expect(covers(1, 1))
        #expect(!covers(5, 5))  // in the hole
        #expect(covers(4, 5))  // on the hole's boundary: covered, like ST_Covers
        #expect(covers(6, 6))  // hole vertex
        #expect(covers(0, 5) && covers(10, 10) && covers(5, 0))  // outer edge and vertex
        #expect(!covers(10.000001, 5) && !covers(-1, 5) && !covers(5, 11))
        #expect(polygon.bounds == (try BoundingBox(west: 0, south: 0, east: 10, north: 10)))
        // Diagonal edges.
        let triangle = try GeoPolygon(geoJSONCoordinates: [[[0, 0], [4, 0], [0, 4], [0, 0]]])
        #expect(triangle.covers(GeoPoint(latitude: 2, longitude: 2)))  // on the hypotenuse
        #expect(triangle.covers(GeoPoint(latitude: 1, longitude: 1)))
        #expect(!triangle.covers(GeoPoint(latitude: 2.5, longitude: 2)))
    }

    @Test func validation() {
        func code(_ body: () throws -> GeoPolygon) -> String? {
            do {
                _ = try body()
                return nil
            } catch {
                return (error as? ValidationError)?.code.rawValue ?? "not a ValidationError"
            }
        }
        #expect(code { try GeoPolygon(rings: []) } == "polygon_empty")
        #expect(code { try GeoPolygon(rings: [Array(Self.square.prefix(3))]) } == "polygon_ring_too_short")
        #expect(code { try GeoPolygon(rings: [Array(Self.square.prefix(4))]) } == "polygon_ring_not_closed")
        #expect(code { try GeoPolygon(rings: [Self.square, Array(Self.hole.dropLast())]) } == "polygon_ring_not_closed")
        #expect(code { try GeoPolygon(geoJSONCoordinates: [[[0, 0], [1], [1, 1], [0, 0]]]) } == "position_invalid")
        #expect(code { try GeoPolygon(geoJSONCoordinates: [[[0, 0], [1, 95], [1, 1], [0, 0]]]) } == "lat_out_of_range")
        #expect(code { try GeoPolygon(geoJSONCoordinates: [[[0, 0], [.nan, 5], [1, 1], [0, 0]]]) } == "not_finite")
        let big = (0...10_000).map { i in [Double(i) * 1e-4, sin(Double(i))] } + [[0, 0]]
        #expect(code { try GeoPolygon(geoJSONCoordinates: [big]) } == "polygon_too_many_vertices")
        #expect(code { try GeoPolygon(geoJSONCoordinates: [[[0, 0], [1, 0, 30], [1, 1], [0, 0]]]) } == nil)
        #expect(code { try GeoPolygon(rings: [Self.square], maximumVertices: 4) } == "polygon_too_many_vertices")
    }

    @Test func largePolygonAgreesWithThePlainTest() throws {
        // A 9,999-position spiky ring: the band index must give the plain even-odd answer.
        var rng = SeededRandom(seed: 42)
        let n = 9_998
        var ring = (0..<n).map { i -> GeoPoint in
            let angle = Double(i) / Double(n) * 2 * .pi
            let r = i % 2 == 0 ? 1.0 : Double.random(in: 0.05...1, using: &rng)
            return GeoPoint(latitude: 45 + r * sin(angle), longitude: 5 + r * cos(angle))
        }
        ring.append(ring[0])
        let polygon = try GeoPolygon(rings: [ring])
        for _ in 0..<2_000 {
            let p = GeoPoint(latitude: .random(in: 43.9...46.1, using: &rng), longitude: .random(in: 3.9...6.1, using: &rng))
            #expect(polygon.covers(p) == BruteForce.covers([ring], p))
        }
        for vertex in ring.prefix(500) { #expect(polygon.covers(vertex)) }
    }
}
