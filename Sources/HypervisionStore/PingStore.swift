import HypervisionCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Writes batches of pings to PostGIS and answers the stored-ping questions.
///
/// One batch is one transaction: `COPY` into a session-local staging table, then a single
/// statement that inserts into `pings` (skipping repeats of the same unit and time) and moves
/// `unit_positions` forwards only (a late ping never moves a unit back). Nothing of a batch is
/// visible unless all of it committed.
public final class PingStore: Sendable {
    public let client: PostgresClient
    private let logger: Logger
    /// Day partitions and units already known to exist, so the common batch needs no DDL.
    private let known = Mutex(Known())

    private struct Known {
        var days: Set<Int64> = []
        var units: Set<UnitID> = []
    }

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Columns of the staging table, in COPY order.
    static let stagingColumns = [
        "unit_id", "time", "lon", "lat", "altitude", "speed", "heading", "accuracy", "status", "battery", "received_at",
    ]

    /// Inserts a batch in one transaction and returns the keys that were new (the others were
    /// already stored: duplicates).
    public func insert(_ pings: [Ping]) async throws -> Set<Ping.Key> {
        guard !pings.isEmpty else { return [] }
        try await ensurePartitions(for: pings)
        let newUnits = known.withLock { known in
            Array(Set(pings.lazy.map(\.unit)).subtracting(known.units)).map(\.rawValue)
        }
        var writer = CopyTextWriter(capacity: pings.count * 96)
        for ping in pings {
            writer.raw(ping.unit.rawValue)
            writer.raw(ping.time.postgresText)
            writer.double(ping.position.longitude)
            writer.double(ping.position.latitude)
            writer.double(ping.altitude)
            writer.double(ping.speed)
            writer.double(ping.heading)
            writer.double(ping.accuracy)
            writer.text(ping.status?.rawValue)
            writer.integer(ping.battery)
            writer.raw(ping.receivedAt.postgresText)
            writer.endRow()
        }
        let data = writer.buffer
        let logger = self.logger
        let inserted: Set<Ping.Key> = try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                CREATE TEMP TABLE IF NOT EXISTS ping_staging (
                    unit_id text, time timestamptz, lon float8, lat float8, altitude real, speed real,
                    heading real, accuracy real, status text, battery smallint, received_at timestamptz
                ) ON COMMIT DELETE ROWS
                """, logger: logger)
            if !newUnits.isEmpty {
                try await connection.query(
                    "INSERT INTO units (id) SELECT unnest(\(newUnits)::text[]) ON CONFLICT DO NOTHING", logger: logger)
            }
            try await connection.copyFrom(table: "ping_staging", columns: Self.stagingColumns, logger: logger) { copy in
                try await copy.write(data)
            }
            let rows = try await connection.query(
                """
                WITH inserted AS (
                    INSERT INTO pings (unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at)
                    SELECT unit_id, time, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography,
                           altitude, speed, heading, accuracy, status, battery, received_at
                    FROM ping_staging
                    ON CONFLICT DO NOTHING
                    RETURNING unit_id, time
                ), latest AS (
                    INSERT INTO unit_positions AS up
                        (unit_id, time, position, altitude, speed, heading, accuracy, status, battery, received_at)
                    SELECT DISTINCT ON (unit_id) unit_id, time, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography,
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
        if !newUnits.isEmpty {
            known.withLock { known in
                for unit in newUnits { known.units.insert(UnitID(trusted: unit)) }
            }
        }
        return inserted
    }

    /// Creates the day partitions a batch needs. Cached, so it costs nothing once a day exists.
    func ensurePartitions(for pings: [Ping]) async throws {
        let missing = known.withLock { known in
            Set(pings.lazy.map(\.time.epochDay)).subtracting(known.days)
        }
        for day in missing.sorted() {
            try await ensurePartition(epochDay: day)
        }
    }

    /// Creates the partition for one UTC day if needed.
    public func ensurePartition(epochDay: Int64) async throws {
        let date = CivilDate(epochDay: epochDay).isoString
        try await client.query("SELECT hypervision_ensure_ping_partition(\(date)::date)", logger: logger)
        _ = known.withLock { $0.days.insert(epochDay) }
    }

    /// Creates partitions from `daysBehind` days ago to `daysAhead` days ahead of `today`.
    public func ensurePartitions(around today: Int64, daysBehind: Int64 = 1, daysAhead: Int64) async throws {
        for day in (today - daysBehind)...(today + daysAhead) {
            try await ensurePartition(epochDay: day)
        }
    }

    /// Drops day partitions older than `retentionDays` before `today`, returning their names.
    @discardableResult
    public func dropPartitions(olderThan retentionDays: Int64, today: Int64) async throws -> [String] {
        let cutoffDay = today - retentionDays
        let cutoff = CivilDate(epochDay: cutoffDay).isoString
        let rows = try await client.query(
            "SELECT hypervision_drop_ping_partitions_before(\(cutoff)::date)", logger: logger)
        var dropped: [String] = []
        for try await name in rows.decode(String.self) { dropped.append(name) }
        known.withLock { known in known.days = known.days.filter { $0 >= cutoffDay } }
        return dropped
    }

    /// Forgets cached partitions (after partitions were dropped or the database replaced).
    public func forgetCaches() {
        known.withLock { $0 = Known() }
    }
}
