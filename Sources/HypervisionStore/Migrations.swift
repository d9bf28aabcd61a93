import Logging
import PostgresNIO

/// One versioned schema change, shipped inside the binary from `Schemas/migrations/`.
public struct Migration: Sendable, Hashable {
    public var version: Int
    public var name: String
    public var sql: String
    /// Whether it copies every stored ping: its time grows with the history, and the migration's
    /// deadline with it (see ``Migrator/migrate(_:deadline:)``).
    public var rewritesHistory: Bool

    public init(version: Int, name: String, sql: String, rewritesHistory: Bool = false) {
        self.version = version
        self.name = name
        self.sql = sql
        self.rewritesHistory = rewritesHistory
    }

    /// Every migration this binary knows, in order. A file added to `Schemas/migrations/` must be
    /// listed here too (a test compares the two).
    public static let all: [Migration] = [
        Migration(version: 1, name: "0001_initial.sql", sql: String(decoding: PackageResources._001_initial_sql, as: UTF8.self)),
        Migration(
            version: 2, name: "0002_incidents_and_camera_events.sql",
            sql: String(decoding: PackageResources._002_incidents_and_camera_events_sql, as: UTF8.self)),
        Migration(
            version: 3, name: "0003_scene_log_patches.sql",
            sql: String(decoding: PackageResources._003_scene_log_patches_sql, as: UTF8.self)),
        Migration(
            version: 4, name: "0004_change_notifications.sql",
            sql: String(decoding: PackageResources._004_change_notifications_sql, as: UTF8.self)),
        Migration(
            version: 5, name: "0005_history_without_per_row_gist.sql",
            sql: String(decoding: PackageResources._005_history_without_per_row_gist_sql, as: UTF8.self)),
        Migration(
            version: 6, name: "0006_latest_positions_from_history.sql",
            sql: String(decoding: PackageResources._006_latest_positions_from_history_sql, as: UTF8.self)),
        Migration(
            version: 7, name: "0007_history_keyed_by_unit_number.sql",
            sql: String(decoding: PackageResources._007_history_keyed_by_unit_number_sql, as: UTF8.self), rewritesHistory: true),
    ]

    /// A stable checksum (FNV-1a, 64 bit) so an edited, already-applied migration is noticed.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// Why the schema could not be brought up to date.
public enum MigrationError: Error, Sendable, CustomStringConvertible {
    /// The database was migrated by a newer hypervisiond; running an older binary against it
    /// could silently misread data, so it is refused.
    case databaseNewerThanBinary(databaseVersion: Int, binaryVersion: Int)
    /// A migration's SQL failed; nothing of this start-up's migrations was committed.
    case migrationFailed(version: Int, name: String, reason: String)

    public var description: String {
        switch self {
        case .databaseNewerThanBinary(let database, let binary):
            return "the database schema is at version \(database) but this hypervisiond knows versions up to \(binary): "
                + "upgrade hypervisiond, or point it at another database"
        case .migrationFailed(let version, let name, let reason):
            return "migration \(version) (\(name)) failed: \(reason)"
        }
    }
}

/// Applies pending migrations in one transaction, under an advisory lock so two daemons
/// starting against one database cannot race, and records each in `hypervision_schema`.
public struct Migrator: Sendable {
    public var migrations: [Migration]
    public var logger: Logger

    public init(migrations: [Migration] = Migration.all, logger: Logger) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// The result of a migration run.
    public struct Outcome: Sendable, Hashable {
        /// Versions applied by this run (empty when the schema was already current).
        public var applied: [Int]
        /// The schema version after the run.
        public var version: Int
    }

    /// Brings the schema up to date, within `deadline` (a migration may rewrite large tables, so
    /// the statement time limit of ordinary work does not apply). Re-running it is a no-op.
    ///
    /// When a migration that copies the stored history is known to this binary, the deadline
    /// grows by the time that copy may take at ``historyRowsPerSecond``, estimated from the size
    /// of the history on disk: a deadline that cut a long copy short would have it retried, and
    /// cut short again, for ever.
    @discardableResult
    public func migrate(_ database: Database, deadline: Duration = .seconds(600)) async throws -> Outcome {
        let migrations = self.migrations
        let logger = self.logger
        do {
            let historyRows = migrations.contains(where: \.rewritesHistory) ? try await Self.estimatedHistoryRows(database) : 0
            let allowed = deadline + .seconds(historyRows / Self.historyRowsPerSecond)
            return try await database.withTransaction(deadline: allowed) { connection in
                try await Self.migrate(on: connection, migrations: migrations, historyRows: historyRows, allowed: allowed, logger: logger)
            }
        } catch {
            throw DatabaseErrors.unwrap(error)
        }
    }

    /// A rate of copying stored pings that the migrations' deadline allows for: well under what
    /// the project's machine reaches, since a production history is colder (not in memory).
    public static let historyRowsPerSecond: Int64 = 10_000

    /// About how many pings the history holds: its size on disk (without indexes) at 100 bytes
    /// a row, slightly fewer bytes than a row takes, so the figure errs high. The catalog's row
    /// estimates are not used: a table never analysed has none.
    public static func estimatedHistoryRows(_ database: Database) async throws -> Int64 {
        let rows = try await database.query(
            """
            SELECT coalesce(sum(pg_relation_size(i.inhrelid)), 0)::int8 / 100
            FROM pg_inherits i WHERE i.inhparent = to_regclass('pings')
            """)
        return try rows.first?.decode(Int64.self) ?? 0
    }

    /// `historyRows` estimates the history, and `allowed` is the deadline given to the whole run
    /// (both for the log of a migration that copies the history).
    private static func migrate(
        on connection: PostgresConnection, migrations: [Migration], historyRows: Int64, allowed: Duration, logger: Logger
    ) async throws -> Outcome {
        try await connection.checkedQuery("SET LOCAL statement_timeout = 0", logger: logger)
        try await connection.checkedQuery("SELECT pg_advisory_xact_lock(7400740074)", logger: logger)
        try await connection.checkedQuery(
            """
            CREATE TABLE IF NOT EXISTS hypervision_schema (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var applied: [Int: String] = [:]
        let rows = try await connection.checkedQuery("SELECT version, checksum FROM hypervision_schema", logger: logger)
        for try await (version, checksum) in rows.decode((Int, String).self) {
            applied[version] = checksum
        }
        let known = migrations.last?.version ?? 0
        if let newest = applied.keys.max(), newest > known {
            throw MigrationError.databaseNewerThanBinary(databaseVersion: newest, binaryVersion: known)
        }
        var done: [Int] = []
        for migration in migrations {
            if let checksum = applied[migration.version] {
                if checksum != migration.checksum {
                    logger.warning(
                        "applied migration differs from the one in this binary; published migrations must not be edited",
                        metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                }
                continue
            }
            if migration.rewritesHistory && historyRows > 0 {
                logger.notice(
                    "migration copies the stored history; history questions wait for it, pings are spooled meanwhile",
                    metadata: [
                        "version": "\(migration.version)", "name": "\(migration.name)", "estimated_pings": "\(historyRows)",
                        "allowed_minutes": "\(allowed.components.seconds / 60)",
                    ])
            }
            do {
                for statement in SQLScript.statements(migration.sql) {
                    try await connection.checkedQuery(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            } catch let error as PSQLError where !DatabaseErrors.isConnectivity(error) {
                // A server that went away (or a standby) is retried; a statement it refuses is not.
                let reason = error.serverInfo?[.message] ?? String(reflecting: error)
                throw MigrationError.migrationFailed(version: migration.version, name: migration.name, reason: reason)
            }
            try await connection.checkedQuery(
                "INSERT INTO hypervision_schema (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                logger: logger)
            logger.notice("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            done.append(migration.version)
        }
        return Outcome(applied: done, version: max(known, applied.keys.max() ?? 0))
    }
}
