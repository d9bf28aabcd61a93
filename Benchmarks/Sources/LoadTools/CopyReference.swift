import Foundation
import HypervisionCore
import HypervisionStore
import Logging
import NIOCore
import PostgresNIO

/// The physical limit of durable ingest, measured beside what is compared with it: the same pings
/// COPYed straight into `pings` (its primary key and indexes, the same server, the same run),
/// `streams` COPYs at a time, one transaction per chunk. The rows are encoded before timing, so
/// the figure is the server's alone.
public struct CopyReference: Sendable {
    public static let columns = ["unit_id", "time", "position", "altitude", "speed", "heading", "accuracy", "status", "battery", "received_at"]
    public let chunks: [ByteBuffer]
    public let rows: Int

    public init(pings: [Ping], chunkSize: Int = 20_000) {
        var chunks: [ByteBuffer] = []
        for start in stride(from: 0, to: pings.count, by: chunkSize) {
            var writer = CopyTextWriter(capacity: chunkSize * 140)
            for ping in pings[start..<min(start + chunkSize, pings.count)] { writer.pingRow(ping) }
            chunks.append(writer.buffer)
        }
        self.chunks = chunks
        self.rows = pings.count
    }

    /// COPYs every chunk into `table` (a table with the columns of `pings`) and returns rows per
    /// second.
    public func measure(client: PostgresClient, streams: Int, table: String = "pings", logger: Logger) async throws -> Double {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { copies in
            for stream in 0..<streams {
                copies.addTask {
                    for chunk in chunks.enumerated().filter({ $0.offset % streams == stream }).map(\.element) {
                        try await Self.copy(chunk, client: client, table: table, logger: logger)
                    }
                }
            }
            try await copies.waitForAll()
        }
        return Double(rows) / seconds(ContinuousClock.now - start)
    }

    /// COPYs one chunk (warm-ups, which are not timed, use it too).
    public static func copy(_ chunk: ByteBuffer, client: PostgresClient, table: String = "pings", logger: Logger) async throws {
        try await client.withConnection { connection in
            try await connection.copyFrom(table: table, columns: columns, logger: logger) { try await $0.write(chunk) }
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
