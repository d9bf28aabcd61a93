import HypervisionCore

/// An error sent to a subscriber as `{"type":"error","code":…,"message":…}` before the connection
/// closes: a stable ``Code`` a renderer can act on, and a message for the person reading its log.
public struct StreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error code, written in snake case on the wire. Codes never change once published.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The request line is not a valid `subscribe` message; the message says exactly why.
        public static let badRequest = Code(rawValue: "bad_request")
        /// No token, or a token the daemon does not know (or that has expired).
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// A valid token without the `subscribe:WALL` scope for this wall.
        public static let forbidden = Code(rawValue: "forbidden")
        /// No such wall, or no such display on it.
        public static let notFound = Code(rawValue: "not_found")
        /// The subscriber read too slowly for too long and was dropped so that it holds no memory;
        /// reconnect with `since` to resume.
        public static let slowConsumer = Code(rawValue: "slow_consumer")
        /// The daemon is shutting down; reconnect with `since` to resume.
        public static let shuttingDown = Code(rawValue: "shutting_down")
        /// The stream's numbers started again (in a cluster: this daemon laid the wall out alone
        /// while it was cut off from the database, and relays the daemon that lays it out again);
        /// reconnect, with `since`: a full scene comes.
        public static let renumbered = Code(rawValue: "renumbered")
        /// The port holds as many connections as it may (in all, not yet subscribed, or from
        /// this client's address); retry later.
        public static let tooManyConnections = Code(rawValue: "too_many_connections")
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    static func badRequest(_ message: String) -> StreamError { StreamError(code: .badRequest, message: message) }

    public var description: String { "\(code): \(message)" }
}

/// The one message a client sends: `{"type":"subscribe","wall":"cic-paris","display":"r0c1","token":"…","since":1234}`.
///
/// Decoding is strict about what it uses and tolerant of what it does not know: unknown members are
/// ignored so that later clients can send more without breaking older daemons.
public struct SubscribeRequest: Sendable, Hashable {
    /// The wall to watch.
    public var wall: String
    /// One display of the wall (`r0c1`), or nil for the whole wall.
    public var display: String?
    /// The bearer token, checked by the daemon's token authority (nil when the client sent none,
    /// which the daemon answers with `unauthorized`).
    public var token: String?
    /// The sequence number of the scene the client already holds, to resume with patches.
    public var since: UInt64?

    public init(wall: String, display: String? = nil, token: String? = nil, since: UInt64? = nil) {
        self.wall = wall
        self.display = display
        self.token = token
        self.since = since
    }

    /// The stream this request asks for.
    public var key: StreamKey { StreamKey(wall: wall, display: display) }

    /// The longest request line accepted, in bytes (without its `\n`): a subscribe message with a
    /// long token fits in well under 1 KiB, and a bound keeps a hostile client from making the
    /// daemon buffer without limit.
    public static let defaultMaximumLineBytes = 8192

    /// The longest wall, display or token accepted, in bytes.
    public static let maximumFieldBytes = 1024

    /// Decodes one request line (without its `\n`; a trailing `\r` is accepted).
    ///
    /// Every refusal is ``StreamError/Code/badRequest`` with a message that names the problem:
    /// a line that is too long, malformed JSON (with the byte offset), a value that is not an object,
    /// a missing or unknown `type`, a missing or empty `wall`, a field of the wrong type, a `since`
    /// that is not a non-negative integer.
    public init(line: some Collection<UInt8>, maximumLineBytes: Int = defaultMaximumLineBytes) throws(StreamError) {
        guard line.count <= maximumLineBytes else {
            throw .badRequest("request line longer than \(maximumLineBytes) bytes")
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line, maximumDepth: 8)
        } catch {
            throw .badRequest("malformed JSON: \(error.description)")
        }
        try self.init(json: value)
    }

    /// Decodes an already-parsed request (the WebSocket path, where framing is the WebSocket's).
    public init(json value: JSONValue) throws(StreamError) {
        guard case .object(let members) = value else { throw .badRequest("a request must be a JSON object") }
        guard let type = members["type"] else { throw .badRequest("missing \"type\"") }
        guard case .string(let typeName) = type else { throw .badRequest("\"type\" must be a string") }
        guard typeName == "subscribe" else {
            throw .badRequest("unknown message type \"\(typeName.prefix(64))\", expected \"subscribe\"")
        }

        func optionalString(_ name: String) throws(StreamError) -> String? {
            guard let member = members[name], !member.isNull else { return nil }
            guard case .string(let text) = member else { throw .badRequest("\"\(name)\" must be a string") }
            guard !text.isEmpty else { throw .badRequest("\"\(name)\" must not be empty") }
            guard text.utf8.count <= SubscribeRequest.maximumFieldBytes else {
                throw .badRequest("\"\(name)\" is longer than \(SubscribeRequest.maximumFieldBytes) bytes")
            }
            return text
        }

        guard let wall = try optionalString("wall") else { throw .badRequest("missing \"wall\"") }
        self.wall = wall
        self.display = try optionalString("display")
        self.token = try optionalString("token")
        switch members["since"] {
        case nil, .null?:
            self.since = nil
        case .number(let number)?:
            // Sequence numbers are integers that JSON numbers carry exactly (below 2^53).
            guard number >= 0, number <= 9_007_199_254_740_992, number.rounded(.towardZero) == number else {
                throw .badRequest("\"since\" must be a non-negative integer, got \(JSONValue.number(number).encoded())")
            }
            self.since = UInt64(number)
        case let other?:
            throw .badRequest("\"since\" must be a non-negative integer, got \(other.encoded().prefix(64))")
        }
    }

    /// The request as the client sends it, `\n`-terminated.
    public func encodedLine() -> [UInt8] {
        var members: [String: JSONValue] = ["type": "subscribe", "wall": .string(wall)]
        if let display { members["display"] = .string(display) }
        if let token { members["token"] = .string(token) }
        if let since { members["since"] = .number(Double(since)) }
        var bytes: [UInt8] = []
        JSONValue.object(members).encode(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}

/// A message from the daemon to a subscriber, one canonical JSON object per `\n`-terminated line:
///
/// ```
/// {"scene":{…},"seq":1240,"type":"scene"}
/// {"base":1240,"patch":[…],"seq":1241,"type":"patch"}
/// {"seq":1241,"time":"2026-11-23T10:00:00.250Z","type":"heartbeat"}
/// {"code":"unauthorized","message":"…","type":"error"}
/// ```
///
/// Keys are in canonical (sorted) order, as every JSON the daemon writes; JSON gives key order no
/// meaning, so this is the same message as DESIGN.md's `{"type":"scene",…}`.
public enum ServerMessage: Sendable, Hashable {
    /// The full scene at `seq`: replaces whatever the renderer had.
    case scene(seq: UInt64, scene: JSONValue)
    /// Applied to the scene at `base`, gives the scene at `seq`.
    case patch(seq: UInt64, base: UInt64, patch: JSONPatch)
    /// Nothing changed; the renderer holds `seq`, and the link is alive at `time` (the daemon's clock).
    case heartbeat(seq: UInt64, time: Timestamp)
    /// The daemon refused or dropped the subscription; the connection closes after this line.
    case error(StreamError)

    /// The message as one canonical JSON object.
    public var json: JSONValue {
        switch self {
        case .scene(let seq, let scene):
            ["type": "scene", "seq": .number(Double(seq)), "scene": scene]
        case .patch(let seq, let base, let patch):
            ["type": "patch", "seq": .number(Double(seq)), "base": .number(Double(base)), "patch": patch.json]
        case .heartbeat(let seq, let time):
            ["type": "heartbeat", "seq": .number(Double(seq)), "time": .string(time.rfc3339)]
        case .error(let error):
            ["type": "error", "code": .string(error.code.rawValue), "message": .string(error.message)]
        }
    }

    /// The message as its wire line, `\n`-terminated.
    public func encodedLine() -> [UInt8] {
        var bytes: [UInt8] = []
        json.encode(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Decodes one line written by the daemon (for clients, load generators and tests).
    public init(line: some Collection<UInt8>) throws(StreamError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line, maximumDepth: JSONValue.defaultMaximumDepth)
        } catch {
            throw .badRequest("malformed JSON: \(error.description)")
        }
        try self.init(json: value)
    }

    /// Decodes a parsed message.
    public init(json value: JSONValue) throws(StreamError) {
        func sequence(_ name: String) throws(StreamError) -> UInt64 {
            guard let number = value[name]?.doubleValue, number >= 0, number <= 9_007_199_254_740_992,
                number.rounded(.towardZero) == number
            else { throw .badRequest("\"\(name)\" must be a non-negative integer") }
            return UInt64(number)
        }
        switch value["type"]?.stringValue {
        case "scene"?:
            guard let scene = value["scene"] else { throw .badRequest("missing \"scene\"") }
            self = .scene(seq: try sequence("seq"), scene: scene)
        case "patch"?:
            guard let operations = value["patch"] else { throw .badRequest("missing \"patch\"") }
            let patch: JSONPatch
            do {
                patch = try JSONPatch(json: operations)
            } catch {
                throw .badRequest("invalid \"patch\": \(error.description)")
            }
            self = .patch(seq: try sequence("seq"), base: try sequence("base"), patch: patch)
        case "heartbeat"?:
            guard let text = value["time"]?.stringValue, let time = Timestamp(rfc3339: text) else {
                throw .badRequest("\"time\" must be an RFC 3339 date-time")
            }
            self = .heartbeat(seq: try sequence("seq"), time: time)
        case "error"?:
            guard let code = value["code"]?.stringValue, let message = value["message"]?.stringValue else {
                throw .badRequest("an error needs \"code\" and \"message\" strings")
            }
            self = .error(StreamError(code: StreamError.Code(rawValue: code), message: message))
        default:
            throw .badRequest("unknown or missing message \"type\"")
        }
    }
}

// MARK: - Fast framing

/// Builders of wire lines from already-encoded parts.
///
/// Fan-out sends the same scene or patch to many subscribers: the parts are encoded once (by
/// ``SceneHistory``) and spliced into the envelope here, byte for byte what
/// ``ServerMessage/encodedLine()`` gives, without re-encoding the document per subscriber.
public enum WireLine {
    /// `{"scene":SCENE,"seq":SEQ,"type":"scene"}\n` around an encoded scene.
    public static func scene(seq: UInt64, encodedScene: [UInt8]) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(encodedScene.count + 48)
        line.append(contentsOf: #"{"scene":"#.utf8)
        line.append(contentsOf: encodedScene)
        line.append(contentsOf: #","seq":"#.utf8)
        appendInteger(seq, to: &line)
        line.append(contentsOf: #","type":"scene"}"#.utf8)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// `{"base":BASE,"patch":OPS,"seq":SEQ,"type":"patch"}\n` around an encoded operations array.
    public static func patch(seq: UInt64, base: UInt64, encodedOperations: [UInt8]) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(encodedOperations.count + 72)
        line.append(contentsOf: #"{"base":"#.utf8)
        appendInteger(base, to: &line)
        line.append(contentsOf: #","patch":"#.utf8)
        line.append(contentsOf: encodedOperations)
        line.append(contentsOf: #","seq":"#.utf8)
        appendInteger(seq, to: &line)
        line.append(contentsOf: #","type":"patch"}"#.utf8)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// A heartbeat line.
    public static func heartbeat(seq: UInt64, time: Timestamp) -> [UInt8] {
        ServerMessage.heartbeat(seq: seq, time: time).encodedLine()
    }

    /// An error line.
    public static func error(_ error: StreamError) -> [UInt8] {
        ServerMessage.error(error).encodedLine()
    }

    static func appendInteger(_ value: UInt64, to bytes: inout [UInt8]) {
        // Sequence numbers stay below 2^53, so this is also the canonical JSON number.
        bytes.append(contentsOf: String(value).utf8)
    }
}
