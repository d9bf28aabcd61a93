import HypervisionCore
import Testing

@testable import HypervisionStream

@Suite struct WireMessagesTests {
    private func decode(_ text: String, maximumLineBytes: Int = SubscribeRequest.defaultMaximumLineBytes) throws(StreamError) -> SubscribeRequest {
        try SubscribeRequest(line: Array(text.utf8), maximumLineBytes: maximumLineBytes)
    }

    @Test func decodesTheDesignExample() throws {
        let request = try decode(#"{"type":"subscribe","wall":"cic-paris","display":"r0c1","token":"tok","since":1234}"#)
        #expect(request == SubscribeRequest(wall: "cic-paris", display: "r0c1", token: "tok", since: 1234))
        #expect(request.key == StreamKey(wall: "cic-paris", display: "r0c1"))
        #expect(request.key.description == "cic-paris/r0c1")
    }

    @Test func optionalMembersAndUnknownOnes() throws {
        #expect(try decode(#"{"type":"subscribe","wall":"w"}"#) == SubscribeRequest(wall: "w"))
        #expect(try decode(#"{"type":"subscribe","wall":"w","since":null,"display":null}"#) == SubscribeRequest(wall: "w"))
        #expect(try decode(#"{"type":"subscribe","wall":"w","future":{"x":1},"since":0}"#) == SubscribeRequest(wall: "w", since: 0))
        // CRLF clients and surrounding whitespace.
        #expect(try decode(" {\"type\":\"subscribe\",\"wall\":\"w\"}\r") == SubscribeRequest(wall: "w"))
        #expect(try decode(#"{"type":"subscribe","wall":"w","since":9007199254740992}"#).since == 9_007_199_254_740_992)
    }

    @Test(arguments: [
        (#"{"type":"subscribe","wall":"w"}"#, "request line longer than 10 bytes", 10),
        (#"{"type":"subscribe","wall":"w""#, "malformed JSON: invalid JSON at byte 30: unexpected end of input in an object", nil),
        (#"{"type":"subscribe","wall":"w"} x"#, "malformed JSON: invalid JSON at byte 32: unexpected content after the JSON value", nil),
        ("", "malformed JSON: invalid JSON at byte 0: unexpected end of input, expected a value", nil),
        (#"["subscribe"]"#, "a request must be a JSON object", nil),
        (#"{"wall":"w"}"#, #"missing "type""#, nil),
        (#"{"type":1,"wall":"w"}"#, #""type" must be a string"#, nil),
        (#"{"type":"unsubscribe","wall":"w"}"#, #"unknown message type "unsubscribe", expected "subscribe""#, nil),
        (#"{"type":"subscribe"}"#, #"missing "wall""#, nil),
        (#"{"type":"subscribe","wall":""}"#, #""wall" must not be empty"#, nil),
        (#"{"type":"subscribe","wall":7}"#, #""wall" must be a string"#, nil),
        (#"{"type":"subscribe","wall":"w","display":1}"#, #""display" must be a string"#, nil),
        (#"{"type":"subscribe","wall":"w","token":false}"#, #""token" must be a string"#, nil),
        (#"{"type":"subscribe","wall":"w","since":"12"}"#, #""since" must be a non-negative integer, got "12""#, nil),
        (#"{"type":"subscribe","wall":"w","since":-1}"#, #""since" must be a non-negative integer, got -1"#, nil),
        (#"{"type":"subscribe","wall":"w","since":1.5}"#, #""since" must be a non-negative integer, got 1.5"#, nil),
        (#"{"type":"subscribe","wall":"w","since":1e300}"#, #""since" must be a non-negative integer, got 1e+300"#, nil),
        (#"{"type":"subscribe","wall":"w","wall":"v"}"#, #"malformed JSON: invalid JSON at byte 31: duplicate key "wall""#, nil),
        (#"{"type":"subscribe","wall":[[[[[[[[[]]]]]]]]]}"#, "malformed JSON: invalid JSON at byte 34: nesting deeper than 8 levels", nil),
    ] as [(String, String, Int?)])
    func malformedRequests(text: String, message: String, maximumLineBytes: Int?) {
        #expect(throws: StreamError(code: .badRequest, message: message)) {
            try decode(text, maximumLineBytes: maximumLineBytes ?? SubscribeRequest.defaultMaximumLineBytes)
        }
    }

    @Test func fieldsAreBounded() {
        let long = String(repeating: "t", count: SubscribeRequest.maximumFieldBytes + 1)
        #expect(throws: StreamError(code: .badRequest, message: #""token" is longer than 1024 bytes"#)) {
            try decode(#"{"type":"subscribe","wall":"w","token":"\#(long)"}"#)
        }
        #expect(throws: StreamError.self) { try decode(String(repeating: " ", count: 9000)) }
    }

    @Test func requestRoundTrip() throws {
        let request = SubscribeRequest(wall: "cic-paris", display: "r0c1", token: "abc", since: 42)
        let line = request.encodedLine()
        #expect(String(decoding: line, as: UTF8.self) == #"{"display":"r0c1","since":42,"token":"abc","type":"subscribe","wall":"cic-paris"}"# + "\n")
        #expect(try SubscribeRequest(line: line.dropLast()) == request)
        #expect(try SubscribeRequest(line: SubscribeRequest(wall: "w").encodedLine().dropLast()) == SubscribeRequest(wall: "w"))
    }

    @Test func serverMessagesHaveTheDesignForms() throws {
        let time = try #require(Timestamp(rfc3339: "2026-11-23T10:00:00.250Z"))
        let patch = JSONPatch(operations: [.replace(path: "/units/PN-1/lat", value: 48.86)])
        let cases: [(ServerMessage, String)] = [
            (.scene(seq: 1240, scene: ["tiles": [:], "wall": "cic-paris"]), #"{"scene":{"tiles":{},"wall":"cic-paris"},"seq":1240,"type":"scene"}"#),
            (.patch(seq: 1241, base: 1240, patch: patch), #"{"base":1240,"patch":[{"op":"replace","path":"/units/PN-1/lat","value":48.86}],"seq":1241,"type":"patch"}"#),
            (.heartbeat(seq: 1241, time: time), #"{"seq":1241,"time":"2026-11-23T10:00:00.250Z","type":"heartbeat"}"#),
            (.error(StreamError(code: .unauthorized, message: "unknown token")), #"{"code":"unauthorized","message":"unknown token","type":"error"}"#),
        ]
        for (message, text) in cases {
            let line = message.encodedLine()
            #expect(String(decoding: line, as: UTF8.self) == text + "\n")
            #expect(line.firstIndex(of: UInt8(ascii: "\n")) == line.count - 1, "one line per message")
            #expect(try ServerMessage(line: line.dropLast()) == message)
        }
        #expect(WireLine.heartbeat(seq: 1241, time: time) == cases[2].0.encodedLine())
        #expect(WireLine.error(StreamError(code: .unauthorized, message: "unknown token")) == cases[3].0.encodedLine())
    }

    @Test func fastFramingMatchesCanonicalEncoding() throws {
        let scene: JSONValue = ["units": ["PN-1": ["lat": 48.85, "name": "a\nb\"c"]], "wall": "w"]
        var encodedScene: [UInt8] = []
        scene.encode(into: &encodedScene)
        #expect(WireLine.scene(seq: 9_007_199_254_740_992, encodedScene: encodedScene) == ServerMessage.scene(seq: 9_007_199_254_740_992, scene: scene).encodedLine())
        let patch = JSONPatch.diff(from: scene, to: ["units": [:], "wall": "v"])
        var encodedOperations: [UInt8] = []
        patch.json.encode(into: &encodedOperations)
        #expect(WireLine.patch(seq: 8, base: 3, encodedOperations: encodedOperations) == ServerMessage.patch(seq: 8, base: 3, patch: patch).encodedLine())
    }

    @Test func serverMessageDecodingErrors() {
        for text in [#"{"type":"scene","seq":1}"#, #"{"type":"patch","seq":1,"base":0,"patch":{}}"#, #"{"type":"heartbeat","seq":1,"time":"yesterday"}"#, #"{"type":"nope"}"#, #"{"type":"scene","seq":-1,"scene":{}}"#, "{"] {
            #expect(throws: StreamError.self) { try ServerMessage(line: Array(text.utf8)) }
        }
    }

    @Test func replicaRefusesGapsAndErrors() throws {
        var replica = SceneReplica()
        #expect(throws: SceneReplica.Failure.baseMismatch(held: nil, base: 1)) {
            try replica.apply(.patch(seq: 2, base: 1, patch: JSONPatch()))
        }
        try replica.apply(.scene(seq: 5, scene: ["a": 1]))
        #expect(throws: SceneReplica.Failure.baseMismatch(held: 5, base: 6)) {
            try replica.apply(.patch(seq: 7, base: 6, patch: JSONPatch()))
        }
        #expect(throws: SceneReplica.Failure.self) {
            try replica.apply(.patch(seq: 6, base: 5, patch: JSONPatch(operations: [.remove(path: "/b")])))
        }
        #expect(replica.seq == 5)
        let error = StreamError(code: .slowConsumer, message: "x")
        #expect(throws: SceneReplica.Failure.streamError(error)) { try replica.apply(.error(error)) }
    }
}
