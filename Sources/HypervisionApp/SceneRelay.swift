import HypervisionCore
import HypervisionStore
import HypervisionStream
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Relays the scenes of the walls this daemon lays out to the other daemons of the database, and
/// puts the scenes they relay on this daemon's hub, with the owner's sequence numbers: a
/// renderer gets the same lines from any daemon, and resumes on another with `since`.
///
/// Owner side: every version the hub publishes for an owned wall goes out as the owner's patch
/// (``SceneRelayCodec``), or as a keyframe when the stream is new or someone asked for one.
/// Relay side: a keyframe replaces the stream's document; a patch is applied to the document held
/// when it starts from it, and otherwise a keyframe is asked for (a gap: a lost notification, a
/// daemon that joined late). Versions of walls this daemon owns are ignored: a message of the
/// previous owner must not undo this daemon's rounds.
///
/// Operator changes (pins, tours, definitions stored through the API) made here go to the
/// others too, and theirs are applied here, so the daemon that lays a wall out shows them,
/// whichever daemon the operator used, and still has them when it takes a wall over.
final class SceneRelay: Service, Sendable {
    let node: String
    let walls: WallService
    let hub: SceneHub
    let ownership: WallOwnership
    let publisher: LiveFeedPublisher
    let logger: Logger
    private let relayed: Counter
    private let requested: Counter
    private struct State {
        var assembler = SceneRelayAssembler()
        /// Streams whose next relayed version must be a keyframe.
        var keyframeDue: Set<StreamKey> = []
        /// When a keyframe of a stream was last asked for, so a burst of gaps asks once.
        var askedAt: [StreamKey: ContinuousClock.Instant] = [:]
        /// Owner side: the units version whose shared operations were last sent, per wall.
        var unitsSent: [String: UInt64] = [:]
        /// Relay side: the shared unit operations of each wall's last rounds (newest last).
        var unitsHeard: [String: [(version: UInt64, operations: [UInt8])]] = [:]
        /// Relay side: streams whose document is being made, or is about to be.
        var compacting: Set<StreamKey> = []
    }
    private let state = Mutex(State())
    /// Relayed patches held before a stream's document is made (see ``RelayedDocument``), at
    /// least; each stream adds up to as many again of its own, so that a wall's streams, which
    /// start together, are not all made in the same round.
    static let longestChain = 64
    private let changes: AsyncStream<WallChange>
    private let changeSink: AsyncStream<WallChange>.Continuation
    /// The other owners' versions, handled on a task of their own: a burst of them never holds up
    /// the pings behind it on the listener's task (nor the pings them). Beyond the buffer, the
    /// newest are dropped and counted; the next version then does not follow on, and the relay
    /// asks for a keyframe.
    private let versions: AsyncStream<(payload: String, queuedAt: ContinuousClock.Instant)>
    private let versionSink: AsyncStream<(payload: String, queuedAt: ContinuousClock.Instant)>.Continuation
    private let dropped: Counter
    /// Streams whose chain of relayed patches is long enough to be made into a document: made on
    /// a task of their own, beside the relaying (see ``longestChain``).
    private let compactions: AsyncStream<StreamKey>
    private let compactionSink: AsyncStream<StreamKey>.Continuation
    /// From a version queued to its handling starting: how far this relay lags the listener.
    private let handlingDelay: Timer
    static let versionBuffer = 20_000

    init(
        node: String, walls: WallService, ownership: WallOwnership, publisher: LiveFeedPublisher, logger: Logger,
        metricsFactory: any MetricsFactory
    ) {
        self.node = node
        self.walls = walls
        self.hub = walls.hub
        (changes, changeSink) = AsyncStream.makeStream(of: WallChange.self, bufferingPolicy: .bufferingOldest(10_000))
        (compactions, compactionSink) = AsyncStream.makeStream(of: StreamKey.self)
        (versions, versionSink) = AsyncStream.makeStream(
            of: (payload: String, queuedAt: ContinuousClock.Instant).self, bufferingPolicy: .bufferingOldest(Self.versionBuffer))
        handlingDelay = Timer(
            label: "hypervision_cluster_handling_delay_seconds", dimensions: [("stage", "relay")], preferredDisplayUnit: .seconds,
            factory: metricsFactory)
        dropped = Counter(label: "hypervision_cluster_notifications_dropped_total", dimensions: [("stage", "relay")], factory: metricsFactory)
        dropped.increment(by: 0)
        self.ownership = ownership
        self.publisher = publisher
        self.logger = logger
        relayed = Counter(label: "hypervision_cluster_scenes_relayed_total", factory: metricsFactory)
        requested = Counter(label: "hypervision_cluster_keyframes_requested_total", factory: metricsFactory)
        relayed.increment(by: 0)
        requested.increment(by: 0)
    }

    // MARK: Owner side

    /// The hub's observer: sends what was published on an owned wall.
    func published(_ key: StreamKey, seq: UInt64, operations: [UInt8]?) {
        guard ownership.owns(key.wall), SceneRelayCodec.canCarry(key.wall) else { return }
        let keyframe = state.withLock { $0.keyframeDue.remove(key) != nil } || operations == nil
        guard !keyframe, let operations else {
            sendKeyframe(key)
            return
        }
        // The round's unit operations, shared by the wall's scene and its views, go once.
        if let current = hub.current(key), current.seq == seq, let sharing = current.document as? any SharingUnitOperations,
            let range = sharing.sharedUnitOperationsRange(in: operations, seq: seq)
        {
            let version = sharing.unitsVersion
            let first = state.withLock { state -> Bool in
                guard state.unitsSent[key.wall] != version else { return false }
                state.unitsSent[key.wall] = version
                return true
            }
            var messages: [String] = []
            if first {
                messages += SceneRelayCodec.encodeUnits(node: node, wall: key.wall, version: version, operations: sharing.encodedUnitOperations)
            }
            var body = Array(operations[..<range.lowerBound])
            body.append(SceneRelayCodec.unitsMarker)
            body += operations[range.upperBound...]
            messages += SceneRelayCodec.encode(node: node, key: key, seq: seq, base: seq - 1, units: version, body: body)
            publisher.offer(messages: messages)
        } else {
            publisher.offer(messages: SceneRelayCodec.encode(node: node, key: key, seq: seq, base: seq - 1, body: operations))
        }
    }

    private func sendKeyframe(_ key: StreamKey) {
        guard let current = hub.current(key) else { return }
        publisher.offer(messages: SceneRelayCodec.encode(node: node, key: key, seq: current.seq, base: nil, body: current.encoded))
    }

    /// Walls taken: the other daemons' copies may lag, so the next version of each is a keyframe.
    func walls(taken: [String], given: [String]) {
        if !taken.isEmpty { logger.notice("cluster: laying out walls here", metadata: ["walls": "\(taken)"]) }
        if !given.isEmpty { logger.notice("cluster: walls given up (another daemon may take them)", metadata: ["walls": "\(given)"]) }
        let keys = hub.keys.filter { taken.contains($0.wall) }
        state.withLock { $0.keyframeDue.formUnion(keys) }
    }

    /// Asks every owner for keyframes of everything (this daemon has just joined).
    func joined() {
        publisher.offer(messages: [SceneRelayCodec.request(node: node, wall: nil, display: nil)])
    }

    // MARK: Relay side

    // MARK: Operator changes

    /// A change made here: to the other daemons.
    func announce(_ change: WallChange) {
        guard let payload = change.encode(node: node), payload.utf8.count <= LiveFeedCodec.maximumPayloadBytes else {
            logger.warning("cluster: a wall change cannot be sent to the other daemons", metadata: ["wall": "\(change.wall)"])
            return
        }
        publisher.offer(messages: [payload])
    }

    /// A payload of the live feed that is not pings (on the listener's task): queued for this
    /// relay's own task.
    func receive(_ payload: String) {
        if payload.hasPrefix("A1 ") {
            receiveChange(payload)
            return
        }
        // This daemon's own versions come back too: skipped before anything is copied.
        if payload.hasPrefix("S1 \(node) ") || payload.hasPrefix("U1 \(node) ") { return }
        if case .dropped = versionSink.yield((payload, .now)) { dropped.increment() }
    }

    /// A version, a unit round or a keyframe request of another daemon, on this relay's task.
    func handle(_ payload: String) {
        let message: SceneRelayCodec.Message
        do {
            message = try SceneRelayCodec.decode(payload)
        } catch {
            logger.warning("cluster: a notification is refused", metadata: ["reason": "\(error)"])
            return
        }
        switch message {
        case .keyframeRequest(let from, let wall, let display, let wholeWall):
            guard from != node else { return }
            for key in hub.keys where ownership.owns(key.wall) {
                let wanted = wall == nil || (key.wall == wall && (wholeWall || key.display == display))
                if wanted { sendKeyframe(key) }
            }
        case .units(let part):
            // Laying every wall out alone (cut off until just now): the others' versions wait
            // until this daemon relays again, and asks for them whole.
            guard part.node != node, !ownership.owns(part.key.wall), !ownership.isIslanded else { return }
            state.withLock { state in
                guard let whole = state.assembler.add(part) else { return }
                var heard = state.unitsHeard[part.key.wall] ?? []
                heard.append((whole.seq, whole.body))
                if heard.count > 8 { heard.removeFirst(heard.count - 8) }
                state.unitsHeard[part.key.wall] = heard
            }
        case .part(let part):
            guard part.node != node, !ownership.owns(part.key.wall), !ownership.isIslanded else { return }
            guard var version = state.withLock({ $0.assembler.add(part) }) else { return }
            if let units = version.units {
                // Put the round's shared unit operations back where they were.
                let shared = state.withLock { $0.unitsHeard[version.key.wall]?.last { $0.version == units }?.operations }
                guard let shared, let marker = version.body.firstIndex(of: SceneRelayCodec.unitsMarker) else {
                    askForKeyframe(version.key)
                    return
                }
                version.body = Array(version.body[..<marker]) + shared + version.body[(marker + 1)...]
            }
            apply(version)
        }
    }

    private func apply(_ version: SceneRelayAssembler.Version) {
        do {
            if let base = version.base {
                guard let current = hub.current(version.key), current.seq == base else {
                    // Already there (a repeat), or a gap: only a keyframe helps. So also when this
                    // daemon laid the wall out itself while cut off (its numbers are its own).
                    if let current = hub.current(version.key), current.seq >= version.seq, current.document is RelayedDocument { return }
                    askForKeyframe(version.key)
                    return
                }
                // Applied when the document is needed (see RelayedDocument): parsing every patch
                // as it comes would cost the relay as much as the owner's round.
                guard version.body.first == UInt8(ascii: "["), version.body.last == UInt8(ascii: "]") else {
                    throw SceneRelayCodec.Unreadable(reason: "a patch that is not a JSON array")
                }
                let relayed = RelayedDocument(patching: current, base: base, operations: version.body)
                hub.publish(version.key, content: relayed, as: version.seq)
                // Now and then the document is made, so that the chain of patches stays short.
                if relayed.depth >= Self.longestChain + Self.stagger(version.key) { compact(version.key) }
            } else {
                let document = try JSONValue(parsing: version.body)
                if let current = hub.current(version.key), current.seq >= version.seq, !(current.document is RelayedDocument) {
                    // Laid out here while this daemon was cut off, under numbers of its own: the
                    // owner's line starts again here, and renderers get it whole.
                    logger.notice("cluster: relaying a wall laid out here while cut off; its stream starts again", metadata: ["stream": "\(version.key)", "seq": "\(version.seq)"])
                    hub.restart(
                        version.key, content: RelayedDocument(document: document), as: version.seq,
                        because: StreamError(
                            code: .renumbered,
                            message: "wall \(version.key.wall) is laid out by another daemon again, under its numbers: subscribe again (with since)"))
                } else {
                    hub.publish(version.key, content: RelayedDocument(document: document), as: version.seq)
                }
            }
            relayed.increment()
        } catch {
            logger.warning("cluster: a relayed scene cannot be applied", metadata: ["stream": "\(version.key)", "seq": "\(version.seq)", "error": "\(error)"])
            askForKeyframe(version.key)
        }
    }

    /// Up to ``longestChain`` more for one stream, the same on every run.
    static func stagger(_ key: StreamKey) -> Int {
        var hash: UInt32 = 2_166_136_261  // FNV-1a, over the wall then the display
        for text in [key.wall, key.display ?? ""] {
            for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        }
        return Int(hash % UInt32(longestChain))
    }

    private func compact(_ key: StreamKey) {
        let first = state.withLock { $0.compacting.insert(key).inserted }
        if first { compactionSink.yield(key) }
    }

    private func askForKeyframe(_ key: StreamKey) {
        let now = ContinuousClock.now
        let ask = state.withLock { state -> Bool in
            if let last = state.askedAt[key], now - last < .milliseconds(500) { return false }
            state.askedAt[key] = now
            if state.askedAt.count > 10_000 { state.askedAt = [key: now] }
            return true
        }
        guard ask, SceneRelayCodec.canCarry(key.wall) else { return }
        requested.increment()
        publisher.offer(messages: [SceneRelayCodec.request(node: node, wall: key.wall, display: key.display)])
    }

    private func receiveChange(_ payload: String) {
        do {
            let (from, change) = try WallChange.decode(payload)
            guard from != node else { return }
            changeSink.yield(change)
        } catch {
            logger.warning("cluster: a wall change is refused", metadata: ["reason": "\(error)"])
        }
    }

    /// Applies the other daemons' versions as they come, and their changes in order (a stored
    /// definition is read from the database).
    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { [compactions] in
                for await key in compactions.cancelOnGracefulShutdown() {
                    // The latest version: the patches since the last one made, applied once.
                    _ = self.hub.current(key)?.json
                    self.state.withLock { _ = $0.compacting.remove(key) }
                }
            }
            group.addTask { [versions] in
                for await (payload, queuedAt) in versions.cancelOnGracefulShutdown() {
                    self.handlingDelay.recordNanoseconds((ContinuousClock.now - queuedAt).nanoseconds)
                    self.handle(payload)
                }
            }
            for await change in changes.cancelOnGracefulShutdown() {
                do {
                    try await walls.apply(change)
                } catch {
                    logger.warning("cluster: a wall change from another daemon cannot be applied", metadata: ["wall": "\(change.wall)", "error": "\(error)"])
                }
            }
            group.cancelAll()
        }
    }
}
