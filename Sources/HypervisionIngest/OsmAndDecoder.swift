import HypervisionCore

/// Decodes the OsmAnd / Traccar Client protocol: what phone tracking apps send to port 5055.
///
/// Two wire forms:
/// - parameters, in a GET query string or an `application/x-www-form-urlencoded` POST body
///   (OsmAnd; Traccar Client's query form), read by ``decodeParameters(_:)``;
/// - the Traccar Client JSON body (the "background geolocation" format of the current apps),
///   possibly a batch, read by ``decodeJSON(_:)-(UnsafeRawBufferPointer)``.
///
/// Like ``JSONPingDecoder`` it reports each ping as the sender meant it (``RawPing``) and leaves
/// ranges to ``PingValidator``, but it does translate the protocol into Hypervision's units and
/// forms: knots become m/s, Unix times become RFC 3339, a battery fraction becomes percent, and a
/// sender's "unknown" sentinel becomes nil. It refuses a ping without a unit or a position, where
/// it can still name the protocol's own parameters; a missing time stays nil for the caller to
/// decide.
public struct OsmAndDecoder: Sendable {
    /// Bounds on the work one request can cause.
    public struct Limits: Sendable, Equatable {
        /// The most `name=value` pairs in a query or form body (Traccar Client sends about ten).
        public var maximumParameters: Int
        /// The longest value kept or parsed, in bytes after percent-decoding (or JSON unescaping).
        /// Values of parameters the decoder does not know are checked for escapes but neither kept
        /// nor limited, as in ``JSONPingDecoder``.
        public var maximumValueBytes: Int
        /// The most locations in one JSON batch. A batch with more is refused whole, so that no
        /// sender believes a location was accepted when it was not read.
        public var maximumItems: Int
        /// The deepest nesting of JSON objects and arrays; it bounds the parser's recursion. The
        /// format itself needs four levels (body, location array, location, coords).
        public var maximumDepth: Int

        public init(
            maximumParameters: Int = 64, maximumValueBytes: Int = 256, maximumItems: Int = 1_000, maximumDepth: Int = 16
        ) {
            self.maximumParameters = maximumParameters
            self.maximumValueBytes = maximumValueBytes
            self.maximumItems = maximumItems
            self.maximumDepth = maximumDepth
        }
    }

    public var limits: Limits

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    /// Metres per second in one knot: the international knot is exactly 1852 m per hour.
    static let metresPerSecondPerKnot = 1852.0 / 3600.0

    // MARK: Parameters

    /// Decodes a query string or a form body (without the leading `?`; one is tolerated) into one
    /// ping, or says why it is not one.
    ///
    /// Parameters: `id` or `deviceid`; `lat` and `lon`, or `location=lat,lon`; `timestamp` (Unix
    /// seconds, milliseconds when above 10^11, decimal seconds, or ISO 8601 with a zone);
    /// `speed` in knots; `bearing` or `heading`; `altitude`; `accuracy`; `batt` (percent); `gprmc`
    /// (an NMEA RMC sentence, see ``NMEA/parseRMC(_:)``). Unknown parameters are ignored, but
    /// their escapes must still be valid. An empty value counts as absent. When a parameter
    /// repeats, the last one wins. A value written as its own parameter wins over the same value
    /// inside `gprmc`.
    ///
    /// `+` is a space, as in forms and as Traccar reads query strings too.
    ///
    /// Failures: `field_missing` (no unit, no position), `value_invalid` (not a number, a bad
    /// percent escape, a malformed `location` or `gprmc`), `time_invalid`, `string_too_long`
    /// (a value over ``Limits/maximumValueBytes``), `too_many_parameters`, and from `gprmc`
    /// `checksum_invalid` and `fix_invalid`.
    public func decodeParameters(_ query: some StringProtocol) -> Result<RawPing, ValidationError> {
        // One copy of the text, then every value is percent-decoded in place: decoding only
        // shrinks, so a value never overwrites the next one.
        var bytes = Array(query.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer in
            do throws(ValidationError) {
                return .success(try decodeParameters(in: buffer))
            } catch {
                return .failure(error)
            }
        }
    }

    private func decodeParameters(in buffer: UnsafeMutableBufferPointer<UInt8>) throws(ValidationError) -> RawPing {
        var fields = ParameterFields()
        let whole = TextScan.trimmed(UnsafeBufferPointer(buffer))
        var start = whole.lowerBound
        if start < whole.upperBound, buffer[start] == UInt8(ascii: "?") { start += 1 }
        var count = 0
        while start < whole.upperBound {
            var stop = start
            while stop < whole.upperBound, buffer[stop] != UInt8(ascii: "&") { stop += 1 }
            defer { start = stop + 1 }
            if stop == start { continue }  // `a=1&&b=2`, or a trailing `&`
            count += 1
            guard count <= limits.maximumParameters else {
                throw ValidationError(.tooManyParameters, "too many parameters (limit \(limits.maximumParameters))")
            }
            var equals = start
            while equals < stop, buffer[equals] != UInt8(ascii: "=") { equals += 1 }

            let keyLength: Int
            switch Self.percentDecode(buffer, start..<equals) {
            case .decoded(let length): keyLength = length
            case .badEscape(let offset):
                throw ValidationError(
                    .valueInvalid,
                    "a parameter name has an invalid percent escape \(Self.escapeText(buffer, offset, end: equals))")
            }
            let key = UnsafeBufferPointer(rebasing: buffer[start..<start + keyLength])
            let parameter = Parameter(key)

            let valueStart = min(equals + 1, stop)
            let valueLength: Int
            switch Self.percentDecode(buffer, valueStart..<stop) {
            case .decoded(let length): valueLength = length
            case .badEscape(let offset):
                let name = parameter == .other ? TextScan.quoted(key) : parameter.name
                throw ValidationError(
                    .valueInvalid, "\(name) has an invalid percent escape \(Self.escapeText(buffer, offset, end: stop))")
            }
            if parameter == .other { continue }
            guard valueLength <= limits.maximumValueBytes else {
                throw ValidationError(.stringTooLong, "\(parameter.name) is longer than \(limits.maximumValueBytes) bytes")
            }
            let value = UnsafeBufferPointer(rebasing: buffer[valueStart..<valueStart + valueLength])
            try fields.read(parameter, value)
        }
        return try fields.ping()
    }

    private enum PercentDecoding {
        case decoded(length: Int)
        /// The offset of the `%` that does not start a valid escape.
        case badEscape(at: Int)
    }

    /// Decodes `%XX` and `+` in place and returns the decoded length. On a bad escape the bytes
    /// from the `%` on are still as received, so the message can show them.
    private static func percentDecode(_ buffer: UnsafeMutableBufferPointer<UInt8>, _ range: Range<Int>) -> PercentDecoding {
        var read = range.lowerBound
        var write = range.lowerBound
        while read < range.upperBound {
            let b = buffer[read]
            if b == UInt8(ascii: "%") {
                guard read + 2 < range.upperBound, let high = TextScan.hexDigit(buffer[read + 1]),
                    let low = TextScan.hexDigit(buffer[read + 2])
                else { return .badEscape(at: read) }
                buffer[write] = high << 4 | low
                read += 3
            } else {
                buffer[write] = b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b
                read += 1
            }
            write += 1
        }
        return .decoded(length: write - range.lowerBound)
    }

    /// The bad escape as received, for a message: the `%` and up to two bytes after it.
    private static func escapeText(_ buffer: UnsafeMutableBufferPointer<UInt8>, _ offset: Int, end: Int) -> String {
        TextScan.quoted(UnsafeBufferPointer(buffer), offset..<min(offset + 3, end))
    }

    /// The parameters the protocol defines; anything else is ignored.
    private enum Parameter: Equatable {
        case id, deviceID, latitude, longitude, location, timestamp, speed, bearing, heading, altitude, accuracy
        case battery, gprmc, other

        init(_ key: UnsafeBufferPointer<UInt8>) {
            func named(_ text: StaticString) -> Bool {
                text.utf8CodeUnitCount == key.count
                    && key.elementsEqual(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
            }
            switch key.count {
            case 2: self = named("id") ? .id : .other
            case 3: self = named("lat") ? .latitude : named("lon") ? .longitude : .other
            case 4: self = named("batt") ? .battery : .other
            case 5: self = named("speed") ? .speed : named("gprmc") ? .gprmc : .other
            case 7: self = named("bearing") ? .bearing : named("heading") ? .heading : .other
            case 8:
                self = named("deviceid") ? .deviceID : named("location") ? .location : named("altitude") ? .altitude
                    : named("accuracy") ? .accuracy : .other
            case 9: self = named("timestamp") ? .timestamp : .other
            default: self = .other
            }
        }

        /// As written on the wire, for messages.
        var name: String {
            switch self {
            case .id: "id"
            case .deviceID: "deviceid"
            case .latitude: "lat"
            case .longitude: "lon"
            case .location: "location"
            case .timestamp: "timestamp"
            case .speed: "speed"
            case .bearing: "bearing"
            case .heading: "heading"
            case .altitude: "altitude"
            case .accuracy: "accuracy"
            case .battery: "batt"
            case .gprmc: "gprmc"
            case .other: "parameter"
            }
        }
    }

    /// What the parameters said so far. `gprmc` is kept whole and merged at the end, because
    /// parameters may come in any order and explicit ones win over it.
    private struct ParameterFields {
        var unit: String?
        var unitParameter = Parameter.id
        var time: Timestamp?
        var latitude: Double?
        var longitude: Double?
        var speedKnots: Double?
        var heading: Double?
        var altitude: Double?
        var accuracy: Double?
        var battery: Double?
        var fix: RMCFix?

        mutating func read(_ parameter: Parameter, _ value: UnsafeBufferPointer<UInt8>) throws(ValidationError) {
            switch parameter {
            case .id, .deviceID:
                guard let text = String(validating: value, as: UTF8.self) else {
                    throw ValidationError(.valueInvalid, "\(parameter.name) is not valid UTF-8")
                }
                unit = text
                unitParameter = parameter
            case .latitude: latitude = try number(value, parameter)
            case .longitude: longitude = try number(value, parameter)
            case .location:
                let range = TextScan.trimmed(value)
                if range.isEmpty {
                    latitude = nil
                    longitude = nil
                    break
                }
                guard let comma = value[range].firstIndex(of: UInt8(ascii: ",")),
                    let lat = Self.decimal(value, range.lowerBound..<comma),
                    let lon = Self.decimal(value, comma + 1..<range.upperBound)
                else {
                    throw ValidationError(.valueInvalid, "location \(TextScan.quoted(value)) is not \"lat,lon\"")
                }
                guard lat.isFinite, lon.isFinite else {
                    throw ValidationError(.valueInvalid, "location \(TextScan.quoted(value)) is too large for a double")
                }
                latitude = lat
                longitude = lon
            case .timestamp:
                time = TextScan.trimmed(value).isEmpty ? nil : try OsmAndDecoder.timestamp(value, name: "timestamp")
            case .speed: speedKnots = try number(value, parameter)
            case .bearing, .heading: heading = try number(value, parameter)
            case .altitude: altitude = try number(value, parameter)
            case .accuracy: accuracy = try number(value, parameter)
            case .battery: battery = try number(value, parameter)
            case .gprmc:
                fix = TextScan.trimmed(value).isEmpty ? nil : try NMEA.parseRMC(value, name: "gprmc").get()
            case .other: break
            }
        }

        /// The number in `range` of `value`, spaces around it allowed.
        private static func decimal(_ value: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Double? {
            TextScan.decimal(UnsafeBufferPointer(rebasing: value[TextScan.trimmed(value, range)]))
        }

        /// A number, or nil for an empty value. Surrounding spaces are allowed because a `+` sign
        /// sent unencoded in a query string arrives as a space.
        private func number(_ value: UnsafeBufferPointer<UInt8>, _ parameter: Parameter) throws(ValidationError) -> Double? {
            let range = TextScan.trimmed(value)
            if range.isEmpty { return nil }
            guard let number = TextScan.decimal(UnsafeBufferPointer(rebasing: value[range])) else {
                throw ValidationError(.valueInvalid, "\(parameter.name) \(TextScan.quoted(value)) is not a number")
            }
            guard number.isFinite else {
                throw ValidationError(.valueInvalid, "\(parameter.name) \(TextScan.quoted(value)) is too large for a double")
            }
            return number
        }

        func ping() throws(ValidationError) -> RawPing {
            guard let unit else { throw ValidationError(.fieldMissing, "missing id/deviceid") }
            guard !unit.isEmpty else { throw ValidationError(.fieldMissing, "\(unitParameter.name) is empty") }
            var latitude = latitude
            var longitude = longitude
            if latitude == nil, longitude == nil, let fix {
                latitude = fix.latitude
                longitude = fix.longitude
            }
            guard latitude != nil || longitude != nil else {
                throw ValidationError(.fieldMissing, "missing position: lat and lon, location, or gprmc")
            }
            guard latitude != nil else { throw ValidationError(.fieldMissing, "missing lat (lon is present)") }
            guard longitude != nil else { throw ValidationError(.fieldMissing, "missing lon (lat is present)") }
            let knots = speedKnots ?? fix?.speedKnots
            return RawPing(
                unit: unit, time: (time ?? fix?.time)?.rfc3339, latitude: latitude, longitude: longitude,
                altitude: altitude, speed: knots.map { $0 * OsmAndDecoder.metresPerSecondPerKnot },
                heading: heading ?? fix?.course, accuracy: accuracy, status: nil, battery: battery)
        }
    }

    // MARK: Timestamps

    /// Reads a `timestamp`: Unix seconds, Unix milliseconds (values above 10^11, which as seconds
    /// would be after the year 5000), either with a decimal fraction, or ISO 8601 text with a
    /// zone (`Z`, `+hh:mm`, `+hhmm`, `+hh`).
    static func timestamp(_ value: UnsafeBufferPointer<UInt8>, name: String) throws(ValidationError) -> Timestamp {
        let range = TextScan.trimmed(value)
        let text = UnsafeBufferPointer(rebasing: value[range])
        if let first = text.first, TextScan.isDigit(first),
            text.allSatisfy({ TextScan.isDigit($0) || $0 == UInt8(ascii: ".") })
        {
            if let time = unixTime(text) { return time }
            throw ValidationError(.timeInvalid, "\(name) \(TextScan.quoted(text)) is not a valid Unix time")
        }
        switch isoTime(text) {
        case .time(let time): return time
        case .noZone:
            throw ValidationError(.timeInvalid, "\(name) \(TextScan.quoted(text)) has no time zone (Z or an offset)")
        case .invalid:
            throw ValidationError(.timeInvalid, "\(name) \(TextScan.quoted(text)) is neither Unix time nor ISO 8601")
        }
    }

    /// `digits[.digits]`. At most 15 integer digits, so milliseconds times a thousand still fit
    /// in microseconds; fraction digits beyond the microsecond are dropped.
    private static func unixTime(_ text: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        var i = 0
        var integer: Int64 = 0
        while i < text.count, TextScan.isDigit(text[i]) {
            guard i < 15 else { return nil }
            integer = integer * 10 + Int64(text[i] &- 48)
            i += 1
        }
        var fraction: Int64 = 0  // millionths of the unit (seconds or milliseconds)
        if i < text.count {
            guard text[i] == UInt8(ascii: "."), i + 1 < text.count else { return nil }
            i += 1
            var digits = 0
            while i < text.count {
                guard TextScan.isDigit(text[i]) else { return nil }
                if digits < 6 {
                    fraction = fraction * 10 + Int64(text[i] &- 48)
                    digits += 1
                }
                i += 1
            }
            for _ in digits..<6 { fraction *= 10 }
        }
        if integer > 100_000_000_000 {
            return Timestamp(microseconds: integer * 1_000 + fraction / 1_000)
        }
        return Timestamp(microseconds: integer * 1_000_000 + fraction)
    }

    private enum ISOTime {
        case time(Timestamp)
        case noZone
        case invalid
    }

    /// Rewrites the zone forms ISO 8601 allows but RFC 3339 does not, then parses as RFC 3339.
    private static func isoTime(_ text: UnsafeBufferPointer<UInt8>) -> ISOTime {
        // `YYYY-MM-DDTHH:MM:SS` is 19 bytes; a fraction may follow, then the zone.
        guard text.count >= 19 else { return .invalid }
        var zoneStart = 19
        if zoneStart < text.count, text[zoneStart] == UInt8(ascii: ".") {
            zoneStart += 1
            while zoneStart < text.count, TextScan.isDigit(text[zoneStart]) { zoneStart += 1 }
        }
        var rfc3339 = String(decoding: UnsafeBufferPointer(rebasing: text[..<zoneStart]), as: UTF8.self)
        let zone = UnsafeBufferPointer(rebasing: text[zoneStart...])
        if zone.isEmpty {
            return Timestamp(rfc3339: rfc3339 + "Z") == nil ? .invalid : .noZone
        }
        let sign = zone[0]
        if zone.count == 1, sign | 0x20 == UInt8(ascii: "z") {
            rfc3339 += "Z"
        } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") || sign == UInt8(ascii: " ") {
            // A space is a `+` that was sent unencoded in a query string and decoded as a space.
            rfc3339 += sign == UInt8(ascii: "-") ? "-" : "+"
            let offset = UnsafeBufferPointer(rebasing: zone[1...])
            // The shape decides where the digits are, and every one of them is checked: `hh:mm`,
            // `hhmm` or `hh`. (Dropping the colons first and then slicing two or four digits
            // trapped on `+::` and read `+1:2:` as `+12:00`.)
            let minutes: Int?
            switch offset.count {
            case 2: minutes = nil
            case 4: minutes = 2
            case 5 where offset[2] == UInt8(ascii: ":"): minutes = 3
            default: return .invalid
            }
            guard TextScan.isDigit(offset[0]), TextScan.isDigit(offset[1]) else { return .invalid }
            rfc3339 += String(decoding: UnsafeBufferPointer(rebasing: offset[0..<2]), as: UTF8.self) + ":"
            if let minutes {
                guard TextScan.isDigit(offset[minutes]), TextScan.isDigit(offset[minutes + 1]) else { return .invalid }
                rfc3339 += String(decoding: UnsafeBufferPointer(rebasing: offset[minutes..<minutes + 2]), as: UTF8.self)
            } else {
                rfc3339 += "00"
            }
        } else {
            return .invalid
        }
        return Timestamp(rfc3339: rfc3339).map(ISOTime.time) ?? .invalid
    }

    // MARK: JSON

    /// Decodes a Traccar Client JSON body: one result per location, in order.
    ///
    /// ```json
    /// {"location":{"timestamp":"2026-11-23T10:00:00.250Z",
    ///   "coords":{"latitude":48.85,"longitude":2.35,"speed":3.2,"heading":90,"accuracy":5,"altitude":35},
    ///   "battery":{"level":0.81,"is_charging":false},"is_moving":true,"event":"motionchange"},
    ///  "device_id":"123456789012345"}
    /// ```
    ///
    /// `location` may also be an array of such objects (a batch of stored positions). Speed is
    /// already m/s here. `battery.level` is a fraction and becomes percent. Negative values mean
    /// "unknown" in this format (iOS reports -1 for speed, heading and accuracy it could not
    /// measure; the plugin reports -1 for an unknown battery level) and become nil. `timestamp`
    /// is ISO 8601 text (a Unix number is also read, as in ``decodeParameters(_:)``). Any value
    /// may be `null` or missing; unknown keys are skipped but must be well-formed JSON.
    ///
    /// A location that cannot be read (a field of the wrong type, no coordinates) fails alone;
    /// a problem with `device_id` fails every location. A body that cannot be read at all
    /// (broken JSON, no `location`, nesting or batch beyond the limits) is a single failure.
    public func decodeJSON(_ body: UnsafeRawBufferPointer) -> [Result<RawPing, ValidationError>] {
        let jsonLimits = JSONPingDecoder.Limits(
            maximumItems: limits.maximumItems, maximumStringBytes: limits.maximumValueBytes, maximumDepth: limits.maximumDepth)
        var cursor = JSONCursor(body, limits: jsonLimits)
        var document = TraccarDocument()
        do throws(DecodeFailure) {
            cursor.skipWhitespace()
            guard cursor.current == ASCII.openBrace else {
                let kind = cursor.currentKind
                try cursor.skipValue()
                try cursor.expectEnd()
                return [.failure(ValidationError(.notAnObject, "the body must be a JSON object, found \(kind.phrase)"))]
            }
            try cursor.parseTraccarDocument(into: &document)
            try cursor.expectEnd()
        } catch {
            return [.failure(ValidationError(error.code, error.message(line: nil)))]
        }
        return document.results()
    }

    /// Decodes a Traccar Client JSON body held in an array of bytes.
    public func decodeJSON(_ body: [UInt8]) -> [Result<RawPing, ValidationError>] {
        body.withUnsafeBytes { decodeJSON($0) }
    }
}

/// A Traccar Client JSON body as read, before the device id is given to its locations (it may
/// come after them).
struct TraccarDocument {
    var deviceID: String?
    var deviceProblem: ValidationError?
    /// nil while no `location` was read (or it was `null`).
    var locations: [Result<RawPing, ValidationError>]?
    var locationProblem: ValidationError?

    func results() -> [Result<RawPing, ValidationError>] {
        if let locationProblem { return [.failure(locationProblem)] }
        guard let locations else { return [.failure(ValidationError(.fieldMissing, "missing location"))] }
        var unitProblem = deviceProblem
        if unitProblem == nil {
            if deviceID == nil {
                unitProblem = ValidationError(.fieldMissing, "missing device_id")
            } else if deviceID?.isEmpty == true {
                unitProblem = ValidationError(.fieldMissing, "device_id is empty")
            }
        }
        if let unitProblem { return locations.map { _ in .failure(unitProblem) } }
        return locations.map { result in
            result.map { ping in
                var ping = ping
                ping.unit = deviceID
                return ping
            }
        }
    }
}

extension JSONCursor {
    /// Parses the members of an object at the cursor, calling `member` with the cursor on each
    /// value; `member` must consume the value.
    fileprivate mutating func parseTraccarMembers(
        _ member: (inout JSONCursor, StringToken) throws(DecodeFailure) -> Void
    ) throws(DecodeFailure) {
        guard try enterContainer(closing: ASCII.closeBrace) else { return }
        repeat {
            guard current == ASCII.quote else { throw expected("a string key") }
            let key = try scanString()
            try expectColon()
            try member(&self, key)
        } while try nextItem(closing: ASCII.closeBrace)
    }

    /// Whether a scanned key is `name`, compared in place unless it has escapes.
    fileprivate func traccarKey(_ token: StringToken, is name: StaticString) -> Bool {
        let length = name.utf8CodeUnitCount
        guard token.decodedLength == length else { return false }
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: length)
        if token.hasEscapes { return makeString(token).utf8.elementsEqual(expected) }
        for i in 0..<length where byte(token.start + i) != expected[i] { return false }
        return true
    }

    fileprivate mutating func parseTraccarDocument(into document: inout TraccarDocument) throws(DecodeFailure) {
        try parseTraccarMembers { cursor, key throws(DecodeFailure) in
            if cursor.traccarKey(key, is: "device_id") {
                try cursor.readTraccarDeviceID(into: &document)
            } else if cursor.traccarKey(key, is: "location") {
                try cursor.readTraccarLocations(into: &document)
            } else {
                try cursor.skipValue()
            }
        }
    }

    /// `device_id`: a string, or an integer (an IMEI) kept as its digits.
    private mutating func readTraccarDeviceID(into document: inout TraccarDocument) throws(DecodeFailure) {
        let b = current
        document.deviceProblem = nil
        if b == ASCII.quote {
            let token = try scanString()
            guard token.decodedLength <= maximumStringBytes else {
                document.deviceProblem = ValidationError(.stringTooLong, "device_id is longer than \(maximumStringBytes) bytes")
                return
            }
            document.deviceID = makeString(token)
        } else if b == ASCII.minus || JSONCursor.isDigit(b) {
            let token = try scanNumber()
            guard token.isInteger else {
                document.deviceProblem = ValidationError(
                    .fieldTypeInvalid, "device_id must be a string or an integer, found a number with a fraction or an exponent")
                return
            }
            guard token.end - token.start <= maximumStringBytes else {
                document.deviceProblem = ValidationError(.stringTooLong, "device_id is longer than \(maximumStringBytes) bytes")
                return
            }
            // The grammar forbids leading zeros, so the text is already the canonical decimal form.
            document.deviceID = String(
                decoding: UnsafeRawBufferPointer(start: base.unsafelyUnwrapped + token.start, count: token.end - token.start),
                as: UTF8.self)
        } else if b == UInt8(ascii: "n") {
            try skipValue()
            document.deviceID = nil
        } else {
            let kind = currentKind
            try skipValue()
            document.deviceProblem = ValidationError(
                .fieldTypeInvalid, "device_id must be a string or an integer, found \(kind.phrase)")
        }
    }

    /// `location`: one object, an array of them, or null.
    private mutating func readTraccarLocations(into document: inout TraccarDocument) throws(DecodeFailure) {
        document.locationProblem = nil
        switch current {
        case ASCII.openBrace:
            guard maximumItems >= 1 else { throw DecodeFailure.tooManyItems(maximumItems) }
            document.locations = [try parseTraccarLocation()]
        case ASCII.openBracket:
            var items: [Result<RawPing, ValidationError>] = []
            if try enterContainer(closing: ASCII.closeBracket) {
                repeat {
                    guard items.count < maximumItems else { throw DecodeFailure.tooManyItems(maximumItems) }
                    if current == ASCII.openBrace {
                        items.append(try parseTraccarLocation())
                    } else {
                        let kind = currentKind
                        try skipValue()
                        items.append(
                            .failure(ValidationError(.notAnObject, "the location must be a JSON object, found \(kind.phrase)")))
                    }
                } while try nextItem(closing: ASCII.closeBracket)
            }
            document.locations = items
        case UInt8(ascii: "n"):
            try skipValue()
            document.locations = nil
        default:
            let kind = currentKind
            try skipValue()
            document.locationProblem = ValidationError(
                .fieldTypeInvalid, "location must be an object or an array of objects, found \(kind.phrase)")
        }
    }

    /// One location object. A field problem is kept and the object read to its end, so the next
    /// location still decodes; the first problem is the one reported.
    private mutating func parseTraccarLocation() throws(DecodeFailure) -> Result<RawPing, ValidationError> {
        var ping = RawPing()
        var problem: ValidationError?
        try parseTraccarMembers { cursor, key throws(DecodeFailure) in
            if cursor.traccarKey(key, is: "timestamp") {
                ping.time = try cursor.readTraccarTimestamp(problem: &problem)?.rfc3339
            } else if cursor.traccarKey(key, is: "coords") {
                let typeProblem = try cursor.readTraccarObject("coords") { cursor, key throws(DecodeFailure) in
                    if cursor.traccarKey(key, is: "latitude") {
                        ping.latitude = try cursor.readTraccarNumber("coords.latitude", problem: &problem)
                    } else if cursor.traccarKey(key, is: "longitude") {
                        ping.longitude = try cursor.readTraccarNumber("coords.longitude", problem: &problem)
                    } else if cursor.traccarKey(key, is: "speed") {
                        ping.speed = try cursor.readTraccarNumber("coords.speed", problem: &problem).flatMap(known)
                    } else if cursor.traccarKey(key, is: "heading") {
                        ping.heading = try cursor.readTraccarNumber("coords.heading", problem: &problem).flatMap(known)
                    } else if cursor.traccarKey(key, is: "accuracy") {
                        ping.accuracy = try cursor.readTraccarNumber("coords.accuracy", problem: &problem).flatMap(known)
                    } else if cursor.traccarKey(key, is: "altitude") {
                        ping.altitude = try cursor.readTraccarNumber("coords.altitude", problem: &problem)
                    } else {
                        try cursor.skipValue()
                    }
                }
                if problem == nil { problem = typeProblem }
            } else if cursor.traccarKey(key, is: "battery") {
                let typeProblem = try cursor.readTraccarObject("battery") { cursor, key throws(DecodeFailure) in
                    if cursor.traccarKey(key, is: "level") {
                        // 0.81 × 100 is 81.00000000000001 in binary; levels come in whole or
                        // tenth percents, so hundredths keep what the sender meant.
                        ping.battery = try cursor.readTraccarNumber("battery.level", problem: &problem)
                            .flatMap(known).map { ($0 * 10_000).rounded() / 100 }
                    } else {
                        try cursor.skipValue()
                    }
                }
                if problem == nil { problem = typeProblem }
            } else {
                try cursor.skipValue()
            }
        }
        if let problem { return .failure(problem) }
        guard ping.latitude != nil || ping.longitude != nil else {
            return .failure(ValidationError(.fieldMissing, "missing coords.latitude and coords.longitude"))
        }
        guard ping.latitude != nil else { return .failure(ValidationError(.fieldMissing, "missing coords.latitude")) }
        guard ping.longitude != nil else { return .failure(ValidationError(.fieldMissing, "missing coords.longitude")) }
        return .success(ping)
    }

    /// An object whose members `member` reads, or `null`. Returns the problem when the value is
    /// of another type (rather than taking the caller's problem inout, which `member` captures).
    private mutating func readTraccarObject(
        _ name: String, _ member: (inout JSONCursor, StringToken) throws(DecodeFailure) -> Void
    ) throws(DecodeFailure) -> ValidationError? {
        switch current {
        case ASCII.openBrace:
            try parseTraccarMembers(member)
        case UInt8(ascii: "n"):
            try skipValue()
        default:
            let kind = currentKind
            try skipValue()
            return ValidationError(.fieldTypeInvalid, "\(name) must be an object, found \(kind.phrase)")
        }
        return nil
    }

    /// A number, or nil for `null` or after a problem.
    private mutating func readTraccarNumber(_ name: String, problem: inout ValidationError?) throws(DecodeFailure) -> Double? {
        let b = current
        if b == ASCII.minus || JSONCursor.isDigit(b) {
            let value = doubleValue(try scanNumber())
            guard value.isFinite else {
                if problem == nil { problem = ValidationError(.valueInvalid, "\(name) is too large for a double") }
                return nil
            }
            return value
        }
        if b == UInt8(ascii: "n") {
            try skipValue()
            return nil
        }
        let kind = currentKind
        try skipValue()
        if problem == nil { problem = ValidationError(.fieldTypeInvalid, "\(name) must be a number, found \(kind.phrase)") }
        return nil
    }

    /// `timestamp`: ISO 8601 text, or a Unix number; nil for `null` or after a problem.
    private mutating func readTraccarTimestamp(problem: inout ValidationError?) throws(DecodeFailure) -> Timestamp? {
        let b = current
        var result: Result<Timestamp, ValidationError>
        if b == ASCII.quote {
            let token = try scanString()
            guard token.decodedLength <= maximumStringBytes else {
                if problem == nil {
                    problem = ValidationError(.stringTooLong, "timestamp is longer than \(maximumStringBytes) bytes")
                }
                return nil
            }
            if token.hasEscapes {
                var text = makeString(token)
                result = text.withUTF8 { bytes in
                    Result { () throws(ValidationError) in try OsmAndDecoder.timestamp(bytes, name: "timestamp") }
                }
            } else {
                result = timestamp(in: token.start..<token.end)
            }
        } else if b == ASCII.minus || JSONCursor.isDigit(b) {
            let token = try scanNumber()
            result = timestamp(in: token.start..<token.end)
        } else if b == UInt8(ascii: "n") {
            try skipValue()
            return nil
        } else {
            let kind = currentKind
            try skipValue()
            result = .failure(
                ValidationError(.fieldTypeInvalid, "timestamp must be a string or a number, found \(kind.phrase)"))
        }
        switch result {
        case .success(let time): return time
        case .failure(let error):
            if problem == nil { problem = error }
            return nil
        }
    }
}

extension JSONCursor {
    /// Parses the timestamp text at `range` of the body in place.
    fileprivate func timestamp(in range: Range<Int>) -> Result<Timestamp, ValidationError> {
        UnsafeRawBufferPointer(start: base.unsafelyUnwrapped + range.lowerBound, count: range.count)
            .withMemoryRebound(to: UInt8.self) { bytes in
                Result { () throws(ValidationError) in try OsmAndDecoder.timestamp(bytes, name: "timestamp") }
            }
    }
}

/// The format's sentinel for "not measured" is a negative value (-1); none of these quantities
/// can really be negative.
private func known(_ value: Double) -> Double? { value < 0 ? nil : value }
