import Synchronization

/// The daemons of one database as they announce themselves on the live feed: each, every
/// ``heartbeatInterval``, says where renderers and clients reach it and which walls it lays out
/// (`N1 <node> <http> <subscriptions> <wall,wall|->`). A daemon not heard from for
/// ``expiry`` is left out. What `GET /api/v1/cluster` answers, and the list a renderer is given.
public final class ClusterDirectory: Sendable {
    /// One daemon as last heard.
    public struct Member: Sendable, Hashable {
        public var node: String
        /// Its HTTP API (`http://cic-a:8080`).
        public var http: String
        /// Its scene subscription port (`cic-a:7400`).
        public var subscriptions: String
        /// The walls it lays out.
        public var walls: [String]
        /// When it was last heard.
        public var heardAt: ContinuousClock.Instant

        public init(node: String, http: String, subscriptions: String, walls: [String], heardAt: ContinuousClock.Instant = .now) {
            self.node = node
            self.http = http
            self.subscriptions = subscriptions
            self.walls = walls
            self.heardAt = heardAt
        }
    }

    public static let heartbeatInterval = Duration.seconds(2)
    public static let expiry = Duration.seconds(7)
    static let tag = "N1"

    private let members = Mutex<[String: Member]>([:])
    private let clock: @Sendable () -> ContinuousClock.Instant

    public init(clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.clock = clock
    }

    /// The announcement of `member` (its `heardAt` is not sent).
    public static func announcement(_ member: Member) -> String {
        "\(tag) \(member.node) \(member.http) \(member.subscriptions) \(member.walls.isEmpty ? "-" : member.walls.joined(separator: ","))"
    }

    /// Notes an announcement; false when the payload is not one.
    @discardableResult
    public func heard(_ payload: String) -> Bool {
        // Most payloads are pings and scenes, some near 8 kB: the tag is looked at first.
        guard payload.hasPrefix(Self.tag + " ") else { return false }
        let fields = payload.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == Self.tag, !fields[1].isEmpty, !payload.contains("\n") else { return false }
        let walls = fields[4] == "-" ? [] : fields[4].split(separator: ",").map(String.init)
        note(Member(node: String(fields[1]), http: String(fields[2]), subscriptions: String(fields[3]), walls: walls, heardAt: clock()))
        return true
    }

    /// Records a member as heard now (this daemon notes itself this way).
    public func note(_ member: Member) {
        var member = member
        member.heardAt = clock()
        members.withLock { $0[member.node] = member }
    }

    /// The members heard within ``expiry``, by node name.
    public var current: [Member] {
        let now = clock()
        return members.withLock { members in
            members = members.filter { now - $0.value.heardAt <= Self.expiry }
            return members.values.sorted { $0.node < $1.node }
        }
    }
}
