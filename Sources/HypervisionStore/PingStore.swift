import HypervisionCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Writes batches of pings to PostGIS and answers the stored-ping questions.
///
/// One batch is one transaction, and nothing of it is visible unless all of it committed.
/// The common batch holds no repeats, so it is `COPY`ed straight into `pings` (the speed of
/// COPY itself); the latest position of each unit then moves `unit_positions` forwards only (a
/// late ping never moves a unit back). If the COPY meets a repeated ping (unique violation), the
/// batch is rolled back and written the careful way: COPY into a session-local staging table,
/// then `INSERT … ON CONFLICT DO NOTHING RETURNING` to learn which pings were new. After such a
/// batch the careful way is kept for a while, since repeats come in bursts (a gateway resending).
public final class PingStore: Sendable {
    public let database: Database
    private let logger: Logger
    /// Day partitions and units already known to exist, so the common batch needs no DDL.
    private let known = Mutex(Known())

    private struct Known {
        var days: Set<Int64> = []
        var units: Set<UnitID> = []
        /// Batches left to write the careful way after one met repeated pings.
        var carefulBatches = 0
    }

    /// How many batches stay on the careful path after a repeat was seen.
    static let carefulBurst = 20

    public init(database: Database) {
        self.database = database
        self.logger = database.logger
    }

    /// Inserts a batch in one transaction and returns the keys that were new (the others were
    /// already stored: duplicates). The whole of it — waiting for a connection, partitions, the
    /// transaction, one retry after a deadlock — is bounded by `deadline` (the database's
    /// default when nil): past it the connection is closed and ``DatabaseTimeout`` thrown.
    public func insert(_ pings: [Ping], deadline: Duration? = nil) async throws -> Set<Ping.Key> {
        guard !pings.isEmpty else { return [] }
        return try await database.withConnection(deadline: deadline) { connection in
            do {
                return try await self.insert(pings, on: connection)
            } catch where DatabaseErrors.isTransient(error) {
                // Two batches repeating the same pings can deadlock; the loser retries once.
                return try await self.insert(pings, on: connection)
            }
        }
    }

    private func insert(_ pings: [Ping], on connection: PostgresConnection) async throws -> Set<Ping.Key> {
        try await ensurePartitions(for: pings, on: connection)
        var keys = Set<Ping.Key>(minimumCapacity: pings.count)
        var unique: [Ping] = []
        unique.reserveCapacity(pings.count)
        for ping in pings where keys.insert(ping.key).inserted { unique.append(ping) }
        let careful = known.withLock { known -> Bool in
            guard known.carefulBatches > 0 else { return false }
            known.carefulBatches -= 1
            return true
        }
        if !careful {
            do {
                try await copyDirectly(unique, on: connection)
                return keys
            } catch where DatabaseErrors.sqlState(error) == "23505" {
                known.withLock { $0.carefulBatches = Self.carefulBurst }
            }
        }
        return try await insertCarefully(unique, on: connection)
    }

    /// The fast path: COPY straight into `pings`; fails with a unique violation on any repeat.
    private func copyDirectly(_ pings: [Ping], on connection: PostgresConnection) async throws {
        let newUnits = unitsToRegister(pings)
        var rows = CopyBinaryWriter(capacity: pings.count * Self.historyRowBytes)
        var latest: [UnitID: Ping] = [:]
        latest.reserveCapacity(pings.count)
        for ping in pings {
            rows.historyRow(ping)
            if let current = latest[ping.unit], current.time >= ping.time { continue }
            latest[ping.unit] = ping
        }
        // Sorted by unit: concurrent batches lock unit_positions rows in one order.
        var latestRows = CopyBinaryWriter(capacity: latest.count * Self.historyRowBytes)
        for ping in latest.values.sorted(by: { $0.unit < $1.unit }) {
            latestRows.latestRow(ping)
        }
        let data = rows.finish(), latestData = latestRows.finish()
        let logger = self.logger
        try await connection.transaction(logger: logger) { connection in
            if !newUnits.isEmpty {
                try await connection.checkedQuery(
                    "INSERT INTO units (id) SELECT unnest(\(newUnits)::text[]) ON CONFLICT DO NOTHING", logger: logger)
            }
            try await connection.checkedCopy(into: "pings", columns: Self.historyColumns, logger: logger, rows: data)
            try await connection.checkedQuery(
                """
                CREATE TEMP TABLE IF NOT EXISTS latest_staging (
                    unit_id text, time timestamptz, position geography(Point, 4326), altitude real, speed real,
                    heading real, accuracy real, status text, battery smallint, received_at timestamptz
                ) ON COMMIT DELETE ROWS
                """, logger: logger)
            try await connection.checkedCopy(into: "latest_staging", columns: Self.pingColumns, logger: logger, rows: latestData)
            try await connection.checkedQuery(
                """
                INSERT INTO unit_positions AS up
                    (unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at)
                SELECT unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at
                FROM latest_staging ORDER BY unit_id
                ON CONFLICT (unit_id) DO UPDATE SET
                    time = EXCLUDED.time, position = EXCLUDED.position, altitude = EXCLUDED.altitude,
                    speed = EXCLUDED.speed, heading = EXCLUDED.heading, accuracy = EXCLUDED.accuracy,
                    status = EXCLUDED.status, battery = EXCLUDED.battery, received_at = EXCLUDED.received_at
                WHERE up.time < EXCLUDED.time
                """, logger: logger)
        }
        rememberUnits(newUnits)
    }

    /// A history row in binary COPY form is about 110 bytes; room for a little more.
    static let historyRowBytes = 128

    /// The columns of `unit_positions` (and of the latest-position staging table).
    public static let pingColumns = [
        "unit_id", "time", "position", "altitude", "speed", "heading", "accuracy", "status", "battery", "received_at",
    ]

    /// The columns of `pings` that the writer fills: those of `unit_positions` and the
    /// position's ``HistoryCell``.
    public static let historyColumns = pingColumns + ["cell"]

    private func unitsToRegister(_ pings: [Ping]) -> [String] {
        known.withLock { known in
            // Sorted: concurrent batches then lock new unit rows in one order and cannot deadlock.
            Set(pings.lazy.map(\.unit)).subtracting(known.units).map(\.rawValue).sorted()
        }
    }

    /// Units remembered at most: a stream of made-up ids must not grow the set for ever. Past
    /// it the set starts afresh; a unit forgotten costs one `INSERT … ON CONFLICT DO NOTHING`
    /// in its next batch.
    static let maximumKnownUnits = 200_000

    private func rememberUnits(_ units: [String]) {
        guard !units.isEmpty else { return }
        known.withLock { known in
            if known.units.count + units.count > Self.maximumKnownUnits { known.units.removeAll(keepingCapacity: true) }
            for unit in units { known.units.insert(UnitID(trusted: unit)) }
        }
    }


    /// The careful path: staging table, then insert skipping repeats, learning which were new.
    private func insertCarefully(_ pings: [Ping], on connection: PostgresConnection) async throws -> Set<Ping.Key> {
        let newUnits = unitsToRegister(pings)
        var writer = CopyBinaryWriter(capacity: pings.count * Self.historyRowBytes)
        for ping in pings {
            writer.historyRow(ping)
        }
        let data = writer.finish()
        let logger = self.logger
        let inserted: Set<Ping.Key> = try await connection.transaction(logger: logger) { connection in
            try await connection.checkedQuery(
                """
                CREATE TEMP TABLE IF NOT EXISTS ping_staging (
                    unit_id text, time timestamptz, position geography(Point, 4326), altitude real, speed real,
                    heading real, accuracy real, status text, battery smallint, received_at timestamptz, cell bigint
                ) ON COMMIT DELETE ROWS
                """, logger: logger)
            if !newUnits.isEmpty {
                try await connection.checkedQuery(
                    "INSERT INTO units (id) SELECT unnest(\(newUnits)::text[]) ON CONFLICT DO NOTHING", logger: logger)
            }
            try await connection.checkedCopy(into: "ping_staging", columns: Self.historyColumns, logger: logger, rows: data)
            let rows = try await connection.checkedQuery(
                """
                WITH inserted AS (
                    INSERT INTO pings (unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at, cell)
                    SELECT unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at, cell
                    FROM ping_staging
                    ORDER BY unit_id, time  -- one lock order for concurrent batches; index-friendly
                    ON CONFLICT DO NOTHING
                    RETURNING unit_id, time
                ), latest AS (
                    INSERT INTO unit_positions AS up
                        (unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at)
                    SELECT DISTINCT ON (unit_id) unit_id, time, position,
                           altitude, speed, heading, accuracy, status, battery, received_at
                    FROM ping_staging
                    ORDER BY unit_id, time DESC
                    ON CONFLICT (unit_id) DO UPDATE SET
                        time = EXCLUDED.time, position = EXCLUDED.position, altitude = EXCLUDED.altitude,
                        speed = EXCLUDED.speed, heading = EXCLUDED.heading, accuracy = EXCLUDED.accuracy,
                        status = EXCLUDED.status, battery = EXCLUDED.battery, received_at = EXCLUDED.received_at
                    WHERE up.time < EXCLUDED.time
                    RETURNING 1
                )
                SELECT unit_id, (extract(epoch FROM time) * 1000000)::int8 FROM inserted
                """, logger: logger)
            var keys = Set<Ping.Key>(minimumCapacity: pings.count)
            for try await (unit, micros) in rows.decode((String, Int64).self) {
                keys.insert(Ping.Key(unit: UnitID(trusted: unit), time: Timestamp(microseconds: micros)))
            }
            return keys
        }
        rememberUnits(newUnits)
        return inserted
    }

    /// Creates the day partitions a batch needs. Cached, so it costs nothing once a day exists.
    private func ensurePartitions(for pings: [Ping], on connection: PostgresConnection) async throws {
        let missing = known.withLock { known in
            Set(pings.lazy.map(\.time.epochDay)).subtracting(known.days)
        }
        for day in missing.sorted() {
            try await ensurePartition(epochDay: day, on: connection)
        }
    }

    /// Creates the partition for one UTC day if needed.
    private func ensurePartition(epochDay: Int64, on connection: PostgresConnection) async throws {
        let date = CivilDate(epochDay: epochDay).isoString
        try await connection.checkedQuery("SELECT hypervision_ensure_ping_partition(\(date)::date)", logger: logger)
        _ = known.withLock { $0.days.insert(epochDay) }
    }

    /// Creates partitions from `daysBehind` days ago to `daysAhead` days ahead of `today`.
    public func ensurePartitions(around today: Int64, daysBehind: Int64 = 1, daysAhead: Int64) async throws {
        try await database.withConnection { connection in
            for day in (today - daysBehind)...(today + daysAhead) {
                try await self.ensurePartition(epochDay: day, on: connection)
            }
        }
    }

    /// Drops day partitions older than `retentionDays` before `today`, returning their names.
    @discardableResult
    public func dropPartitions(olderThan retentionDays: Int64, today: Int64) async throws -> [String] {
        let cutoffDay = today - retentionDays
        let cutoff = CivilDate(epochDay: cutoffDay).isoString
        let rows = try await database.query("SELECT hypervision_drop_ping_partitions_before(\(cutoff)::date)")
        let dropped = try rows.map { try $0.decode(String.self) }
        known.withLock { known in known.days = known.days.filter { $0 >= cutoffDay } }
        return dropped
    }

    /// Forgets cached partitions (after partitions were dropped or the database replaced).
    public func forgetCaches() {
        known.withLock { $0 = Known() }
    }
}
