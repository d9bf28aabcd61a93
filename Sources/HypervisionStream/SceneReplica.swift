import HypervisionCore

/// A renderer's copy of a scene, kept current by applying ``ServerMessage``s as a renderer must.
///
/// The reference client of the protocol: tests (pure and over real sockets) and the load client
/// use it to check that what the daemon sends reproduces the scene exactly, and it documents in
/// code what a renderer does with each message.
public struct SceneReplica: Sendable, Hashable {
    /// Why a message could not be applied: the stream and the replica disagree.
    public enum Failure: Error, Sendable, Hashable {
        /// A patch arrived for a `base` the replica does not hold (a gap or a reordering).
        case baseMismatch(held: UInt64?, base: UInt64)
        /// The patch does not apply to the held scene.
        case patchFailed(JSONPatchError)
        /// The daemon sent an error; the connection is over.
        case streamError(StreamError)
    }

    /// The sequence number of ``document``; nil before the first scene.
    public private(set) var seq: UInt64?
    /// The scene as the renderer would draw it; nil before the first scene.
    public private(set) var document: JSONValue?

    public init() {}

    /// Applies one message: a scene replaces, a patch must name the held `seq` as its base, a
    /// heartbeat changes nothing, an error is thrown.
    public mutating func apply(_ message: ServerMessage) throws(Failure) {
        switch message {
        case .scene(let seq, let scene):
            self.seq = seq
            self.document = scene
        case .patch(let seq, let base, let patch):
            guard let document, self.seq == base else { throw .baseMismatch(held: self.seq, base: base) }
            do {
                self.document = try patch.applied(to: document)
            } catch {
                throw .patchFailed(error)
            }
            self.seq = seq
        case .heartbeat:
            break
        case .error(let error):
            throw .streamError(error)
        }
    }
}
