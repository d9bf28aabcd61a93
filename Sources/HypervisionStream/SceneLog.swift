import HypervisionCore
import Logging
import Synchronization


/// Whether a wall's next logged change is a keyframe (the whole scene) or a patch on the entry
/// before it. A pure decision: a keyframe at least every `interval`, and whenever the chain of
/// patches would break (the first entry of a wall, a sequence number skipped).
public struct KeyframePolicy: Sendable, Hashable {
    /// What a wall's log holds so far.
    public struct Marks: Sendable, Hashable {
        public var lastKeyframe: Timestamp?
        public var lastLoggedSeq: UInt64?
        public init(lastKeyframe: Timestamp? = nil, lastLoggedSeq: UInt64? = nil) {
            self.lastKeyframe = lastKeyframe
            self.lastLoggedSeq = lastLoggedSeq
        }
    }

    /// What to log for a scene.
    public enum Decision: Sendable, Hashable {
        /// The whole scene.
        case keyframe
        /// The operations from `base` (the entry logged before) to the new sequence number.
        case patch(base: UInt64)
    }

    public var interval: Duration

    public init(interval: Duration) {
        self.interval = interval
    }

    /// What to log for the scene `seq` published at `time`, given what was logged before.
    public func decide(_ marks: Marks, seq: UInt64, at time: Timestamp) -> Decision {
        guard let lastKeyframe = marks.lastKeyframe, let last = marks.lastLoggedSeq, last + 1 == seq else { return .keyframe }
        let elapsed = Double(time.microseconds - lastKeyframe.microseconds) / 1e6
        return elapsed >= Self.seconds(interval) ? .keyframe : .patch(base: last)
    }

    /// `marks` once `decision` was logged for `seq` at `time`.
    public static func marks(_ marks: Marks, after decision: Decision, seq: UInt64, at time: Timestamp) -> Marks {
        var marks = marks
        marks.lastLoggedSeq = seq
        if decision == .keyframe { marks.lastKeyframe = time }
        return marks
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The log entries waiting to be written, oldest first, at most `capacity` of them: while the
/// database is slow or away, the oldest are dropped first. A pure value.
public struct SceneLogQueue: Sendable, Hashable {
    public let capacity: Int
    public private(set) var entries: [SceneLogEntry] = []
    /// Entries dropped for want of room, in all.
    public private(set) var dropped = 0

    public init(capacity: Int) {
        self.capacity = capacity
    }

    public mutating func append(_ entry: SceneLogEntry) {
        entries.append(entry)
        trim()
    }

    /// Takes every pending entry (for one write).
    public mutating func takeAll() -> [SceneLogEntry] {
        defer { entries = [] }
        return entries
    }

    /// A write failed: its entries go back before those queued meanwhile, room permitting.
    public mutating func putBack(_ failed: [SceneLogEntry]) {
        entries.insert(contentsOf: failed, at: 0)
        trim()
    }

    private mutating func trim() {
        guard entries.count > capacity else { return }
        dropped += entries.count - capacity
        entries.removeFirst(entries.count - capacity)
    }
}

/// Writes the scene log: the round loop queues entries (never waiting for the database), a loop
/// of its own writes them about once a second. A failed write keeps its entries for the next
/// try, within the queue's bound.
public final class SceneLogWriter: Sendable {
    let storage: any SceneLogStorage
    let logger: Logger
    private let queue: Mutex<SceneLogQueue>

    public init(storage: any SceneLogStorage, capacity: Int, logger: Logger) {
        self.storage = storage
        self.logger = logger
        self.queue = Mutex(SceneLogQueue(capacity: capacity))
    }

    public func enqueue(_ entry: SceneLogEntry) {
        queue.withLock { $0.append(entry) }
    }

    /// Entries waiting to be written.
    public var pending: Int { queue.withLock { $0.entries.count } }

    /// Writes what is pending. A failure keeps the entries for the next try.
    public func flush() async {
        let entries = queue.withLock { $0.takeAll() }
        guard !entries.isEmpty else { return }
        do {
            try await storage.append(entries)
        } catch {
            logger.warning(
                "scene log write failed; will retry", metadata: ["entries": "\(entries.count)", "error": "\(String(reflecting: error))"])
            queue.withLock { $0.putBack(entries) }
        }
    }
}

/// Rebuilds what a wall showed from its scene log: the keyframe, then each patch applied in
/// order (a later keyframe replaces what was built). Pure.
public enum SceneReplay {
    /// The scene the entries end on; nil when they do not start with a keyframe.
    public static func rebuild(_ entries: [SceneLogEntry]) throws -> JSONValue? {
        guard let first = entries.first, first.kind == .scene else { return nil }
        var document = try JSONValue(parsing: first.json)
        for entry in entries.dropFirst() {
            if entry.kind == .scene {
                document = try JSONValue(parsing: entry.json)
            } else {
                document = try JSONPatch(json: try JSONValue(parsing: entry.json)).applied(to: document)
            }
        }
        return document
    }
}
