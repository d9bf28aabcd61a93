import HypervisionCLI
import HypervisionCore
import Testing

@Suite struct PointParsingTests {
    @Test func readsLatitudeThenLongitude() throws {
        let point = try parsePoint("48.8566,2.3522")
        #expect(point == GeoPoint(latitude: 48.8566, longitude: 2.3522))
        #expect(try parsePoint(" -33.86, 151.2 ") == GeoPoint(latitude: -33.86, longitude: 151.2))
        #expect(try parsePoint("90,-180") == GeoPoint(latitude: 90, longitude: -180))
    }

    @Test func namesTheArgumentAndTheFaultyPart() {
        #expect(message { try parsePoint("95,0") } == "LAT,LON expected, got 95,0: latitude 95 is outside [-90, 90]")
        #expect(message { try parsePoint("45,181") } == "LAT,LON expected, got 45,181: longitude 181 is outside [-180, 180]")
        #expect(message { try parsePoint("48.85") } == "LAT,LON expected, got 48.85: a comma must separate latitude and longitude")
        #expect(message { try parsePoint("1,2,3") } == "LAT,LON expected, got 1,2,3: 3 numbers instead of 2")
        #expect(message { try parsePoint("abc,2") } == "LAT,LON expected, got abc,2: latitude abc is not a number")
        #expect(message { try parsePoint("48,") } == "LAT,LON expected, got 48,: longitude is missing")
        #expect(message { try parsePoint("") } == "LAT,LON expected, got nothing: a comma must separate latitude and longitude")
    }

    @Test func refusesWhatDoubleWouldAcceptButIsNoCoordinate() {
        for text in ["nan,0", "inf,0", "0x1p3,0", "1e999,0"] {
            #expect(throws: Failure.self) { try parsePoint(text) }
        }
    }

    @Test func usageFailuresExitWith64() {
        do {
            _ = try parsePoint("95,0")
            Issue.record("expected a failure")
        } catch {
            #expect(error.exitStatus == 64)
        }
    }
}

@Suite struct BoxParsingTests {
    @Test func readsWestSouthEastNorth() throws {
        let box = try parseBox("2.25,48.81,2.42,48.9")
        #expect(box == (try BoundingBox(west: 2.25, south: 48.81, east: 2.42, north: 48.9)))
        #expect(box.description == "2.25,48.81,2.42,48.9")
    }

    @Test func allowsABoxAcrossTheAntimeridian() throws {
        #expect(try parseBox("179,-10,-179,10").west == 179)
    }

    @Test func refusesBadBoxesWithTheReason() {
        #expect(message { try parseBox("2,48,3") } == "W,S,E,N expected, got 2,48,3: 3 numbers instead of 4")
        #expect(message { try parseBox("2,48,1,47") } == "W,S,E,N expected, got 2,48,1,47: south 48 must be less than north 47")
        #expect(message { try parseBox("2,91,3,92") } == "W,S,E,N expected, got 2,91,3,92: south 91 is outside [-90, 90]")
        #expect(message { try parseBox("-181,0,3,1") } == "W,S,E,N expected, got -181,0,3,1: west -181 is outside [-180, 180]")
        #expect(message { try parseBox("2,0,2,1") } == "W,S,E,N expected, got 2,0,2,1: west and east are both 2: the box has no width")
    }
}

@Suite struct TimeParsingTests {
    let now = Timestamp(rfc3339: "2026-11-23T10:00:00Z")!

    @Test func readsNowAndAmountsBeforeNow() throws {
        #expect(try parseTime("now", now: now) == now)
        #expect(try parseTime("NOW", now: now) == now)
        #expect(try parseTime("-30m", now: now).rfc3339 == "2026-11-23T09:30:00Z")
        #expect(try parseTime("-2h", now: now).rfc3339 == "2026-11-23T08:00:00Z")
        #expect(try parseTime("-1h30m", now: now).rfc3339 == "2026-11-23T08:30:00Z")
        #expect(try parseTime("-90s", now: now).rfc3339 == "2026-11-23T09:58:30Z")
        #expect(try parseTime("-1d", now: now).rfc3339 == "2026-11-22T10:00:00Z")
        #expect(try parseTime("-1w", now: now).rfc3339 == "2026-11-16T10:00:00Z")
    }

    @Test func readsRFC3339WithOffsets() throws {
        #expect(try parseTime("2026-11-23T11:00:00+01:00", now: now).rfc3339 == "2026-11-23T10:00:00Z")
        #expect(try parseTime("2026-11-23T08:15:30.5Z", now: now).rfc3339 == "2026-11-23T08:15:30.500Z")
    }

    @Test func refusesWhatItCannotReadWithTheForms() {
        #expect(message { try parseTime("-30", now: now) }.hasPrefix("a time expected, got -30: write an amount"))
        #expect(message { try parseTime("-30x", now: now) }.hasPrefix("a time expected, got -30x:"))
        #expect(message { try parseTime("-", now: now) }.hasPrefix("a time expected, got -:"))
        #expect(message { try parseTime("yesterday", now: now) }
            == "a time expected, got yesterday: use now, -30m, -2h, -1d or RFC 3339 like 2026-11-23T10:00:00Z")
        #expect(message { try parseTime("2026-13-01T00:00:00Z", now: now) }.hasPrefix("a time expected"))
    }

    @Test func aWindowMustRunForward() throws {
        let window = try parseTimeWindow(from: "-2h", to: "now", now: now)
        #expect(window.from.rfc3339 == "2026-11-23T08:00:00Z")
        #expect(window.to == now)
        #expect(message { try parseTimeWindow(from: "now", to: "-1h", now: now) }
            == "--from (2026-11-23T10:00:00Z) must be before --to (2026-11-23T09:00:00Z)")
        #expect(throws: Failure.self) { try parseTimeWindow(from: "now", to: "now", now: now) }
    }
}

@Suite struct NegativeArgumentTests {
    @Test func protectsNegativeNumbersOnly() {
        let arguments = ["units", "near", "-33.86,151.2", "--radius", "500", "-k", "3", "--from", "-30m", "-.5,2"]
        #expect(protectingNegativeValues(arguments) == [
            "units", "near", " -33.86,151.2", "--radius", "500", "-k", "3", "--from", " -30m", " -.5,2",
        ])
    }

    @Test func leavesEverythingAfterTheTerminator() {
        #expect(protectingNegativeValues(["--", "-1,2"]) == ["--", "-1,2"])
    }
}

/// The message of the failure `body` throws, or "" when it does not throw.
func message<T>(_ body: () throws -> T) -> String {
    do {
        _ = try body()
        return ""
    } catch let failure as Failure {
        return failure.message
    } catch {
        return "not a Failure: \(error)"
    }
}
