#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HypervisionCore
import HypervisionLive
import Testing

/// The index against brute force on thousands of random points, with the clusters that break
/// naive grids: both poles, both sides of the antimeridian, the exact edges ±90/±180.
@Suite struct SpatialQueryTests {
    /// A picture of `count` random units, some moved and some removed afterwards so the
    /// comparison also covers the grid's swap-remove bookkeeping.
    static func makePicture(seed: UInt64, count: Int, cellDegrees: Double) -> (LivePicture, SeededRandom) {
        var rng = SeededRandom(seed: seed)
        let picture = LivePicture(
            configuration: LivePictureConfiguration(cellDegrees: cellDegrees), clock: { t0.adding(seconds: 10) })
        var pings: [Ping] = []
        for i in 0..<count {
            let p = randomPoint(&rng)
            pings.append(ping("U\(i)", p.latitude, p.longitude, time: t0))
        }
        picture.load(positions: pings)
        // Move a third of them (later device time), remove a few.
        for i in stride(from: 0, to: count, by: 3) {
            let p = randomPoint(&rng)
            picture.apply(ping("U\(i)", p.latitude, p.longitude, time: t0.adding(seconds: 1)))
        }
        for i in stride(from: 1, to: count, by: 50) { picture.remove(unit: id("U\(i)")) }
        return (picture, rng)
    }

    static let configurations: [(seed: UInt64, cell: Double)] = [(1, 0.01), (2, 0.05), (3, 1.0), (4, 0.003)]

    @Test(arguments: configurations)
    func radiusMatchesBruteForce(seed: UInt64, cell: Double) {
        var (picture, rng) = Self.makePicture(seed: seed, count: 3_000, cellDegrees: cell)
        let all = picture.allUnits()
        #expect(all.count == picture.unitCount)
        let radii: [Double] = [0, 5, 100, 1_000, 5_000, 30_000, 300_000, 3_000_000, 19_000_000, 20_100_000]
        for q in 0..<150 {
            let center = randomPoint(&rng)
            let radius = q < radii.count ? radii[q] : radii.randomElement(using: &rng)! * .random(in: 0.5...1.5, using: &rng)
            let got = picture.units(near: center, radius: radius)
            let expected = BruteForce.within(all, center, radius)
            #expect(got.map(\.unit.id) == expected.map(\.0), "center \(center) radius \(radius)")
            #expect(got.map { $0.distance! } == expected.map(\.1))
        }
    }

    @Test(arguments: configurations)
    func nearestMatchesBruteForce(seed: UInt64, cell: Double) {
        var (picture, rng) = Self.makePicture(seed: seed &+ 100, count: 3_000, cellDegrees: cell)
        let all = picture.allUnits()
        for _ in 0..<120 {
            let center = randomPoint(&rng)
            let k = [1, 3, 10, 50, 500].randomElement(using: &rng)!
            let got = picture.nearest(to: center, k: k)
            let expected = BruteForce.nearest(all, center, k)
            #expect(got.map(\.unit.id) == expected.map(\.0), "center \(center) k \(k)")
            #expect(got.map { $0.distance! } == expected.map(\.1))
        }
        // More than there are: all of them, ordered.
        let center = GeoPoint(latitude: 10, longitude: 20)
        #expect(picture.nearest(to: center, k: 10_000).map(\.unit.id) == BruteForce.nearest(all, center, 10_000).map(\.0))
    }

    @Test(arguments: configurations)
    func boundingBoxMatchesBruteForce(seed: UInt64, cell: Double) throws {
        var (picture, rng) = Self.makePicture(seed: seed &+ 200, count: 3_000, cellDegrees: cell)
        let all = picture.allUnits()
        var boxes: [BoundingBox] = [
            try BoundingBox(west: 179.9, south: -1, east: -179.9, north: 1),  // across the antimeridian
            try BoundingBox(west: -180, south: -90, east: 180, north: 90),
            try BoundingBox(west: 0, south: 89.9, east: 180, north: 90),
            try BoundingBox(west: 180, south: -90, east: 180, north: 90),  // the meridian itself
            try BoundingBox(west: 2.25, south: 48.81, east: 2.42, north: 48.90),  // Paris
        ]
        for _ in 0..<200 {
            let a = randomPoint(&rng), b = randomPoint(&rng)
            let size = [0.01, 0.1, 1, 30, 400].randomElement(using: &rng)!
            let west = a.longitude, east = normalized(latitude: 0, longitude: a.longitude + size * .random(in: 0...1, using: &rng)).longitude
            let south = min(a.latitude, b.latitude), north = min(90, south + size)
            boxes.append(try BoundingBox(west: west, south: south, east: east, north: north))
        }
        for box in boxes {
            let got = Set(picture.units(in: box).map(\.unit.id))
            let expected = Set(all.filter { box.contains($0.position) }.map(\.id))
            #expect(got == expected, "box \(box)")
            #expect(picture.units(in: box).count == got.count, "no duplicates in \(box)")
        }
    }

    @Test(arguments: configurations)
    func polygonMatchesBruteForce(seed: UInt64, cell: Double) throws {
        var (picture, rng) = Self.makePicture(seed: seed &+ 300, count: 3_000, cellDegrees: cell)
        let all = picture.allUnits()
        for _ in 0..<40 {
            // A random star-shaped ring around a cluster point, with a smaller star hole.
            let c = randomPoint(&rng)
            let lat = max(-80, min(80, c.latitude)), lon = max(-170, min(170, c.longitude))
            let size = [0.01, 0.2, 5].randomElement(using: &rng)!
            func star(_ scale: Double, _ n: Int) -> [GeoPoint] {
                var ring = (0..<n).map { i -> GeoPoint in
                    let angle = Double(i) / Double(n) * 2 * .pi
                    let r = scale * .random(in: 0.3...1, using: &rng)
                    return GeoPoint(latitude: lat + r * sin(angle) * 0.9, longitude: lon + r * cos(angle))
                }
                ring.append(ring[0])
                return ring
            }
            let rings = [star(size, Int.random(in: 3...400, using: &rng)), star(size * 0.2, 12)]
            let polygon = try GeoPolygon(rings: rings)
            let got = Set(picture.units(in: polygon).map(\.unit.id))
            let expected = Set(all.filter { BruteForce.covers(rings, $0.position) }.map(\.id))
            #expect(got == expected)
            // And the band index against the plain test on points around the polygon.
            for _ in 0..<200 {
                let p = GeoPoint(
                    latitude: lat + .random(in: -size...size, using: &rng), longitude: lon + .random(in: -size...size, using: &rng))
                #expect(polygon.covers(p) == BruteForce.covers(rings, p), "point \(p)")
            }
        }
    }

    @Test func antimeridianAndPole() {
        let picture = LivePicture(clock: { t0 })
        picture.apply(ping("east", 10, 179.99, time: t0))
        picture.apply(ping("west", 10, -179.99, time: t0))
        picture.apply(ping("across-pole", 89.9, -180 + 45, time: t0))
        picture.apply(ping("far", 10, 0, time: t0))
        // 0.02° of longitude at 10° N is about 2.19 km.
        let found = picture.units(near: GeoPoint(latitude: 10, longitude: 179.99), radius: 3_000)
        #expect(found.map(\.unit.id.rawValue) == ["east", "west"])
        #expect(abs(found[1].distance! - 2_192) < 10)
        // 89.9° N at 45° E and at 135° W lie 0.2° of latitude apart through the pole: ~22.3 km.
        let polar = picture.units(near: GeoPoint(latitude: 89.9, longitude: 45), radius: 25_000)
        #expect(polar.map(\.unit.id.rawValue) == ["across-pole"])
        #expect(abs(polar[0].distance! - 22_338) < 50)
        #expect(picture.nearest(to: GeoPoint(latitude: 10, longitude: -179.999), k: 2).map(\.unit.id.rawValue) == ["west", "east"])
    }

    @Test func filters() {
        let clock = TestClock(t0)
        let picture = LivePicture(configuration: LivePictureConfiguration(staleAfter: 60), clock: clock.function)
        picture.upsert(units: [
            Unit(id: id("a"), kind: .car, agency: .policeNationale),
            Unit(id: id("b"), kind: .foot, agency: .gendarmerie),
        ])
        picture.apply(ping("a", 48.85, 2.35, time: t0, status: .available))
        picture.apply(ping("b", 48.851, 2.35, time: t0, status: .busy))
        picture.apply(ping("c", 48.852, 2.35, time: t0))
        clock.advance(seconds: 30)
        picture.apply(ping("a", 48.85, 2.35, time: t0.adding(seconds: 30), received: clock.now))
        clock.advance(seconds: 40)  // b and c silent for 70 s: stale; a for 40 s: fresh
        let center = GeoPoint(latitude: 48.85, longitude: 2.35)
        func ids(_ filter: LiveUnitFilter) -> [String] { picture.units(near: center, radius: 1_000, filter: filter).map(\.unit.id.rawValue) }
        #expect(ids(.all) == ["a", "b", "c"])
        #expect(ids(LiveUnitFilter(statuses: [.available])) == ["a"])
        #expect(ids(LiveUnitFilter(statuses: [.available, .busy])) == ["a", "b"])
        #expect(ids(LiveUnitFilter(agencies: [.gendarmerie])) == ["b"])
        #expect(ids(LiveUnitFilter(kinds: [.car, .foot])) == ["a", "b"])
        #expect(ids(LiveUnitFilter(stale: true)) == ["b", "c"])
        #expect(ids(LiveUnitFilter(stale: false)) == ["a"])
        #expect(picture.nearest(to: center, k: 5, filter: LiveUnitFilter(stale: true)).map(\.unit.id.rawValue) == ["b", "c"])
        let box = try! BoundingBox(parsing: "2,48,3,49")
        #expect(Set(picture.units(in: box, filter: LiveUnitFilter(kinds: [.foot])).map(\.unit.id.rawValue)) == ["b"])
        // A status that changes moves the unit between filters.
        picture.apply(ping("a", 48.85, 2.35, time: t0.adding(seconds: 60), received: clock.now, status: .busy))
        #expect(ids(LiveUnitFilter(statuses: [.busy])) == ["a", "b"])
    }

    @Test func filtersBeyondTheInternedValues() {
        // Statuses are an open set; past the interner's limit values are compared as strings.
        let picture = LivePicture(clock: { t0 })
        let pings = (0..<4_200).map { i in
            ping("u\(i)", 10 + Double(i) * 1e-5, 10, time: t0, status: UnitStatus(rawValue: "s\(i)")!)
        }
        picture.apply(pings)
        let center = GeoPoint(latitude: 10, longitude: 10)
        for i in [0, 4_095, 4_096, 4_199] {
            let filter = LiveUnitFilter(statuses: [UnitStatus(rawValue: "s\(i)")!])
            #expect(picture.nearest(to: center, k: 3, filter: filter).map(\.unit.id.rawValue) == ["u\(i)"])
            #expect(picture.units(near: center, radius: 100_000, filter: filter).map(\.unit.id.rawValue) == ["u\(i)"])
        }
        #expect(picture.allUnits(filter: LiveUnitFilter(statuses: [UnitStatus(rawValue: "s4100")!, .available])).count == 1)
    }
}
