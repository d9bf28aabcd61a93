import HypervisionCore
import HypervisionLayout

/// Where a wall's definition came from.
public enum WallOrigin: Sendable, Hashable {
    /// A file of the walls directory: changed by editing the file and reloading, never through the API.
    case file(path: String)
    /// `PUT /api/v1/walls/{id}`, kept in PostGIS.
    case api
}

/// Why a wall operation was refused.
public enum WallServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownWall(String)
    /// The wall comes from a file in the walls directory; change the file instead.
    case definedByFile(String, path: String)
    case invalid(WallDefinitionError)

    public var description: String {
        switch self {
        case .unknownWall(let id): return "no wall \(id)"
        case .definedByFile(let id, let path): return "wall \(id) is defined by \(path); edit that file and reload"
        case .invalid(let error): return "invalid wall definition: \(error)"
        }
    }
}

/// The walls that exist: each one's definition as given, its compiled layout and its origin.
///
/// A pure value holding the rules of definitions: a wall from a file cannot be replaced or
/// removed through the API; a reload of the walls directory replaces every file-defined wall and
/// drops those whose file is gone, keeping the previous definition of a file that is refused.
/// Every definition gets a new ``Entry/generation``, so that the round loop knows to start that
/// wall afresh; ``removedSinceTaken`` tells it which walls went away since its last round.
public struct WallRegistry: Sendable {
    /// One defined wall.
    public struct Entry: Sendable, Hashable {
        public var layout: WallLayout
        /// The definition as given (what `GET /api/v1/walls/{id}` returns).
        public var definition: JSONValue
        public var origin: WallOrigin
        /// Unique across every definition of every wall; a redefinition gets a new one.
        public var generation: UInt64
    }

    public private(set) var entries: [String: Entry] = [:]
    /// Walls removed (by the API or a reload) since the round loop last took the registry.
    public private(set) var removedSinceTaken: Set<String> = []
    private var lastGeneration: UInt64 = 0

    public init() {}

    public var ids: [String] { entries.keys.sorted() }

    public subscript(id: String) -> Entry? { entries[id] }

    /// Adds or replaces a wall. An API definition may not replace a file-defined wall.
    @discardableResult
    public mutating func define(json: JSONValue, origin: WallOrigin) throws(WallServiceError) -> WallLayout {
        let layout: WallLayout
        do {
            layout = try WallDefinition.compile(json: json)
        } catch {
            throw .invalid(error)
        }
        let id = layout.definition.id
        if origin == .api { try checkChangeable(id: id) }
        lastGeneration += 1
        entries[id] = Entry(layout: layout, definition: json, origin: origin, generation: lastGeneration)
        return layout
    }

    /// Throws when `id` is defined by a file (the API may neither replace nor remove it).
    public func checkChangeable(id: String) throws(WallServiceError) {
        if case .file(let path)? = entries[id]?.origin { throw .definedByFile(id, path: path) }
    }

    /// Removes an API-defined wall.
    public mutating func remove(id: String) throws(WallServiceError) {
        guard entries[id] != nil else { throw .unknownWall(id) }
        try checkChangeable(id: id)
        entries[id] = nil
        removedSinceTaken.insert(id)
    }

    /// Replaces every file-defined wall with `definitions` (path → JSON), as a reload does.
    /// Returns the files refused; a refused file keeps its wall's previous definition.
    public mutating func loadFiles(_ definitions: [(path: String, json: JSONValue)]) -> [(path: String, error: WallServiceError)] {
        var problems: [(String, WallServiceError)] = []
        var loaded: Set<String> = []
        for (path, json) in definitions {
            do {
                let layout = try define(json: json, origin: .file(path: path))
                loaded.insert(layout.definition.id)
            } catch {
                problems.append((path, error))
                if let id = json["id"]?.stringValue { loaded.insert(id) }
            }
        }
        for (id, entry) in entries {
            guard case .file = entry.origin, !loaded.contains(id) else { continue }
            entries[id] = nil
            removedSinceTaken.insert(id)
        }
        return problems
    }

    /// The walls removed since the last call (the round loop takes them once).
    public mutating func takeRemovals() -> Set<String> {
        defer { removedSinceTaken = [] }
        return removedSinceTaken
    }
}
