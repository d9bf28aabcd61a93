import HypervisionCore
import Testing

@testable import HypervisionIngest

private typealias Item = JSONPingDecoder.Item
private typealias DocumentError = JSONPingDecoder.DocumentError

private let example =
    #"{"unit":"PN-75-BAC-12","time":"2026-11-23T10:00:00.250Z","lat":48.8566,"lon":2.3522,"alt":35,"speed":12.5,"heading":270,"accuracy":8,"status":"available","battery":81}"#

private let examplePing = RawPing(
    unit: "PN-75-BAC-12", time: "2026-11-23T10:00:00.250Z", latitude: 48.8566, longitude: 2.3522, altitude: 35,
    speed: 12.5, heading: 270, accuracy: 8, status: "available", battery: 81)

private func document(_ text: String, _ decoder: JSONPingDecoder = .init()) throws(DocumentError) -> [Item] {
    try decoder.decodeDocument(Array(text.utf8))
}

private func documentError(_ bytes: [UInt8], _ decoder: JSONPingDecoder = .init()) -> DocumentError? {
    do {
        let items = try decoder.decodeDocument(bytes)
        Issue.record("expected a document error, decoded \(items)")
        return nil
    } catch {
        return error
    }
}

private func documentError(_ text: String, _ decoder: JSONPingDecoder = .init()) -> DocumentError? {
    documentError(Array(text.utf8), decoder)
}

private func ndjson(_ text: String, _ decoder: JSONPingDecoder = .init()) throws(DocumentError) -> [Item] {
    try decoder.decodeNDJSON(Array(text.utf8))
}

/// The single item of a one-object document.
private func single(_ text: String) throws -> Item {
    let items = try document(text)
    try #require(items.count == 1)
    return items[0]
}

private func invalid(_ item: Item) -> ValidationError? {
    if case .invalid(let error) = item { return error }
    return nil
}

// MARK: - Valid input

@Test func decodesTheDesignExampleObject() throws {
    #expect(try document(example) == [.ping(examplePing)])
}

@Test func decodesAnArrayOfObjectsInOrder() throws {
    let body = "[\(example), {\"unit\":\"B\",\"lat\":-1.5,\"lon\":0}, {}]"
    #expect(
        try document(body) == [
            .ping(examplePing), .ping(RawPing(unit: "B", latitude: -1.5, longitude: 0)), .ping(RawPing()),
        ])
}

@Test func toleratesWhitespaceEverywhereJSONAllowsIt() throws {
    let body = " \r\n\t[ {\n \"unit\" :\t\"A\" ,\r\n \"lat\" : 1 } \n,\n{ } ] \n"
    #expect(try document(body) == [.ping(RawPing(unit: "A", latitude: 1)), .ping(RawPing())])
}

@Test func anEmptyArrayIsZeroItems() throws {
    #expect(try document("[]").isEmpty)
    #expect(try document(" [ \n ] ").isEmpty)
}

@Test func decodesNDJSONWithCRLFAndBlankLines() throws {
    let body = "\(example)\r\n\r\n   \n{\"unit\":\"B\"}\n\t\r\n{\"unit\":\"C\"}"
    #expect(try ndjson(body) == [.ping(examplePing), .ping(RawPing(unit: "B")), .ping(RawPing(unit: "C"))])
    #expect(try ndjson("").isEmpty)
    #expect(try ndjson("\n\r\n  \n").isEmpty)
}

@Test func everyFieldTakesItsType() throws {
    let body = #"{"unit":"U1","time":"t","lat":-33.5,"lon":151.25,"alt":-12.5,"speed":0,"heading":359.9,"accuracy":1e2,"status":"busy","battery":100}"#
    #expect(
        try single(body)
            == .ping(
                RawPing(
                    unit: "U1", time: "t", latitude: -33.5, longitude: 151.25, altitude: -12.5, speed: 0, heading: 359.9,
                    accuracy: 100, status: "busy", battery: 100)))
}

@Test func nullMeansAbsentAndTheLastDuplicateKeyWins() throws {
    let body = #"{"unit":"A","time":null,"lat":1,"lat":2,"lon":3,"lon":null,"alt":null,"status":"x","status":null,"speed":null,"heading":null,"accuracy":null,"battery":null}"#
    #expect(try single(body) == .ping(RawPing(unit: "A", latitude: 2)))
}

@Test func unknownFieldsOfAnyShapeAreSkipped() throws {
    let body = #"""
        {"extra":{"a":[1,{"b":null,"c":[true,false,"s\"]}"]}],"d":{}},"unit":"A","flag":true,"list":[],
         "n":-1.5e-3,"lat":1,"nested":[[[]]],"lon":2,"latitude":99,"Lat":98,"lat ":97,"":0}
        """#
    #expect(try single(body) == .ping(RawPing(unit: "A", latitude: 1, longitude: 2)))
}

@Test func unknownStringFieldsAreNotLengthLimited() throws {
    let long = String(repeating: "x", count: 10_000)
    #expect(try single("{\"note\":\"\(long)\",\"unit\":\"A\"}") == .ping(RawPing(unit: "A")))
}

@Test func unitMayBeAJSONIntegerAndKeepsItsDigits() throws {
    #expect(try single(#"{"unit":356938035643809}"#) == .ping(RawPing(unit: "356938035643809")))
    // Beyond 2^64 and beyond a Double's precision: the digits are kept as written.
    #expect(try single(#"{"unit":123456789012345678901234567890}"#) == .ping(RawPing(unit: "123456789012345678901234567890")))
    #expect(try single(#"{"unit":0}"#) == .ping(RawPing(unit: "0")))
    #expect(try single(#"{"unit":-7}"#) == .ping(RawPing(unit: "-7")))
}

@Test func unitAsANonIntegerNumberIsATypeError() throws {
    for body in [#"{"unit":1.5}"#, #"{"unit":1e3}"#] {
        let error = try #require(invalid(try single(body)))
        #expect(error.code == .fieldTypeInvalid)
        #expect(error.message == "unit must be a string or an integer, found a number with a fraction or an exponent")
    }
}

@Test func escapesAndSurrogatePairsAreDecoded() throws {
    let body = #"{"unit":"PN\u002d75\/A\"B\\C","time":"\b\f\n\r\t","status":"\u00e9\u20AC\ud83d\ude93 \uD834\uDD1E"}"#
    #expect(
        try single(body)
            == .ping(RawPing(unit: "PN-75/A\"B\\C", time: "\u{8}\u{C}\n\r\t", status: "é€🚓 𝄞")))
}

@Test func rawUTF8InStringsIsKept() throws {
    #expect(try single(#"{"status":"é€🚓","unit":"日本"}"#) == .ping(RawPing(unit: "日本", status: "é€🚓")))
}

@Test func escapedKeysStillMatchTheirField() throws {
    #expect(try single(#"{"l\u0061t":5,"\u0075nit":"A","\u006con":6}"#) == .ping(RawPing(unit: "A", latitude: 5, longitude: 6)))
}

@Test func escapedNullIsKeptInAString() throws {
    #expect(try single(#"{"unit":"A\u0000B"}"#) == .ping(RawPing(unit: "A\u{0}B")))
}

@Test(arguments: [
    ("0", 0.0), ("-0", -0.0), ("1", 1), ("-1", -1), ("0.5", 0.5), ("-0.25", -0.25), ("1e3", 1000), ("1E+2", 100),
    ("2.5e-3", 0.0025), ("1.7976931348623157e308", 1.7976931348623157e308), ("5e-324", .leastNonzeroMagnitude), ("1e-400", 0),
    ("48.856613", 48.856613), ("12345678901234567890", 12345678901234567890.0),
    ("0.1000000000000000055511151231257827", 0.1), ("9007199254740993", 9007199254740993.0),
    ("123456789012345678901234567890e-10", 12345678901234567890.1234567890), ("1e22", 1e22), ("1e23", 1e23),
    ("0.000000000000000000000000000001", 1e-30),
])
func numbersUseTheFullGrammarAndRoundCorrectly(text: String, value: Double) throws {
    let item = try single("{\"lat\":\(text)}")
    guard case .ping(let ping) = item, let lat = ping.latitude else {
        Issue.record("\(text) gave \(item)")
        return
    }
    #expect(lat == value)
    #expect(lat.sign == value.sign)
}

@Test func aNumberBeyondDoubleRangeIsAnInvalidValue() throws {
    for text in ["1e400", "-1e309", "1" + String(repeating: "0", count: 400)] {
        let error = try #require(invalid(try single("{\"alt\":\(text),\"unit\":\"A\"}")))
        #expect(error == ValidationError(.valueInvalid, "alt is too large for a double"))
    }
}

// MARK: - Item-level problems

@Test(arguments: [
    (#"{"lat":"48.8"}"#, "lat must be a number, found a string"),
    (#"{"lon":true}"#, "lon must be a number, found a boolean"),
    (#"{"alt":{}}"#, "alt must be a number, found an object"),
    (#"{"speed":[1]}"#, "speed must be a number, found an array"),
    (#"{"heading":false}"#, "heading must be a number, found a boolean"),
    (#"{"accuracy":"8"}"#, "accuracy must be a number, found a string"),
    (#"{"battery":"81%"}"#, "battery must be a number, found a string"),
    (#"{"unit":true}"#, "unit must be a string or an integer, found a boolean"),
    (#"{"unit":["A"]}"#, "unit must be a string or an integer, found an array"),
    (#"{"time":1700000000}"#, "time must be a string, found a number"),
    (#"{"status":{"code":1}}"#, "status must be a string, found an object"),
])
func aFieldOfTheWrongTypeIsNamed(body: String, message: String) throws {
    #expect(try single(body) == .invalid(ValidationError(.fieldTypeInvalid, message)))
}

@Test func theFirstProblemInAnObjectIsReported() throws {
    #expect(
        try single(#"{"lat":"x","lon":"y","lat":1}"#)
            == .invalid(ValidationError(.fieldTypeInvalid, "lat must be a number, found a string")))
}

@Test func aBadElementIsInvalidAtItsIndexAndItsNeighboursDecode() throws {
    let body = "[\(example), 42, {\"lat\":\"x\"}, \"ping\", null, [\(example)], \(example)]"
    let items = try document(body)
    #expect(items.count == 7)
    #expect(items[0] == .ping(examplePing))
    #expect(items[1] == .invalid(ValidationError(.notAnObject, "the item must be a JSON object, found a number")))
    #expect(items[2] == .invalid(ValidationError(.fieldTypeInvalid, "lat must be a number, found a string")))
    #expect(items[3] == .invalid(ValidationError(.notAnObject, "the item must be a JSON object, found a string")))
    #expect(items[4] == .invalid(ValidationError(.notAnObject, "the item must be a JSON object, found null")))
    #expect(items[5] == .invalid(ValidationError(.notAnObject, "the item must be a JSON object, found an array")))
    #expect(items[6] == .ping(examplePing))
}

@Test func aBareScalarBodyIsNotAnObject() throws {
    for (body, found) in [("42", "a number"), ("\"x\"", "a string"), ("null", "null"), (" true ", "a boolean")] {
        let error = try #require(documentError(body))
        #expect(error.code == .notAnObject)
        #expect(error.message.contains("found \(found)"))
    }
    // Still checked as JSON first.
    #expect(documentError("42 43")?.code == .jsonInvalid)
}

// MARK: - Syntax errors

@Test(arguments: [
    // Truncated input.
    (#"{"unit":"A""#, 11, "expected ',' or '}', found the end of the input"),
    (#"{"unit":"A"#, 10, "unterminated string (it starts at byte 8)"),
    (#"[{"lat":1}"#, 10, "expected ',' or ']', found the end of the input"),
    (#"{"lat":"#, 7, "expected a value, found the end of the input"),
    (#"{"lat":-"#, 8, "expected a digit after '-', found the end of the input"),
    // Trailing garbage after the document.
    (#"{"lat":1} x"#, 10, "expected the end of the input, found 'x'"),
    (#"[]]"#, 2, "expected the end of the input, found ']'"),
    (#"{}{}"#, 2, "expected the end of the input, found '{'"),
    // Missing colon, comma; stray commas; bad keys.
    (#"{"unit" "A"}"#, 8, "expected ':', found '\"'"),
    (#"{"lat":1 "lon":2}"#, 9, "expected ',' or '}', found '\"'"),
    (#"[{} {}]"#, 4, "expected ',' or ']', found '{'"),
    (#"{"lat":1,}"#, 9, "expected a string key, found '}'"),
    (#"[{},]"#, 4, "expected a value, found ']'"),
    (#"{lat:1}"#, 1, "expected a string key, found 'l'"),
    (#"{'lat':1}"#, 1, "expected a string key, found '''"),
    (#"{"x":{"a" 1}}"#, 10, "expected ':', found '1'"),
    (#"{"x":[1 2]}"#, 8, "expected ',' or ']', found '2'"),
    // Bad literals.
    (#"{"alt":nul}"#, 7, "invalid literal, expected 'null'"),
    (#"{"x":tru}"#, 5, "invalid literal, expected 'true'"),
    (#"{"x":fals"#, 5, "invalid literal, expected 'false'"),
    (#"{"x":True}"#, 5, "expected a value, found 'T'"),
    (#"{"x":nullx}"#, 9, "expected ',' or '}', found 'x'"),
    // Number grammar.
    (#"{"lat":012}"#, 7, "leading zeros are not allowed in numbers"),
    (#"{"lat":-00.5}"#, 8, "leading zeros are not allowed in numbers"),
    (#"{"x":[00]}"#, 6, "leading zeros are not allowed in numbers"),
    (#"{"lat":NaN}"#, 7, "expected a value, found 'N'"),
    (#"{"lat":Infinity}"#, 7, "expected a value, found 'I'"),
    (#"{"lat":-Infinity}"#, 8, "expected a digit after '-', found 'I'"),
    (#"{"lat":0x1F}"#, 8, "expected ',' or '}', found 'x'"),
    (#"{"lat":0x1p3}"#, 8, "expected ',' or '}', found 'x'"),  // a hexadecimal float
    (#"{"lat":-0x1.8p1}"#, 9, "expected ',' or '}', found 'x'"),
    (#"{"lat":1p3}"#, 8, "expected ',' or '}', found 'p'"),
    (#"{"lat":+1}"#, 7, "expected a value, found '+'"),
    (#"{"lat":.5}"#, 7, "expected a value, found '.'"),
    (#"{"lat":1.}"#, 9, "expected a digit after '.', found '}'"),
    (#"{"lat":1.e3}"#, 9, "expected a digit after '.', found 'e'"),
    (#"{"lat":1e}"#, 9, "expected a digit in the exponent, found '}'"),
    (#"{"lat":1e+}"#, 10, "expected a digit in the exponent, found '}'"),
    // Escapes and surrogates.
    (#"{"unit":"\x"}"#, 9, "invalid escape \\'x'"),
    (#"{"unit":"\u12"}"#, 9, "\\u must be followed by four hexadecimal digits"),
    (#"{"unit":"\uZZZZ"}"#, 9, "\\u must be followed by four hexadecimal digits"),
    (#"{"unit":"\ud800"}"#, 9, "unpaired surrogate \\uD800 (a high surrogate needs a low one after it)"),
    (#"{"unit":"\ud800\u0041"}"#, 9, "unpaired surrogate \\uD800 (a high surrogate needs a low one after it)"),
    (#"{"unit":"\ud800\ud800"}"#, 9, "unpaired surrogate \\uD800 (a high surrogate needs a low one after it)"),
    (#"{"unit":"a\udc00"}"#, 10, "unpaired surrogate \\uDC00 (a low surrogate without a high one)"),
    (#"{"x":"\ude93"}"#, 6, "unpaired surrogate \\uDE93 (a low surrogate without a high one)"),
    // Raw control characters.
    ("{\"unit\":\"A\tB\"}", 10, "control character byte 0x09 in a string must be escaped"),
    ("{\"x\":\"line\nbreak\"}", 10, "control character byte 0x0A in a string must be escaped"),
    ("{\"unit\u{1}\":1}", 6, "control character byte 0x01 in a string must be escaped"),
])
func syntaxErrorsNameTheByteAndWhatWasExpected(body: String, offset: Int, reason: String) {
    let error = documentError(body)
    #expect(error == DocumentError(code: .jsonInvalid, message: "invalid JSON at byte \(offset): \(reason)"))
}

@Test(arguments: [
    [0xC3, 0x28],  // a lead byte without its continuation
    [0x80],  // a continuation without a lead
    [0xC0, 0x80],  // overlong NUL
    [0xE0, 0x80, 0xAF],  // overlong '/'
    [0xED, 0xA0, 0x80],  // an encoded surrogate (CESU-8)
    [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
    [0xF5, 0x80, 0x80, 0x80],  // a byte that never occurs in UTF-8
    [0xFF],
    [0xE2, 0x82],  // truncated three-byte sequence
] as [[UInt8]])
func invalidUTF8IsRefusedInKeptFieldsUnknownFieldsAndKeys(sequence: [UInt8]) {
    let prefixes: [[UInt8]] = [Array(#"{"unit":"A"#.utf8), Array(#"{"other":"A"#.utf8), Array(#"{"A"#.utf8)]
    for prefix in prefixes {
        let body = prefix + sequence + Array(#"B":1}"#.utf8)
        let error = documentError(body)
        #expect(error?.code == .jsonInvalid)
        #expect(error?.message.hasPrefix("invalid JSON at byte \(prefix.count): invalid UTF-8") == true)
    }
}

@Test func validMultibyteUTF8AtTheEdgesOfItsRangesIsAccepted() throws {
    // U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
    let text = "\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{10FFFF}"
    #expect(try single("{\"status\":\"\(text)\"}") == .ping(RawPing(status: text)))
}

@Test func anEmptyOrBlankBodyIsInvalidJSON() {
    #expect(documentError("") == DocumentError(code: .jsonInvalid, message: "invalid JSON at byte 0: expected a value, found the end of the input"))
    #expect(documentError(" \n ") == DocumentError(code: .jsonInvalid, message: "invalid JSON at byte 3: expected a value, found the end of the input"))
}

@Test func aSyntaxErrorAnywhereSinksTheWholeArray() {
    let body = "[\(example), {\"lat\":1,,}, \(example)]"
    #expect(documentError(body)?.code == .jsonInvalid)
}

// MARK: - Limits

@Test func nestingBeyondTheDepthLimitIsRefused() throws {
    let decoder = JSONPingDecoder(limits: .init(maximumDepth: 4))
    // Array (1) > object (2) > "x" (3) > (4): at the limit.
    #expect(try decoder.decodeDocument(Array(#"[{"x":[{}],"unit":"A"}]"#.utf8)) == [.ping(RawPing(unit: "A"))])
    let error = documentError(#"[{"x":[{"y":[]}]}]"#, decoder)
    #expect(error == DocumentError(code: .nestingTooDeep, message: "objects and arrays are nested deeper than 4 levels (at byte 12)"))
    // The default limit stops a deeply nested body long before the stack is at risk.
    let deep = "{\"x\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
    #expect(documentError(deep)?.code == .nestingTooDeep)
    let atDefault = "{\"x\":" + String(repeating: "[", count: 15) + String(repeating: "]", count: 15) + "}"
    #expect(try document(atDefault) == [.ping(RawPing())])
}

@Test func aTooDeepNDJSONLineIsOneInvalidItem() throws {
    let decoder = JSONPingDecoder(limits: .init(maximumDepth: 2))
    let items = try ndjson("{\"unit\":\"A\",\"x\":[]}\n{\"x\":[[]]}\n{\"unit\":\"C\"}", decoder)
    #expect(items.count == 3)
    #expect(items[0] == .ping(RawPing(unit: "A")))
    #expect(invalid(items[1])?.code == .nestingTooDeep)
    #expect(items[2] == .ping(RawPing(unit: "C")))
}

@Test func storedStringsAreLimitedInDecodedBytes() throws {
    let decoder = JSONPingDecoder(limits: .init(maximumStringBytes: 8))
    func decode(_ body: String) throws -> Item { try #require(try decoder.decodeDocument(Array(body.utf8)).first) }
    #expect(try decode(#"{"unit":"12345678"}"#) == .ping(RawPing(unit: "12345678")))
    #expect(try decode(#"{"unit":"123456789"}"#) == .invalid(ValidationError(.stringTooLong, "unit is longer than 8 bytes")))
    #expect(try decode(#"{"time":"123456789"}"#) == .invalid(ValidationError(.stringTooLong, "time is longer than 8 bytes")))
    #expect(try decode(#"{"status":"123456789"}"#) == .invalid(ValidationError(.stringTooLong, "status is longer than 8 bytes")))
    #expect(try decode(#"{"unit":123456789}"#) == .invalid(ValidationError(.stringTooLong, "unit is longer than 8 bytes")))
    // Escapes count as what they decode to: 8 escaped characters are 48 bytes on the wire, 8 decoded.
    #expect(try decode(#"{"unit":"\u0041\u0041\u0041\u0041\u0041\u0041\u0041\u0041"}"#) == .ping(RawPing(unit: "AAAAAAAA")))
    // And multi-byte characters count in bytes: two euro signs are 6 bytes, three are 9.
    #expect(try decode(#"{"unit":"€€"}"#) == .ping(RawPing(unit: "€€")))
    #expect(invalid(try decode(#"{"unit":"\u20ac\u20ac\u20ac"}"#))?.code == .stringTooLong)
}

/// Each escape width (1, 2, 3 and 4 decoded bytes) is counted exactly: the string fits at the
/// limit and is refused one byte over it.
@Test(arguments: [
    (#"\n"#, "\n"), (#"\u0041"#, "A"), (#"\u00e9"#, "é"), (#"\u20ac"#, "€"), (#"\ud83d\ude93"#, "🚓"),
    ("é", "é"), ("🚓", "🚓"),
])
func escapesCountAsTheBytesTheyDecodeTo(escaped: String, decoded: String) throws {
    let width = decoded.utf8.count
    let decoder = JSONPingDecoder(limits: .init(maximumStringBytes: 3 * width))
    let fits = String(repeating: escaped, count: 3)
    #expect(try decoder.decodeDocument(Array("{\"unit\":\"\(fits)\"}".utf8)) == [.ping(RawPing(unit: String(repeating: decoded, count: 3)))])
    let over = try decoder.decodeDocument(Array("{\"unit\":\"x\(fits)\"}".utf8))
    #expect(over.first.flatMap(invalid)?.code == .stringTooLong)
}

@Test func theDefaultStringLimitIs256Bytes() throws {
    let fits = String(repeating: "a", count: 256)
    #expect(try single("{\"unit\":\"\(fits)\"}") == .ping(RawPing(unit: fits)))
    #expect(
        try single("{\"unit\":\"\(fits)b\"}") == .invalid(ValidationError(.stringTooLong, "unit is longer than 256 bytes")))
}

@Test func anArrayOverTheItemLimitIsRefusedWhole() throws {
    let decoder = JSONPingDecoder(limits: .init(maximumItems: 3))
    let three = "[" + Array(repeating: "{}", count: 3).joined(separator: ",") + "]"
    #expect(try decoder.decodeDocument(Array(three.utf8)).count == 3)
    let four = "[" + Array(repeating: "{}", count: 4).joined(separator: ",") + "]"
    #expect(documentError(four, decoder) == DocumentError(code: .tooManyItems, message: "more than 3 items (limit)"))
    // Invalid elements count too: they are items in the answer.
    #expect(documentError("[1,2,3,4]", decoder)?.code == .tooManyItems)
}

@Test func theDefaultItemLimitIsTenThousand() throws {
    let fits = "[" + Array(repeating: "{}", count: 10_000).joined(separator: ",") + "]"
    #expect(try document(fits).count == 10_000)
    let over = "[" + Array(repeating: "{}", count: 10_001).joined(separator: ",") + "]"
    #expect(documentError(over) == DocumentError(code: .tooManyItems, message: "more than 10000 items (limit)"))
}

@Test func anNDJSONBodyOverTheItemLimitIsRefusedButBlankLinesDoNotCount() throws {
    let decoder = JSONPingDecoder(limits: .init(maximumItems: 2))
    #expect(try ndjson("{}\n\n  \r\n{}\n", decoder).count == 2)
    do {
        _ = try ndjson("{}\n{}\n{}", decoder)
        Issue.record("expected too_many_items")
    } catch {
        #expect(error == DocumentError(code: .tooManyItems, message: "more than 2 items (limit)"))
    }
}

// MARK: - NDJSON lines

@Test func aBadNDJSONLineIsInvalidAndTheOthersDecode() throws {
    let body = "{\"unit\":\"A\"}\n\n{\"unit\" \"B\"}\r\n[1]\n{\"lat\":\"x\"}\n{\"unit\":\"C\"}\n"
    let items = try ndjson(body)
    #expect(items.count == 5)
    #expect(items[0] == .ping(RawPing(unit: "A")))
    // Byte offsets are within the line; the line number counts blank lines too.
    #expect(items[1] == .invalid(ValidationError(.jsonInvalid, "invalid JSON at byte 8 of line 3: expected ':', found '\"'")))
    #expect(items[2] == .invalid(ValidationError(.notAnObject, "the line must be a JSON object, found an array")))
    #expect(items[3] == .invalid(ValidationError(.fieldTypeInvalid, "lat must be a number, found a string")))
    #expect(items[4] == .ping(RawPing(unit: "C")))
}

@Test func anNDJSONLineHoldsExactlyOneValue() throws {
    let items = try ndjson("{\"unit\":\"A\"} {\"unit\":\"B\"}\n{\"unit\":\"C\"}")
    #expect(items.count == 2)
    #expect(invalid(items[0]) == ValidationError(.jsonInvalid, "invalid JSON at byte 13 of line 1: expected the end of the input, found '{'"))
    #expect(items[1] == .ping(RawPing(unit: "C")))
}

@Test func decodeLineNeverThrows() {
    let decoder = JSONPingDecoder()
    #expect(decoder.decodeLine(Array(example.utf8)) == .ping(examplePing))
    #expect(decoder.decodeLine(Array((example + "\r").utf8)) == .ping(examplePing))
    #expect(decoder.decodeLine(Array("{\"lat\":".utf8)) == .invalid(ValidationError(.jsonInvalid, "invalid JSON at byte 7: expected a value, found the end of the input")))
    #expect(decoder.decodeLine([]) == .invalid(ValidationError(.jsonInvalid, "invalid JSON at byte 0: expected a value, found the end of the line")))
    #expect(decoder.decodeLine(Array("\"x\"".utf8)) == .invalid(ValidationError(.notAnObject, "the line must be a JSON object, found a string")))
}

@Test func rawBufferAndArrayOverloadsAgree() throws {
    let decoder = JSONPingDecoder()
    let bytes = Array("[\(example)]".utf8)
    let viaBuffer = try bytes.withUnsafeBytes { try decoder.decodeDocument($0) }
    #expect(viaBuffer == (try decoder.decodeDocument(bytes)))
    // A buffer that is a slice of a larger one: nothing outside it is read.
    let padded = Array("xx\(example)\nyy".utf8)
    let line = padded.withUnsafeBytes { decoder.decodeLine(UnsafeRawBufferPointer(rebasing: $0[2..<(2 + example.utf8.count)])) }
    #expect(line == .ping(examplePing))
}

@Test func keyPackingMatchesEveryFieldName() {
    for (name, field) in [
        ("unit", PingField.unit), ("time", .time), ("lat", .latitude), ("lon", .longitude), ("alt", .altitude),
        ("speed", .speed), ("heading", .heading), ("accuracy", .accuracy), ("status", .status), ("battery", .battery),
    ] {
        var packed: UInt64 = 0
        for (i, b) in name.utf8.enumerated() { packed |= UInt64(b) << (8 * i) }
        #expect(PingField.match(packed: packed, length: name.utf8.count) == field)
        #expect(field.name == name)
    }
}

// MARK: - Round trip


/// A deliberately naive JSON writer for the test, with random choices where JSON allows several
/// spellings (escapes, whitespace, key order, null or omitted), so the decoder sees them all.
private struct TinyEncoder {
    var rng: SeededRandom

    mutating func chance(_ percent: UInt64) -> Bool { rng.next() % 100 < percent }

    mutating func whitespace() -> String {
        guard chance(20) else { return "" }
        return String([" ", "\n", "\t", "\r", "  "].randomElement(using: &rng)!)
    }

    mutating func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += chance(50) ? "\\n" : "\\u000a"
            case "/": out += chance(50) ? "\\/" : "/"
            case _ where scalar.value < 0x20: out += "\\u" + hex(scalar.value)
            case _ where scalar.value >= 0x80 && chance(50):
                if scalar.value >= 0x10000 {
                    let v = scalar.value - 0x10000
                    out += "\\u" + hex(0xD800 + (v >> 10)) + "\\u" + hex(0xDC00 + (v & 0x3FF))
                } else {
                    out += "\\u" + hex(scalar.value)
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    mutating func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: chance(50))
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    mutating func ping(_ ping: RawPing) -> String {
        var members: [(String, String?)] = [
            ("unit", ping.unit.map { unit in
                let isCanonicalInteger = unit.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } && !unit.isEmpty
                    && (unit == "0" || !unit.hasPrefix("0"))
                return isCanonicalInteger && chance(50) ? unit : string(unit)
            }),
            ("time", ping.time.map { string($0) }),
            ("lat", ping.latitude.map { number($0) }), ("lon", ping.longitude.map { number($0) }),
            ("alt", ping.altitude.map { number($0) }), ("speed", ping.speed.map { number($0) }),
            ("heading", ping.heading.map { number($0) }), ("accuracy", ping.accuracy.map { number($0) }),
            ("status", ping.status.map { string($0) }), ("battery", ping.battery.map { number($0) }),
        ]
        if chance(30) { members.append(("extra", #"{"a":[1,-2.5e3,{"b":null}],"c":"\u00e9"}"#)) }
        if chance(10) { members.append(("lat\u{301}", "true")) }
        members.shuffle(using: &rng)
        var parts: [String] = []
        for (key, value) in members {
            guard let value else {
                if chance(50) { parts.append(string(key) + ":" + "null") }
                continue
            }
            parts.append(whitespace() + string(key) + whitespace() + ":" + whitespace() + value + whitespace())
        }
        return "{" + parts.joined(separator: ",") + whitespace() + "}"
    }

    mutating func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15, chance(50) { return String(Int64(value)) }
        return "\(value)"  // Swift's shortest round-trip form: "1.0", "5e-324", "-1.5e+300"
    }
}

private func randomText(_ rng: inout SeededRandom) -> String {
    let pool: [Unicode.Scalar] = [
        "A", "z", "0", "9", "-", ":", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "日",
        "\u{FFFF}", "🚓", "\u{10FFFF}",
    ]
    let count = Int(rng.next() % 20)
    var text = ""
    for _ in 0..<count { text.unicodeScalars.append(pool.randomElement(using: &rng)!) }
    return text
}

private func randomDouble(_ rng: inout SeededRandom) -> Double {
    switch rng.next() % 5 {
    case 0: return Double.random(in: -90...90, using: &rng)
    case 1: return Double(Int64.random(in: -100_000...100_000, using: &rng))
    case 2: return (Double.random(in: -180...180, using: &rng) * 1e6).rounded() / 1e6
    case 3: return Double(Int64.random(in: -9_007_199_254_740_992...9_007_199_254_740_992, using: &rng))
    default:
        while true {
            let value = Double(bitPattern: rng.next())
            if value.isFinite { return value }
        }
    }
}

private func randomPing(_ rng: inout SeededRandom) -> RawPing {
    func maybe<T>(_ make: (inout SeededRandom) -> T) -> T? { rng.next() % 4 == 0 ? nil : make(&rng) }
    var ping = RawPing(
        unit: maybe(randomText), time: maybe(randomText), latitude: maybe(randomDouble), longitude: maybe(randomDouble),
        altitude: maybe(randomDouble), speed: maybe(randomDouble), heading: maybe(randomDouble),
        accuracy: maybe(randomDouble), status: maybe(randomText), battery: maybe(randomDouble))
    if rng.next() % 5 == 0 { ping.unit = String(UInt64.random(in: 0...UInt64.max, using: &rng)) }
    return ping
}

@Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
func randomPingsSurviveARoundTrip(seed: UInt64) throws {
    var rng = SeededRandom(seed: seed)
    var encoder = TinyEncoder(rng: SeededRandom(seed: ~seed))
    let pings = (0..<300).map { _ in randomPing(&rng) }
    let objects = pings.map { encoder.ping($0) }
    let expected = pings.map { Item.ping($0) }

    for (object, ping) in zip(objects, pings) {
        let decoded = try document(object)
        #expect(decoded == [.ping(ping)], "seed \(seed): \(object)")
        if decoded != [.ping(ping)] { return }
    }
    let array = "[" + objects.joined(separator: encoder.chance(50) ? ",\n" : ",") + "]"
    #expect(try document(array) == expected)
    // Newlines are whitespace inside an object but end an NDJSON line; spaces stand in for them.
    let lines = objects.map { String(decoding: $0.utf8.map { $0 == 0x0A ? 0x20 : $0 }, as: UTF8.self) }
    #expect(try ndjson(lines.joined(separator: "\r\n")) == expected)
    #expect(try ndjson(lines.joined(separator: "\n\n") + "\n") == expected)
}
