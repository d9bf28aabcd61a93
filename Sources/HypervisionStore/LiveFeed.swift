import HypervisionConfiguration
import HypervisionCore
import Logging
import Metrics
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The `cluster.*` section: the name of this daemon among those that share one database.
///
/// Empty (the default), the daemon is alone: nothing is published or listened to. Named, the
/// daemon publishes the pings it takes to the others on the `hypervision_live` channel and shows
/// theirs on its own live picture, so a ping sent to any daemon moves the unit on every one.
public struct ClusterConfiguration: ConfigurationSection, Hashable {
    public var node = ""
    /// The host name or address that renderers and clients reach this daemon at, announced to
    /// the others (`GET /api/v1/cluster`); empty: the machine's host name.
    public var advertise = ""

    public init() {}

    public static let keys = ["cluster.node", "cluster.advertise"]

    public init(reader r: SectionReader) throws(ConfigurationError) {
        node = r.string("cluster.node", default: node)
        if !node.isEmpty && !Self.isValidNode(node) {
            throw ConfigurationError(
                key: "cluster.node", problem: "\"\(node)\" is not a node name: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        advertise = r.string("cluster.advertise", default: advertise)
        if advertise.contains(where: { $0 == " " || $0 == "/" || $0 == "," || $0.isNewline }) {
            throw ConfigurationError(key: "cluster.advertise", problem: "\"\(advertise)\" is not a host name or address")
        }
    }

    public var isShared: Bool { !node.isEmpty }

    static func isValidNode(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) }
        return isAlphanumeric(bytes[0]) && bytes.allSatisfy { isAlphanumeric($0) || $0 == 46 || $0 == 95 || $0 == 45 }
    }
}

/// The live feed's counters: `hypervision_cluster_pings_total{direction="published"|"received"}`,
/// `hypervision_cluster_pings_dropped_total{reason=…}` and `hypervision_cluster_listening`
/// (1 while this daemon hears the others).
public final class LiveFeedMetrics: Sendable {
    let published: Counter
    let received: Counter
    let droppedBacklog: Counter
    let refused: Counter
    /// Notifications dropped because this daemon could not handle them as fast as they came.
    let droppedSlow: Counter
    let listening: Gauge
    /// From the oldest payload of a pass being offered to its notifications committed: how late
    /// the others hear of this daemon's pings and scenes, before the server's own delivery.
    let publishDelay: Timer
    /// From a notification read off the connection to its handling starting: how far this
    /// daemon's handling lags behind what the server delivers.
    let handlingDelay: Timer

    public init(factory: any MetricsFactory) {
        published = Counter(label: "hypervision_cluster_pings_total", dimensions: [("direction", "published")], factory: factory)
        received = Counter(label: "hypervision_cluster_pings_total", dimensions: [("direction", "received")], factory: factory)
        droppedBacklog = Counter(label: "hypervision_cluster_pings_dropped_total", dimensions: [("reason", "backlog")], factory: factory)
        refused = Counter(label: "hypervision_cluster_pings_dropped_total", dimensions: [("reason", "unreadable")], factory: factory)
        droppedSlow = Counter(label: "hypervision_cluster_notifications_dropped_total", dimensions: [("stage", "listener")], factory: factory)
        listening = Gauge(label: "hypervision_cluster_listening", factory: factory)
        publishDelay = Timer(label: "hypervision_cluster_publish_delay_seconds", preferredDisplayUnit: .seconds, factory: factory)
        handlingDelay = Timer(
            label: "hypervision_cluster_handling_delay_seconds", dimensions: [("stage", "listener")], preferredDisplayUnit: .seconds, factory: factory)
        for counter in [published, received, droppedBacklog, refused, droppedSlow] { counter.increment(by: 0) }
        listening.record(0)
    }
}

/// The channel every daemon of one database publishes on and listens to.
public enum LiveFeedChannel {
    public static let name = "hypervision_live"
    /// The first key of the advisory lock a daemon holds on its node name while it listens.
    static let nodeLockSpace: Int32 = 0x4856_4E44  // "HVND"
}

/// Publishes the pings this daemon takes to the other daemons, with `pg_notify` in batches.
///
/// ``offer(_:)`` is called on the ingest path and only appends to a bounded backlog. The run
/// loop wakes, waits `window` so that a burst goes out as one statement, and sends the backlog
/// as payloads of ``LiveFeedCodec``. When the database cannot be reached the backlog is kept and
/// sent later, up to `maximumBacklog` pings; past it the oldest go first (counted): the newest
/// positions are the ones a live picture needs, and the stored history is not affected.
public final class LiveFeedPublisher: Service, Sendable {
    let database: Database
    let node: String
    let window: Duration
    let maximumBacklog: Int
    let metrics: LiveFeedMetrics
    let logger: Logger
    private let backlog = Mutex<[Ping]>([])
    /// Other payloads (scenes relayed to the other daemons, requests), sent in order after the
    /// pings of the same pass. Not kept when the database cannot be reached: they are about now,
    /// and a daemon that missed some asks again.
    private let messages = Mutex<[String]>([])
    /// When the oldest payload not yet published was offered.
    private let oldestOffer = Mutex<ContinuousClock.Instant?>(nil)
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    public init(
        database: Database, node: String, metrics: LiveFeedMetrics, logger: Logger, window: Duration = .milliseconds(5),
        maximumBacklog: Int = 50_000
    ) {
        self.database = database
        self.node = node
        self.metrics = metrics
        self.logger = logger
        self.window = window
        self.maximumBacklog = maximumBacklog
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues pings for the others; never waits.
    public func offer(_ pings: [Ping]) {
        guard !pings.isEmpty else { return }
        let dropped = backlog.withLock { backlog -> Int in
            backlog.append(contentsOf: pings)
            noteOffer()
            let excess = backlog.count - maximumBacklog
            guard excess > 0 else { return 0 }
            backlog.removeFirst(excess)
            return excess
        }
        if dropped > 0 { metrics.droppedBacklog.increment(by: dropped) }
        wake.yield()
    }

    /// Queues ready-made payloads (at most ``LiveFeedCodec/maximumPayloadBytes`` each); never waits.
    public func offer(messages payloads: [String]) {
        guard !payloads.isEmpty else { return }
        messages.withLock { messages in
            messages.append(contentsOf: payloads)
            noteOffer()
            // A database that is away for long: the oldest go first.
            if messages.count > 10_000 { messages.removeFirst(messages.count - 10_000) }
        }
        wake.yield()
    }

    public func run() async throws {
        var failures = 0
        for await _ in wakes.cancelOnGracefulShutdown() {
            try? await Task.sleep(for: window)
            while true {
                // Taken first: what comes after it is measured from a later instant.
                let offeredAt = oldestOffer.withLock { instant in
                    defer { instant = nil }
                    return instant
                }
                let pings = backlog.withLock { backlog in
                    defer { backlog.removeAll(keepingCapacity: true) }
                    return backlog
                }
                let others = messages.withLock { messages in
                    defer { messages.removeAll(keepingCapacity: true) }
                    return messages
                }
                if pings.isEmpty && others.isEmpty { break }
                do {
                    try await publish(pings, others)
                    metrics.published.increment(by: pings.count)
                    if let offeredAt { metrics.publishDelay.recordNanoseconds((ContinuousClock.now - offeredAt).nanoseconds) }
                    if failures > 0 { logger.notice("live feed: publishing again", metadata: ["failures": "\(failures)"]) }
                    failures = 0
                } catch {
                    // Put them back in front of what came meanwhile, then try again later.
                    failures += 1
                    if failures == 1 {
                        logger.warning("live feed: cannot publish; keeping the pings", metadata: ["error": "\(DatabaseErrors.describe(error))"])
                    }
                    backlog.withLock { $0.insert(contentsOf: pings, at: 0) }
                    if let offeredAt { oldestOffer.withLock { $0 = offeredAt } }
                    try? await Task.sleep(for: .milliseconds(min(2_000, 100 * failures)))
                    if Task.isShuttingDownGracefully || Task.isCancelled { return }
                    wake.yield()
                    break
                }
            }
        }
    }

    private func noteOffer() {
        oldestOffer.withLock { instant in
            if instant == nil { instant = .now }
        }
    }

    func publish(_ pings: [Ping], _ others: [String] = []) async throws {
        let payloads = LiveFeedCodec.encode(pings, node: node) + Self.pack(others)
        try await database.query(
            "SELECT pg_notify(\(LiveFeedChannel.name), payload) FROM unnest(\(payloads)::text[]) AS payload", deadline: .seconds(2))
    }
}

extension LiveFeedPublisher {
    /// Separates messages packed into one notification (a byte no message holds: JSON text and
    /// the headers have no control character but tab and line feed).
    public static let messageSeparator: Character = "\u{1E}"

    /// The messages of one notification, split on the separator's byte (not on characters, which
    /// would cost a grapheme walk over every notification).
    public static func unpack(_ payload: String) -> [String] {
        let separator = messageSeparator.asciiValue!
        let bytes = payload.utf8
        guard bytes.contains(separator) else { return [payload] }
        return bytes.split(separator: separator).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Small messages packed into as few notifications as fit under the payload limit, in order:
    /// a wall's round is several short patches, and each notification has a fixed cost.
    static func pack(_ messages: [String], maximumBytes: Int = LiveFeedCodec.maximumPayloadBytes) -> [String] {
        var packed: [String] = []
        var current = ""
        for message in messages {
            if !current.isEmpty, current.utf8.count + 1 + message.utf8.count <= maximumBytes {
                current.append(messageSeparator)
                current += message
            } else {
                if !current.isEmpty { packed.append(current) }
                current = message
            }
        }
        if !current.isEmpty { packed.append(current) }
        return packed
    }
}

/// A node name already held by another daemon on the same database.
public struct DuplicateNodeError: Error, Sendable, CustomStringConvertible {
    public var node: String
    public var description: String {
        "another daemon on this database already runs as node \"\(node)\" (cluster.node): give each daemon its own name"
    }
}

/// Shows the pings the other daemons take on this daemon's live picture.
///
/// Holds one connection of its own (not from the pool) to the database's current server, with
/// `LISTEN` on ``LiveFeedChannel/name`` and an advisory lock on its node name, so two daemons
/// cannot run under one name. Every time it (re)joins, once `LISTEN` is in place, `onJoined`
/// reloads the latest stored positions: what was published while this daemon was not listening
/// is then not missed. A connection that stops answering (checked every `healthInterval`) or a
/// pool that moved to another server (a failover) makes it join again.
public struct LiveFeedListener: Service {
    let database: Database
    let node: String
    let metrics: LiveFeedMetrics
    let logger: Logger
    let healthInterval: Duration
    let ownership: WallOwnership?
    let onPings: @Sendable ([Ping]) -> Void
    let onMessage: @Sendable (String) -> Void
    let onJoined: @Sendable () async throws -> Void

    /// `ownership`: the walls this daemon lays out, locked on the listening connection (nil: none
    /// is claimed). `onMessage` gets every payload that is not pings (relayed scenes, requests),
    /// including this daemon's own.
    public init(
        database: Database, node: String, metrics: LiveFeedMetrics, logger: Logger, healthInterval: Duration = .seconds(1),
        ownership: WallOwnership? = nil, onPings: @escaping @Sendable ([Ping]) -> Void,
        onMessage: @escaping @Sendable (String) -> Void = { _ in }, onJoined: @escaping @Sendable () async throws -> Void
    ) {
        self.database = database
        self.node = node
        self.metrics = metrics
        self.logger = logger
        self.healthInterval = healthInterval
        self.ownership = ownership
        self.onPings = onPings
        self.onMessage = onMessage
        self.onJoined = onJoined
    }

    public func run() async throws {
        let joined = JoinRecord()
        var lastProblem = ""
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown {
                    try await listenOnce(onJoin: { joined.set() })
                }
            } catch let error as DuplicateNodeError where !joined.isSet {
                // At start-up: a configuration mistake (exit 78). Later, it may be this daemon's
                // own session on a server that has not yet noticed it is gone: wait it out.
                throw ConfigurationError(key: "cluster.node", problem: error.description)
            } catch {
                metrics.listening.record(0)
                let problem = DatabaseErrors.describe(error)
                if problem != lastProblem && !(error is CancellationError) {
                    logger.warning("live feed: not listening; joining again", metadata: ["reason": "\(problem)"])
                }
                lastProblem = problem
            }
            metrics.listening.record(0)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
    }

    private func listenOnce(onJoin: @Sendable () -> Void) async throws {
        guard let endpoint = database.currentEndpoint else {
            throw DatabaseEndpointError("no server to listen to yet")
        }
        var configuration = try endpoint.connectionConfiguration()
        configuration.options.additionalStartupParameters.append(("application_name", "hypervisiond \(node) live feed"))
        // The server ends this session, and frees the walls it holds, within seconds of this
        // machine vanishing (over TCP; a local socket closes with the process anyway).
        configuration.options.additionalStartupParameters += [
            ("tcp_keepalives_idle", "2"), ("tcp_keepalives_interval", "1"), ("tcp_keepalives_count", "3"),
        ]
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            try await database.withDeadline(healthInterval * 2, on: connection) {
                let rows = try await connection.query(
                    "SELECT pg_try_advisory_lock(\(LiveFeedChannel.nodeLockSpace), hashtext(\(node)))", logger: logger
                ).collect()
                guard try rows.first?.decode(Bool.self) == true else { throw DuplicateNodeError(node: node) }
            }
            try await connection.listen(on: LiveFeedChannel.name) { notifications in
                ownership?.rejoined()
                try await onJoined()
                onJoin()
                metrics.listening.record(1)
                logger.notice("live feed: listening to the other daemons", metadata: ["server": "\(endpoint.serverDescription)"])
                // The connection is drained as fast as notifications come, and they are handled on a
                // task of their own: a burst being handled never delays the ownership checks below,
                // which share the connection. Beyond the buffer, the newest are dropped (counted);
                // what they carried is asked for again (a gap) or comes with the next ping.
                let (buffered, buffer) = AsyncStream.makeStream(
                    of: (payload: String, readAt: ContinuousClock.Instant).self, bufferingPolicy: .bufferingOldest(100_000))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { buffer.finish() }
                        for try await notification in notifications {
                            if case .dropped = buffer.yield((notification.payload, .now)) { metrics.droppedSlow.increment() }
                        }
                        throw DatabaseConnectionClosed()
                    }
                    group.addTask {
                        for await (payload, readAt) in buffered {
                            metrics.handlingDelay.recordNanoseconds((ContinuousClock.now - readAt).nanoseconds)
                            for message in LiveFeedPublisher.unpack(payload) { receive(message) }
                        }
                        // The buffer ends only when the connection did: an error, whichever
                        // child the group hears from first, so the loss is logged and counted.
                        throw DatabaseConnectionClosed()
                    }
                    group.addTask {
                        while true {
                            // Also the health check: a connection that does not answer within
                            // the deadline is closed, and the walls it held are given up.
                            try await database.withDeadline(healthInterval * 2, on: connection) {
                                if let ownership {
                                    try await ownership.reconcile(on: connection, logger: logger)
                                } else {
                                    _ = try await connection.query("SELECT 1", logger: logger).collect()
                                }
                            }
                            // Back for good after laying every wall out alone: caught up again
                            // as on joining (positions, tables, the others' walls whole).
                            if ownership?.settle() == true {
                                logger.notice("live feed: listening steadily again; relaying the other daemons' walls")
                                try await onJoined()
                            }
                            try await Task.sleep(for: healthInterval)
                            if database.currentEndpoint != endpoint {
                                throw DatabaseEndpointError("the database moved to \(database.currentEndpoint?.serverDescription ?? "another server")")
                            }
                        }
                    }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
        } catch {
            // Whatever the server still thinks, this daemon can no longer be sure it holds them.
            ownership?.lost()
            Self.close(connection)
            throw error
        }
        ownership?.lost()
        Self.close(connection)
    }

    /// Closes without waiting (a connection to a server that vanished may take long to close);
    /// the connection is kept until it is closed.
    static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in _ = connection }
    }

    func receive(_ payload: String) {
        guard payload.hasPrefix(LiveFeedCodec.header) else {
            onMessage(payload)
            return
        }
        // This daemon's own pings come back too: skipped before they are read.
        if payload.hasPrefix(LiveFeedCodec.header + node + "\n") { return }
        let decoded: LiveFeedCodec.Decoded
        do {
            decoded = try LiveFeedCodec.decode(payload)
        } catch {
            metrics.refused.increment()
            logger.warning("live feed: a notification is refused", metadata: ["reason": "\(error)"])
            return
        }
        if !decoded.refused.isEmpty {
            metrics.refused.increment(by: decoded.refused.count)
            logger.warning(
                "live feed: pings refused", metadata: ["from": "\(decoded.node)", "count": "\(decoded.refused.count)", "first": "\(decoded.refused[0])"])
        }
        guard decoded.node != node, !decoded.pings.isEmpty else { return }
        metrics.received.increment(by: decoded.pings.count)
        onPings(decoded.pings)
    }
}

/// Whether the listener has joined once (a duplicate node name after that is not a start-up mistake).
private final class JoinRecord: Sendable {
    private let joined = Mutex(false)
    var isSet: Bool { joined.withLock { $0 } }
    func set() { joined.withLock { $0 = true } }
}

/// The walls this daemon lays out: each held with an advisory lock on the live feed's own
/// connection, so at most one daemon of a database lays a wall out at a time. The listener
/// calls ``reconcile(on:logger:)`` every second: it takes the walls defined here that nobody
/// holds, and gives back those no longer defined. When that connection is lost, every wall is
/// given up at once (``lost()``), before the server frees the locks for another daemon.
///
/// Cut off from the database for ``islandAfter`` (a failover, a partition, a database down at
/// start-up), a daemon cannot hear the others nor relay their walls: it lays every wall out
/// itself from what it hears (``laysOut(_:)``), so that its renderers never freeze, and writes
/// no scene log for them. Once it hears the others again, a wall it does not hold is relayed
/// again, renumbered if it must (see `SceneHub.restart`).
public final class WallOwnership: Sendable {
    /// The first key of a wall's advisory lock.
    static let lockSpace: Int32 = 0x4856_5741  // "HVWA"
    private let wanted: @Sendable () -> [String]
    private let owned = Mutex<Set<String>>([])
    private let observers = Mutex<[@Sendable (_ taken: [String], _ given: [String]) -> Void]>([])
    /// Since when this daemon has not been listening steadily (from its start until it first
    /// does), and since when it has listened, if it does now: a connection made and ended again
    /// and again (a flapping link) leaves it cut off.
    private let link: Mutex<(cutOffSince: ContinuousClock.Instant?, listeningSince: ContinuousClock.Instant?)>
    private let clock: @Sendable () -> ContinuousClock.Instant
    /// How long a daemon is cut off before it lays every wall out itself: longer than a
    /// listening connection takes to be made again after a blip.
    public let islandAfter: Duration

    /// `wanted`: the walls defined on this daemon.
    public init(
        wanted: @escaping @Sendable () -> [String], islandAfter: Duration = .seconds(2),
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.wanted = wanted
        self.islandAfter = islandAfter
        self.clock = clock
        link = Mutex((clock(), nil))
    }

    /// Whether this daemon lays `wall` out now: it holds it, or it has been cut off for long.
    public func laysOut(_ wall: String) -> Bool { owns(wall) || isIslanded }

    /// Cut off from the others for ``islandAfter`` or more, and not yet listening steadily
    /// again for as long (see ``settle()``).
    public var isIslanded: Bool {
        let now = clock()
        return link.withLock { link in
            guard let cut = link.cutOffSince else { return false }
            if let listening = link.listeningSince {
                // Listening since before the grace ran out: a blip.
                return listening - cut >= islandAfter
            }
            return now - cut >= islandAfter
        }
    }

    /// Listening (again).
    func rejoined() {
        let now = clock()
        link.withLock { $0.listeningSince = now }
    }

    /// Called while listening: true once, when this daemon has listened steadily for
    /// ``islandAfter`` after being cut off for as long. It then relays the others again.
    func settle() -> Bool {
        let now = clock()
        return link.withLock { link in
            guard let cut = link.cutOffSince, let listening = link.listeningSince, now - listening >= islandAfter else { return false }
            link.cutOffSince = nil
            return listening - cut >= islandAfter
        }
    }

    /// `observer` hears of the walls taken and given up, after the change.
    public func observe(_ observer: @escaping @Sendable (_ taken: [String], _ given: [String]) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    private func onChange(_ taken: [String], _ given: [String]) {
        for observer in observers.withLock({ $0 }) { observer(taken, given) }
    }

    /// Whether this daemon lays `wall` out now.
    public func owns(_ wall: String) -> Bool { owned.withLock { $0.contains(wall) } }

    public var ownedWalls: Set<String> { owned.withLock { $0 } }

    func reconcile(on connection: PostgresConnection, logger: Logger) async throws {
        let wanted = Set(self.wanted())
        let held = ownedWalls
        var taken: [String] = [], given: [String] = []
        for wall in held.subtracting(wanted).sorted() {
            _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockSpace), hashtext(\(wall)))", logger: logger).collect()
            given.append(wall)
        }
        let free = wanted.subtracting(held).sorted()
        if free.isEmpty {
            _ = try await connection.query("SELECT 1", logger: logger).collect()
        }
        for wall in free {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockSpace), hashtext(\(wall)))", logger: logger).collect()
            if try rows.first?.decode(Bool.self) == true { taken.append(wall) }
        }
        guard !taken.isEmpty || !given.isEmpty else { return }
        owned.withLock { owned in
            owned.subtract(given)
            owned.formUnion(taken)
        }
        onChange(taken, given)
    }

    func lost() {
        let now = clock()
        link.withLock { link in
            link.listeningSince = nil
            if link.cutOffSince == nil { link.cutOffSince = now }
        }
        let given = owned.withLock { owned in
            defer { owned.removeAll() }
            return owned.sorted()
        }
        if !given.isEmpty { onChange([], given) }
    }
}
