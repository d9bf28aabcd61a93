import HypervisionCore
import Testing

@testable import HypervisionIngest

/// One knot in m/s, from its definition (1852 m per hour), not from the decoder.
private let knot = 1852.0 / 3600.0

private func ping(_ query: String, _ decoder: OsmAndDecoder = .init()) throws -> RawPing {
    try decoder.decodeParameters(query).get()
}

private func failure(_ query: String, _ decoder: OsmAndDecoder = .init()) -> ValidationError? {
    switch decoder.decodeParameters(query) {
    case .success(let ping):
        Issue.record("expected a failure, decoded \(ping)")
        return nil
    case .failure(let error): return error
    }
}

private func json(_ text: String, _ decoder: OsmAndDecoder = .init()) -> [Result<RawPing, ValidationError>] {
    decoder.decodeJSON(Array(text.utf8))
}

private func onlyFailure(_ results: [Result<RawPing, ValidationError>]) -> ValidationError? {
    guard results.count == 1, case .failure(let error) = results[0] else {
        Issue.record("expected exactly one failure, got \(results)")
        return nil
    }
    return error
}

private func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        let unreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
        if unreserved {
            out.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let hex = String(byte, radix: 16, uppercase: true)
            out += "%" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return out
}

/// What Traccar Client for Android sends, as a GET query.
private let traccarAndroid =
    "id=123456&timestamp=1795428000&lat=48.8566&lon=2.3522&speed=10&bearing=90&altitude=35&accuracy=8&batt=81.5"

private let parisRMC = nmeaSentence("GPRMC,100000.000,A,4851.3960,N,00221.1320,E,10.0,90.0,231126,,,A")

private let traccarJSON = """
    {"location":{"timestamp":"2026-11-23T10:00:00.250Z","coords":{"latitude":48.85,"longitude":2.35,"speed":3.2,\
    "heading":90,"accuracy":5,"altitude":35},"battery":{"level":0.81,"is_charging":false},"is_moving":true,\
    "event":"motionchange"},"device_id":"123456789012345"}
    """

@Suite struct OsmAndDecoderTests {
    // MARK: - Query strings and forms

    @Test func decodesTraccarClientAndroidGet() throws {
        let decoded = try ping(traccarAndroid)
        #expect(decoded.unit == "123456")
        #expect(decoded.time == "2026-11-23T10:00:00Z")
        #expect(decoded.latitude == 48.8566)
        #expect(decoded.longitude == 2.3522)
        #expect(abs(decoded.speed! - 10 * knot) < 1e-12)
        #expect(decoded.heading == 90)
        #expect(decoded.altitude == 35)
        #expect(decoded.accuracy == 8)
        #expect(decoded.battery == 81.5)
        #expect(decoded.status == nil)
    }

    @Test func theDecodedPingPassesValidation() throws {
        let decoded = try ping(traccarAndroid)
        let validated = try PingValidator().validate(decoded, now: Timestamp(rfc3339: "2026-11-23T10:00:05Z")!)
        #expect(validated.unit.rawValue == "123456")
        #expect(validated.time == Timestamp(seconds: 1_795_428_000))
        #expect(validated.battery == 82)
    }

    @Test func decodesAFormPostWithPlusAsSpace() throws {
        // The same report as an x-www-form-urlencoded body: `+` for spaces, escapes for `:`.
        let body = "id=123456&timestamp=2026-11-23+10%3A00%3A00Z&lat=48.8566&lon=2.3522&speed=10&bearing=90"
            + "&altitude=35&accuracy=8&batt=81.5&status=on+scene&event=motion+change"
        let decoded = try ping(body)
        #expect(decoded.time == "2026-11-23T10:00:00Z")
        #expect(decoded.latitude == 48.8566)
        #expect(try ping("id=unit+one&lat=1&lon=2").unit == "unit one")
        #expect(try ping("id=unit%2Bone&lat=1&lon=2").unit == "unit+one")
    }

    @Test func getAndPostOfTheSameReportAgree() throws {
        let get = try ping(traccarAndroid)
        let post = try ping(percentEncoded("id") + "=" + percentEncoded("123456") + "&timestamp=1795428000"
            + "&lat=" + percentEncoded("48.8566") + "&lon=2.3522&speed=10&bearing=90&altitude=35&accuracy=8&batt=81.5\r\n")
        #expect(get == post)
    }

    @Test func toleratesALeadingQuestionMarkAndEmptySegments() throws {
        #expect(try ping("?" + traccarAndroid) == ping(traccarAndroid))
        #expect(try ping("&" + traccarAndroid.replacing("&", with: "&&") + "&") == ping(traccarAndroid))
    }

    @Test func decodesTheLocationForm() throws {
        let plain = try ping("id=7&location=48.8566,2.3522")
        #expect(plain.latitude == 48.8566)
        #expect(plain.longitude == 2.3522)
        let encoded = try ping("id=7&location=-33.8688%2C151.2093")
        #expect(encoded.latitude == -33.8688)
        #expect(encoded.longitude == 151.2093)
        let spaced = try ping("id=7&location=48.8566,+2.3522")
        #expect(spaced.longitude == 2.3522)
    }

    @Test func refusesAMalformedLocation() {
        for value in ["48.8566", "48.8566,", ",2.3522", "a,b", "48.8566;2.3522", "1,2,3"] {
            let error = failure("id=7&location=\(value)")
            #expect(error?.code == .valueInvalid, "\(value)")
            #expect(error?.message.hasPrefix("location ") == true, "\(value)")
        }
    }

    @Test func readsAllTimestampForms() throws {
        let cases: [(String, String)] = [
            ("1795428000", "2026-11-23T10:00:00Z"),
            ("1795428000250", "2026-11-23T10:00:00.250Z"),  // milliseconds (OsmAnd)
            ("1795428000.25", "2026-11-23T10:00:00.250Z"),
            ("1795428000.000001", "2026-11-23T10:00:00.000001Z"),
            ("1795428000250.5", "2026-11-23T10:00:00.250500Z"),
            ("100000000000", "5138-11-16T09:46:40Z"),  // 10^11 itself is still seconds
            ("100000000001", "1973-03-03T09:46:40.001Z"),  // above it, milliseconds
            (percentEncoded("2026-11-23T10:00:00Z"), "2026-11-23T10:00:00Z"),
            (percentEncoded("2026-11-23T10:00:00.250Z"), "2026-11-23T10:00:00.250Z"),
            (percentEncoded("2026-11-23T11:00:00+01:00"), "2026-11-23T10:00:00Z"),
            (percentEncoded("2026-11-23T11:00:00+0100"), "2026-11-23T10:00:00Z"),
            (percentEncoded("2026-11-23T07:00:00-03"), "2026-11-23T10:00:00Z"),
            ("2026-11-23T11:00:00+01:00", "2026-11-23T10:00:00Z"),  // `+` sent unencoded arrives as a space
            ("2026-11-23T10:00:00z", "2026-11-23T10:00:00Z"),
        ]
        for (value, expected) in cases {
            #expect(try ping("id=1&lat=1&lon=2&timestamp=\(value)").time == expected, "\(value)")
        }
    }

    @Test func missingOrEmptyTimestampStaysNil() throws {
        #expect(try ping("id=1&lat=1&lon=2").time == nil)
        #expect(try ping("id=1&lat=1&lon=2&timestamp=").time == nil)
    }

    @Test func refusesBadTimestamps() {
        let neither = failure("id=1&lat=1&lon=2&timestamp=x")
        #expect(neither?.code == .timeInvalid)
        #expect(neither?.message == #"timestamp "x" is neither Unix time nor ISO 8601"#)
        let noZone = failure("id=1&lat=1&lon=2&timestamp=2026-11-23T10%3A00%3A00")
        #expect(noZone?.code == .timeInvalid)
        #expect(noZone?.message.contains("has no time zone") == true)
        for value in ["1795428000.", "17954.28000.1", "1234567890123456", "-1795428000", "2026-13-23T10:00:00Z",
            "2026-11-23T10:00:00+1", "2026-11-23T10:00:00+01:00:00", "2026-11-23"]
        {
            #expect(failure("id=1&lat=1&lon=2&timestamp=\(percentEncoded(value))")?.code == .timeInvalid, "\(value)")
        }
    }

    /// A zone of the right length but the wrong shape once trapped the daemon (`+::` left no
    /// digits to slice), and `+1:2:` was read as `+12:00`. Found by fuzzing; now a specific refusal.
    @Test func malformedZoneOffsetsAreRefusedNotTrapped() throws {
        // The issue's request, exactly as it arrived on port 5055.
        let reported = failure("timestamp=2026-01-01T00:00:00%2B::&id=1&lat=1&lon=2")
        #expect(reported == ValidationError(
            .timeInvalid, #"timestamp "2026-01-01T00:00:00+::" is neither Unix time nor ISO 8601"#))
        for zone in ["+::", "-::", " ::", "+1:", "+:1", "+1:2:", "+12:3:", "+:1:2", "+1::2", "+ab:cd", "+12:ab", "+1a", "+12a4",
            "+::::", "+12:", "+1"]
        {
            let error = failure("id=1&lat=1&lon=2&timestamp=\(percentEncoded("2026-01-01T00:00:00" + zone))")
            #expect(error?.code == .timeInvalid, "\(zone)")
        }
        // The same zones inside a Traccar Client JSON body, and after a fraction.
        for zone in ["+::", "+1:2:", "-1:"] {
            let body = #"{"device_id":"a","location":{"timestamp":"2026-01-01T00:00:00.5\#(zone)","coords":{"latitude":1,"longitude":2}}}"#
            #expect(onlyFailure(json(body))?.code == .timeInvalid, "\(zone)")
        }
        // The three well-formed shapes still read, with their minutes.
        #expect(try ping("id=1&lat=1&lon=2&timestamp=\(percentEncoded("2026-01-01T05:30:00+05:30"))").time == "2026-01-01T00:00:00Z")
        #expect(try ping("id=1&lat=1&lon=2&timestamp=\(percentEncoded("2026-01-01T05:30:00+0530"))").time == "2026-01-01T00:00:00Z")
        #expect(try ping("id=1&lat=1&lon=2&timestamp=\(percentEncoded("2026-01-01T05:00:00+05"))").time == "2026-01-01T00:00:00Z")
    }

    /// Text is all a query string has, so decimal text is a number there; but the other
    /// spellings `Double(String)` would take (hexadecimal floats, `nan`, `inf`) are refused.
    @Test func hexadecimalFloatsNaNAndInfinityAreRefusedEverywhere() {
        for value in ["0x1p3", "0X1.8P1", "0x10", "1p3", "nan", "NaN", "inf", "infinity", "-Infinity", "0x1p3,2"] {
            let error = failure("id=1&lat=1&lon=2&speed=\(percentEncoded(value))")
            #expect(error?.code == .valueInvalid, "\(value)")
            #expect(error?.message.hasSuffix("is not a number") == true, "\(value): \(error?.message ?? "")")
            #expect(failure("id=1&location=\(percentEncoded(value + ",2"))")?.code == .valueInvalid, "\(value)")
        }
        // In a Traccar Client JSON body these are not JSON at all.
        for value in ["0x1p3", "NaN", "Infinity", "+1", ".5", "1.", "01"] {
            let body = #"{"device_id":"a","location":{"coords":{"latitude":\#(value),"longitude":2}}}"#
            #expect(onlyFailure(json(body))?.code == .jsonInvalid, "\(value)")
        }
        // And a number sent as a string is a wrong type, not a number.
        let quoted = onlyFailure(json(#"{"device_id":"a","location":{"coords":{"latitude":"48.8","longitude":2}}}"#))
        #expect(quoted == ValidationError(.fieldTypeInvalid, "coords.latitude must be a number, found a string"))
    }

    @Test func deviceidIsAnAliasOfId() throws {
        #expect(try ping("deviceid=PN-75-BAC-12&lat=1&lon=2").unit == "PN-75-BAC-12")
        let empty = failure("deviceid=&lat=1&lon=2")
        #expect(empty?.code == .fieldMissing)
        #expect(empty?.message == "deviceid is empty")
    }

    @Test func convertsKnotsToMetresPerSecond() throws {
        #expect(abs(try ping("id=1&lat=1&lon=2&speed=1").speed! - 0.514444) < 1e-6)
        #expect(abs(try ping("id=1&lat=1&lon=2&speed=19.4384").speed! - 10) < 1e-4)
        #expect(try ping("id=1&lat=1&lon=2&speed=0").speed == 0)
        #expect(try ping("id=1&lat=1&lon=2&heading=270").heading == 270)
    }

    @Test func emptyOptionalValuesAreAbsent() throws {
        // OsmAnd URL templates leave placeholders empty when a value is unknown.
        let decoded = try ping("id=1&lat=1&lon=2&speed=&bearing=&altitude=&accuracy=&batt=&gprmc=")
        #expect(decoded == RawPing(unit: "1", latitude: 1, longitude: 2))
    }

    @Test func ignoresUnknownParameters() throws {
        let decoded = try ping(traccarAndroid + "&charge=true&hdop=0.9&status=busy&driverUniqueId=42&wifi=a%20b&valid")
        #expect(decoded == (try ping(traccarAndroid)))
    }

    @Test func repeatedParametersLastOneWins() throws {
        let decoded = try ping("id=a&id=b&lat=1&lat=3&lon=2&bearing=10&heading=20")
        #expect(decoded.unit == "b")
        #expect(decoded.latitude == 3)
        #expect(decoded.heading == 20)
    }

    @Test func reportsMissingFields() {
        let noID = failure("lat=1&lon=2")
        #expect(noID?.code == .fieldMissing)
        #expect(noID?.message == "missing id/deviceid")
        let noPosition = failure("id=1&timestamp=1795428000")
        #expect(noPosition?.code == .fieldMissing)
        #expect(noPosition?.message.hasPrefix("missing position") == true)
        #expect(failure("id=1&lat=1")?.message == "missing lon (lat is present)")
        #expect(failure("id=1&lon=1")?.message == "missing lat (lon is present)")
        #expect(failure("")?.code == .fieldMissing)
        #expect(failure("ID=1&Lat=1&Lon=2")?.message == "missing id/deviceid")  // names are case-sensitive, as in Traccar
    }

    @Test func refusesNonNumbersNamingTheParameter() throws {
        let lat = failure("id=1&lat=abc&lon=2")
        #expect(lat?.code == .valueInvalid)
        #expect(lat?.message == #"lat "abc" is not a number"#)
        let cases = ["lon=nan", "speed=inf", "bearing=0x10", "altitude=1,5", "accuracy=.5", "batt=5.", "lat=1e", "lat=--1"]
        for pair in cases {
            let name = String(pair.prefix { $0 != "=" })
            let error = failure("id=1&lat=1&lon=2&\(pair)")
            #expect(error?.code == .valueInvalid, "\(pair)")
            #expect(error?.message.hasPrefix("\(name) \"") == true, "\(pair): \(error?.message ?? "")")
        }
        #expect(failure("id=1&lat=1e999&lon=2")?.message.contains("too large") == true)
        #expect(try ping("id=1&lat=-4.5e1&lon=%2B2").latitude == -45)
    }

    @Test func refusesBadPercentEscapes() {
        let value = failure("id=1&lat=4%zz8&lon=2")
        #expect(value?.code == .valueInvalid)
        #expect(value?.message == #"lat has an invalid percent escape "%zz""#)
        #expect(failure("id=1&lat=1&lon=2%4")?.message == #"lon has an invalid percent escape "%4""#)
        #expect(failure("id=1&lat=1&lon=2%")?.code == .valueInvalid)
        // Unknown parameters are ignored, but a broken escape anywhere means a broken body.
        #expect(failure("id=1&lat=1&lon=2&note=50%")?.message.contains("\"note\"") == true)
        #expect(failure("id=1&lat=1&lon=2&no%ge=1")?.code == .valueInvalid)
    }

    @Test func refusesAnIdThatIsNotUTF8() throws {
        let error = failure("id=%FF%FE&lat=1&lon=2")
        #expect(error?.code == .valueInvalid)
        #expect(error?.message == "id is not valid UTF-8")
        #expect(try ping("id=%C3%A9&lat=1&lon=2").unit == "é")  // valid UTF-8 passes; UnitID judges it later
    }

    @Test func enforcesTheParameterLimit() throws {
        var limits = OsmAndDecoder.Limits()
        limits.maximumParameters = 4
        let decoder = OsmAndDecoder(limits: limits)
        #expect(try ping("id=1&lat=1&lon=2&a=1", decoder).unit == "1")
        let error = failure("id=1&lat=1&lon=2&a=1&b=2", decoder)
        #expect(error?.code == .tooManyParameters)
        #expect(error?.message == "too many parameters (limit 4)")
        let many = (0..<64).map { "p\($0)=1" }.joined(separator: "&")
        #expect(failure("id=1&lat=1&lon=2&" + many)?.message == "too many parameters (limit 64)")
    }

    @Test func enforcesTheValueLimit() throws {
        let long = String(repeating: "1", count: 257)
        let error = failure("id=\(long)&lat=1&lon=2")
        #expect(error?.code == .stringTooLong)
        #expect(error?.message == "id is longer than 256 bytes")
        // The limit is on the decoded value: 256 bytes written as 768 escaped ones pass.
        let escaped = String(repeating: "%31", count: 256)
        #expect(try ping("id=\(escaped)&lat=1&lon=2").unit == String(repeating: "1", count: 256))
        // Unknown parameters are not kept, so not limited.
        #expect(try ping("id=1&lat=1&lon=2&note=\(long)").unit == "1")
    }

    // MARK: gprmc

    @Test func decodesGprmc() throws {
        let decoded = try ping("id=123456&gprmc=" + percentEncoded(parisRMC))
        #expect(decoded.unit == "123456")
        #expect(decoded.time == "2026-11-23T10:00:00Z")
        #expect(abs(decoded.latitude! - 48.8566) < 1e-9)
        #expect(abs(decoded.longitude! - 2.3522) < 1e-9)
        #expect(abs(decoded.speed! - 10 * knot) < 1e-12)
        #expect(decoded.heading == 90)
        // `$`, `,` and `*` are legal unencoded in a query, and senders often leave them so.
        #expect(try ping("id=123456&gprmc=" + parisRMC) == decoded)
    }

    @Test func explicitParametersWinOverGprmc() throws {
        let decoded = try ping(
            "gprmc=\(percentEncoded(parisRMC))&id=1&timestamp=1795428060&lat=48.85661&lon=2.35221&speed=0&bearing=180&batt=50")
        #expect(decoded.time == "2026-11-23T10:01:00Z")
        #expect(decoded.latitude == 48.85661)
        #expect(decoded.longitude == 2.35221)
        #expect(decoded.speed == 0)
        #expect(decoded.heading == 180)
        #expect(decoded.battery == 50)
    }

    @Test func gprmcChecksumMismatchIsRefused() {
        let wrong = parisRMC.dropLast(2) + "4B"
        let error = failure("id=1&gprmc=" + percentEncoded(String(wrong)))
        #expect(error?.code == .checksumInvalid)
        #expect(error?.message == "gprmc checksum is 4B, computed 67")
        #expect(failure("id=1&gprmc=" + percentEncoded(String(parisRMC.dropLast(3))))?.code == .checksumInvalid)
    }

    @Test func gprmcVoidFixIsRefused() {
        let void = nmeaSentence("GPRMC,100000.000,V,4851.3960,N,00221.1320,E,,,231126,,,N")
        let error = failure("id=1&gprmc=" + percentEncoded(void))
        #expect(error?.code == .fixInvalid)
        #expect(error?.message.hasPrefix("gprmc ") == true)
    }

    @Test func gprmcInOtherHemispheresAndTalkers() throws {
        let sentence = nmeaSentence("GNRMC,235959.50,A,3352.1280,S,07037.9980,W,0.5,,311226,,,D")
        let decoded = try ping("id=1&gprmc=" + percentEncoded(sentence))
        #expect(abs(decoded.latitude! - -(33 + 52.128 / 60)) < 1e-9)
        #expect(abs(decoded.longitude! - -(70 + 37.998 / 60)) < 1e-9)
        #expect(decoded.time == "2026-12-31T23:59:59.500Z")
        #expect(decoded.heading == nil)
    }

    // MARK: - JSON body

    @Test func decodesTraccarClientJSON() throws {
        let results = json(traccarJSON)
        try #require(results.count == 1)
        #expect(
            try results[0].get()
                == RawPing(
                    unit: "123456789012345", time: "2026-11-23T10:00:00.250Z", latitude: 48.85, longitude: 2.35,
                    altitude: 35, speed: 3.2, heading: 90, accuracy: 5, battery: 81))
    }

    @Test func decodesTheFullPluginPayload() throws {
        // The shape the background-geolocation plugin actually posts, extras and all.
        let body = """
            {"location":{"event":"motionchange","is_moving":false,"uuid":"b1f0c2d4-9a0e-4a8f-b9e2-1c2d3e4f5a6b",\
            "timestamp":"2026-11-23T10:00:00.000Z","odometer":1234.5,"coords":{"latitude":-33.8688,"longitude":151.2093,\
            "accuracy":12.5,"speed":-1,"speed_accuracy":-1,"heading":-1,"heading_accuracy":-1,"altitude":58.3,\
            "ellipsoidal_altitude":58.3,"altitude_accuracy":3.1,"floor":null},"activity":{"type":"still","confidence":100},\
            "battery":{"is_charging":true,"level":-1},"extras":{"note":["a",{"b":[1,2.5e3,true,null]}]},"mock":false},\
            "device_id":123456789012345}
            """
        let results = json(body)
        try #require(results.count == 1)
        #expect(
            try results[0].get()
                == RawPing(
                    unit: "123456789012345", time: "2026-11-23T10:00:00Z", latitude: -33.8688, longitude: 151.2093,
                    altitude: 58.3, speed: nil, heading: nil, accuracy: 12.5, battery: nil))
    }

    @Test func decodesABatchInOrder() throws {
        let body = """
            {"location":[\
            {"timestamp":"2026-11-23T10:00:00Z","coords":{"latitude":1,"longitude":2,"speed":0}},\
            {"timestamp":"2026-11-23T10:00:05Z","coords":{"latitude":1.5,"longitude":2.5,"speed":1.25}},\
            {"timestamp":"2026-11-23T10:00:10Z","coords":{"latitude":"x","longitude":3}},\
            42,\
            {"timestamp":"2026-11-23T10:00:15Z","coords":{"latitude":2,"longitude":3}}\
            ],"device_id":"PN-1"}
            """
        let results = json(body)
        try #require(results.count == 5)
        #expect(try results[0].get() == RawPing(unit: "PN-1", time: "2026-11-23T10:00:00Z", latitude: 1, longitude: 2, speed: 0))
        #expect(try results[1].get() == RawPing(unit: "PN-1", time: "2026-11-23T10:00:05Z", latitude: 1.5, longitude: 2.5, speed: 1.25))
        guard case .failure(let typeError) = results[2], case .failure(let objectError) = results[3] else {
            Issue.record("items 2 and 3 should fail: \(results)")
            return
        }
        #expect(typeError.code == .fieldTypeInvalid)
        #expect(typeError.message == "coords.latitude must be a number, found a string")
        #expect(objectError.code == .notAnObject)
        #expect(try results[4].get().time == "2026-11-23T10:00:15Z")
    }

    @Test func emptyBatchHasNoItems() {
        #expect(json(#"{"location":[],"device_id":"a"}"#).isEmpty)
    }

    @Test func batteryLevelMinusOneIsUnknown() throws {
        let body = #"{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2},"battery":{"level":-1}}}"#
        #expect(try json(body)[0].get().battery == nil)
        let full = #"{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2},"battery":{"level":1}}}"#
        #expect(try json(full)[0].get().battery == 100)
        let tenth = #"{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2},"battery":{"level":0.575}}}"#
        #expect(try json(tenth)[0].get().battery == 57.5)
    }

    @Test func nullsAndMissingValuesAreNil() throws {
        let body = """
            {"device_id":"a","location":{"timestamp":null,"coords":{"latitude":1,"longitude":2,"speed":null,\
            "heading":null,"accuracy":null,"altitude":null},"battery":null,"activity":null}}
            """
        #expect(try json(body)[0].get() == RawPing(unit: "a", latitude: 1, longitude: 2))
        let sparse = #"{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2}}}"#
        #expect(try json(sparse)[0].get() == RawPing(unit: "a", latitude: 1, longitude: 2))
    }

    @Test func jsonTimestampsAreNormalised() throws {
        func time(_ value: String) throws -> String? {
            try json(#"{"device_id":"a","location":{"timestamp":\#(value),"coords":{"latitude":1,"longitude":2}}}"#)[0].get().time
        }
        #expect(try time(#""2026-11-23T11:00:00.250+01:00""#) == "2026-11-23T10:00:00.250Z")
        #expect(try time(#""2026-11-23T10:00:00\u002E5Z""#) == "2026-11-23T10:00:00.500Z")  // escaped '.'
        #expect(try time("1795428000250") == "2026-11-23T10:00:00.250Z")
        #expect(try time("1795428000") == "2026-11-23T10:00:00Z")
    }

    @Test func jsonItemProblemsFailOnlyTheirItem() {
        let cases: [(String, ValidationError.Code, String)] = [
            (#""timestamp":"yesterday","coords":{"latitude":1,"longitude":2}"#, .timeInvalid,
             #"timestamp "yesterday" is neither Unix time nor ISO 8601"#),
            (#""timestamp":true,"coords":{"latitude":1,"longitude":2}"#, .fieldTypeInvalid,
             "timestamp must be a string or a number, found a boolean"),
            (#""coords":[1,2]"#, .fieldTypeInvalid, "coords must be an object, found an array"),
            (#""coords":{"latitude":1,"longitude":2},"battery":0.5"#, .fieldTypeInvalid, "battery must be an object, found a number"),
            (#""coords":{"latitude":1,"longitude":2,"speed":"3"}"#, .fieldTypeInvalid, "coords.speed must be a number, found a string"),
            (#""coords":{"latitude":1,"longitude":1e400}"#, .valueInvalid, "coords.longitude is too large for a double"),
            (#""coords":{"longitude":2}"#, .fieldMissing, "missing coords.latitude"),
            (#""coords":{"latitude":1}"#, .fieldMissing, "missing coords.longitude"),
            (#""timestamp":"2026-11-23T10:00:00Z""#, .fieldMissing, "missing coords.latitude and coords.longitude"),
        ]
        for (location, code, message) in cases {
            let results = json(#"{"device_id":"a","location":[{\#(location)},{"coords":{"latitude":5,"longitude":6}}]}"#)
            guard results.count == 2, case .failure(let error) = results[0] else {
                Issue.record("\(location): expected a failure then a ping, got \(results)")
                continue
            }
            #expect(error.code == code, "\(location)")
            #expect(error.message == message, "\(location)")
            #expect((try? results[1].get())?.latitude == 5, "\(location)")
        }
    }

    @Test func deviceIDProblemsFailEveryLocation() {
        let missing = json(#"{"location":[{"coords":{"latitude":1,"longitude":2}},{"coords":{"latitude":3,"longitude":4}}]}"#)
        #expect(missing.count == 2)
        for result in missing {
            guard case .failure(let error) = result else {
                Issue.record("expected a failure, got \(result)")
                continue
            }
            #expect(error.code == .fieldMissing)
            #expect(error.message == "missing device_id")
        }
        let wrongType = json(#"{"device_id":true,"location":{"coords":{"latitude":1,"longitude":2}}}"#)
        #expect(onlyFailure(wrongType)?.message == "device_id must be a string or an integer, found a boolean")
        let fraction = json(#"{"device_id":1.5,"location":{"coords":{"latitude":1,"longitude":2}}}"#)
        #expect(onlyFailure(fraction)?.code == .fieldTypeInvalid)
        let empty = json(#"{"device_id":"","location":{"coords":{"latitude":1,"longitude":2}}}"#)
        #expect(onlyFailure(empty)?.message == "device_id is empty")
    }

    @Test func bodyLevelProblemsAreOneFailure() {
        #expect(onlyFailure(json(#"{"device_id":"a"}"#))?.message == "missing location")
        #expect(onlyFailure(json(#"{"device_id":"a","location":null}"#))?.code == .fieldMissing)
        #expect(onlyFailure(json(#"{"device_id":"a","location":"here"}"#))?.code == .fieldTypeInvalid)
        #expect(onlyFailure(json(#"[{"device_id":"a"}]"#))?.code == .notAnObject)
        #expect(onlyFailure(json(""))?.code == .jsonInvalid)
        let broken = onlyFailure(json(#"{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2}}"#))
        #expect(broken?.code == .jsonInvalid)
        #expect(broken?.message.hasPrefix("invalid JSON at byte") == true)
        #expect(onlyFailure(json(#"{"device_id":"a","location":{"coords":{"latitude":01}}}"#))?.code == .jsonInvalid)
        #expect(onlyFailure(json(#"{"device_id":"a"} x"#))?.code == .jsonInvalid)
        // Unknown values are skipped but still checked.
        #expect(onlyFailure(json(#"{"device_id":"a","extras":{"x":tru},"location":[]}"#))?.code == .jsonInvalid)
    }

    @Test func jsonLimitsAreEnforced() {
        var limits = OsmAndDecoder.Limits()
        limits.maximumItems = 2
        limits.maximumValueBytes = 8
        limits.maximumDepth = 4
        let decoder = OsmAndDecoder(limits: limits)
        let location = #"{"coords":{"latitude":1,"longitude":2}}"#
        #expect(json(#"{"device_id":"a","location":[\#(location),\#(location)]}"#, decoder).count == 2)
        let tooMany = onlyFailure(json(#"{"device_id":"a","location":[\#(location),\#(location),\#(location)]}"#, decoder))
        #expect(tooMany?.code == .tooManyItems)
        let longID = onlyFailure(json(#"{"device_id":"123456789","location":\#(location)}"#, decoder))
        #expect(longID?.code == .stringTooLong)
        #expect(longID?.message == "device_id is longer than 8 bytes")
        let longNumericID = onlyFailure(json(#"{"device_id":123456789,"location":\#(location)}"#, decoder))
        #expect(longNumericID?.code == .stringTooLong)
        // body, location array, location, coords: four levels are the format itself.
        #expect(json(#"{"device_id":"a","location":[\#(location)]}"#, decoder).count == 1)
        let deep = onlyFailure(json(#"{"device_id":"a","location":[{"extras":{"a":{}}}]}"#, decoder))
        #expect(deep?.code == .nestingTooDeep)
    }

    @Test func escapedKeysStillMatch() throws {
        let body = #"{"device\u005Fid":"a","location":{"co\u006Frds":{"latitude":1,"longitude":2}}}"#
        #expect(try json(body)[0].get() == RawPing(unit: "a", latitude: 1, longitude: 2))
    }

    @Test func speedIsNotConvertedInJSON() throws {
        let body = #"{"device_id":"a","location":{"coords":{"latitude":1,"longitude":2,"speed":10}}}"#
        #expect(try json(body)[0].get().speed == 10)
    }
}
