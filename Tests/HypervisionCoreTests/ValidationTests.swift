import HypervisionCore
import Testing

@Suite struct ValidationTests {
    let now = Timestamp(rfc3339: "2026-11-23T10:00:00Z")!
    let validator = PingValidator()

    func raw(_ change: (inout RawPing) -> Void = { _ in }) -> RawPing {
        var ping = RawPing(
            unit: "PN-75-BAC-12", time: "2026-11-23T09:59:59.250Z", latitude: 48.8566, longitude: 2.3522, altitude: 35,
            speed: 12.5, heading: 270, accuracy: 8, status: "available", battery: 81)
        change(&ping)
        return ping
    }

    func code(_ ping: RawPing) -> ValidationError.Code? {
        do {
            _ = try validator.validate(ping, now: now)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func acceptsTheContractExample() throws {
        let ping = try validator.validate(raw(), now: now)
        #expect(ping.unit.rawValue == "PN-75-BAC-12")
        #expect(ping.time == Timestamp(rfc3339: "2026-11-23T09:59:59.250Z"))
        #expect(ping.position == GeoPoint(latitude: 48.8566, longitude: 2.3522))
        #expect(ping.status == .available)
        #expect(ping.battery == 81)
        #expect(ping.receivedAt == now)
    }

    @Test func eachProblemHasItsOwnCode() {
        #expect(code(raw { $0.unit = nil }) == .fieldMissing)
        #expect(code(raw { $0.unit = "" }) == .unitIDInvalid)
        #expect(code(raw { $0.unit = "-leading-dash" }) == .unitIDInvalid)
        #expect(code(raw { $0.unit = "has space" }) == .unitIDInvalid)
        #expect(code(raw { $0.unit = String(repeating: "A", count: 65) }) == .unitIDInvalid)
        #expect(code(raw { $0.unit = "PN-75\u{0}" }) == .unitIDInvalid)
        #expect(code(raw { $0.time = "yesterday" }) == .timeInvalid)
        #expect(code(raw { $0.time = "2026-11-23T10:06:00Z" }) == .timeInFuture)
        #expect(code(raw { $0.time = "2026-10-01T10:00:00Z" }) == .timeTooOld)
        #expect(code(raw { $0.latitude = 90.0001 }) == .latOutOfRange)
        #expect(code(raw { $0.latitude = nil }) == .fieldMissing)
        #expect(code(raw { $0.longitude = -180.5 }) == .lonOutOfRange)
        #expect(code(raw { $0.latitude = .nan }) == .notFinite)
        #expect(code(raw { $0.longitude = .infinity }) == .notFinite)
        #expect(code(raw { $0.speed = -1 }) == .speedOutOfRange)
        #expect(code(raw { $0.speed = 1_000 }) == .speedOutOfRange)
        #expect(code(raw { $0.speed = .nan }) == .notFinite)
        #expect(code(raw { $0.heading = 361 }) == .headingOutOfRange)
        #expect(code(raw { $0.accuracy = -3 }) == .accuracyOutOfRange)
        #expect(code(raw { $0.altitude = 50_000 }) == .altitudeOutOfRange)
        #expect(code(raw { $0.battery = 101 }) == .batteryOutOfRange)
        #expect(code(raw { $0.status = "Busy!" }) == .statusInvalid)
    }

    @Test func boundariesAreInclusiveAndHeading360FoldsToZero() throws {
        #expect(code(raw { $0.latitude = 90; $0.longitude = -180 }) == nil)
        #expect(code(raw { $0.time = "2026-11-23T10:05:00Z" }) == nil)
        let ping = try validator.validate(raw { $0.heading = 360 }, now: now)
        #expect(ping.heading == 0)
    }

    @Test func messagesSayWhatWasWrong() {
        do {
            _ = try validator.validate(raw { $0.latitude = 91.5 }, now: now)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("91.5"))
            #expect(error.code.rawValue == "lat_out_of_range")
        }
    }
}
