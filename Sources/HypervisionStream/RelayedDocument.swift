import HypervisionCore

/// A version of a stream laid out by another daemon and relayed here: the document as that
/// daemon published it (its sequence number written in), and the patch it published from the
/// version before, so this daemon's subscribers get the very same lines as the owner's.
public struct RelayedDocument: StreamDocument {
    public let document: JSONValue
    /// The owner's sequence number of the version before, and the encoded operations from it.
    public let base: UInt64?
    public let encodedOperations: [UInt8]?

    public init(document: JSONValue, base: UInt64? = nil, encodedOperations: [UInt8]? = nil) {
        self.document = document
        self.base = base
        self.encodedOperations = encodedOperations
    }

    public func json(seq: UInt64) -> JSONValue { document }

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
