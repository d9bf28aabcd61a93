import Testing

@testable import HypervisionCore

@Suite struct JSONValueTests {
    // MARK: Encoding

    @Test func sortingByPrefixGivesTheBytewiseOrder() {
        var generator = SeededRandom(seed: 42)
        // Keys that tie on their first 16 bytes, differ only past them, end early, hold a NUL
        // (which ties with the prefix's zero padding), or are not ASCII.
        let pieces = ["PN-75-0117-BAC-", "PN-75-0117-BAC", "a", "é", "\u{0}", "z", "~", "PN-75-01", "", "日本", "B"]
        for round in 0..<200 {
            let keys = (0..<Int.random(in: 0...40, using: &generator)).map { _ in
                (0..<Int.random(in: 0...4, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            }
            var sorted = keys
            JSONValue.sortCanonically(&sorted)
            #expect(sorted == keys.sorted(by: JSONValue.utf8Precedes), "round \(round)")
        }
    }

    @Test func canonicalEncodingSortsKeysBytewiseWithoutWhitespace() {
        let value: JSONValue = ["b": 1, "a": [true, false, nil], "B": "x", "é": 0, "z": ["y": 1, "x": 2]]
        // Bytewise: "B" (0x42) < "a" < "b" < "z" < "é" (0xC3 0xA9).
        #expect(value.encoded() == #"{"B":"x","a":[true,false,null],"b":1,"z":{"x":2,"y":1},"é":0}"#)
    }

    @Test(arguments: [
        (0.0, "0"), (-0.0, "0"), (1, "1"), (-42, "-42"), (3.0, "3"), (9_007_199_254_740_992, "9007199254740992"),
        (-9_007_199_254_740_992, "-9007199254740992"), (0.1, "0.1"), (-2.5, "-2.5"), (1e-7, "1e-07"),
        (1.5e300, "1.5e+300"), (9_007_199_254_740_994, "9.007199254740994e+15"), (123456.789, "123456.789"),
        (Double.infinity, "null"), (Double.nan, "null"),
    ] as [(Double, String)])
    func numbers(value: Double, expected: String) throws {
        #expect(JSONValue.number(value).encoded() == expected)
        if value.isFinite {
            // Every form reads back as JSON, to the same Double.
            #expect(try JSONValue(parsing: expected) == .number(value))
        }
    }

    @Test func stringsAreEscapedMinimally() throws {
        let value = JSONValue.string("a\"b\\c\n\r\t\u{08}\u{0C}\u{01}\u{1F}/é😀\u{7F}")
        #expect(value.encoded() == #""a\"b\\c\n\r\t\b\f\u0001\u001f/é😀\#u{7F}""#)
        #expect(try JSONValue(parsing: value.encoded()) == value)
    }

    @Test func encodeIntoAppends() {
        var bytes = Array("x".utf8)
        JSONValue.array([1, "a"]).encode(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"x[1,"a"]"#)
    }

    @Test func equalDocumentsEncodeIdentically() {
        var first: [String: JSONValue] = [:]
        var second: [String: JSONValue] = [:]
        for index in 0..<100 { first["k\(index)"] = .number(Double(index)) }
        for index in (0..<100).reversed() { second["k\(index)"] = .number(Double(index)) }
        #expect(JSONValue.object(first).encoded() == JSONValue.object(second).encoded())
    }

    // MARK: Parsing

    @Test func parsesEveryKindOfValue() throws {
        let text = #" { "a" : [ 1 , -2.5e3 , 0.5E-2 , true , false , null ] , "s" : "x\u00e9\ud83d\ude00\/" , "o" : { } , "e" : [ ] } "#
        let value = try JSONValue(parsing: text)
        #expect(value["a"] == [1, -2500, 0.005, true, false, nil])
        #expect(value["s"]?.stringValue == "xé😀/")
        #expect(value["o"] == .object([:]))
        #expect(value["e"] == .array([]))
    }

    @Test func accessors() throws {
        let value = try JSONValue(parsing: #"{"n":3,"f":1.5,"s":"x","b":true,"a":[1],"o":{"k":null}}"#)
        #expect(value["n"]?.intValue == 3)
        #expect(value["f"]?.intValue == nil)
        #expect(value["f"]?.doubleValue == 1.5)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["s"]?.intValue == nil)
        #expect(value["b"]?.boolValue == true)
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["a"]?[0] == 1)
        #expect(value["a"]?[1] == nil)
        #expect(value["o"]?.objectValue == ["k": .null])
        #expect(value["o"]?["k"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(JSONValue.string("x")["k"] == nil)
    }

    @Test func roundTripsThroughText() throws {
        var generator = SeededRandom(seed: 7)
        for _ in 0..<300 {
            let value = JSONValue.random(using: &generator, depth: 4)
            let text = value.encoded()
            let parsed = try JSONValue(parsing: text)
            #expect(parsed == value, "\(text)")
            #expect(parsed.encoded() == text)
            #expect(try JSONValue(parsing: Array(text.utf8)) == value)
        }
    }

    @Test func parsesFromNonContiguousCollections() throws {
        let bytes = Array(#"{"a":[1,2]}"#.utf8)
        #expect(try JSONValue(parsing: bytes.lazy.map { $0 }) == ["a": [1, 2]])
        let padded = Array("xx".utf8) + bytes
        #expect(try JSONValue(parsing: padded[2...]) == ["a": [1, 2]])
        // Offsets count from the start of the slice, not of its base array.
        #expect(throws: JSONParseError(offset: 0, message: "unexpected 'x', expected a value")) {
            try JSONValue(parsing: padded[0...])
        }
    }

    @Test func largeIntegersAndPrecision() throws {
        #expect(try JSONValue(parsing: "9007199254740993") == .number(9_007_199_254_740_992))
        #expect(try JSONValue(parsing: "123456789012345678901234567890") == .number(1.2345678901234568e29))
        #expect(try JSONValue(parsing: "-0") == .number(0))
        #expect(try JSONValue(parsing: "1E2") == 100)
        #expect(try JSONValue(parsing: "1e+2") == 100)
        #expect(try JSONValue(parsing: "5e-324") == .number(.leastNonzeroMagnitude))
    }

    // MARK: Errors

    @Test(arguments: [
        ("", 0, "unexpected end of input"),
        ("   ", 3, "unexpected end of input"),
        ("{\"a\":1} x", 8, "unexpected content after"),
        ("[1,]", 3, "unexpected ']'"),
        ("{\"a\":1,}", 7, "expected an object key"),
        ("{\"a\" 1}", 5, "expected ':'"),
        ("{a:1}", 1, "expected an object key"),
        ("01", 0, "leading zeros"),
        ("-01", 1, "leading zeros"),
        ("[1,012]", 3, "leading zeros"),
        ("NaN", 0, "unexpected 'N'"),
        ("-Infinity", 1, "expected a digit"),
        ("Infinity", 0, "unexpected 'I'"),
        ("1.", 2, "after the decimal point"),
        (".5", 0, "unexpected '.'"),
        ("1e", 2, "in the exponent"),
        ("+1", 0, "unexpected '+'"),
        ("1e999", 0, "out of range"),
        ("tru", 0, "expected 'true'"),
        ("nul", 0, "expected 'null'"),
        ("\"abc", 0, "unterminated string"),
        ("\"a\\qb\"", 2, "invalid escape"),
        ("\"a\\u12G4\"", 6, "invalid hex digit"),
        ("\"\\ud83d\"", 1, "unpaired"),
        ("\"\\ude00\"", 1, "unpaired"),
        ("\"\\ud83d\\u0041\"", 1, "unpaired"),
        ("\"a\tb\"", 2, "control character"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"),
        ("{\"a\":1,\"a\":2}", 7, "duplicate key"),
        ("\u{FEFF}{}", 0, "byte-order mark"),
    ] as [(String, Int, String)])
    func rejectsWithOffset(text: String, offset: Int, message: String) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.offset == offset && error.message.contains(message)
        }
    }

    @Test func errorDescriptionNamesTheOffset() {
        let error = JSONParseError(offset: 12, message: "expected ':' after an object key")
        #expect(error.description == "invalid JSON at byte 12: expected ':' after an object key")
    }

    @Test func rejectsMalformedUTF8() throws {
        let cases: [([UInt8], Int)] = [
            ([0x22, 0xC3, 0x22], 1),  // truncated 2-byte sequence (next byte is the quote)
            ([0x22, 0xC0, 0xAF, 0x22], 1),  // overlong "/"
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),  // UTF-8-encoded surrogate
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // above U+10FFFF
            ([0x22, 0x61, 0x5C, 0x6E, 0xFF, 0x22], 4),  // invalid byte after an escape
            ([0x22, 0xE2, 0x82], 1),  // truncated at end of input
        ]
        for (bytes, offset) in cases {
            #expect(throws: JSONParseError.self) { try JSONValue(parsing: bytes) }
            do throws(JSONParseError) {
                _ = try JSONValue(parsing: bytes)
            } catch {
                #expect(error.offset == offset, "\(bytes)")
            }
        }
        #expect(try JSONValue(parsing: [0x22, 0xE2, 0x82, 0xAC, 0x22]) == "€")
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try JSONValue(parsing: ok).encoded() == ok)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect {
            try JSONValue(parsing: deep)
        } throws: { error in
            (error as? JSONParseError)?.offset == 64 && (error as? JSONParseError)?.message.contains("nesting") == true
        }
        let objects = String(repeating: #"{"a":"#, count: 3) + "1" + String(repeating: "}", count: 3)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: objects, maximumDepth: 2) }
        #expect(try JSONValue(parsing: objects, maximumDepth: 3)["a"]?["a"]?["a"] == 1)
        // Hostile depth never reaches the stack's limit.
        let hostile = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: hostile) }
    }

    @Test func sizeLimit() throws {
        #expect(try JSONValue(parsing: "[1,2]", maximumBytes: 5) == [1, 2])
        #expect {
            try JSONValue(parsing: "[1,2] ", maximumBytes: 5)
        } throws: { error in
            (error as? JSONParseError)?.message.contains("longer than 5 bytes") == true
        }
    }

    @Test func literals() {
        let value: JSONValue = ["a": 1, "b": 2.5, "c": "s", "d": true, "e": nil, "f": [1]]
        #expect(value == .object(["a": .number(1), "b": .number(2.5), "c": .string("s"), "d": .bool(true), "e": .null, "f": .array([.number(1)])]))
        #expect(value.description == value.encoded())
    }
}

// MARK: - Test support


extension JSONValue {
    /// A random document: scalars of every kind, keys with characters that need escaping in strings
    /// and in JSON Pointers (`/`, `~`), arrays and objects nested up to `depth`.
    static func random(using generator: inout SeededRandom, depth: Int) -> JSONValue {
        let kind = depth <= 0 ? Int.random(in: 0..<4, using: &generator) : Int.random(in: 0..<6, using: &generator)
        switch kind {
        case 0: return Bool.random(using: &generator) ? .null : .bool(Bool.random(using: &generator))
        case 1: return .number(Double(Int.random(in: -1000...1000, using: &generator)))
        case 2: return .number(Double.random(in: -1e6...1e6, using: &generator))
        case 3: return .string(randomKey(using: &generator))
        case 4:
            let count = Int.random(in: 0..<5, using: &generator)
            return .array((0..<count).map { _ in random(using: &generator, depth: depth - 1) })
        default:
            let count = Int.random(in: 0..<6, using: &generator)
            var members: [String: JSONValue] = [:]
            for _ in 0..<count { members[randomKey(using: &generator)] = random(using: &generator, depth: depth - 1) }
            return .object(members)
        }
    }

    static func randomKey(using generator: inout SeededRandom) -> String {
        let alphabet: [String] = ["a", "b", "c", "d", "/", "~", "0", "1", "~1", "~0", "\"", "\\", "\n", "é", "😀", " ", "-"]
        let length = Int.random(in: 0..<4, using: &generator)
        return (0..<length).map { _ in alphabet.randomElement(using: &generator)! }.joined()
    }
}
