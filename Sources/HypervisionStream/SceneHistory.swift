import DequeModule
import HypervisionCore
import Synchronization

/// One stream's scene over time: the current document and its sequence number, and the patches of
/// the recent past, so that a renderer that reconnects with `since` gets only what it missed.
///
/// The history is bounded twice, in patches and in bytes (``Limits``, the daemon's
/// `subscriptions.history.maxPatches` and `.maxBytes`), because one wall in a busy hour can
/// publish thousands of patches and a daemon serves many walls: what falls out of the history is
/// served as a full scene instead, which is always correct, only larger. ``window(now:)`` says
/// how far back it reaches.
///
/// Patches are held already encoded (the JSON text of their operations array), which is both the
/// exact byte count the bound is about and what goes on the wire: composing the patches from one
/// sequence number to a later one is then a concatenation of operation lists, with no re-encoding.
///
/// A value type with no locking: the hub holds one per ``StreamKey`` inside its own lock, next to
/// the subscribers' ``SubscriberStateMachine``s, so that a publish and the deliveries it causes see
/// the same history.
public struct SceneHistory: Sendable {
    /// How much of the past is held.
    public struct Limits: Sendable, Hashable {
        /// The most patches held. At 10 publishes per second, 600 is a minute of resumable past.
        public var maximumPatches: Int
        /// The most encoded patch bytes held (the newest patch is always held, whatever its size).
        public var maximumBytes: Int

        public init(maximumPatches: Int = 600, maximumBytes: Int = 4 << 20) {
            self.maximumPatches = max(1, maximumPatches)
            self.maximumBytes = max(0, maximumBytes)
        }
    }

    /// A held patch: applied to the scene at `base`, gives the scene at `seq`.
    public struct Patch: Sendable, Hashable {
        public var base: UInt64
        public var seq: UInt64
        /// The canonical JSON text of the operations array, `[{"op":…},…]`.
        public var encodedOperations: [UInt8]

        /// The operations, parsed back (for tests and tools; the daemon sends the bytes as they are).
        public func decoded() throws(JSONPatchError) -> JSONPatch {
            let json: JSONValue
            do {
                json = try JSONValue(parsing: encodedOperations)
            } catch {
                throw JSONPatchError(kind: .malformedPatch, message: error.description)
            }
            return try JSONPatch(json: json)
        }
    }

    /// What a subscriber that holds the scene at some sequence number needs to be current.
    public enum CatchUp: Sendable, Hashable {
        /// These patches, in order (empty when the subscriber is already current).
        case patches([Patch])
        /// The full scene: the past asked for is no longer held, or never existed (a `since` from
        /// before a restart, or from the future).
        case fullScene(seq: UInt64, document: JSONValue)
    }

    public let key: StreamKey
    public let limits: Limits
    /// The current version of the document, encoded when first needed.
    public private(set) var current: PublishedDocument
    /// The sequence number of ``document``.
    public var seq: UInt64 { current.seq }
    /// The current scene.
    public var document: JSONValue { current.json }
    /// The canonical JSON text of ``document``.
    public var encodedDocument: [UInt8] { current.encoded }

    /// Patch `i` takes the scene from `oldestBase + i` to `oldestBase + i + 1`; the last one ends at `seq`.
    private var patches: Deque<[UInt8]> = []
    /// When each version from `oldestBase` to `seq` was published (monotonic ns): one more than the patches.
    private var publishedAt: Deque<UInt64>
    private var heldBytes = 0
    /// The size of the last full document encoded, to choose between patches and a full scene
    /// without encoding the current one for the comparison.
    private var documentSizeHint: Int

    /// Starts a history at `seq` with `document`.
    ///
    /// Choose `seq` so that sequence numbers never repeat across daemon restarts, or a renderer
    /// resuming with a `since` from the previous run would get patches meant for another scene:
    /// microseconds since the epoch at start-up (`Timestamp.now().microseconds`) are a good choice,
    /// as long as walls publish less than a million times a second; they stay exact in JSON (< 2^53).
    /// `now` is the monotonic time of the first version, in nanoseconds (for ``window(now:)``).
    public init(key: StreamKey, seq: UInt64, document: some StreamDocument, limits: Limits = Limits(), now: UInt64 = 0) {
        self.key = key
        self.limits = limits
        self.current = PublishedDocument(seq: seq, document: document)
        self.documentSizeHint = current.encoded.count
        self.publishedAt = [now]
    }

    /// The number of patches held.
    public var heldPatchCount: Int { patches.count }

    /// The encoded bytes of the patches held.
    public var heldPatchBytes: Int { heldBytes }

    /// The oldest `since` that can still be answered with patches.
    public var oldestResumableSeq: UInt64 { seq - UInt64(patches.count) }

    /// How far back the history reaches at monotonic time `now` (ns): a renderer that left at
    /// most this long ago resumes with patches (see ``update(since:)`` for the size rule).
    public func window(now: UInt64) -> UInt64 {
        let oldest = publishedAt.first ?? now
        return now > oldest ? now - oldest : 0
    }

    /// Makes `document` the current scene.
    ///
    /// Returns the new sequence number and the patch from the previous scene (its operations as
    /// encoded JSON), or nil when nothing changed: an unchanged scene takes no sequence number, so
    /// renderers are not woken for nothing. The patch comes from `document`'s own diff against the
    /// previous version when both are of the same type (typed and cheap for scenes), from the
    /// generic JSON diff otherwise.
    ///
    /// `forced` is the sequence number the version must have (a scene relayed from the daemon
    /// that lays the wall out, which numbers it): one after ``seq`` is an ordinary step; a gap
    /// starts the history again at `forced` with no patches (subscribers get the full scene); an
    /// older or repeated number is ignored (nil).
    public mutating func publish<Document: StreamDocument>(_ document: Document, as forced: UInt64? = nil, now: UInt64 = 0)
        -> (seq: UInt64, encodedOperations: [UInt8])?
    {
        if let forced, forced != seq + 1 {
            guard forced > seq else { return nil }
            self = SceneHistory(key: key, seq: forced, document: document, limits: limits, now: now)
            return (forced, [])
        }
        let next = seq + 1
        let encoded: [UInt8]
        if let previous = current.document as? Document {
            guard let patch = document.encodedPatch(since: previous, seq: next) else { return nil }
            encoded = patch
        } else {
            let operations = JSONPatch.diff(from: current.json, to: document.json(seq: next)).operations
            guard !operations.isEmpty else { return nil }
            encoded = JSONPatch(operations: operations).encodedBytes
        }
        if let size = current.encodedCountIfKnown { documentSizeHint = size }
        current = PublishedDocument(seq: next, document: document)
        patches.append(encoded)
        publishedAt.append(now)
        heldBytes += encoded.count
        while patches.count > 1 && (patches.count > limits.maximumPatches || heldBytes > limits.maximumBytes) {
            heldBytes -= patches.removeFirst().count
            publishedAt.removeFirst()
        }
        return (next, encoded)
    }

    /// What a subscriber holding the scene at `since` needs to be current.
    ///
    /// Patches when every one from `since` to ``seq`` is held; an empty list when `since` is
    /// current; the full scene otherwise, including for a `since` greater than ``seq``, which can
    /// only come from another run of the daemon.
    public func catchUp(since: UInt64) -> CatchUp {
        guard since <= seq, since >= oldestResumableSeq else { return .fullScene(seq: seq, document: document) }
        let first = patches.count - Int(seq - since)
        var result: [Patch] = []
        result.reserveCapacity(patches.count - first)
        for index in first..<patches.count {
            let base = oldestResumableSeq + UInt64(index)
            result.append(Patch(base: base, seq: base + 1, encodedOperations: patches[index]))
        }
        return .patches(result)
    }

    /// The operations that take the scene at `since` to the current one, as one encoded JSON array
    /// (the held patches' operations concatenated in order); nil when they are not all held.
    public func composedOperations(since: UInt64) -> [UInt8]? {
        guard since <= seq, since >= oldestResumableSeq else { return nil }
        let first = patches.count - Int(seq - since)
        if first == patches.count { return Array("[]".utf8) }
        if first == patches.count - 1 { return patches[first] }
        var total = 1
        for index in first..<patches.count { total += patches[index].count - 1 }
        var composed: [UInt8] = []
        composed.reserveCapacity(total)
        composed.append(UInt8(ascii: "["))
        for index in first..<patches.count {
            // Each held patch is a non-empty array "[…]": splice its elements.
            let operations = patches[index]
            if composed.count > 1 { composed.append(UInt8(ascii: ",")) }
            composed.append(contentsOf: operations[1..<(operations.count - 1)])
        }
        composed.append(UInt8(ascii: "]"))
        return composed
    }

    /// What brings a subscriber holding `since` (nil: nothing) to the current scene.
    public enum Update: Sendable {
        /// A `patch` line.
        case line([UInt8])
        /// The current scene in full: its `scene` line, encoded by whoever sends it.
        case scene(PublishedDocument)
        /// Held patches whose concatenation is not smaller than the scene: squashed into their
        /// net change by whoever sends it (outside the hub's lock), then a `patch` line if that
        /// is smaller than the scene, the `scene` line otherwise.
        case catchUp(CatchUpPlan)

        /// The wire line.
        public var bytes: [UInt8] {
            switch self {
            case .line(let bytes): bytes
            case .scene(let document): document.sceneLine
            case .catchUp(let plan): plan.resolved.line
            }
        }

        /// Whether the line is a `patch` (false: the full `scene`).
        public var isPatch: Bool {
            switch self {
            case .line: true
            case .scene: false
            case .catchUp(let plan): plan.resolved.isPatch
            }
        }
    }

    /// What takes a subscriber holding `since` to the current scene: a `patch` when the history
    /// still holds every patch since `since` and their net change is smaller than the scene,
    /// the `scene` otherwise; nil when `since` is already current.
    ///
    /// The cheap answers are decided here: the step patch every subscriber that keeps up needs,
    /// and a concatenation of patches that is already smaller than the scene. Beyond, the
    /// patches are handed over to be squashed (``PatchSquash``) where no lock is held.
    public func update(since: UInt64?) -> Update? {
        guard let since else { return .scene(current) }
        if since == seq { return nil }
        guard since <= seq, since >= oldestResumableSeq else { return .scene(current) }
        let first = patches.count - Int(seq - since)
        var concatenated = 1
        for index in first..<patches.count { concatenated += patches[index].count - 1 }
        if concatenated < documentSize(comparedWith: concatenated), let operations = composedOperations(since: since) {
            // From the version just before, the line every subscriber that keeps up needs: made once.
            if since + 1 == seq { return .line(current.stepPatchLine { WireLine.patch(seq: seq, base: since, encodedOperations: operations) }) }
            return .line(WireLine.patch(seq: seq, base: since, encodedOperations: operations))
        }
        return .catchUp(CatchUpPlan(since: since, patches: Array(patches[first...]), current: current))
    }

    /// The current document's encoded size, or a bound good enough to compare `patchSize` with:
    /// a patch far below the last size known needs no encoding of the document to be chosen;
    /// a patch near it (or beyond) has the document encoded, which a scene line then reuses.
    ///
    /// A version relayed from another daemon is never made just to be measured (making it applies
    /// its patches): its patches are the owner's choice, and taking one that is as large as the
    /// scene is still correct.
    private func documentSize(comparedWith patchSize: Int) -> Int {
        if let known = current.encodedCountIfKnown { return known }
        if patchSize < documentSizeHint / 2 { return documentSizeHint }
        if current.document is RelayedDocument { return max(documentSizeHint, patchSize + 1) }
        return current.encoded.count
    }

    /// The wire line of ``update(since:)``.
    public func updateLine(since: UInt64?) -> [UInt8]? { update(since: since)?.bytes }

    /// The `scene` line of the current scene.
    public func sceneLine() -> [UInt8] { current.sceneLine }
}

/// Patches to squash into one, for a subscriber far enough behind that their concatenation is
/// larger than the scene (a renderer resuming with `since` after a few seconds, typically).
/// The work is done once, on first use, by whoever sends the line, outside the hub's lock.
public final class CatchUpPlan: Sendable {
    public let since: UInt64
    private let patches: [[UInt8]]
    private let current: PublishedDocument
    private let result = Mutex<(line: [UInt8], isPatch: Bool)?>(nil)

    init(since: UInt64, patches: [[UInt8]], current: PublishedDocument) {
        self.since = since
        self.patches = patches
        self.current = current
    }

    /// The `patch` line of the net change when it is smaller than the scene, else the `scene` line.
    public var resolved: (line: [UInt8], isPatch: Bool) {
        if let done = result.withLock({ $0 }) { return done }
        let answer: (line: [UInt8], isPatch: Bool)
        if let squashed = PatchSquash.squash(patches), squashed.count < current.encoded.count {
            answer = (WireLine.patch(seq: current.seq, base: since, encodedOperations: squashed), true)
        } else {
            answer = (current.sceneLine, false)
        }
        result.withLock { $0 = answer }
        return answer
    }
}
