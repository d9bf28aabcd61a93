import HypervisionCore

/// Parsers for NMEA 0183 sentences, the text GPS receivers speak and some trackers forward as is.
public enum NMEA {
    /// Parses an RMC sentence ("recommended minimum": time, position, speed and course) from any
    /// talker: `$GPRMC`, `$GNRMC`, `$GLRMC`, …
    ///
    /// `$GPRMC,hhmmss.sss,A,ddmm.mmmm,N,dddmm.mmmm,E,speed,course,ddmmyy,magVar,magDir[,mode]*hh`.
    /// Surrounding whitespace (a trailing `\r\n`) is ignored.
    ///
    /// The checksum is required (`checksum_invalid` when missing, malformed or wrong): a sentence
    /// relayed through a phone or an SMS gateway can be cut or altered, and a damaged digit in a
    /// coordinate would still parse. A fix the receiver itself marks as not valid (status `V`, or
    /// mode `N`) is `fix_invalid`. Magnetic variation is read past but not used. Ranges are not
    /// checked here; that is ``PingValidator``'s job.
    public static func parseRMC(_ sentence: some StringProtocol) -> Result<RMCFix, ValidationError> {
        TextScan.withUTF8(sentence) { parseRMC($0, name: "RMC sentence") }
    }

    /// Parses an RMC sentence; `name` starts every message (`gprmc` when it came as a parameter).
    static func parseRMC(_ bytes: UnsafeBufferPointer<UInt8>, name: String) -> Result<RMCFix, ValidationError> {
        do throws(ValidationError) {
            return .success(try rmc(bytes, name: name))
        } catch {
            return .failure(error)
        }
    }

    private static func rmc(_ bytes: UnsafeBufferPointer<UInt8>, name: String) throws(ValidationError) -> RMCFix {
        let sentence = TextScan.trimmed(bytes)
        guard sentence.lowerBound < sentence.upperBound, bytes[sentence.lowerBound] == UInt8(ascii: "$") else {
            throw ValidationError(.valueInvalid, "\(name) \(TextScan.quoted(bytes, sentence)) does not start with '$'")
        }
        // One pass computes the checksum, counts the fields and finds the '*'.
        var star = sentence.lowerBound + 1
        var computed: UInt8 = 0
        var fieldCount = 1
        while star < sentence.upperBound, bytes[star] != UInt8(ascii: "*") {
            let b = bytes[star]
            guard b >= 0x20, b < 0x7F else {
                throw ValidationError(
                    .valueInvalid, "\(name) contains byte 0x\(TextScan.hex2(b)); NMEA sentences are printable ASCII")
            }
            if b == UInt8(ascii: ",") { fieldCount += 1 }
            computed ^= b
            star += 1
        }
        guard star < sentence.upperBound else {
            throw ValidationError(.checksumInvalid, "\(name) has no checksum (it must end with *hh)")
        }
        guard sentence.upperBound - star == 3,
            let high = TextScan.hexDigit(bytes[star + 1]), let low = TextScan.hexDigit(bytes[star + 2])
        else {
            throw ValidationError(
                .checksumInvalid,
                "\(name) checksum \(TextScan.quoted(bytes, star + 1..<sentence.upperBound)) is not two hexadecimal digits")
        }
        let given = high << 4 | low
        guard given == computed else {
            throw ValidationError(
                .checksumInvalid, "\(name) checksum is \(TextScan.hex2(given)), computed \(TextScan.hex2(computed))")
        }

        var fields = FieldReader(bytes: bytes, start: sentence.lowerBound + 1, end: star)
        let address = fields.next()
        guard address.count == 5, TextScan.isUpper(bytes[address.lowerBound]),
            TextScan.isUpper(bytes[address.lowerBound + 1]), bytes[address.lowerBound + 2] == UInt8(ascii: "R"),
            bytes[address.lowerBound + 3] == UInt8(ascii: "M"), bytes[address.lowerBound + 4] == UInt8(ascii: "C")
        else {
            throw ValidationError(
                .valueInvalid,
                "\(name) \(TextScan.quoted(bytes, sentence.lowerBound..<address.upperBound)) is not an RMC sentence")
        }
        // Date is the 9th data field; magnetic variation, mode and navigation status came later
        // in the standard's history, so older receivers stop at the date or the variation.
        guard fieldCount >= 10 else {
            throw ValidationError(.valueInvalid, "\(name) has \(fieldCount) fields; an RMC sentence has at least 10")
        }
        let timeField = fields.next()
        let status = fields.next()
        let latitudeField = fields.next()
        let latitudeHemisphere = fields.next()
        let longitudeField = fields.next()
        let longitudeHemisphere = fields.next()
        let speedField = fields.next()
        let courseField = fields.next()
        let dateField = fields.next()
        _ = fields.next()  // magnetic variation
        _ = fields.next()  // its direction
        let mode = fields.next()

        guard status.count == 1, bytes[status.lowerBound] == UInt8(ascii: "A") else {
            if status.count == 1, bytes[status.lowerBound] == UInt8(ascii: "V") {
                throw ValidationError(.fixInvalid, "\(name) reports no valid fix (status V)")
            }
            throw ValidationError(.valueInvalid, "\(name) status \(TextScan.quoted(bytes, status)) is neither A nor V")
        }
        if mode.count == 1, bytes[mode.lowerBound] == UInt8(ascii: "N") {
            throw ValidationError(.fixInvalid, "\(name) reports no valid fix (mode N)")
        }

        guard let timeOfDay = microsecondsOfDay(bytes, timeField) else {
            throw ValidationError(.timeInvalid, "\(name) time \(TextScan.quoted(bytes, timeField)) is not hhmmss[.sss]")
        }
        guard let day = epochDay(bytes, dateField) else {
            throw ValidationError(.timeInvalid, "\(name) date \(TextScan.quoted(bytes, dateField)) is not a valid ddmmyy")
        }
        let latitude = try coordinate(
            bytes, latitudeField, latitudeHemisphere, degreeDigits: 2, positive: "N", negative: "S", what: "latitude",
            name: name)
        let longitude = try coordinate(
            bytes, longitudeField, longitudeHemisphere, degreeDigits: 3, positive: "E", negative: "W", what: "longitude",
            name: name)
        let speed = try optionalNumber(bytes, speedField, what: "speed", name: name)
        let course = try optionalNumber(bytes, courseField, what: "course", name: name)
        return RMCFix(
            time: Timestamp(microseconds: day * 86_400_000_000 + timeOfDay), latitude: latitude, longitude: longitude,
            speedKnots: speed, course: course)
    }

    /// `hhmmss` with an optional fraction of any length (receivers send 0 to 3 digits); digits
    /// beyond microseconds are dropped.
    private static func microsecondsOfDay(_ bytes: UnsafeBufferPointer<UInt8>, _ field: Range<Int>) -> Int64? {
        guard field.count >= 6 else { return nil }
        guard let hours = TextScan.digits(bytes, field.lowerBound, 2),
            let minutes = TextScan.digits(bytes, field.lowerBound + 2, 2),
            let seconds = TextScan.digits(bytes, field.lowerBound + 4, 2),
            hours < 24, minutes < 60, seconds <= 60
        else { return nil }
        var micros: Int64 = 0
        var i = field.lowerBound + 6
        if i < field.upperBound {
            guard bytes[i] == UInt8(ascii: "."), i + 1 < field.upperBound else { return nil }
            i += 1
            var count = 0
            while i < field.upperBound {
                guard TextScan.isDigit(bytes[i]) else { return nil }
                if count < 6 { micros = micros * 10 + Int64(bytes[i] &- 48) }
                count += 1
                i += 1
            }
            for _ in min(count, 6)..<6 { micros *= 10 }
        }
        // A leap second (:60) lands on the next second, as Timestamp's RFC 3339 parser does.
        return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros
    }

    /// `ddmmyy`. RMC has no century: 80–99 are 1980–1999 (GPS began in 1980), the rest 20xx.
    private static func epochDay(_ bytes: UnsafeBufferPointer<UInt8>, _ field: Range<Int>) -> Int64? {
        guard field.count == 6, let day = TextScan.digits(bytes, field.lowerBound, 2),
            let month = TextScan.digits(bytes, field.lowerBound + 2, 2),
            let year = TextScan.digits(bytes, field.lowerBound + 4, 2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        let date = CivilDate(year: year >= 80 ? 1900 + year : 2000 + year, month: month, day: day)
        let epochDay = date.epochDay
        // A day past the month's end (31 April) would roll into the next month; refuse it instead.
        guard CivilDate(epochDay: epochDay) == date else { return nil }
        return epochDay
    }

    /// `ddmm.mmmm` or `dddmm.mmmm` and its hemisphere letter, as signed decimal degrees.
    private static func coordinate(
        _ bytes: UnsafeBufferPointer<UInt8>, _ field: Range<Int>, _ hemisphere: Range<Int>, degreeDigits: Int,
        positive: Unicode.Scalar, negative: Unicode.Scalar, what: String, name: String
    ) throws(ValidationError) -> Double {
        guard !field.isEmpty else { throw ValidationError(.valueInvalid, "\(name) has no \(what)") }
        var point = field.lowerBound
        while point < field.upperBound, TextScan.isDigit(bytes[point]) { point += 1 }
        let integerDigits = point - field.lowerBound
        var valid = integerDigits >= 3 && integerDigits <= degreeDigits + 2
        if valid, point < field.upperBound {
            valid = bytes[point] == UInt8(ascii: ".") && point + 1 < field.upperBound
            for i in (point + 1)..<max(point + 1, field.upperBound) where !TextScan.isDigit(bytes[i]) { valid = false }
        }
        let minutesStart = point - 2
        guard valid,
            let minutes = TextScan.decimal(UnsafeBufferPointer(rebasing: bytes[minutesStart..<field.upperBound])),
            minutes < 60
        else {
            let form = degreeDigits == 2 ? "ddmm.mmmm" : "dddmm.mmmm"
            throw ValidationError(.valueInvalid, "\(name) \(what) \(TextScan.quoted(bytes, field)) is not \(form)")
        }
        // Only now that the field has its shape: at most three degree digits, so no overflow (a
        // field of 20 digits once overflowed Int64 here, before its length was checked).
        var degrees: Int64 = 0
        for i in field.lowerBound..<minutesStart { degrees = degrees * 10 + Int64(bytes[i] &- 48) }
        let value = Double(degrees) + minutes / 60
        if hemisphere.count == 1 {
            if bytes[hemisphere.lowerBound] == UInt8(ascii: positive) { return value }
            if bytes[hemisphere.lowerBound] == UInt8(ascii: negative) { return -value }
        }
        throw ValidationError(
            .valueInvalid,
            "\(name) \(what) hemisphere \(TextScan.quoted(bytes, hemisphere)) is neither \(positive) nor \(negative)")
    }

    private static func optionalNumber(
        _ bytes: UnsafeBufferPointer<UInt8>, _ field: Range<Int>, what: String, name: String
    ) throws(ValidationError) -> Double? {
        if field.isEmpty { return nil }
        guard let value = TextScan.decimal(UnsafeBufferPointer(rebasing: bytes[field])), value.isFinite else {
            throw ValidationError(.valueInvalid, "\(name) \(what) \(TextScan.quoted(bytes, field)) is not a number")
        }
        return value
    }

    /// Yields comma-separated fields in order without collecting them; past the last field it
    /// yields empty ones, so optional trailing fields read as absent.
    private struct FieldReader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position: Int
        let end: Int
        var exhausted = false

        init(bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
            self.bytes = bytes
            self.position = start
            self.end = end
        }

        mutating func next() -> Range<Int> {
            guard !exhausted else { return end..<end }
            var i = position
            while i < end, bytes[i] != UInt8(ascii: ",") { i += 1 }
            let field = position..<i
            if i >= end { exhausted = true } else { position = i + 1 }
            return field
        }
    }
}

/// A position fix read from an NMEA RMC sentence, in the sentence's own units.
public struct RMCFix: Sendable, Equatable {
    /// The fix time, from the sentence's time and date fields (UTC).
    public var time: Timestamp
    /// Decimal degrees, negative in the southern hemisphere.
    public var latitude: Double
    /// Decimal degrees, negative west of Greenwich.
    public var longitude: Double
    /// Speed over ground in knots, as RMC carries it; nil when the field is empty.
    public var speedKnots: Double?
    /// Course over ground in degrees true; nil when the field is empty (receivers leave it
    /// empty when standing still).
    public var course: Double?

    public init(time: Timestamp, latitude: Double, longitude: Double, speedKnots: Double? = nil, course: Double? = nil) {
        self.time = time
        self.latitude = latitude
        self.longitude = longitude
        self.speedKnots = speedKnots
        self.course = course
    }
}

/// Small byte-level helpers shared by the text protocols (OsmAnd parameters, NMEA).
enum TextScan {
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 48 < 10 }

    @inline(__always) static func isUpper(_ b: UInt8) -> Bool { b &- 65 < 26 }

    static func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: b - 48
        case 65...70: b - 55
        case 97...102: b - 87
        default: nil
        }
    }

    /// Two uppercase hexadecimal digits.
    static func hex2(_ b: UInt8) -> String {
        let digits: StaticString = "0123456789ABCDEF"
        let p = digits.utf8Start
        return String(decoding: [p[Int(b >> 4)], p[Int(b & 0xF)]], as: UTF8.self)
    }

    /// `count` decimal digits at `offset` as a number, or nil when any is not a digit.
    static func digits(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int, _ count: Int) -> Int64? {
        var value: Int64 = 0
        for i in offset..<offset + count {
            guard i < bytes.count, isDigit(bytes[i]) else { return nil }
            value = value * 10 + Int64(bytes[i] &- 48)
        }
        return value
    }

    /// The range without leading and trailing spaces, tabs, CR and LF.
    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>? = nil) -> Range<Int> {
        var lower = range?.lowerBound ?? 0
        var upper = range?.upperBound ?? bytes.count
        while lower < upper, isSpace(bytes[lower]) { lower += 1 }
        while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// A decimal number: `[+-]digits[.digits][(e|E)[+-]digits]`.
    ///
    /// Stricter than `Double(String)`, which also takes `nan`, `inf` and hexadecimal floats: no
    /// sender means those, and `nan` would slip past range checks. Infinity from an exponent too
    /// large is returned for the caller to refuse with its own message.
    static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0
        let n = bytes.count
        if i < n, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
        let integerStart = i
        while i < n, isDigit(bytes[i]) { i += 1 }
        guard i > integerStart else { return nil }
        if i < n, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < n, isDigit(bytes[i]) { i += 1 }
            guard i > fractionStart else { return nil }
        }
        if i < n, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < n, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let exponentStart = i
            while i < n, isDigit(bytes[i]) { i += 1 }
            guard i > exponentStart else { return nil }
        }
        guard i == n else { return nil }
        // Up to 15 bytes this is a small String, so the conversion does not allocate.
        return Double(String(decoding: bytes, as: UTF8.self))
    }

    /// A value for a message: quoted, at most 40 bytes, control characters shown as `?`.
    static func quoted(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>? = nil) -> String {
        let range = range ?? 0..<bytes.count
        let shown = range.lowerBound..<min(range.upperBound, range.lowerBound + 40)
        var text = "\""
        text += String(decoding: bytes[shown].lazy.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
        if shown.upperBound < range.upperBound { text += "…" }
        text += "\""
        return text
    }

    /// Runs `body` on the UTF-8 bytes of `text`, copying only when they are not contiguous.
    static func withUTF8<R>(_ text: some StringProtocol, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = String(text)
        return copy.withUTF8(body)
    }
}
