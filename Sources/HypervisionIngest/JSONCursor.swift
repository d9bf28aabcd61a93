import HypervisionCore

/// Why decoding stopped: a syntax error, or a limit the body as a whole broke.
///
/// Internal and cheap to throw (typed throws, no existential); turned into a
/// ``JSONPingDecoder/DocumentError`` or an `.invalid` item, with a line number for NDJSON, only
/// at the public boundary.
struct DecodeFailure: Error {
    var code: ValidationError.Code
    /// The byte offset in the buffer being decoded; nil when the failure has no single place.
    var offset: Int?
    var reason: String

    static func tooManyItems(_ limit: Int) -> DecodeFailure {
        DecodeFailure(code: .tooManyItems, offset: nil, reason: "more than \(limit) items (limit)")
    }

    func message(line: Int?) -> String {
        guard let offset else { return reason }
        let place = line.map { "byte \(offset) of line \($0)" } ?? "byte \(offset)"
        if code == .jsonInvalid { return "invalid JSON at \(place): \(reason)" }
        return "\(reason) (at \(place))"
    }
}

/// The JSON type of a value, told from its first byte; used to say what was found instead.
enum ValueKind {
    case string, number, object, array, boolean, null, invalid

    var phrase: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .object: "an object"
        case .array: "an array"
        case .boolean: "a boolean"
        case .null: "null"
        case .invalid: "an invalid value"
        }
    }
}

/// The ping fields the decoder knows; anything else is skipped.
enum PingField {
    case unit, time, latitude, longitude, altitude, speed, heading, accuracy, status, battery, other

    /// The key as written on the wire, for messages.
    var name: String {
        switch self {
        case .unit: "unit"
        case .time: "time"
        case .latitude: "lat"
        case .longitude: "lon"
        case .altitude: "alt"
        case .speed: "speed"
        case .heading: "heading"
        case .accuracy: "accuracy"
        case .status: "status"
        case .battery: "battery"
        case .other: "field"
        }
    }

    /// Matches a key packed little-endian into a word (see ``JSONCursor/scanKey()``). Comparing
    /// one integer per candidate is what keeps key lookup out of the profile; the constants are
    /// the keys' UTF-8 bytes, first byte lowest.
    @inline(__always)
    static func match(packed: UInt64, length: Int) -> PingField {
        switch length {
        case 3:
            switch packed {
            case 0x74_61_6C: return .latitude  // "lat"
            case 0x6E_6F_6C: return .longitude  // "lon"
            case 0x74_6C_61: return .altitude  // "alt"
            default: return .other
            }
        case 4:
            switch packed {
            case 0x74_69_6E_75: return .unit  // "unit"
            case 0x65_6D_69_74: return .time  // "time"
            default: return .other
            }
        case 5: return packed == 0x64_65_65_70_73 ? .speed : .other  // "speed"
        case 6: return packed == 0x73_75_74_61_74_73 ? .status : .other  // "status"
        case 7:
            switch packed {
            case 0x67_6E_69_64_61_65_68: return .heading  // "heading"
            case 0x79_72_65_74_74_61_62: return .battery  // "battery"
            default: return .other
            }
        case 8: return packed == 0x79_63_61_72_75_63_63_61 ? .accuracy : .other  // "accuracy"
        default: return .other
        }
    }
}

enum ASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let period: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let one: UInt8 = 0x31
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let backslash: UInt8 = 0x5C
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let lowerE: UInt8 = 0x65
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
}

/// Tests on eight bytes at once. Each answer has the high bit set in the bytes that match; only
/// the lowest set byte is exact (borrows may mark later bytes), which is all the callers use:
/// they skip to the first match and look at it byte by byte.
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    @inline(__always) static func broadcast(_ byte: UInt8) -> UInt64 { UInt64(byte) &* ones }

    @inline(__always) static func zeroBytes(_ word: UInt64) -> UInt64 { (word &- ones) & ~word & highBits }

    /// Bytes a string scan must stop at: `"`, `\`, control characters, and non-ASCII (to check UTF-8).
    @inline(__always) static func stringSpecials(_ word: UInt64) -> UInt64 {
        let control = (word &- broadcast(ASCII.space)) & ~word
        let quote = zeroBytes(word ^ broadcast(ASCII.quote))
        let backslash = zeroBytes(word ^ broadcast(ASCII.backslash))
        return (control | word | quote | backslash) & highBits
    }
}

/// A string as scanned: where its raw bytes are and what decoding them will produce.
struct StringToken {
    /// The first byte after the opening quote.
    var start: Int
    /// The closing quote.
    var end: Int
    /// The length in bytes after unescaping, known before decoding so the limit is checked first.
    var decodedLength: Int
    var hasEscapes: Bool
}

/// A number as scanned: its digits as an integer and a power of ten, when they fit in 64 bits.
struct NumberToken {
    var start: Int
    var end: Int
    var mantissa: UInt64
    var exponent: Int
    var negative: Bool
    /// No fraction and no exponent: what an integer unit id must be.
    var isInteger: Bool
    /// More significant digits than a UInt64 holds; the text is then converted the slow way.
    var truncated: Bool
}

/// A position in a JSON buffer and the parsing routines that advance it.
///
/// Reads the caller's memory in place through a raw pointer: no copy of the body, no bounds
/// check beyond one comparison per byte (``byte(_:)`` answers 0 past the end, a byte that is
/// invalid everywhere in JSON, so running off the end fails like any other bad byte).
struct JSONCursor {
    let base: UnsafeRawPointer?
    let count: Int
    var position = 0
    var depth = 0
    let maximumDepth: Int
    let maximumStringBytes: Int
    let maximumItems: Int

    init(_ buffer: UnsafeRawBufferPointer, limits: JSONPingDecoder.Limits) {
        self.base = buffer.baseAddress
        self.count = buffer.count
        self.maximumDepth = limits.maximumDepth
        self.maximumStringBytes = limits.maximumStringBytes
        self.maximumItems = limits.maximumItems
    }

    // MARK: Bytes

    @inline(__always) func byte(_ offset: Int) -> UInt8 {
        offset < count ? base.unsafelyUnwrapped.load(fromByteOffset: offset, as: UInt8.self) : 0
    }

    @inline(__always) var current: UInt8 { byte(position) }

    @inline(__always) var atEnd: Bool { position >= count }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- ASCII.zero < 10 }

    @inline(__always) mutating func skipWhitespace() {
        while true {
            let b = current
            guard b == ASCII.space || b == ASCII.newline || b == ASCII.carriageReturn || b == ASCII.tab else { return }
            position += 1
        }
    }

    var currentKind: ValueKind {
        switch current {
        case ASCII.quote: .string
        case ASCII.openBrace: .object
        case ASCII.openBracket: .array
        case UInt8(ascii: "t"), UInt8(ascii: "f"): .boolean
        case UInt8(ascii: "n"): .null
        case ASCII.minus, ASCII.zero...ASCII.nine: .number
        default: .invalid
        }
    }

    // MARK: Failures

    func syntaxError(_ reason: String, at offset: Int) -> DecodeFailure {
        DecodeFailure(code: .jsonInvalid, offset: offset, reason: reason)
    }

    /// "expected X" at the current byte, saying what was found instead.
    func expected(_ what: String) -> DecodeFailure {
        syntaxError("expected \(what), found \(describe(at: position))", at: position)
    }

    func describe(at offset: Int) -> String {
        guard offset < count else { return "the end of the input" }
        let b = byte(offset)
        if b > 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(b < 0x10 ? "0" : "")\(String(b, radix: 16, uppercase: true))"
    }

    mutating func expectEnd() throws(DecodeFailure) {
        skipWhitespace()
        guard atEnd else { throw expected("the end of the input") }
    }

    // MARK: Containers

    // Every object and array is read the same way:
    //
    //     if try enterContainer(closing: ASCII.closeBrace) {
    //         repeat { …one member… } while try nextItem(closing: ASCII.closeBrace)
    //     }

    /// Enters the `{` or `[` at the cursor, one level deeper. False when the container is empty
    /// (it is then already left), true with the cursor on its first item.
    @inline(__always) mutating func enterContainer(closing: UInt8) throws(DecodeFailure) -> Bool {
        depth += 1
        guard depth <= maximumDepth else {
            throw DecodeFailure(
                code: .nestingTooDeep, offset: position,
                reason: "objects and arrays are nested deeper than \(maximumDepth) levels")
        }
        position += 1
        skipWhitespace()
        guard current == closing else { return true }
        position += 1
        depth -= 1
        return false
    }

    /// After an item of a container: true past a `,` with the cursor on the next item, false
    /// past the closing bracket (the container is left).
    @inline(__always) mutating func nextItem(closing: UInt8) throws(DecodeFailure) -> Bool {
        skipWhitespace()
        let b = current
        if b == ASCII.comma {
            position += 1
            skipWhitespace()
            return true
        }
        guard b == closing else { throw expected(closing == ASCII.closeBrace ? "',' or '}'" : "',' or ']'") }
        position += 1
        depth -= 1
        return false
    }

    /// After a member's key: the `:`, with the cursor left on the value.
    @inline(__always) mutating func expectColon() throws(DecodeFailure) {
        skipWhitespace()
        guard current == ASCII.colon else { throw expected("':'") }
        position += 1
        skipWhitespace()
    }

    /// Parses `[ … ]` whose elements should be ping objects, one item per element.
    mutating func parseArrayOfPings(into items: inout [JSONPingDecoder.Item]) throws(DecodeFailure) {
        guard try enterContainer(closing: ASCII.closeBracket) else { return }
        repeat {
            guard items.count < maximumItems else { throw DecodeFailure.tooManyItems(maximumItems) }
            if current == ASCII.openBrace {
                items.append(try parsePingObject())
            } else {
                let kind = currentKind
                try skipValue()
                items.append(.invalid(ValidationError(.notAnObject, "the item must be a JSON object, found \(kind.phrase)")))
            }
        } while try nextItem(closing: ASCII.closeBracket)
    }

    /// Parses one `{ … }` as a ping.
    ///
    /// A field problem (wrong type, string too long, number out of Double's range) does not stop
    /// the parse: the rest of the object is still read, so its syntax is checked and the cursor
    /// ends after it, ready for the next item. The first problem is the one reported.
    ///
    /// Duplicate keys: the last one wins, as in most JSON parsers (RFC 8259 leaves it open), so a
    /// later `null` clears an earlier value. A problem in any occurrence still makes the item
    /// invalid: the sender's intent is unclear and a later value must not hide it.
    mutating func parsePingObject() throws(DecodeFailure) -> JSONPingDecoder.Item {
        var ping = RawPing()
        var problem: ValidationError?
        guard try enterContainer(closing: ASCII.closeBrace) else { return .ping(ping) }
        repeat {
            guard current == ASCII.quote else { throw expected("a string key") }
            let field = try scanKey()
            try expectColon()
            switch field {
            case .unit: try readUnit(into: &ping.unit, problem: &problem)
            case .time: try readString(.time, into: &ping.time, problem: &problem)
            case .status: try readString(.status, into: &ping.status, problem: &problem)
            case .latitude: try readNumber(.latitude, into: &ping.latitude, problem: &problem)
            case .longitude: try readNumber(.longitude, into: &ping.longitude, problem: &problem)
            case .altitude: try readNumber(.altitude, into: &ping.altitude, problem: &problem)
            case .speed: try readNumber(.speed, into: &ping.speed, problem: &problem)
            case .heading: try readNumber(.heading, into: &ping.heading, problem: &problem)
            case .accuracy: try readNumber(.accuracy, into: &ping.accuracy, problem: &problem)
            case .battery: try readNumber(.battery, into: &ping.battery, problem: &problem)
            case .other: try skipValue()
            }
        } while try nextItem(closing: ASCII.closeBrace)
        if let problem { return .invalid(problem) }
        return .ping(ping)
    }

    /// Skips any JSON value, checking its syntax as strictly as the values that are kept.
    mutating func skipValue() throws(DecodeFailure) {
        switch current {
        case ASCII.quote: _ = try scanString()
        case ASCII.openBrace: try skipObject()
        case ASCII.openBracket: try skipArray()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case ASCII.minus, ASCII.zero...ASCII.nine: _ = try scanNumber()
        default: throw expected("a value")
        }
    }

    private mutating func skipObject() throws(DecodeFailure) {
        guard try enterContainer(closing: ASCII.closeBrace) else { return }
        repeat {
            guard current == ASCII.quote else { throw expected("a string key") }
            _ = try scanString()
            try expectColon()
            try skipValue()
        } while try nextItem(closing: ASCII.closeBrace)
    }

    private mutating func skipArray() throws(DecodeFailure) {
        guard try enterContainer(closing: ASCII.closeBracket) else { return }
        repeat {
            try skipValue()
        } while try nextItem(closing: ASCII.closeBracket)
    }

    /// Checks `true`, `false` or `null` (the word must be spelled exactly, lowercase).
    private mutating func expectLiteral(_ word: StaticString) throws(DecodeFailure) {
        let start = position
        let length = word.utf8CodeUnitCount
        let bytes = word.utf8Start
        for i in 0..<length where byte(start + i) != bytes[i] {
            throw syntaxError("invalid literal, expected '\(word)'", at: start)
        }
        position += length
    }

    // MARK: Field values

    private func typeProblem(_ field: PingField, expected: String, found kind: ValueKind) -> ValidationError {
        ValidationError(.fieldTypeInvalid, "\(field.name) must be \(expected), found \(kind.phrase)")
    }

    /// Reads a string field; `null` clears it. Any other type is a problem for this item only.
    private mutating func readString(
        _ field: PingField, into slot: inout String?, problem: inout ValidationError?
    ) throws(DecodeFailure) {
        let b = current
        if b == ASCII.quote {
            let token = try scanString()
            guard token.decodedLength <= maximumStringBytes else {
                if problem == nil { problem = tooLong(field) }
                return
            }
            slot = makeString(token)
        } else if b == UInt8(ascii: "n") {
            try expectLiteral("null")
            slot = nil
        } else {
            let kind = currentKind
            try skipValue()
            if problem == nil {
                let expectation = field == .unit ? "a string or an integer" : "a string"
                problem = typeProblem(field, expected: expectation, found: kind)
            }
        }
    }

    /// Reads `unit`: a string, or a JSON integer (trackers that send an IMEI), kept as its
    /// decimal digits exactly as written so no precision is lost to a Double.
    private mutating func readUnit(into slot: inout String?, problem: inout ValidationError?) throws(DecodeFailure) {
        let b = current
        guard b == ASCII.minus || JSONCursor.isDigit(b) else {
            return try readString(.unit, into: &slot, problem: &problem)
        }
        let token = try scanNumber()
        guard token.isInteger else {
            if problem == nil {
                problem = ValidationError(
                    .fieldTypeInvalid, "unit must be a string or an integer, found a number with a fraction or an exponent")
            }
            return
        }
        guard token.end - token.start <= maximumStringBytes else {
            if problem == nil { problem = tooLong(.unit) }
            return
        }
        // The grammar forbids leading zeros, so the text is already the canonical decimal form.
        slot = String(decoding: UnsafeRawBufferPointer(start: base! + token.start, count: token.end - token.start), as: UTF8.self)
    }

    /// Reads a number field; `null` clears it. A number beyond Double's range is a problem for
    /// this item (`value_invalid`) rather than a silent infinity.
    private mutating func readNumber(
        _ field: PingField, into slot: inout Double?, problem: inout ValidationError?
    ) throws(DecodeFailure) {
        let b = current
        if b == ASCII.minus || JSONCursor.isDigit(b) {
            let token = try scanNumber()
            let value = doubleValue(token)
            guard value.isFinite else {
                if problem == nil { problem = ValidationError(.valueInvalid, "\(field.name) is too large for a double") }
                return
            }
            slot = value
        } else if b == UInt8(ascii: "n") {
            try expectLiteral("null")
            slot = nil
        } else {
            let kind = currentKind
            try skipValue()
            if problem == nil { problem = typeProblem(field, expected: "a number", found: kind) }
        }
    }

    private func tooLong(_ field: PingField) -> ValidationError {
        ValidationError(.stringTooLong, "\(field.name) is longer than \(maximumStringBytes) bytes")
    }

    // MARK: Strings

    /// Scans a key and tells which ping field it names.
    ///
    /// Known keys are at most eight bytes, so a key is packed into one word and compared as an
    /// integer; no String is made. A key with escapes (`"l\u0061t"`, legal if odd) is unescaped
    /// first so it still matches.
    mutating func scanKey() throws(DecodeFailure) -> PingField {
        let token = try scanString()
        guard token.decodedLength <= 8 else { return .other }
        var packed: UInt64 = 0
        if token.hasEscapes {
            let text = makeString(token)
            for (i, b) in text.utf8.enumerated() { packed |= UInt64(b) << (8 * i) }
        } else {
            let length = token.end - token.start
            if token.start + 8 <= count {
                let word = UInt64(littleEndian: base.unsafelyUnwrapped.loadUnaligned(fromByteOffset: token.start, as: UInt64.self))
                packed = length == 8 ? word : word & ((1 << (8 * UInt64(length))) - 1)
            } else {
                for i in 0..<length { packed |= UInt64(byte(token.start + i)) << (8 * i) }
            }
        }
        return PingField.match(packed: packed, length: token.decodedLength)
    }

    /// Scans a string from its opening quote to just after its closing quote, checking escapes,
    /// surrogate pairs, control characters and UTF-8, and measuring its unescaped length.
    mutating func scanString() throws(DecodeFailure) -> StringToken {
        position += 1
        let start = position
        var saved = 0  // bytes that escapes take beyond what they decode to
        var hasEscapes = false
        while true {
            // Plain ASCII is the common case: skip it a word at a time.
            while position + 8 <= count {
                let word = UInt64(littleEndian: base.unsafelyUnwrapped.loadUnaligned(fromByteOffset: position, as: UInt64.self))
                let specials = SWAR.stringSpecials(word)
                if specials != 0 {
                    position += specials.trailingZeroBitCount >> 3
                    break
                }
                position += 8
            }
            let b = current
            if b == ASCII.quote { break }
            if b == ASCII.backslash {
                hasEscapes = true
                saved += try scanEscape()
            } else if b >= 0x80 {
                try scanUTF8Sequence()
            } else if b < 0x20 {
                if atEnd { throw syntaxError("unterminated string (it starts at byte \(start - 1))", at: position) }
                throw syntaxError(
                    "control character \(describe(at: position)) in a string must be escaped", at: position)
            } else {
                position += 1
            }
        }
        let end = position
        position += 1
        return StringToken(start: start, end: end, decodedLength: end - start - saved, hasEscapes: hasEscapes)
    }

    /// Checks one escape at the cursor and steps over it. Returns how many bytes shorter its
    /// decoded form is than its escaped form.
    private mutating func scanEscape() throws(DecodeFailure) -> Int {
        let start = position
        switch byte(position + 1) {
        case ASCII.quote, ASCII.backslash, ASCII.slash,
            UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 2
            return 1
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: position + 2) else {
                throw syntaxError("\\u must be followed by four hexadecimal digits", at: start)
            }
            position += 6
            switch unit {
            case 0..<0x80: return 5
            case 0x80..<0x800: return 4
            case 0xD800..<0xDC00:
                guard byte(position) == ASCII.backslash, byte(position + 1) == UInt8(ascii: "u"),
                    let low = hex4(at: position + 2), (0xDC00..<0xE000).contains(low)
                else {
                    throw syntaxError("unpaired surrogate \\u\(hexString(unit)) (a high surrogate needs a low one after it)", at: start)
                }
                position += 6
                return 12 - 4
            case 0xDC00..<0xE000:
                throw syntaxError("unpaired surrogate \\u\(hexString(unit)) (a low surrogate without a high one)", at: start)
            default: return 3
            }
        default:
            if position + 1 >= count { throw syntaxError("unterminated string", at: position) }
            throw syntaxError("invalid escape \\\(describe(at: position + 1))", at: start)
        }
    }

    private func hexString(_ unit: UInt32) -> String {
        let digits = String(unit, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    @inline(__always) func hex4(at offset: Int) -> UInt32? {
        var value: UInt32 = 0
        for i in 0..<4 {
            let b = byte(offset + i)
            let digit: UInt8
            switch b {
            case ASCII.zero...ASCII.nine: digit = b - ASCII.zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Checks one multi-byte UTF-8 sequence (RFC 3629): no overlong forms, no encoded
    /// surrogates, nothing above U+10FFFF, no truncation.
    private mutating func scanUTF8Sequence() throws(DecodeFailure) {
        let lead = current
        // The second byte's range is where the forbidden forms are excluded (Table 3-7 of the
        // Unicode standard); every other continuation byte is 0x80...0xBF.
        let length: Int
        let second: ClosedRange<UInt8>
        switch lead {
        case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        default: throw syntaxError("invalid UTF-8 (byte 0x\(String(lead, radix: 16, uppercase: true)) cannot start a character)", at: position)
        }
        var valid = second.contains(byte(position + 1))
        for i in 2..<max(length, 2) where valid {
            valid = byte(position + i) & 0xC0 == 0x80
        }
        guard valid else { throw syntaxError("invalid UTF-8 sequence", at: position) }
        position += length
    }

    /// Makes the String a ping keeps, unescaping if needed. The bytes were checked by
    /// ``scanString()``, so decoding here cannot fail.
    func makeString(_ token: StringToken) -> String {
        let raw = UnsafeRawBufferPointer(start: base.unsafelyUnwrapped + token.start, count: token.end - token.start)
        guard token.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: token.decodedLength) { out in
            var i = 0
            var o = 0
            while i < raw.count {
                let b = raw[i]
                // The capacity comes from scanString's count; checking it here (on this rare
                // path only) turns any disagreement into a trap instead of a buffer overrun.
                guard b == ASCII.backslash else {
                    precondition(o < out.count)
                    out[o] = b
                    o += 1
                    i += 1
                    continue
                }
                let escape = raw[i + 1]
                i += 2
                var scalar: UInt32
                switch escape {
                case UInt8(ascii: "b"): scalar = 0x08
                case UInt8(ascii: "f"): scalar = 0x0C
                case UInt8(ascii: "n"): scalar = 0x0A
                case UInt8(ascii: "r"): scalar = 0x0D
                case UInt8(ascii: "t"): scalar = 0x09
                case UInt8(ascii: "u"):
                    scalar = hex4(at: token.start + i)!
                    i += 4
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        let low = hex4(at: token.start + i + 2)!
                        i += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                default: scalar = UInt32(escape)  // " \ /
                }
                let encoded = UTF8.encode(Unicode.Scalar(scalar)!)!
                precondition(o + encoded.count <= out.count)
                for unit in encoded {
                    out[o] = unit
                    o += 1
                }
            }
            return o
        }
    }

    // MARK: Numbers

    /// Scans a number with the full JSON grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    /// Collects the digits as it goes so that most numbers convert without reading them again.
    mutating func scanNumber() throws(DecodeFailure) -> NumberToken {
        let start = position
        var negative = false
        if current == ASCII.minus {
            negative = true
            position += 1
        }
        var mantissa: UInt64 = 0
        var exponent = 0
        var truncated = false
        let first = current
        if first == ASCII.zero {
            position += 1
            if JSONCursor.isDigit(current) {
                throw syntaxError("leading zeros are not allowed in numbers", at: position - 1)
            }
        } else if first >= ASCII.one && first <= ASCII.nine {
            repeat {
                // 10^18 - 1: the largest value that cannot overflow on the next digit.
                if mantissa <= 999_999_999_999_999_999 {
                    mantissa = mantissa &* 10 &+ UInt64(current &- ASCII.zero)
                } else {
                    truncated = true
                }
                position += 1
            } while JSONCursor.isDigit(current)
        } else {
            throw expected(negative ? "a digit after '-'" : "a number")
        }
        var isInteger = true
        if current == ASCII.period {
            isInteger = false
            position += 1
            guard JSONCursor.isDigit(current) else { throw expected("a digit after '.'") }
            repeat {
                if mantissa <= 999_999_999_999_999_999 {
                    mantissa = mantissa &* 10 &+ UInt64(current &- ASCII.zero)
                    exponent -= 1
                } else {
                    truncated = true
                }
                position += 1
            } while JSONCursor.isDigit(current)
        }
        if current | 0x20 == ASCII.lowerE {
            isInteger = false
            position += 1
            var exponentNegative = false
            if current == ASCII.plus || current == ASCII.minus {
                exponentNegative = current == ASCII.minus
                position += 1
            }
            guard JSONCursor.isDigit(current) else { throw expected("a digit in the exponent") }
            var written = 0
            repeat {
                // Clamped: beyond this any non-zero value over- or underflows anyway.
                if written < 100_000 { written = written * 10 + Int(current &- ASCII.zero) }
                position += 1
            } while JSONCursor.isDigit(current)
            exponent += exponentNegative ? -written : written
        }
        return NumberToken(
            start: start, end: position, mantissa: mantissa, exponent: exponent, negative: negative,
            isInteger: isInteger, truncated: truncated)
    }

    /// The nearest Double to a scanned number (correctly rounded, like `strtod`).
    ///
    /// Fast path (Clinger): when the digits fit in 53 bits and the power of ten is at most 10^22,
    /// both are exact Doubles and one IEEE multiplication or division rounds correctly. That
    /// covers coordinates and the other ping fields. Anything else goes to the standard library's
    /// parser; a number text of up to 15 bytes is a small String, so even that rarely allocates.
    /// Out of range gives ±infinity, which the caller refuses.
    func doubleValue(_ token: NumberToken) -> Double {
        if !token.truncated {
            if token.mantissa == 0 { return token.negative ? -0.0 : 0.0 }
            if token.mantissa <= 1 << 53 && token.exponent >= -22 && token.exponent <= 22 {
                var value = Double(token.mantissa)
                if token.exponent < 0 {
                    value /= exactPowerOfTen(-token.exponent)
                } else {
                    value *= exactPowerOfTen(token.exponent)
                }
                return token.negative ? -value : value
            }
        }
        let text = String(
            decoding: UnsafeRawBufferPointer(start: base.unsafelyUnwrapped + token.start, count: token.end - token.start),
            as: UTF8.self)
        return Double(text) ?? .nan
    }
}

/// 10^n for n in 0...22, the powers of ten a Double holds exactly (shared by the JSON and XML
/// number parsers).
@inline(__always) func exactPowerOfTen(_ n: Int) -> Double {
    switch n {
    case 0: 1e0
    case 1: 1e1
    case 2: 1e2
    case 3: 1e3
    case 4: 1e4
    case 5: 1e5
    case 6: 1e6
    case 7: 1e7
    case 8: 1e8
    case 9: 1e9
    case 10: 1e10
    case 11: 1e11
    case 12: 1e12
    case 13: 1e13
    case 14: 1e14
    case 15: 1e15
    case 16: 1e16
    case 17: 1e17
    case 18: 1e18
    case 19: 1e19
    case 20: 1e20
    case 21: 1e21
    default: 1e22
    }
}
