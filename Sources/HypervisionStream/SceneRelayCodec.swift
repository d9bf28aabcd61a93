/// The text that relays a wall's scenes from the daemon that lays it out to the others, through
/// `NOTIFY` (see ``SceneRelay``). Pure.
///
/// A version is sent as one or more parts, each a header line and a piece of the body:
/// `S1 <node> <wall> <display|-> <seq> <base|-> <units|-> <part> <parts>`. With a base, the body
/// is the encoded RFC 6902 operations from version `base` to `seq`; without (`-`), it is the whole
/// document (a keyframe). Bodies are cut between UTF-8 characters, so that every part is valid
/// text, into parts under PostgreSQL's 8,000-byte limit on a payload.
///
/// The streams of one wall (its scene and each display's view) move the same units in a round:
/// those operations go once, as `U1 <node> <wall> <units> <part> <parts>`, and a version whose
/// patch holds them names `units` and has a byte 0x01 (never in JSON text) where they go.
///
/// `K1 <node> <wall|*> <display|-|*>` asks the daemon that lays a wall out for keyframes: of one
/// stream, of every stream of a wall (`*` display), or of every wall (`*` wall), when a daemon
/// joins or finds a gap in what it was relayed.
public enum SceneRelayCodec {
    public static let maximumPayloadBytes = 7_900
    static let versionTag = "S1"
    static let unitsTag = "U1"
    static let requestTag = "K1"
    /// Where a round's shared unit operations go in a version's body.
    public static let unitsMarker: UInt8 = 0x01

    /// One part of a relayed version, as read.
    public struct Part: Sendable, Hashable {
        public var node: String
        public var key: StreamKey
        public var seq: UInt64
        public var base: UInt64?
        /// The round's shared unit operations this body refers to (see ``unitsMarker``).
        public var units: UInt64?
        public var index: Int
        public var count: Int
        public var body: [UInt8]
    }

    /// What a payload says.
    public enum Message: Sendable, Hashable {
        case part(Part)
        /// A part of a round's shared unit operations: `key` is ``unitsKey(wall:)``, `seq` the
        /// units version.
        case units(Part)
        /// Keyframes wanted: of `key` (nil: of every stream of every wall; a nil display with
        /// `wholeWall`: of every stream of that wall).
        case keyframeRequest(node: String, wall: String?, display: String?, wholeWall: Bool)
    }

    /// A payload that is not a relay message, or a malformed one.
    public struct Unreadable: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public init(reason: String) { self.reason = reason }
        public var description: String { "unreadable relay payload: \(reason)" }
    }

    /// Whether names can travel in a header (no space or line break, not empty, not `-` or `*`).
    public static func canCarry(_ name: String) -> Bool {
        !name.isEmpty && name != "-" && name != "*" && !name.utf8.contains { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }

    /// The key under which a round's shared unit operations are assembled.
    public static func unitsKey(wall: String) -> StreamKey { StreamKey(wall: wall, display: "\u{1}units") }

    /// The payloads of version `seq` of `key`: a patch from `base`, or the whole document;
    /// `units` when the body holds ``unitsMarker`` for that round's shared unit operations.
    public static func encode(
        node: String, key: StreamKey, seq: UInt64, base: UInt64?, units: UInt64? = nil, body: [UInt8], maximumBytes: Int = maximumPayloadBytes
    ) -> [String] {
        let fixed = "\(versionTag) \(node) \(key.wall) \(key.display ?? "-") \(seq) \(base.map(String.init) ?? "-") \(units.map(String.init) ?? "-")"
        return split(fixed, body, maximumBytes)
    }

    /// The payloads of a round's shared unit operations (`version` is the round's units version).
    public static func encodeUnits(node: String, wall: String, version: UInt64, operations: [UInt8], maximumBytes: Int = maximumPayloadBytes)
        -> [String]
    {
        split("\(unitsTag) \(node) \(wall) \(version)", operations, maximumBytes)
    }

    private static func split(_ fixed: String, _ body: [UInt8], _ maximumBytes: Int) -> [String] {
        let room = max(16, maximumBytes - fixed.utf8.count - 24)
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        while start < body.count || pieces.isEmpty {
            var end = min(body.count, start + room)
            // Back to the start of a character: a continuation byte is 10xxxxxx.
            while end < body.count, end > start, body[end] & 0xC0 == 0x80 { end -= 1 }
            pieces.append(body[start..<end])
            start = end
        }
        return pieces.enumerated().map { index, piece in
            "\(fixed) \(index) \(pieces.count)\n" + String(decoding: piece, as: UTF8.self)
        }
    }

    /// The payload that asks for keyframes (see ``Message/keyframeRequest(node:wall:display:wholeWall:)``).
    public static func request(node: String, wall: String?, display: String?, wholeWall: Bool = false) -> String {
        "\(requestTag) \(node) \(wall ?? "*") \(wholeWall ? "*" : display ?? "-")"
    }

    public static func decode(_ payload: String) throws(Unreadable) -> Message {
        let bytes = Array(payload.utf8)
        let newline = bytes.firstIndex(of: 0x0A) ?? bytes.count
        let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard let tag = header.first else { throw Unreadable(reason: "empty") }
        switch tag {
        case requestTag:
            guard header.count == 4 else { throw Unreadable(reason: "a request has \(header.count) fields, not 4") }
            let wall = header[2] == "*" ? nil : header[2]
            return .keyframeRequest(
                node: header[1], wall: wall, display: ["-", "*"].contains(header[3]) ? nil : header[3], wholeWall: header[3] == "*")
        case versionTag:
            guard header.count == 9 else { throw Unreadable(reason: "a part has \(header.count) fields, not 9") }
            guard let seq = UInt64(header[4]), let index = Int(header[7]), let count = Int(header[8]), count > 0, (0..<count).contains(index),
                count <= 4_096
            else { throw Unreadable(reason: "bad numbers in \"\(header.joined(separator: " "))\"") }
            func optional(_ field: String, _ name: String) throws(Unreadable) -> UInt64? {
                if field == "-" { return nil }
                guard let number = UInt64(field) else { throw Unreadable(reason: "bad \(name) \(field)") }
                return number
            }
            let body = newline < bytes.count ? Array(bytes[(newline + 1)...]) : []
            return .part(
                Part(
                    node: header[1], key: StreamKey(wall: header[2], display: header[3] == "-" ? nil : header[3]), seq: seq,
                    base: try optional(header[5], "base"), units: try optional(header[6], "units"), index: index, count: count, body: body))
        case unitsTag:
            guard header.count == 6 else { throw Unreadable(reason: "a units part has \(header.count) fields, not 6") }
            guard let version = UInt64(header[3]), let index = Int(header[4]), let count = Int(header[5]), count > 0, (0..<count).contains(index),
                count <= 4_096
            else { throw Unreadable(reason: "bad numbers in \"\(header.joined(separator: " "))\"") }
            let body = newline < bytes.count ? Array(bytes[(newline + 1)...]) : []
            return .units(Part(node: header[1], key: unitsKey(wall: header[2]), seq: version, base: nil, units: nil, index: index, count: count, body: body))
        default:
            throw Unreadable(reason: "unknown tag \(tag.prefix(8))")
        }
    }
}

/// Puts the parts of relayed versions back together. Parts of one version come in order from
/// one daemon, but versions of several streams interleave; an incomplete version is dropped
/// when a later one of its stream starts, and at most `capacity` are pending. Pure.
public struct SceneRelayAssembler: Sendable {
    /// A whole relayed version.
    public struct Version: Sendable, Hashable {
        public var node: String
        public var key: StreamKey
        public var seq: UInt64
        public var base: UInt64?
        public var units: UInt64?
        public var body: [UInt8]
    }

    private struct Pending {
        var first: SceneRelayCodec.Part
        var body: [UInt8]
        var next: Int
    }

    public let capacity: Int
    private var pending: [StreamKey: Pending] = [:]

    public init(capacity: Int = 256) {
        self.capacity = capacity
    }

    /// Adds a part; returns the version it completes, if any.
    public mutating func add(_ part: SceneRelayCodec.Part) -> Version? {
        if part.count == 1 {
            pending[part.key] = nil
            return Version(node: part.node, key: part.key, seq: part.seq, base: part.base, units: part.units, body: part.body)
        }
        if part.index == 0 {
            if pending.count >= capacity, pending[part.key] == nil, let any = pending.keys.first { pending[any] = nil }
            pending[part.key] = Pending(first: part, body: part.body, next: 1)
            return nil
        }
        guard var building = pending[part.key], building.first.seq == part.seq, building.first.node == part.node, building.next == part.index
        else {
            pending[part.key] = nil
            return nil
        }
        building.body += part.body
        building.next += 1
        guard building.next == building.first.count else {
            pending[part.key] = building
            return nil
        }
        pending[part.key] = nil
        return Version(node: part.node, key: part.key, seq: part.seq, base: building.first.base, units: building.first.units, body: building.body)
    }
}
