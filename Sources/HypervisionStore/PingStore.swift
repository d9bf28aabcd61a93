import HypervisionCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Writes batches of pings to PostGIS and answers the stored-ping questions.
///
/// One batch is one transaction, and nothing of it is visible unless all of it committed.
/// The common batch holds no repeats, so it is `COPY`ed straight into `pings` (the speed of
/// COPY itself). If the COPY meets a repeated ping (unique violation), the batch is rolled back
/// and written the careful way: COPY into a session-local staging table, then
/// `INSERT … ON CONFLICT DO NOTHING RETURNING` to learn which pings were new. After such a batch
/// the careful way is kept for a while, since repeats come in bursts (a gateway resending).
///
/// The history names a unit by its number, `units.key` (schema version 7): before the first
/// batch with a unit it has not seen, the store records the unit and reads its number, and
/// remembers it.
///
/// No latest-position row is written per ping: the latest position of a unit is the newest entry
/// of its history (see ``HistoryStore/latestPositions(heardSince:limit:)``). The batch only moves
/// `units.heard_on`, the last UTC day a ping of the unit was received, forwards, once per unit and
/// day (the store remembers the days it has written), so that start-up knows which units to look at.
public final class PingStore: Sendable {
    public let database: Database
    private let logger: Logger
    /// Day partitions and units already known to exist, so the common batch needs no DDL.
    private let known = Mutex(Known())

    private struct Known {
        var days: Set<Int64> = []
        /// Units known to exist, with their number and the latest day recorded as their `heard_on`.
        var units: [UnitID: KnownUnit] = [:]
        /// Batches left to write the careful way after one met repeated pings.
        var carefulBatches = 0
    }

    /// A unit as the store knows it.
    private struct KnownUnit {
        /// `units.key`, the unit's number in the history.
        var key: Int64
        /// The latest day (UTC, of `received_at`) recorded as its `heard_on`; `Int64.min` when
        /// none was recorded by this store yet.
        var heardOn: Int64 = .min
    }

    /// How many batches stay on the careful path after a repeat was seen.
    static let carefulBurst = 20

    public init(database: Database) {
        self.database = database
        self.logger = database.logger
    }

    /// Inserts a batch in one transaction and says which of its pings it stored (the others were
    /// already stored, or repeat an earlier ping of the batch: duplicates). The whole of it —
    /// waiting for a connection, partitions, the transaction, one retry after a deadlock — is
    /// bounded by `deadline` (the database's default when nil): past it the connection is closed
    /// and ``DatabaseTimeout`` thrown.
    public func insert(_ pings: [Ping], deadline: Duration? = nil) async throws -> StoredPings {
        guard !pings.isEmpty else { return StoredPings(isNew: []) }
        return try await database.withConnection(deadline: deadline) { connection in
            do {
                return try await self.insert(pings, on: connection)
            } catch where DatabaseErrors.isTransient(error) {
                // Two batches repeating the same pings can deadlock; the loser retries once.
                return try await self.insert(pings, on: connection)
            }
        }
    }

    private func insert(_ pings: [Ping], on connection: PostgresConnection) async throws -> StoredPings {
        try await ensurePartitions(for: pings, on: connection)
        let careful = known.withLock { known -> Bool in
            guard known.carefulBatches > 0 else { return false }
            known.carefulBatches -= 1
            return true
        }
        let (unitKeys, heard) = try await unitKeys(of: pings, on: connection)
        // Every ping is encoded, once: a batch the fast path refuses goes the careful way with the
        // same rows. Repeats within the batch are not looked for here: the fast path refuses them
        // too (the primary key), and the careful path stores the first of them.
        var writer = CopyBinaryWriter(capacity: pings.count * Self.historyRowBytes)
        for (ping, key) in zip(pings, unitKeys) {
            writer.historyRow(ping, unitKey: key)
        }
        let rows = writer.finish()
        if !careful {
            do {
                try await copyDirectly(rows, heard: heard, on: connection)
                return StoredPings(isNew: Array(repeating: true, count: pings.count))
            } catch where DatabaseErrors.sqlState(error) == "23505" {
                known.withLock { $0.carefulBatches = Self.carefulBurst }
            }
        }
        // The keys stored; each is claimed by the first ping of the batch that has it.
        var stored = try await insertCarefully(rows, count: pings.count, heard: heard, on: connection)
        var isNew = [Bool](repeating: false, count: pings.count)
        for (index, ping) in pings.enumerated() {
            isNew[index] = stored.remove(HistoryKey(unit: unitKeys[index], time: ping.time.microseconds)) != nil
        }
        return StoredPings(isNew: isNew)
    }

    /// A row's key in the history: `(unit_key, time)` in microseconds.
    private struct HistoryKey: Hashable {
        var unit: Int64
        var time: Int64
    }

    /// The fast path: COPY `rows` (history rows, as ``CopyBinaryWriter/historyRow(_:unitKey:)`` writes
    /// them) straight into `pings`; fails with a unique violation on any repeat.
    private func copyDirectly(_ rows: ByteBuffer, heard: UnitsHeard, on connection: PostgresConnection) async throws {
        let logger = self.logger
        try await connection.transaction(logger: logger) { connection in
            try await connection.checkedCopy(into: "pings", columns: Self.historyColumns, logger: logger, rows: rows)
            // Last: the `units` rows it locks are held only until the commit, not through the
            // COPY, so a concurrent batch with the same units (every batch, just after midnight)
            // waits for a moment, not for a whole batch.
            try await Self.record(heard, on: connection, logger: logger)
        }
        remember(heard)
    }

    /// A history row in binary COPY form is about 100 bytes; room for a little more.
    static let historyRowBytes = 128

    /// The columns of a ping as the history stored them up to schema 6, with the unit's id (the
    /// benchmarks' 1b71a5c baseline, and the `ping_history` view).
    public static let pingColumns = [
        "unit_id", "time", "position", "altitude", "speed", "heading", "accuracy", "status", "battery", "received_at",
    ]

    /// The columns of `pings` that the writer fills, in the order of
    /// ``CopyBinaryWriter/historyRow(_:unitKey:)``.
    public static let historyColumns = [
        "unit_key", "time", "position", "altitude", "speed", "heading", "accuracy", "status", "battery", "received_at", "cell",
    ]

    /// The number of each ping's unit, in the order of `pings`, and the units the store has not
    /// yet recorded as heard on the latest day one of their pings was received (new units, and
    /// known ones on their first batch of a day).
    ///
    /// One look-up per ping in what the store remembers. Units it does not know are recorded in
    /// `units` (each gets its number there) and their numbers read back, in statements of their
    /// own before the batch's transaction: a number, once given, never changes, so nothing is
    /// lost if the batch then fails, and the batch's transaction takes no lock for it.
    private func unitKeys(of pings: [Ping], on connection: PostgresConnection) async throws -> (keys: [Int64], heard: UnitsHeard) {
        var keys = [Int64](repeating: 0, count: pings.count)
        var heardDays: [UnitID: Int64] = [:]
        var unknown: [UnitID: Int64] = [:]  // unit -> the latest day its pings of this batch were received
        var unknownAt: [Int] = []
        known.withLock { known in
            for (index, ping) in pings.enumerated() {
                let day = ping.receivedAt.epochDay
                guard let unit = known.units[ping.unit] else {
                    unknown[ping.unit] = max(unknown[ping.unit] ?? day, day)
                    unknownAt.append(index)
                    continue
                }
                keys[index] = unit.key
                if unit.heardOn < day, heardDays[ping.unit].map({ $0 < day }) ?? true { heardDays[ping.unit] = day }
            }
        }
        if !unknown.isEmpty {
            let recorded = try await Self.recordUnits(unknown.keys.sorted(), on: connection, logger: logger)
            known.withLock { known in
                if known.units.count + recorded.count > Self.maximumKnownUnits { known.units.removeAll(keepingCapacity: true) }
                for (unit, key) in recorded where known.units[unit] == nil { known.units[unit] = KnownUnit(key: key) }
            }
            for index in unknownAt {
                guard let key = recorded[pings[index].unit] else { throw UnitNotRecorded(unit: pings[index].unit) }
                keys[index] = key
            }
            heardDays.merge(unknown) { max($0, $1) }
        }
        let sorted = heardDays.sorted { $0.key < $1.key }
        return (keys, UnitsHeard(ids: sorted.map(\.key.rawValue), days: sorted.map(\.value)))
    }

    /// Records `units` (sorted) in `units` if they are not there yet, and returns their numbers.
    private static func recordUnits(_ units: [UnitID], on connection: PostgresConnection, logger: Logger) async throws -> [UnitID: Int64] {
        let ids = units.map(\.rawValue)
        try await connection.checkedQuery(
            "INSERT INTO units (id) SELECT id FROM unnest(\(ids)::text[]) AS u(id) ON CONFLICT (id) DO NOTHING", logger: logger)
        let rows = try await connection.checkedQuery("SELECT id, key FROM units WHERE id = ANY(\(ids)::text[])", logger: logger)
        var keys: [UnitID: Int64] = [:]
        keys.reserveCapacity(units.count)
        for try await (id, key) in rows.decode((String, Int64).self) {
            keys[UnitID(trusted: id)] = key
        }
        return keys
    }

    /// Units to record as heard, and on which day each.
    private struct UnitsHeard {
        var ids: [String]
        var days: [Int64]
    }

    /// Creates the units not yet in `units` and moves `heard_on` forwards (never back: a spool
    /// replayed late brings old days).
    private static func record(_ heard: UnitsHeard, on connection: PostgresConnection, logger: Logger) async throws {
        guard !heard.ids.isEmpty else { return }
        try await connection.checkedQuery(
            """
            INSERT INTO units AS u (id, heard_on)
            SELECT id, date '1970-01-01' + day::int FROM unnest(\(heard.ids)::text[], \(heard.days)::int8[]) AS h(id, day)
            ON CONFLICT (id) DO UPDATE SET heard_on = EXCLUDED.heard_on
            WHERE u.heard_on IS NULL OR u.heard_on < EXCLUDED.heard_on
            """, logger: logger)
    }

    /// Units remembered at most: a stream of made-up ids must not grow the map for ever. Past
    /// it the map starts afresh; a unit forgotten costs a look-up of its number and one row of
    /// `INSERT … ON CONFLICT` in its next batch.
    static let maximumKnownUnits = 200_000

    /// After the transaction committed: what ``record(_:on:logger:)`` wrote is now known (for
    /// the units still remembered).
    private func remember(_ heard: UnitsHeard) {
        guard !heard.ids.isEmpty else { return }
        known.withLock { known in
            for (id, day) in zip(heard.ids, heard.days) {
                let unit = UnitID(trusted: id)
                guard let heardOn = known.units[unit]?.heardOn, heardOn < day else { continue }
                known.units[unit]?.heardOn = day
            }
        }
    }

    /// The careful path: staging table, then insert skipping repeats, learning which were new.
    /// `rows` holds `count` history rows.
    private func insertCarefully(
        _ rows: ByteBuffer, count: Int, heard: UnitsHeard, on connection: PostgresConnection
    ) async throws -> Set<HistoryKey> {
        let logger = self.logger
        let inserted: Set<HistoryKey> = try await connection.transaction(logger: logger) { connection in
            try await connection.checkedQuery(
                """
                CREATE TEMP TABLE IF NOT EXISTS ping_staging (
                    unit_key bigint, time timestamptz, position geography(Point, 4326), altitude real, speed real,
                    heading real, accuracy real, status text, battery smallint, received_at timestamptz, cell bigint
                ) ON COMMIT DELETE ROWS
                """, logger: logger)
            try await connection.checkedCopy(into: "ping_staging", columns: Self.historyColumns, logger: logger, rows: rows)
            let newRows = try await connection.checkedQuery(
                """
                INSERT INTO pings (unit_key, time, position, altitude, speed, heading, accuracy, status, battery, received_at, cell)
                SELECT unit_key, time, position, altitude, speed, heading, accuracy, status, battery, received_at, cell
                FROM ping_staging
                -- One lock order for concurrent batches, index-friendly; among repeats within the
                -- batch, the first copied (the staging table is filled by one COPY, in order).
                ORDER BY unit_key, time, ctid
                ON CONFLICT DO NOTHING
                RETURNING unit_key, (extract(epoch FROM time) * 1000000)::int8
                """, logger: logger)
            var keys = Set<HistoryKey>(minimumCapacity: count)
            for try await (unit, micros) in newRows.decode((Int64, Int64).self) {
                keys.insert(HistoryKey(unit: unit, time: micros))
            }
            // Last, as on the fast path: its row locks are held only until the commit.
            try await Self.record(heard, on: connection, logger: logger)
            return keys
        }
        remember(heard)
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

/// A unit of a batch has no row in `units` even after the store recorded it: something deleted
/// it meanwhile. The batch is refused (and then written submission by submission, so only the
/// pings of that unit are refused).
public struct UnitNotRecorded: Error, Sendable, CustomStringConvertible {
    public var unit: UnitID
    public var description: String { "unit \(unit) has no row in units after it was recorded" }
}

/// Which pings of a batch ``PingStore/insert(_:deadline:)`` stored.
public struct StoredPings: Sendable, Hashable {
    /// By position in the batch: true for a ping this batch stored, false for a duplicate (stored
    /// before, or the repeat of an earlier ping of the same batch).
    public var isNew: [Bool]

    public init(isNew: [Bool]) { self.isNew = isNew }

    /// How many pings the batch stored.
    public var count: Int { isNew.reduce(0) { $0 + ($1 ? 1 : 0) } }
}
