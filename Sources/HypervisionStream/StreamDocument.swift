import HypervisionCore
import HypervisionLayout
import Synchronization

/// A document the scene hub publishes on a stream: a wall's ``Scene``, one display's
/// ``SceneView``, or (for tests and tools) any ``JSONValue``.
///
/// The hub never needs the whole document to publish a change: it asks the new version for its
/// operations since the previous one (a typed diff for scenes, proportional to what changed) and
/// builds and encodes the full JSON only when somebody needs it (a new subscriber, a renderer
/// that fell behind, the scene log's keyframe, `GET …/scene`).
public protocol StreamDocument: Sendable {
    /// The document as renderers receive it, with `seq` written in when it carries one.
    func json(seq: UInt64) -> JSONValue
    /// The operations from `previous`'s document to this one, leaving out what
    /// ``stampOperations(seq:)`` writes; empty when nothing else changed (nothing is published).
    func changes(since previous: Self) -> [JSONPatch.Operation]
    /// The operations that write a new version's sequence number (and time), after ``changes(since:)``.
    func stampOperations(seq: UInt64) -> [JSONPatch.Operation]
    /// The patch from `previous` to this document as version `seq`, encoded (a JSON array):
    /// ``changes(since:)`` then ``stampOperations(seq:)``; nil when nothing changed. A document
    /// that shares operations with others may splice them in already encoded.
    func encodedPatch(since previous: Self, seq: UInt64) -> [UInt8]?
}

extension StreamDocument {
    public func encodedPatch(since previous: Self, seq: UInt64) -> [UInt8]? {
        encodedPatch(changes: changes(since: previous), seq: seq)
    }

    /// `changes` then the stamp, encoded; nil when there are no changes.
    func encodedPatch(changes: [JSONPatch.Operation], seq: UInt64) -> [UInt8]? {
        guard !changes.isEmpty else { return nil }
        return JSONPatch(operations: changes + stampOperations(seq: seq)).encodedBytes
    }
}

extension JSONValue: StreamDocument {
    /// A plain JSON document carries no sequence number: it is sent as it is.
    public func json(seq: UInt64) -> JSONValue { self }
    public func changes(since previous: JSONValue) -> [JSONPatch.Operation] { JSONPatch.diff(from: previous, to: self).operations }
    public func stampOperations(seq: UInt64) -> [JSONPatch.Operation] { [] }
}

extension Scene: StreamDocument {
    public func json(seq: UInt64) -> JSONValue {
        var stamped = self
        stamped.seq = Int64(seq)
        return stamped.json
    }
}

extension SceneView: StreamDocument {
    public func json(seq: UInt64) -> JSONValue {
        var stamped = self
        stamped.seq = Int64(seq)
        return stamped.json
    }
}

/// One published version of a stream's document, with its sequence number. Its JSON and
/// canonical bytes are made on first use and kept, so a round that nobody needs in full costs
/// no encoding, and many subscribers needing it cost one.
public final class PublishedDocument: Sendable {
    public let seq: UInt64
    public let document: any StreamDocument
    private let cache = Mutex<(json: JSONValue?, encoded: [UInt8]?, sceneLine: [UInt8]?, stepPatchLine: [UInt8]?)>((nil, nil, nil, nil))

    public init(seq: UInt64, document: any StreamDocument) {
        self.seq = seq
        self.document = document
    }

    // Both are made outside the lock: making a relayed version can take milliseconds, and the
    // hub reads what is cached (sizes, lines) of the same version meanwhile. Two callers racing
    // make the same value; the first kept wins.

    /// The document's JSON.
    public var json: JSONValue {
        if let json = cache.withLock({ $0.json }) { return json }
        let made = document.json(seq: seq)
        return cache.withLock { cache in
            if let json = cache.json { return json }
            cache.json = made
            return made
        }
    }

    /// The document's canonical JSON text.
    public var encoded: [UInt8] {
        if let encoded = cache.withLock({ $0.encoded }) { return encoded }
        // Not kept as JSON too: a history of versions would hold every scene twice.
        var made: [UInt8] = []
        (cache.withLock { $0.json } ?? document.json(seq: seq)).encode(into: &made)
        return cache.withLock { cache in
            if let encoded = cache.encoded { return encoded }
            cache.encoded = made
            return made
        }
    }

    /// The JSON, when it has been made already.
    var cachedJSON: JSONValue? { cache.withLock { $0.json } }

    /// The encoded size, when the document has been encoded already.
    var encodedCountIfKnown: Int? { cache.withLock { $0.encoded?.count } }

    /// The `scene` line that carries this version, made once however many subscribers need it.
    var sceneLine: [UInt8] {
        if let line = cache.withLock({ $0.sceneLine }) { return line }
        let line = WireLine.scene(seq: seq, encodedScene: encoded)
        cache.withLock { $0.sceneLine = line }
        return line
    }

    /// The `patch` line from the version just before this one (`make` builds it), made once
    /// however many subscribers need it.
    func stepPatchLine(_ make: () -> [UInt8]) -> [UInt8] {
        if let line = cache.withLock({ $0.stepPatchLine }) { return line }
        let line = make()
        cache.withLock { $0.stepPatchLine = line }
        return line
    }
}

/// A wall's scene or one display's view, typed-diffable with the unit operations given.
public protocol UnitSharingDocument: StreamDocument {
    /// ``StreamDocument/changes(since:)`` with the operations on `units` already known (nil:
    /// compute them).
    func changes(since previous: Self, unitOperations: [JSONPatch.Operation]?) -> [JSONPatch.Operation]
}

extension Scene: UnitSharingDocument {}
extension SceneView: UnitSharingDocument {}

/// A scene or view as one round of the ``WallService`` publishes it, carrying that round's unit
/// operations: the units move every round and a wall has a scene and a view per display, all
/// showing the same units, so their operations are computed once per round, not once per stream.
///
/// Each distinct set of a wall's units gets a version; a document knows its version and the
/// version its operations start from, so they are used only on a document that shows exactly
/// those units (otherwise the diff computes its own).
public struct WallRoundDocument<Content: UnitSharingDocument>: StreamDocument {
    public let content: Content
    /// Equal versions, equal units. Unique across the walls of a service.
    public let unitsVersion: UInt64
    /// The version ``encodedUnitOperations`` start from.
    public let baseUnitsVersion: UInt64
    /// The operations from the units of ``baseUnitsVersion`` to these, encoded once for all the
    /// documents of the round, without brackets. Only the text is kept: the operations as values
    /// cost more to make and to free than the round's whole layout, and only a patch sends them.
    public let encodedUnitOperations: [UInt8]
    /// The content shows every unit of its scene: always for a scene, for a view with a map on it.
    public let showsSceneUnits: Bool

    /// `encodedUnitOperations`: the operations' texts separated by commas (``JSONPatchText/bytes``).
    public init(
        content: Content, unitsVersion: UInt64, baseUnitsVersion: UInt64, encodedUnitOperations: [UInt8], showsSceneUnits: Bool
    ) {
        self.content = content
        self.unitsVersion = unitsVersion
        self.baseUnitsVersion = baseUnitsVersion
        self.encodedUnitOperations = encodedUnitOperations
        self.showsSceneUnits = showsSceneUnits
    }

    public init(
        content: Content, unitsVersion: UInt64, baseUnitsVersion: UInt64, unitOperations: [JSONPatch.Operation], showsSceneUnits: Bool
    ) {
        var encoded: [UInt8] = []
        JSONPatch(operations: unitOperations).encodeElements(into: &encoded)
        self.init(
            content: content, unitsVersion: unitsVersion, baseUnitsVersion: baseUnitsVersion, encodedUnitOperations: encoded,
            showsSceneUnits: showsSceneUnits)
    }

    /// The same round's unit operations for another document of the wall (a display's view):
    /// shared, not encoded again.
    public func sharing<Other: UnitSharingDocument>(with content: Other, showsSceneUnits: Bool) -> WallRoundDocument<Other> {
        WallRoundDocument<Other>(
            content: content, unitsVersion: unitsVersion, baseUnitsVersion: baseUnitsVersion, encodedUnitOperations: encodedUnitOperations,
            showsSceneUnits: showsSceneUnits)
    }

    /// How this document's units relate to `previous`'s, which decides whose unit operations apply.
    private enum UnitsSince {
        /// Both show the same units: no unit operations.
        case unchanged
        /// Both show their scene's units, and ``encodedUnitOperations`` start from `previous`'s.
        case roundOperations
        /// Anything else: the content diffs its own units.
        case ownDiff
    }

    private func units(since previous: Self) -> UnitsSince {
        guard showsSceneUnits && previous.showsSceneUnits else { return .ownDiff }
        if previous.unitsVersion == unitsVersion { return .unchanged }
        if previous.unitsVersion == baseUnitsVersion { return .roundOperations }
        return .ownDiff
    }

    public func json(seq: UInt64) -> JSONValue { content.json(seq: seq) }

    public func stampOperations(seq: UInt64) -> [JSONPatch.Operation] { content.stampOperations(seq: seq) }

    /// The operations as values: the units diffed again, since only their text is kept (nothing
    /// on a round's path asks for them; ``encodedPatch(since:seq:)`` splices the text).
    public func changes(since previous: Self) -> [JSONPatch.Operation] {
        switch units(since: previous) {
        case .unchanged: content.changes(since: previous.content, unitOperations: [])
        case .roundOperations, .ownDiff: content.changes(since: previous.content)
        }
    }

    /// The other members' operations, then the round's unit operations as encoded once, then the
    /// stamp (the units never share a path with the others, so the order does not matter).
    public func encodedPatch(since previous: Self, seq: UInt64) -> [UInt8]? {
        let sharedUnits: [UInt8]
        switch units(since: previous) {
        case .unchanged: sharedUnits = []
        case .roundOperations: sharedUnits = encodedUnitOperations
        case .ownDiff: return encodedPatch(changes: content.changes(since: previous.content), seq: seq)
        }
        let others = content.changes(since: previous.content, unitOperations: [])
        guard !others.isEmpty || !sharedUnits.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(sharedUnits.count + 64 * others.count + 128)
        bytes.append(UInt8(ascii: "["))
        JSONPatch(operations: others).encodeElements(into: &bytes)
        if !sharedUnits.isEmpty {
            if !others.isEmpty { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: sharedUnits)
        }
        bytes.append(UInt8(ascii: ","))
        JSONPatch(operations: stampOperations(seq: seq)).encodeElements(into: &bytes)
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }
}

/// A document whose patches may carry operations shared with other streams of the same round
/// (a wall's scene and its displays' views all move the same units): a relay sends those once.
public protocol SharingUnitOperations {
    /// Identifies the round's unit operations (equal for every stream of the round).
    var unitsVersion: UInt64 { get }
    /// Where ``WallRoundDocument/encodedUnitOperations`` sit inside `patch`, this document's
    /// patch as version `seq`; nil when they are not there (the patch diffed its own units).
    func sharedUnitOperationsRange(in patch: [UInt8], seq: UInt64) -> Range<Int>?
    var encodedUnitOperations: [UInt8] { get }
}

extension WallRoundDocument: SharingUnitOperations {
    /// The patch ends with the shared operations, a comma, the stamp and `]` when it used them
    /// (see ``encodedPatch(since:seq:)``): checked byte for byte, never searched.
    public func sharedUnitOperationsRange(in patch: [UInt8], seq: UInt64) -> Range<Int>? {
        guard !encodedUnitOperations.isEmpty else { return nil }
        var stamp: [UInt8] = []
        JSONPatch(operations: stampOperations(seq: seq)).encodeElements(into: &stamp)
        let end = patch.count - 2 - stamp.count  // before "," + stamp + "]"
        let start = end - encodedUnitOperations.count
        guard start >= 1, end >= start, patch.last == UInt8(ascii: "]"), patch[end] == UInt8(ascii: ","),
            patch[(end + 1)..<(patch.count - 1)].elementsEqual(stamp),
            patch[start..<end].elementsEqual(encodedUnitOperations)
        else { return nil }
        return start..<end
    }
}

