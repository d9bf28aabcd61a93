import HypervisionCore
import Testing

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2026-11-23T10:00:00.250Z", Int64(1_795_428_000_250_000)),
        ("2026-11-23T10:00:00Z", 1_795_428_000_000_000),
        ("2026-11-23t10:00:00z", 1_795_428_000_000_000),
        ("2026-11-23 10:00:00Z", 1_795_428_000_000_000),
        ("2026-11-23T11:00:00+01:00", 1_795_428_000_000_000),
        ("2026-11-23T06:30:00-03:30", 1_795_428_000_000_000),
        ("2026-11-23T10:00:00.123456789Z", 1_795_428_000_123_456),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.5Z", -500_000),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
    ])
    func parsesRFC3339(text: String, micros: Int64) {
        #expect(Timestamp(rfc3339: text)?.microseconds == micros)
    }

    @Test(arguments: [
        "", "2026-11-23", "2026-11-23T10:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-23T24:00:00Z",
        "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00+0100", "2026-11-23T10:00:00Zjunk", "26-11-23T10:00:00Z",
        "2026-11-23T10:60:00Z",
    ])
    func rejectsMalformedDates(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func formatsRoundTrip() {
        let t = Timestamp(microseconds: 1_795_428_000_250_000)
        #expect(t.rfc3339 == "2026-11-23T10:00:00.250Z")
        #expect(t.postgresText == "2026-11-23 10:00:00.250000+00")
        #expect(Timestamp(microseconds: 1_795_428_000_000_001).rfc3339 == "2026-11-23T10:00:00.000001Z")
        #expect(Timestamp(microseconds: -500_000).rfc3339 == "1969-12-31T23:59:59.500Z")
        for micros in stride(from: Int64(-10_000_000_000_000), to: 4_000_000_000_000_000, by: 7_777_777_777_777) {
            let t = Timestamp(microseconds: micros)
            #expect(Timestamp(rfc3339: t.rfc3339) == t)
            #expect(t.rfc3339.hasPrefix(t.civilDate.isoString + "T"))
            #expect(t.postgresText.hasPrefix(t.civilDate.isoString + " "))
        }
        #expect(Timestamp(microseconds: 1_795_428_000_000_000).rfc3339 == "2026-11-23T10:00:00Z")
        #expect(Timestamp(rfc3339: "0999-01-02T03:04:05.123456Z")?.rfc3339 == "0999-01-02T03:04:05.123456Z")
        #expect(Timestamp(rfc3339: "0999-01-02T03:04:05.123456Z")?.postgresText == "0999-01-02 03:04:05.123456+00")
    }

    /// An offset could carry a time out of the four-digit years, which ``Timestamp/rfc3339`` then
    /// wrote as text no parser reads back (a decoded heartbeat at `-0001-12-31T23:00:00Z`). Found
    /// by fuzzing the subscription messages.
    @Test func onlyInstantsWithAFourDigitUTCYearAreRead() throws {
        for text in ["0000-01-01T00:00:00+01:00", "0000-01-01T00:59:59.999999+01:00", "9999-12-31T23:30:00-01:00",
            "9999-12-31T23:59:60Z"]
        {
            #expect(Timestamp(rfc3339: text) == nil, "\(text)")
        }
        let first = try #require(Timestamp(rfc3339: "0000-01-01T00:00:00Z"))
        #expect(first.microseconds == CivilDate(year: 0, month: 1, day: 1).epochDay * 86_400_000_000)
        let last = try #require(Timestamp(rfc3339: "9999-12-31T23:59:59.999999Z"))
        #expect(last.microseconds == CivilDate(year: 10_000, month: 1, day: 1).epochDay * 86_400_000_000 - 1)
        #expect(Timestamp(rfc3339: "0000-01-01T01:00:00+01:00") == first)
        #expect(Timestamp(rfc3339: "9999-12-31T22:59:59.999999-01:00") == last)
        for instant in [first, last] {
            #expect(Timestamp(rfc3339: instant.rfc3339) == instant)
        }
    }

    @Test func civilDatesRoundTripEveryDayForCenturies() {
        for day in Int64(-60_000)...Int64(60_000) {
            #expect(CivilDate(epochDay: day).epochDay == day)
        }
        #expect(CivilDate(epochDay: 0).isoString == "1970-01-01")
        #expect(Timestamp(microseconds: 1_795_428_000_250_000).civilDate.compactString == "20261123")
    }
}
