import HypervisionCore
import Testing

@testable import HypervisionIngest

/// Wraps a sentence body (without `$` and `*`) with the checksum computed independently here:
/// the XOR of its bytes as two uppercase hex digits.
func nmeaSentence(_ body: String) -> String {
    let checksum = body.utf8.reduce(UInt8(0), ^)
    let hex = String(checksum, radix: 16, uppercase: true)
    return "$\(body)*\(hex.count == 1 ? "0" + hex : hex)"
}

private let parisBody = "GPRMC,100000.000,A,4851.3960,N,00221.1320,E,10.0,90.0,231126,,,A"

private func fix(_ sentence: String) throws -> RMCFix {
    try NMEA.parseRMC(sentence).get()
}

private func failure(_ sentence: String) -> ValidationError? {
    switch NMEA.parseRMC(sentence) {
    case .success(let fix):
        Issue.record("expected a failure, parsed \(fix)")
        return nil
    case .failure(let error): return error
    }
}

@Suite struct NMEATests {
    @Test func checksumHelperMatchesAPublishedSentence() {
        // A widely published example sentence, checksum as printed: guards the helper the other tests use.
        #expect(
            nmeaSentence("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W")
                == "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A")
    }

    @Test func parsesAnRMCSentence() throws {
        let parsed = try fix(nmeaSentence(parisBody))
        #expect(parsed.time == Timestamp(rfc3339: "2026-11-23T10:00:00Z"))
        #expect(abs(parsed.latitude - 48.8566) < 1e-9)
        #expect(abs(parsed.longitude - 2.3522) < 1e-9)
        #expect(parsed.speedKnots == 10)
        #expect(parsed.course == 90)
    }

    @Test func parsesThePublishedExample() throws {
        let parsed = try fix("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A")
        #expect(parsed.time == Timestamp(rfc3339: "1994-03-23T12:35:19Z"))
        #expect(abs(parsed.latitude - (48 + 7.038 / 60)) < 1e-12)
        #expect(abs(parsed.longitude - (11 + 31.0 / 60)) < 1e-12)
        #expect(parsed.speedKnots == 22.4)
        #expect(parsed.course == 84.4)
    }

    @Test func southernAndWesternHemispheresAreNegative() throws {
        let rio = try fix(nmeaSentence("GPRMC,151500,A,2254.4200,S,04310.4200,W,0.0,,010126,,,A"))
        #expect(abs(rio.latitude - -(22 + 54.42 / 60)) < 1e-9)
        #expect(abs(rio.longitude - -(43 + 10.42 / 60)) < 1e-9)
        let mixed = try fix(nmeaSentence("GPRMC,151500,A,3352.0000,S,15112.0000,E,0.0,,010126,,,A"))
        #expect(mixed.latitude < 0)
        #expect(mixed.longitude > 0)
    }

    @Test func acceptsAnyTwoLetterTalker() throws {
        let reference = try fix(nmeaSentence(parisBody))
        for talker in ["GN", "GL", "GA", "BD", "GB", "QZ"] {
            let body = talker + parisBody.dropFirst(2)
            #expect(try fix(nmeaSentence(body)) == reference, "talker \(talker)")
        }
    }

    @Test func refusesOtherSentenceTypes() {
        let gga = failure(nmeaSentence("GPGGA,100000,4851.3960,N,00221.1320,E,1,08,0.9,35.0,M,47.0,M,,"))
        #expect(gga?.code == .valueInvalid)
        #expect(gga?.message.contains("\"$GPGGA\" is not an RMC sentence") == true)
        #expect(failure(nmeaSentence("G1RMC" + parisBody.dropFirst(5)))?.code == .valueInvalid)
        #expect(failure(nmeaSentence("gpRMC" + parisBody.dropFirst(5)))?.code == .valueInvalid)
        #expect(failure(String(nmeaSentence(parisBody).dropFirst()))?.code == .valueInvalid)
    }

    @Test func checksumMismatchNamesBothValues() {
        let error = failure("$\(parisBody)*4B")
        #expect(error?.code == .checksumInvalid)
        #expect(error?.message == "RMC sentence checksum is 4B, computed 67")
    }

    @Test func checksumIsCaseInsensitive() throws {
        let sentence = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6a"
        #expect(try fix(sentence).course == 84.4)
    }

    @Test func aDamagedDigitIsCaughtByTheChecksum() {
        let good = nmeaSentence(parisBody)
        let damaged = good.replacing("4851.3960", with: "4857.3960", maxReplacements: 1)
        #expect(failure(damaged)?.code == .checksumInvalid)
    }

    @Test func missingOrMalformedChecksumIsRefused() {
        #expect(failure("$" + parisBody)?.code == .checksumInvalid)
        #expect(failure("$" + parisBody + "*")?.code == .checksumInvalid)
        #expect(failure("$" + parisBody + "*6")?.code == .checksumInvalid)
        #expect(failure("$" + parisBody + "*6G")?.code == .checksumInvalid)
        #expect(failure("$" + parisBody + "*670")?.code == .checksumInvalid)
    }

    @Test func voidFixIsRefused() {
        let error = failure(nmeaSentence("GPRMC,100000.000,V,,,,,,,231126,,,N"))
        #expect(error?.code == .fixInvalid)
        #expect(error?.message.contains("status V") == true)
        // Status A but mode N (data not valid), as some receivers send while acquiring.
        let modeN = failure(nmeaSentence("GPRMC,100000.000,A,4851.3960,N,00221.1320,E,10.0,90.0,231126,,,N"))
        #expect(modeN?.code == .fixInvalid)
        #expect(failure(nmeaSentence("GPRMC,100000.000,X,4851.3960,N,00221.1320,E,10.0,90.0,231126,,,A"))?.code == .valueInvalid)
    }

    @Test func twoDigitYearsPivotAt1980() throws {
        func year(_ yy: String) throws -> Int64 {
            try fix(nmeaSentence("GPRMC,000000,A,4851.3960,N,00221.1320,E,,,0101\(yy),,")).time.civilDate.year
        }
        #expect(try year("80") == 1980)
        #expect(try year("99") == 1999)
        #expect(try year("00") == 2000)
        #expect(try year("26") == 2026)
        #expect(try year("79") == 2079)
    }

    @Test func emptySpeedAndCourseAreNil() throws {
        let parsed = try fix(nmeaSentence("GPRMC,100000,A,4851.3960,N,00221.1320,E,,,231126,,"))
        #expect(parsed.speedKnots == nil)
        #expect(parsed.course == nil)
    }

    @Test func fractionalSecondsAreKept() throws {
        #expect(try fix(nmeaSentence("GPRMC,100000.25,A,4851.3960,N,00221.1320,E,,,231126,,")).time
            == Timestamp(rfc3339: "2026-11-23T10:00:00.250Z"))
        #expect(try fix(nmeaSentence("GPRMC,235959.1234567,A,4851.3960,N,00221.1320,E,,,231126,,")).time
            == Timestamp(rfc3339: "2026-11-23T23:59:59.123456Z"))
    }

    @Test func olderSentencesWithoutModeOrVariationParse() throws {
        // NMEA 2.0 and earlier: no mode field; some receivers also drop the variation fields.
        #expect(try fix(nmeaSentence("GPRMC,100000,A,4851.3960,N,00221.1320,E,10.0,90.0,231126,,")).speedKnots == 10)
        #expect(try fix(nmeaSentence("GPRMC,100000,A,4851.3960,N,00221.1320,E,10.0,90.0,231126")).course == 90)
        let short = failure(nmeaSentence("GPRMC,100000,A,4851.3960,N,00221.1320,E,10.0,90.0"))
        #expect(short?.code == .valueInvalid)
        #expect(short?.message.contains("9 fields") == true)
    }

    @Test func surroundingWhitespaceIsIgnored() throws {
        #expect(try fix(nmeaSentence(parisBody) + "\r\n") == fix(nmeaSentence(parisBody)))
        #expect(try fix("  " + nmeaSentence(parisBody)) == fix(nmeaSentence(parisBody)))
    }

    @Test func refusesMalformedFields() {
        let cases: [(String, ValidationError.Code, String)] = [
            ("GPRMC,250000,A,4851.3960,N,00221.1320,E,,,231126,,", .timeInvalid, "time \"250000\""),
            ("GPRMC,1000,A,4851.3960,N,00221.1320,E,,,231126,,", .timeInvalid, "time \"1000\""),
            ("GPRMC,100000.,A,4851.3960,N,00221.1320,E,,,231126,,", .timeInvalid, "time"),
            ("GPRMC,100000,A,4851.3960,N,00221.1320,E,,,310426,,", .timeInvalid, "date \"310426\""),
            ("GPRMC,100000,A,4851.3960,N,00221.1320,E,,,290225,,", .timeInvalid, "date \"290225\""),
            ("GPRMC,100000,A,4851.3960,N,00221.1320,E,,,,,", .timeInvalid, "date \"\""),
            ("GPRMC,100000,A,4860.0000,N,00221.1320,E,,,231126,,", .valueInvalid, "latitude \"4860.0000\""),
            ("GPRMC,100000,A,48A1.3960,N,00221.1320,E,,,231126,,", .valueInvalid, "latitude"),
            ("GPRMC,100000,A,,N,00221.1320,E,,,231126,,", .valueInvalid, "has no latitude"),
            ("GPRMC,100000,A,4851.3960,X,00221.1320,E,,,231126,,", .valueInvalid, "latitude hemisphere \"X\" is neither N nor S"),
            ("GPRMC,100000,A,4851.3960,N,00221.1320,,,,231126,,", .valueInvalid, "longitude hemisphere"),
            ("GPRMC,100000,A,4851.3960,N,1000221.1320,E,,,231126,,", .valueInvalid, "longitude"),
            ("GPRMC,100000,A,4851.3960,N,00221.1320,E,fast,,231126,,", .valueInvalid, "speed \"fast\" is not a number"),
            ("GPRMC,100000,A,4851.3960,N,00221.1320,E,,nan,231126,,", .valueInvalid, "course \"nan\" is not a number"),
        ]
        for (body, code, fragment) in cases {
            let error = failure(nmeaSentence(body))
            #expect(error?.code == code, "\(body)")
            #expect(error?.message.contains(fragment) == true, "\(body): \(error?.message ?? "no error")")
        }
    }

    /// A coordinate field of many digits once overflowed Int64 while its degrees were added up,
    /// before its length was checked, trapping the daemon. Found by fuzzing.
    @Test func coordinatesWithTooManyDigitsAreRefusedNotTrapped() {
        let digits = String(repeating: "9", count: 40)
        let cases = [
            "GPRMC,100000,A,\(digits).5,N,00221.1320,E,,,231126,,",
            "GPRMC,100000,A,12345678901234567890123.5,N,00221.1320,E,,,231126,,",
            "GPRMC,100000,A,4851.3960,N,\(digits),E,,,231126,,",
        ]
        for body in cases {
            let error = failure(nmeaSentence(body))
            #expect(error?.code == .valueInvalid, "\(body)")
            #expect(error?.message.contains("is not ddmm.mmmm") == true || error?.message.contains("is not dddmm.mmmm") == true)
        }
    }

    @Test func leapDayIsAccepted() throws {
        #expect(try fix(nmeaSentence("GPRMC,120000,A,4851.3960,N,00221.1320,E,,,290228,,")).time
            == Timestamp(rfc3339: "2028-02-29T12:00:00Z"))
    }

    @Test func nonPrintableBytesAreRefused() {
        let error = failure(nmeaSentence("GPRMC,100000,A,4851.3960,N,00221.1320,E,\u{7},,231126,,"))
        #expect(error?.code == .valueInvalid)
        #expect(error?.message.contains("0x07") == true)
    }
}
