import Benchmark
import HypervisionCore
import HypervisionStore

/// Micro-benchmarks of the pure code on the ingest path.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3))

    let now = Timestamp(rfc3339: "2026-11-23T10:00:00Z")!
    let raw = RawPing(
        unit: "PN-75-BAC-12", time: "2026-11-23T09:59:59.250Z", latitude: 48.8566, longitude: 2.3522, altitude: 35,
        speed: 12.5, heading: 270, accuracy: 8, status: "available", battery: 81)

    Benchmark("Timestamp: parse RFC 3339", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Timestamp(rfc3339: "2026-11-23T09:59:59.250+01:00"))
        }
    }

    Benchmark("PingValidator: validate one ping", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let validator = PingValidator()
        for _ in benchmark.scaledIterations {
            blackHole(try? validator.validate(raw, now: now))
        }
    }

    let paris = GeoPoint(latitude: 48.8566, longitude: 2.3522)
    let lyon = GeoPoint(latitude: 45.7640, longitude: 4.8357)
    Benchmark("Geodesy: Vincenty distance", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Geodesy.distance(paris, lyon))
        }
    }
    // Nearly antipodal (Karney's example): Vincenty does not converge, the geodesic is searched for.
    let equator = GeoPoint(latitude: -30, longitude: 0), opposite = GeoPoint(latitude: 29.9, longitude: 179.8)
    Benchmark("Geodesy: nearly antipodal distance") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Geodesy.distance(equator, opposite))
        }
    }
    Benchmark("Geodesy: spherical distance", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Geodesy.sphericalDistance(paris, lyon))
        }
    }

    let ping = try! PingValidator().validate(raw, now: now)
    Benchmark("CopyTextWriter: encode 1,000 ping rows") { benchmark in
        for _ in benchmark.scaledIterations {
            var writer = CopyTextWriter(capacity: 140_000)
            for _ in 0..<1_000 {
                writer.pingRow(ping)
            }
            blackHole(writer.buffer.readableBytes)
        }
    }
    // What the durable writer sends since schema 7: the same rows, binary, with the unit's number and the cell.
    Benchmark("CopyBinaryWriter: encode 1,000 history rows") { benchmark in
        for _ in benchmark.scaledIterations {
            var writer = CopyBinaryWriter(capacity: 128_000)
            for _ in 0..<1_000 {
                writer.historyRow(ping, unitKey: 42)
            }
            blackHole(writer.finish().readableBytes)
        }
    }
}
