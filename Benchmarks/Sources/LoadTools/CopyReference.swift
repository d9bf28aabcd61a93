import Foundation
import HypervisionCore
import HypervisionStore
import Logging
import NIOCore
import PostgresNIO

/// The physical limit of durable ingest, measured beside what is compared with it: the same pings
/// COPYed straight into a table, `streams` COPYs at a time, one transaction per chunk. The rows are
/// encoded before timing, so the figure is the server's alone.
///
/// Two encodings of the same pings: ``Target/current``, binary COPY into today's `pings` with
/// every column the durable writer fills (the unit's number and the cell included; the numbers
/// are ``unitKeys``), so the writer is compared with the fastest way to put its own rows into its
/// own table; and ``Target/baseline1b71a5c``, text COPY
/// into the 1b71a5c history table, as that schema's writer did (the yardstick of the schema work).
public struct CopyReference: Sendable {
    /// Where, and in which encoding, the rows go.
    public enum Target: Sendable {
        case current
        case baseline1b71a5c

        var table: String { self == .current ? "pings" : Baseline1b71a5c.table }
        var columns: [String] { self == .current ? PingStore.historyColumns : PingStore.pingColumns }
        var binary: Bool { self == .current }
    }

    let currentChunks: [ByteBuffer]
    let baselineChunks: [ByteBuffer]
    public let rows: Int
    /// The number each unit has in the ``Target/current`` rows.
    public let unitKeys: [UnitID: Int64]

    public init(pings: [Ping], chunkSize: Int = 20_000) {
        let chunks = stride(from: 0, to: pings.count, by: chunkSize).map { pings[$0..<min($0 + chunkSize, pings.count)] }
        let unitKeys = Self.unitKeys(of: pings)
        self.currentChunks = chunks.map { Self.encode($0, for: .current, unitKeys: unitKeys) }
        self.baselineChunks = chunks.map { Self.encode($0, for: .baseline1b71a5c) }
        self.rows = pings.count
        self.unitKeys = unitKeys
    }

    /// Numbers 1, 2, … for the units of `pings` in the order they first appear, as the rows of
    /// ``Target/current`` carry them in place of `units.key`.
    public static func unitKeys(of pings: some Sequence<Ping>) -> [UnitID: Int64] {
        var keys: [UnitID: Int64] = [:]
        for ping in pings where keys[ping.unit] == nil { keys[ping.unit] = Int64(keys.count + 1) }
        return keys
    }

    /// Records units in `units` with the numbers `unitKeys` gives them, so that questions about
    /// rows COPYed with those numbers name the units.
    public static func registerUnits(_ unitKeys: [UnitID: Int64], client: PostgresClient, logger: Logger) async throws {
        let units = unitKeys.sorted { $0.value < $1.value }
        try await client.query(
            """
            INSERT INTO units (id, key) SELECT * FROM unnest(\(units.map(\.key.rawValue))::text[], \(units.map(\.value))::int8[])
            ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key
            """, logger: logger)
    }

    /// `pings` as one COPY's data for `target`; ``Target/current`` rows take their units' numbers
    /// from `unitKeys`.
    public static func encode(_ pings: some Collection<Ping>, for target: Target, unitKeys: [UnitID: Int64] = [:]) -> ByteBuffer {
        switch target {
        case .current:
            var writer = CopyBinaryWriter(capacity: pings.count * 128)
            for ping in pings { writer.historyRow(ping, unitKey: unitKeys[ping.unit]!) }
            return writer.finish()
        case .baseline1b71a5c:
            var writer = CopyTextWriter(capacity: pings.count * 140)
            for ping in pings { writer.pingRow(ping) }
            return writer.buffer
        }
    }

    public func chunks(_ target: Target) -> [ByteBuffer] { target == .current ? currentChunks : baselineChunks }

    /// COPYs every chunk into `target` and returns rows per second.
    public func measure(client: PostgresClient, streams: Int, target: Target = .current, logger: Logger) async throws -> Double {
        let chunks = chunks(target)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { copies in
            for stream in 0..<streams {
                copies.addTask {
                    for chunk in chunks.enumerated().filter({ $0.offset % streams == stream }).map(\.element) {
                        try await Self.copy(chunk, client: client, target: target, logger: logger)
                    }
                }
            }
            try await copies.waitForAll()
        }
        return Double(rows) / seconds(ContinuousClock.now - start)
    }

    /// COPYs one chunk (warm-ups, which are not timed, use it too).
    public static func copy(_ chunk: ByteBuffer, client: PostgresClient, target: Target = .current, logger: Logger) async throws {
        try await client.withConnection { connection in
            try await connection.copyFrom(
                table: target.table, columns: target.columns, format: target.binary ? .binary : .text(.init()), logger: logger
            ) { try await $0.write(chunk) }
        }
    }
}

/// The history table as it was at commit 1b71a5c (`Schemas/migrations/0001_initial.sql` then):
/// day partitions, the primary key `(unit_id, time)` and a GiST index on every row's position.
/// The durable writer's gain is measured against COPY into this table, kept here verbatim so the
/// baseline stays the same whatever the migrations become.
public enum Baseline1b71a5c {
    public static let table = "pings_1b71a5c"

    /// Creates the table (if needed) with partitions for the UTC days `days` (epoch days).
    public static func create(days: ClosedRange<Int64>, client: PostgresClient, logger: Logger) async throws {
        try await client.query(PostgresQuery(unsafeSQL: """
            CREATE TABLE IF NOT EXISTS \(table) (
                unit_id     text        NOT NULL,
                time        timestamptz NOT NULL,
                position    geography(Point, 4326) NOT NULL,
                altitude    real,
                speed       real,
                heading     real,
                accuracy    real,
                status      text,
                battery     smallint,
                received_at timestamptz NOT NULL,
                PRIMARY KEY (unit_id, time)
            ) PARTITION BY RANGE (time)
            """), logger: logger)
        try await client.query(
            PostgresQuery(unsafeSQL: "CREATE INDEX IF NOT EXISTS \(table)_position_gist ON \(table) USING gist (position)"), logger: logger)
        for day in days {
            let from = CivilDate(epochDay: day).isoString, to = CivilDate(epochDay: day + 1).isoString
            let name = "\(table)_" + from.replacingOccurrences(of: "-", with: "")
            try await client.query(
                PostgresQuery(unsafeSQL: "CREATE TABLE IF NOT EXISTS \(name) PARTITION OF \(table) FOR VALUES FROM ('\(from)') TO ('\(to)')"),
                logger: logger)
        }
    }
}
