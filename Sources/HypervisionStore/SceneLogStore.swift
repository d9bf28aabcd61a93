import HypervisionCore
import Logging
import PostgresNIO

/// The scene log in PostGIS: what every wall showed, for after-action review.
public struct SceneLogStore: SceneLogStorage, WallDefinitionStorage {
    public let database: Database
    let logger: Logger

    public init(database: Database) {
        self.database = database
        self.logger = database.logger
    }

    /// Appends entries in one statement. Entries already logged (same wall and seq) are skipped.
    public func append(_ entries: [SceneLogEntry]) async throws {
        guard !entries.isEmpty else { return }
        try await database.query(
            """
            INSERT INTO scene_log (wall_id, seq, base, generated_at, kind, scene)
            SELECT w, s, NULLIF(b, -1), t::timestamptz, k, j::jsonb
            FROM unnest(\(entries.map(\.wall))::text[], \(entries.map(\.seq))::int8[], \(entries.map { $0.base ?? -1 })::int8[],
                        \(entries.map(\.generatedAt.postgresText))::text[], \(entries.map(\.kind.rawValue))::text[],
                        \(entries.map(\.json))::text[]) AS e(w, s, b, t, k, j)
            ON CONFLICT DO NOTHING
            """)
    }

    /// The entries needed to rebuild what `wall` showed at `time`: the last keyframe at or
    /// before it, then the patches after that keyframe up to `time`, in order.
    public func entries(wall: String, at time: Timestamp, maximumPatches: Int = 100_000) async throws -> [SceneLogEntry] {
        let rows = try await database.query(
            """
            WITH key AS (
                SELECT seq FROM scene_log
                WHERE wall_id = \(wall) AND kind = 'scene' AND generated_at <= \(PostgresTime(time))
                ORDER BY seq DESC LIMIT 1
            )
            SELECT scene_log.seq, base, (extract(epoch FROM generated_at) * 1000000)::int8, kind, scene::text
            FROM scene_log, key
            WHERE wall_id = \(wall) AND scene_log.seq >= key.seq AND generated_at <= \(PostgresTime(time))
            ORDER BY scene_log.seq
            LIMIT \(Int64(maximumPatches + 1))
            """)
        var entries: [SceneLogEntry] = []
        for row in rows {
            let (seq, base, micros, kind, json) = try row.decode((Int64, Int64?, Int64, String, String).self)
            entries.append(
                SceneLogEntry(
                    wall: wall, seq: seq, base: base, generatedAt: Timestamp(microseconds: micros),
                    kind: SceneLogEntry.Kind(rawValue: kind) ?? .scene, json: json))
        }
        return entries
    }

    /// Deletes entries older than the cutoff (retention), keeping every wall's newest keyframe.
    @discardableResult
    public func deleteBefore(_ cutoff: Timestamp) async throws -> Int {
        let rows = try await database.query(
            """
            WITH deleted AS (
                DELETE FROM scene_log WHERE generated_at < \(PostgresTime(cutoff))
                  AND (wall_id, seq) NOT IN (SELECT wall_id, max(seq) FROM scene_log WHERE kind = 'scene' GROUP BY wall_id)
                RETURNING 1)
            SELECT count(*) FROM deleted
            """)
        for row in rows {
            let count = try row.decode(Int64.self)
            return Int(count)
        }
        return 0
    }

    /// Stored wall definitions (from `PUT /api/v1/walls/{id}`), as JSON text, by id.
    public func wallDefinitions() async throws -> [(String, String)] {
        let rows = try await database.query("SELECT id, definition::text FROM walls ORDER BY id")
        var walls: [(String, String)] = []
        for row in rows {
            let row = try row.decode((String, String).self)
            walls.append(row)
        }
        return walls
    }

    public func saveWallDefinition(id: String, json: String) async throws {
        try await database.query(
            """
            INSERT INTO walls (id, definition, updated_at) VALUES (\(id), \(json)::jsonb, now())
            ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, updated_at = now()
            """)
    }

    @discardableResult
    public func deleteWallDefinition(id: String) async throws -> Bool {
        let rows = try await database.query("DELETE FROM walls WHERE id = \(id) RETURNING 1")
        for _ in rows { return true }
        return false
    }
}
