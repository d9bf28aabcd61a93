import Benchmark
import BenchmarkSupport
import HypervisionCore
import HypervisionLive

/// The live picture with 100,000 units spread like a national deployment: 60% around nine cities
/// (σ ≈ 5.5 km), 40% across metropolitan France. Query points are drawn from the same
/// distribution, since a command room asks about its own area.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = ThreadCPU.configuration

    // Irwin–Hall approximation of a normal deviate: no libm needed.
    func normal(_ rng: inout SeededRandom) -> Double {
        (0..<12).reduce(0.0) { total, _ in total + Double.random(in: 0..<1, using: &rng) } - 6
    }
    let cities: [(lat: Double, lon: Double, share: Double)] = [
        (48.8566, 2.3522, 0.25), (43.2965, 5.3698, 0.05), (45.7640, 4.8357, 0.05), (43.6047, 1.4442, 0.03),
        (43.7102, 7.2620, 0.03), (47.2184, -1.5536, 0.02), (48.5734, 7.7521, 0.02), (50.6292, 3.0573, 0.03),
        (44.8378, -0.5792, 0.02),
    ]
    func point(_ rng: inout SeededRandom) -> GeoPoint {
        var pick = Double.random(in: 0..<1, using: &rng)
        for city in cities {
            if pick < city.share {
                return GeoPoint(latitude: city.lat + normal(&rng) * 0.05, longitude: city.lon + normal(&rng) * 0.07)
            }
            pick -= city.share
        }
        return GeoPoint(latitude: .random(in: 42.3...51.1, using: &rng), longitude: .random(in: -4.8...8.2, using: &rng))
    }

    var rng = SeededRandom(seed: 7)
    let t0 = Timestamp(seconds: 1_795_000_000)
    let unitCount = 100_000
    let statuses: [UnitStatus] = [.available, .busy, .enRoute, .onScene]
    let ids = (0..<unitCount).map { UnitID(trusted: "\(["PN", "GN", "PM"][$0 % 3])-\(10 + $0 % 90)-BAC-\($0)") }
    let positions = (0..<unitCount).map { _ in point(&rng) }
    let picture = LivePicture(clock: { t0.adding(seconds: 30) })
    picture.upsert(units: ids.indices.map { i in
        Unit(id: ids[i], callsign: "BAC \(i % 1000)", kind: [.car, .motorbike, .foot][i % 3],
             agency: [.policeNationale, .gendarmerie, .policeMunicipale][i % 3])
    })
    picture.load(positions: ids.indices.map { i in
        Ping(unit: ids[i], time: t0, position: positions[i], altitude: 35, speed: 12.5, heading: 270, accuracy: 8,
             status: statuses[i % 4], battery: 81, receivedAt: t0)
    })
    let centres = (0..<4_096).map { _ in point(&rng) }
    // The harness calls each closure once per iteration (scaledIterations is 0..<1 at scaling
    // factor one), so the query point rotates through `centres` with a counter of its own.
    var next = 0
    func centre() -> GeoPoint {
        next &+= 1
        return centres[next & 4_095]
    }
    func mean(_ count: (GeoPoint) -> Int) -> Int { centres.reduce(0) { $0 + count($1) } / centres.count }

    Benchmark("LivePicture: nearest 10 of 100k units") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.nearest(to: centre(), k: 10))
        }
        }
    }
    Benchmark("LivePicture: nearest 10 available of 100k units") { benchmark in
        let available = LiveUnitFilter(statuses: [.available])
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.nearest(to: centre(), k: 10, filter: available))
        }
        }
    }
    let withinKm = mean { picture.units(near: $0, radius: 1_000).count }
    Benchmark("LivePicture: units within 1 km of 100k units (\(withinKm) on average)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.units(near: centre(), radius: 1_000))
        }
        }
    }
    let lyon = try! BoundingBox(parsing: "4.77,45.70,4.90,45.81")
    Benchmark("LivePicture: bbox of Lyon (\(picture.units(in: lyon).count) of 100k units)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.units(in: lyon))
        }
        }
    }
    let paris = try! BoundingBox(parsing: "2.224,48.815,2.470,48.902")
    Benchmark("LivePicture: bbox of Paris (\(picture.units(in: paris).count) of 100k units)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.units(in: paris))
        }
        }
    }
    // What the API does with a large box: a page of 100 in id order, and a count.
    Benchmark("LivePicture: bbox of Paris, first 100 by id") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.page(in: .box(paris), limit: 100))
        }
        }
    }
    Benchmark("LivePicture: bbox of Paris, count") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.count(in: .box(paris)))
        }
        }
    }
    let sector = try! GeoPolygon(geoJSONCoordinates: [
        [[2.30, 48.84], [2.38, 48.84], [2.40, 48.87], [2.34, 48.89], [2.29, 48.87], [2.30, 48.84]],
    ])
    Benchmark("LivePicture: polygon sector of Paris (\(picture.units(in: sector).count) units)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.units(in: sector))
        }
        }
    }

    // Ingest: 1,000-ping batches moving random units by up to ~50 m with later device times.
    // A separate picture so the query benchmarks above see a fixed state.
    let moving = LivePicture(clock: { t0 })
    moving.load(positions: ids.indices.map { Ping(unit: ids[$0], time: t0, position: positions[$0], receivedAt: t0) })
    let batches: [[Ping]] = (0..<64).map { b in
        (0..<1_000).map { _ in
            let i = Int.random(in: 0..<unitCount, using: &rng)
            let p = positions[i]
            return Ping(
                unit: ids[i], time: t0, position: GeoPoint(
                    latitude: p.latitude + .random(in: -0.0005...0.0005, using: &rng),
                    longitude: p.longitude + .random(in: -0.0007...0.0007, using: &rng)),
                speed: 10, status: .busy, receivedAt: t0)
        }
    }
    Benchmark("LivePicture: apply a 1,000-ping batch to 100k units") { benchmark in
        var round = 0
        for _ in benchmark.scaledIterations {
            // Each round is one second later in device time, so every ping applies.
            let time = t0.adding(seconds: Double(round + 1))
            let batch = batches[round & 63].map { ping -> Ping in
                var ping = ping
                ping.time = time
                return ping
            }
            benchmark.startMeasurement()
            let cpu = ThreadCPU.now()
            blackHole(moving.apply(batch))
            benchmark.measurement(ThreadCPU.metric, ThreadCPU.now() - cpu)
            benchmark.stopMeasurement()
            round += 1
        }
    }

    let cameras = (0..<20_000).map { i in
        Camera(id: "cam-\(i)", name: "cam \(i)", position: point(&rng), heading: .random(in: 0..<360, using: &rng),
               fieldOfView: [60, 90, 360][i % 3], range: .random(in: 50...300, using: &rng))
    }
    picture.upsert(cameras: cameras)
    let covering = mean { picture.cameras(covering: $0).count }
    Benchmark("LivePicture: cameras covering a point (20k cameras, \(covering) on average)") { benchmark in
        ThreadCPU.timed(benchmark) { for _ in benchmark.scaledIterations {
            blackHole(picture.cameras(covering: centre()))
        }
        }
    }
}
