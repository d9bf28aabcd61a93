import Foundation
import HypervisionCore
import HypervisionStore
import Logging
import ServiceLifecycle

/// A simulated patrol fleet for `--demo`: units driving around central Paris, one ping per unit
/// per second, through the same durable writer as real traffic.
public struct DemoFeed: Service {
    let writer: PingWriter
    let unitCount: Int
    let logger: Logger

    public init(writer: PingWriter, unitCount: Int = 200, logger: Logger) {
        self.writer = writer
        self.unitCount = unitCount
        self.logger = logger
    }

    struct SimulatedUnit {
        var id: UnitID
        var position: GeoPoint
        var heading: Double
        var speed: Double
        var status: UnitStatus
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.simulate() }
    }

    private func simulate() async {
        var generator = SystemRandomNumberGenerator()
        let prefixes = ["PN-75-BAC", "PN-75-BST", "GN-92-PSIG", "PM-75-VTT"]
        var units = (0..<unitCount).map { index -> SimulatedUnit in
            let onFoot = index % 5 == 4
            return SimulatedUnit(
                id: UnitID(trusted: "\(prefixes[index % prefixes.count])-\(index / prefixes.count + 1)"),
                position: GeoPoint(
                    latitude: 48.8566 + Double.random(in: -0.03...0.03, using: &generator),
                    longitude: 2.3522 + Double.random(in: -0.05...0.05, using: &generator)),
                heading: Double.random(in: 0..<360, using: &generator),
                speed: onFoot ? 1.4 : Double.random(in: 5...14, using: &generator),
                status: .available)
        }
        logger.notice("demo feed started", metadata: ["units": "\(unitCount)"])
        let statuses: [UnitStatus] = [.available, .available, .available, .busy, .enRoute, .onScene]
        do {
            while !Task.isCancelled {
                let now = Timestamp.now()
                let pings = units.indices.map { i -> Ping in
                    var unit = units[i]
                    unit.heading = (unit.heading + Double.random(in: -25...25, using: &generator) + 360)
                        .truncatingRemainder(dividingBy: 360)
                    let radians = unit.heading * .pi / 180
                    let metresPerDegreeLat = 111_320.0
                    let metresPerDegreeLon = 111_320.0 * cos(unit.position.latitude * .pi / 180)
                    unit.position.latitude += unit.speed * cos(radians) / metresPerDegreeLat
                    unit.position.longitude += unit.speed * sin(radians) / metresPerDegreeLon
                    // Stay inside the demo city: turn back at its edge.
                    if abs(unit.position.latitude - 48.8566) > 0.04 || abs(unit.position.longitude - 2.3522) > 0.07 {
                        unit.heading = (unit.heading + 180).truncatingRemainder(dividingBy: 360)
                    }
                    if Int.random(in: 0..<600, using: &generator) == 0 {
                        unit.status = statuses.randomElement(using: &generator)!
                    }
                    units[i] = unit
                    return Ping(
                        unit: unit.id, time: now, position: unit.position, speed: unit.speed, heading: unit.heading,
                        accuracy: 5, status: unit.status, battery: 80, receivedAt: now)
                }
                do {
                    _ = try await writer.write(pings)
                } catch {
                    logger.warning("demo pings refused", metadata: ["reason": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
