import HypervisionCore

/// A version of a stream laid out by another daemon and relayed here, with the owner's sequence
/// number: its patch from the version before, exactly as the owner published it, so this
/// daemon's subscribers get the very same lines as the owner's.
///
/// The document itself is made only when someone needs it (a new subscriber, a renderer that
/// fell behind, `GET …/scene`): a relayed version holds its patch and the version before, and
/// making it applies the patches since the last version made, in place, one copy in all. A relay
/// that applied every patch as it came would copy the scene for each (several times a second for
/// each display of each wall). ``depth`` counts the patches held, so that the relay makes a
/// version now and then and the chain stays short.
public struct RelayedDocument: StreamDocument {
    enum Content: Sendable {
        case whole(JSONValue)
        case patched(base: PublishedDocument, operations: [UInt8])
    }

    let content: Content
    /// The owner's sequence number of the version before, and the encoded operations from it.
    public let base: UInt64?
    public let encodedOperations: [UInt8]?
    /// Patches to apply to make the document (0: it is whole).
    public let depth: Int

    /// A whole document (a keyframe).
    public init(document: JSONValue) {
        content = .whole(document)
        base = nil
        encodedOperations = nil
        depth = 0
    }

    /// The version after `previous` (version `base`), by the owner's `operations`.
    public init(patching previous: PublishedDocument, base: UInt64, operations: [UInt8]) {
        content = .patched(base: previous, operations: operations)
        self.base = base
        encodedOperations = operations
        let before = previous.cachedJSON == nil ? (previous.document as? RelayedDocument)?.depth ?? 0 : 0
        depth = before + 1
    }

    public func json(seq: UInt64) -> JSONValue { document }

    /// The document, made from the last version made and the patches since, in place.
    public var document: JSONValue {
        var patches: [[UInt8]] = []
        var cursor = self
        var start: JSONValue
        while true {
            switch cursor.content {
            case .whole(let whole):
                start = whole
            case .patched(let previous, let operations):
                patches.append(operations)
                if let made = previous.cachedJSON {
                    start = made
                } else if let relayed = previous.document as? RelayedDocument {
                    cursor = relayed
                    continue
                } else {
                    start = previous.json
                }
            }
            break
        }
        // The owner's patches were checked as they came; one that does not apply leaves the
        // document as far as it went (the relay asks for a keyframe when a patch is malformed).
        for operations in patches.reversed() {
            do { try JSONPatch.apply(encoded: operations, to: &start) } catch { break }
        }
        return start
    }

    public func changes(since previous: RelayedDocument) -> [JSONPatch.Operation] {
        JSONPatch.diff(from: previous.document, to: document).operations
    }

    /// The owner's document already carries its sequence number.
    public func stampOperations(seq: UInt64) -> [JSONPatch.Operation] { [] }

    public func encodedPatch(since previous: RelayedDocument, seq: UInt64) -> [UInt8]? {
        if let encodedOperations, let base, base + 1 == seq { return encodedOperations }
        let operations = changes(since: previous)
        return operations.isEmpty ? nil : JSONPatch(operations: operations).encodedBytes
    }
}
