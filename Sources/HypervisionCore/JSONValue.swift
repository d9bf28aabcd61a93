/// A JSON document (RFC 8259) as a plain Swift value.
///
/// Scenes are sent to renderers as JSON and diffed into RFC 6902 patches, so the daemon needs a
/// document model it can compare, hash, diff and print canonically — Foundation's `Any`-typed
/// `JSONSerialization` can do none of that. Objects are dictionaries (key order carries no meaning
/// in JSON); ``encoded()`` sorts their keys so that equal documents always print the same bytes,
/// which makes scenes diffable as text and testable byte for byte.
///
/// Numbers are `Double`, as in JavaScript: integers are exact up to ±2^53, which is all a scene
/// needs (pixel coordinates, sequence numbers, epoch milliseconds).
///
/// Keys are Swift `String`s, which compare by Unicode canonical equivalence: two keys that differ
/// only in normalisation (`"é"` precomposed or not) are one key here. The parser refuses such a
/// pair as a duplicate rather than silently merging them.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

// MARK: - Accessors

extension JSONValue {
    /// The member named `key` when this is an object holding it; nil otherwise (also for non-objects).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    /// The element at `index` when this is an array and the index is in range; nil otherwise.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The string when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number when this is a number.
    public var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The number as an `Int` when this is a number with no fractional part that fits an `Int`
    /// exactly; nil for `1.5`, for strings and for numbers beyond `Int`'s range.
    public var intValue: Int? {
        guard case .number(let value) = self else { return nil }
        return Int(exactly: value)
    }

    /// The boolean when this is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The members when this is an object.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

// MARK: - Literals

// Literals make scenes and test fixtures readable: `["type": "scene", "seq": 12]`.

extension JSONValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
}

extension JSONValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .number(value) }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Builds an object; when a key repeats, the last value wins (as in `Dictionary(_:uniquingKeysWith:)`).
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue: CustomStringConvertible {
    /// The canonical JSON text, as ``encoded()``.
    public var description: String { encoded() }
}

// MARK: - Encoding

extension JSONValue {
    /// The canonical JSON text of this value.
    ///
    /// Canonical means: object keys sorted bytewise by their UTF-8 bytes, no whitespace, integral
    /// numbers within ±2^53 printed as integers (`3`, not `3.0`), other numbers as the shortest text
    /// that reads back to the same `Double` (`0.1`, `1e-07`, `1.5e+300`, all valid JSON), strings with
    /// only the escapes JSON requires. Non-finite numbers, which JSON cannot express, print as `null`
    /// (as JavaScript's `JSON.stringify` does); the parser never produces them.
    public func encoded() -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        encode(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the canonical JSON text of this value (see ``encoded()``) to `bytes`.
    ///
    /// The fast path for writers that frame many messages into one buffer: no intermediate `String`.
    public func encode(into bytes: inout [UInt8]) {
        switch self {
        case .null:
            bytes.append(contentsOf: JSONLiteral.null)
        case .bool(let value):
            bytes.append(contentsOf: value ? JSONLiteral.true : JSONLiteral.false)
        case .number(let value):
            JSONValue.encodeNumber(value, into: &bytes)
        case .string(let value):
            JSONValue.encodeString(value, into: &bytes)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                element.encode(into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            // Sort positions, not members: moving members around costs a retain and release each.
            let entries = Array(members)
            var order = Array(entries.indices)
            order.sort { JSONValue.utf8Precedes(entries[$0].key, entries[$1].key) }
            var first = true
            for index in order {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                JSONValue.encodeString(entries[index].key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                entries[index].value.encode(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// The keys of an object in canonical order: bytewise by UTF-8, which is also code point order
    /// and what other languages' "sort keys" produce, unlike Swift's own `String` ordering.
    public static func canonicalKeyOrder(_ members: [String: JSONValue]) -> [String] {
        var keys = Array(members.keys)
        sortCanonically(&keys)
        return keys
    }

    /// Sorts `keys` in the canonical order (``utf8Precedes(_:_:)``). Each key's first 16 bytes
    /// are read once into two integers, and most comparisons end on them; only keys that share
    /// those 16 bytes are compared in full. Comparing every pair byte by byte was a tenth of a
    /// wall round that moved a few hundred markers.
    public static func sortCanonically(_ keys: inout [String]) {
        guard keys.count > 1 else { return }
        var keyed = keys.map { key in (prefix: prefix(of: key), key: key) }
        keyed.sort { a, b in
            if a.prefix.high != b.prefix.high { return a.prefix.high < b.prefix.high }
            if a.prefix.low != b.prefix.low { return a.prefix.low < b.prefix.low }
            return utf8Precedes(a.key, b.key)
        }
        for index in keys.indices { keys[index] = keyed[index].key }
    }

    /// The first 16 UTF-8 bytes, big-endian, zero-padded: ordered as the bytes are, and two keys
    /// with different prefixes are ordered by them (a zero pad ties with a NUL byte, which the
    /// full comparison then settles).
    private static func prefix(of key: String) -> (high: UInt64, low: UInt64) {
        var key = key
        return key.withUTF8 { bytes in
            var high: UInt64 = 0, low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(index < bytes.count ? bytes[index] : 0) }
            for index in 8..<16 { low = low << 8 | UInt64(index < bytes.count ? bytes[index] : 0) }
            return (high, low)
        }
    }

    /// Bytewise UTF-8 ordering of two strings (the canonical key order).
    public static func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
        // On the contiguous UTF-8 storage of native strings: the generic `utf8.lexicographicallyPrecedes`
        // was a third of the time of encoding a scene.
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                let count = min(left.count, right.count)
                var index = 0
                while index < count {
                    if left[index] != right[index] { return left[index] < right[index] }
                    index += 1
                }
                return left.count < right.count
            }
        }
    }

    static func encodeNumber(_ value: Double, into bytes: inout [UInt8]) {
        guard value.isFinite else {
            bytes.append(contentsOf: JSONLiteral.null)
            return
        }
        if value.rounded(.towardZero) == value, value.magnitude <= 9_007_199_254_740_992 {
            // Integral and exactly representable: print as an integer. `-0.0` prints as `0`.
            // (Integers' text is a small string: no allocation.)
            bytes.append(contentsOf: String(Int64(value)).utf8)
            return
        }
        // Swift's description is the shortest round-tripping form, and its shapes ("0.1",
        // "1e-07", "1.5e+300", "9.007199254740994e+15") are all valid JSON numbers.
        bytes.append(contentsOf: value.description.utf8)
    }

    static func encodeString(_ value: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings (ids, titles, URLs) need no escape: append them whole.
        let appendedWhole: Bool? = value.utf8.withContiguousStorageIfAvailable { buffer in
            for byte in buffer where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                return false
            }
            bytes.append(contentsOf: buffer)
            return true
        }
        if appendedWhole == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "\\"))
            case 0x0A:
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "n"))
            case 0x0D:
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "r"))
            case 0x09:
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "t"))
            case 0x08:
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "b"))
            case 0x0C:
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(UInt8(ascii: "f"))
            case 0x00..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(JSONLiteral.hexDigits[Int(byte >> 4)])
                bytes.append(JSONLiteral.hexDigits[Int(byte & 0x0F)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

enum JSONLiteral {
    static let null: [UInt8] = Array("null".utf8)
    static let `true`: [UInt8] = Array("true".utf8)
    static let `false`: [UInt8] = Array("false".utf8)
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

// MARK: - Parsing

/// Why a text is not the JSON this parser accepts, and where: ``offset`` is the 0-based byte offset
/// of the first offending byte, so a log line points at the exact spot of a long scene or request.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 0-based byte offset (in the UTF-8 input) where parsing stopped.
    public var offset: Int
    /// What was wrong, for people: "expected ':' after an object key".
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

extension JSONValue {
    /// The nesting depth the parsers accept unless told otherwise: deep enough for any scene or
    /// request, shallow enough that hostile input cannot exhaust the stack.
    public static let defaultMaximumDepth = 64

    /// Parses one JSON text (strict RFC 8259), like ``init(parsing:maximumDepth:maximumBytes:)``.
    public init(
        parsing text: String, maximumDepth: Int = JSONValue.defaultMaximumDepth, maximumBytes: Int = .max
    ) throws(JSONParseError) {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                try JSONValue.parse(buffer, maximumDepth: maximumDepth, maximumBytes: maximumBytes)
            }
        }
        self = try result.get()
    }

    /// Parses one JSON text from UTF-8 bytes, strictly as RFC 8259 says.
    ///
    /// Refused, each with the byte offset where it was found: trailing content after the value, a
    /// byte-order mark, leading zeros (`01`), `NaN`/`Infinity` and other non-JSON literals, numbers
    /// that overflow a `Double`, control characters inside strings, unknown escapes, lone UTF-16
    /// surrogates in `\u` escapes, malformed UTF-8, duplicate keys in one object, nesting deeper than
    /// `maximumDepth`, and input longer than `maximumBytes` (checked before any parsing).
    public init(
        parsing bytes: some Collection<UInt8>, maximumDepth: Int = JSONValue.defaultMaximumDepth,
        maximumBytes: Int = .max
    ) throws(JSONParseError) {
        let parse = { (buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONParseError> in
            Result { () throws(JSONParseError) -> JSONValue in
                try JSONValue.parse(buffer, maximumDepth: maximumDepth, maximumBytes: maximumBytes)
            }
        }
        if let result = bytes.withContiguousStorageIfAvailable(parse) {
            self = try result.get()
        } else {
            self = try Array(bytes).withUnsafeBufferPointer(parse).get()
        }
    }

    private static func parse(
        _ buffer: UnsafeBufferPointer<UInt8>, maximumDepth: Int, maximumBytes: Int
    ) throws(JSONParseError) -> JSONValue {
        guard buffer.count <= maximumBytes else {
            throw JSONParseError(offset: maximumBytes, message: "input longer than \(maximumBytes) bytes")
        }
        var parser = JSONParser(bytes: buffer, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == buffer.count else {
            throw JSONParseError(offset: parser.position, message: "unexpected content after the JSON value")
        }
        return value
    }
}

/// A recursive-descent parser over a contiguous buffer. Recursion is bounded by `maximumDepth`.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maximumDepth: Int
    var position = 0
    /// Reused for strings with escapes, so that each one does not allocate a new buffer.
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    func fail(_ message: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? position, message: message)
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard position < bytes.count else { throw fail("unexpected end of input, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral(JSONLiteral.true); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral(JSONLiteral.false); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral(JSONLiteral.null); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case 0xEF where position + 2 < bytes.count && bytes[position + 1] == 0xBB && bytes[position + 2] == 0xBF:
            throw fail("byte-order mark is not allowed")
        case let byte: throw fail("unexpected \(describe(byte)), expected a value")
        }
    }

    mutating func expectLiteral(_ literal: [UInt8]) throws(JSONParseError) {
        for (index, expected) in literal.enumerated() {
            guard position + index < bytes.count, bytes[position + index] == expected else {
                throw fail("invalid literal, expected '\(String(decoding: literal, as: UTF8.self))'")
            }
        }
        position += literal.count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw fail("nesting deeper than \(maximumDepth) levels") }
        position += 1  // "{"
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of input in an object") }
            guard bytes[position] == UInt8(ascii: "\"") else {
                throw fail("unexpected \(describe(bytes[position])), expected an object key string")
            }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw fail("expected ':' after an object key")
            }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            guard members.updateValue(value, forKey: key) == nil else {
                throw fail("duplicate key \"\(key)\"", at: keyOffset)
            }
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of input in an object") }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            case let byte: throw fail("unexpected \(describe(byte)), expected ',' or '}'")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw fail("nesting deeper than \(maximumDepth) levels") }
        position += 1  // "["
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard position < bytes.count else { throw fail("unexpected end of input in an array") }
            switch bytes[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            case let byte: throw fail("unexpected \(describe(byte)), expected ',' or ']'")
            }
        }
    }

    mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = position
        var negative = false
        if bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw fail("expected a digit in a number")
        }
        var integer: UInt64 = 0
        var digitCount = 0
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) {
                throw fail("leading zeros are not allowed in a number", at: position - 1)
            }
            digitCount = 1
        } else {
            while position < bytes.count, isDigit(bytes[position]) {
                if digitCount < 18 { integer = integer * 10 + UInt64(bytes[position] - UInt8(ascii: "0")) }
                digitCount += 1
                position += 1
            }
        }
        var simple = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            simple = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw fail("expected a digit after the decimal point")
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            simple = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw fail("expected a digit in the exponent")
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        // Integers of up to 15 digits are exact in a Double: skip the general conversion.
        if simple && digitCount <= 15 {
            let magnitude = Double(integer)
            return negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw fail("number out of range", at: start)
        }
        return value
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    mutating func parseString() throws(JSONParseError) -> String {
        position += 1  // opening quote
        let start = position
        // Fast path: no escapes, so the string is a slice of the input once validated.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let string = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character \(describe(byte)) in a string must be escaped") }
            if byte < 0x80 {
                position += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        guard position < bytes.count else { throw fail("unterminated string", at: start - 1) }
        // Slow path: copy what was scanned, then decode escapes into the scratch buffer.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape()
            case 0x00..<0x20:
                throw fail("control character \(describe(byte)) in a string must be escaped")
            case 0x20..<0x80:
                scratch.append(byte)
                position += 1
            default:
                let sequenceStart = position
                try skipUTF8Sequence()
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[sequenceStart..<position]))
            }
        }
        throw fail("unterminated string", at: start - 1)
    }

    /// Validates one multi-byte UTF-8 sequence at `position` (RFC 3629: no overlongs, no encoded
    /// surrogates, nothing above U+10FFFF) and moves past it.
    mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = bytes[position]
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upperBound = 0x9F
        case 0xF0: length = 4; lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upperBound = 0x8F
        default: throw fail("invalid UTF-8 lead byte 0x\(String(lead, radix: 16, uppercase: true))")
        }
        guard position + length <= bytes.count else { throw fail("truncated UTF-8 sequence") }
        let second = bytes[position + 1]
        guard second >= lowerBound && second <= upperBound else { throw fail("invalid UTF-8 sequence") }
        for index in 2..<length where bytes[position + index] & 0xC0 != 0x80 {
            throw fail("invalid UTF-8 sequence")
        }
        position += length
    }

    mutating func parseEscape() throws(JSONParseError) {
        let escapeStart = position
        position += 1
        guard position < bytes.count else { throw fail("unterminated string", at: escapeStart) }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""): scratch.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): scratch.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try parseHex4(escapeStart: escapeStart))
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                // A high surrogate must be followed by an escaped low surrogate: together one scalar.
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw fail("unpaired UTF-16 surrogate in a \\u escape", at: escapeStart) }
                let lowStart = position
                position += 2
                let low = UInt32(try parseHex4(escapeStart: lowStart))
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw fail("unpaired UTF-16 surrogate in a \\u escape", at: escapeStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw fail("unpaired UTF-16 surrogate in a \\u escape", at: escapeStart)
            }
            scratch.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar)!)!)
        default:
            throw fail("invalid escape '\\\(Character(Unicode.Scalar(byte)))'", at: escapeStart)
        }
    }

    mutating func parseHex4(escapeStart: Int) throws(JSONParseError) -> UInt16 {
        guard position + 4 <= bytes.count else { throw fail("truncated \\u escape", at: escapeStart) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in a \\u escape")
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }
}
