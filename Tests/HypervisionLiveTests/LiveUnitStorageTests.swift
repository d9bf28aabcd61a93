import HypervisionCore
import Testing

@testable import HypervisionLive

/// `LiveUnit` keeps its optional numbers as sentinels to stay small; what callers see must be
/// exactly what they set, and equality and hashing must be those of the optional values.
@Suite("LiveUnit storage")
struct LiveUnitStorageTests {
    let t0 = Timestamp(seconds: 1_795_000_000)

    func unit(altitude: Double? = nil, speed: Double? = nil, heading: Double? = nil, accuracy: Double? = nil, battery: Int? = nil,
              staleSince: Timestamp? = nil) -> LiveUnit {
        LiveUnit(
            id: UnitID(trusted: "PN-1"), callsign: "BAC 1", kind: .car, agency: .policeMunicipale,
            position: GeoPoint(latitude: 48.85, longitude: 2.35), time: t0, altitude: altitude, speed: speed, heading: heading,
            accuracy: accuracy, status: .available, battery: battery, lastHeard: t0, staleSince: staleSince)
    }

    @Test("nil and every kind of number read back as set, through init and setters")
    func optionalsRoundTrip() {
        let values: [Double?] = [nil, 0, -0.0, 35.5, -500, 20_000, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .infinity]
        for value in values {
            let made = unit(altitude: value, speed: value, heading: value, accuracy: value)
            #expect(made.altitude == value && made.speed == value && made.heading == value && made.accuracy == value)
            var set = unit(altitude: 1, speed: 2, heading: 3, accuracy: 4)
            set.altitude = value
            set.speed = value
            set.heading = value
            set.accuracy = value
            #expect(set == made)
            #expect(set.altitude.map(\.bitPattern) == value.map(\.bitPattern))  // -0.0 stays -0.0
        }
        // An ordinary NaN is a number, not nil.
        let nan = unit(altitude: .nan)
        #expect(nan.altitude != nil && nan.altitude!.isNaN)
        for battery in [nil, 0, 81, 100] as [Int?] {
            var set = unit(battery: 50)
            set.battery = battery
            #expect(set.battery == battery && unit(battery: battery).battery == battery)
        }
        for stale in [nil, Timestamp(microseconds: 0), t0, Timestamp(microseconds: .max)] as [Timestamp?] {
            var set = unit()
            set.staleSince = stale
            #expect(set.staleSince == stale && set.isStale == (stale != nil) && unit(staleSince: stale).staleSince == stale)
        }
    }

    @Test("equality and hashing are those of the optional values")
    func equalityFollowsTheOptionals() {
        #expect(unit(altitude: 3) == unit(altitude: 3))
        #expect(unit(altitude: 3) != unit(altitude: nil))
        #expect(unit(altitude: 0) != unit(altitude: nil))
        #expect(unit(battery: 0) != unit(battery: nil))
        #expect(unit(staleSince: t0) != unit())
        // A NaN is unequal to itself, as in a `Double?`.
        #expect(unit(speed: .nan) != unit(speed: .nan))
        #expect(Set([unit(altitude: 3), unit(altitude: 3), unit(altitude: nil)]).count == 2)
        #expect(unit(heading: 0).hashValue == unit(heading: -0.0).hashValue && unit(heading: 0) == unit(heading: -0.0))
    }

    @Test("a box answer of several read-ahead blocks holds every unit once, each as the picture has it")
    func largeAnswersAreWhole() {
        let count = UnitTable.readAheadBlock * 2 + 77
        let clock = TestClock(t0)
        let picture = LivePicture(clock: clock.function)
        picture.upsert(units: (0..<count).map { Unit(id: id("U-\($0)"), callsign: "C\($0)", kind: .car, agency: .policeMunicipale) })
        for n in 0..<count {
            let battery: Int? = n % 3 == 0 ? nil : n % 101
            picture.apply([
                Ping(
                    unit: id("U-\(n)"), time: t0.adding(seconds: Double(-n)),
                    position: GeoPoint(latitude: 48 + Double(n % 97) * 0.01, longitude: 2 + Double(n / 97) * 0.01),
                    altitude: n % 2 == 0 ? nil : Double(n), speed: Double(n % 40), status: n % 5 == 0 ? nil : .busy, battery: battery,
                    receivedAt: t0.adding(seconds: Double(-n)))
            ])
        }
        // The units heard earliest (two in three) are stale by now, the others fresh.
        clock.advance(seconds: LivePictureConfiguration().staleAfter - Double(count) / 3)
        let box = try! BoundingBox(parsing: "1,47,4,50")
        let answer = picture.units(in: box).map(\.unit)
        #expect(answer.count == count && Set(answer.map(\.id)).count == count)
        // The same units one at a time (the exact lookup, not the block copy).
        for unit in answer {
            #expect(picture.unit(unit.id) == unit, "\(unit.id)")
        }
        #expect(answer.contains { $0.isStale } && answer.contains { !$0.isStale })
    }

    @Test("a unit takes 160 bytes, not 208: the size a box query copies")
    func size() {
        #expect(MemoryLayout<LiveUnit>.stride <= 160)
    }
}
