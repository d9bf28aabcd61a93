// Where scenes are logged and wall definitions kept: protocols, so that the stream module
// writes the scene log without knowing PostgreSQL.

/// One entry of the scene log: a full scene (a keyframe) or the patch from `base` to `seq`.
public struct SceneLogEntry: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case scene, patch }
    public var wall: String
    public var seq: Int64
    public var base: Int64?
    public var generatedAt: Timestamp
    public var kind: Kind
    /// The scene document, or the RFC 6902 operations array, as JSON text.
    public var json: String

    public init(wall: String, seq: Int64, base: Int64?, generatedAt: Timestamp, kind: Kind, json: String) {
        self.wall = wall
        self.seq = seq
        self.base = base
        self.generatedAt = generatedAt
        self.kind = kind
        self.json = json
    }
}

/// Where the scene log is kept: what every wall showed, for after-action review. PostGIS in the
/// daemon (HypervisionStore's `SceneLogStore`); memory in tests.
public protocol SceneLogStorage: Sendable {
    /// Appends entries; those already logged (same wall and seq) are skipped.
    func append(_ entries: [SceneLogEntry]) async throws
    /// The last keyframe of `wall` at or before `time`, then the patches after it up to `time`,
    /// in order, at most `maximumPatches + 1` entries.
    func entries(wall: String, at time: Timestamp, maximumPatches: Int) async throws -> [SceneLogEntry]
}

/// Where the definitions of API-defined walls are kept, so they survive a restart.
public protocol WallDefinitionStorage: Sendable {
    /// Every stored definition, as JSON text, by id.
    func wallDefinitions() async throws -> [(String, String)]
    func saveWallDefinition(id: String, json: String) async throws
    /// False when there was no such definition.
    func deleteWallDefinition(id: String) async throws -> Bool
}

