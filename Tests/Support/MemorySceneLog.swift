import HypervisionCore
import Synchronization

/// A scene log and wall definitions kept in memory, which can be told to fail.
public final class MemorySceneLog: SceneLogStorage, WallDefinitionStorage {
    public init() {}

    private let state = Mutex<(entries: [SceneLogEntry], definitions: [String: String], failing: Bool)>(([], [:], false))

    public var entries: [SceneLogEntry] { state.withLock { $0.entries } }
    public var failing: Bool {
        get { state.withLock { $0.failing } }
        set { state.withLock { $0.failing = newValue } }
    }

    public struct Refused: Error {}

    public func append(_ entries: [SceneLogEntry]) async throws {
        try state.withLock { state in
            if state.failing { throw Refused() }
            state.entries += entries
        }
    }

    public func entries(wall: String, at time: Timestamp, maximumPatches: Int) async throws -> [SceneLogEntry] {
        let all = state.withLock { $0.entries }.filter { $0.wall == wall && $0.generatedAt <= time }
        guard let key = all.lastIndex(where: { $0.kind == .scene }) else { return [] }
        return Array(all[key...])
    }

    public func wallDefinitions() async throws -> [(String, String)] { state.withLock { $0.definitions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } } }
    public func saveWallDefinition(id: String, json: String) async throws { state.withLock { $0.definitions[id] = json } }
    public func deleteWallDefinition(id: String) async throws -> Bool { state.withLock { $0.definitions.removeValue(forKey: id) != nil } }
}
