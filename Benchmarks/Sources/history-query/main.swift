// "Who was within 1 km of here between 02:00 and 02:30?" on 10 million stored pings: the same
// rows in today's history table (schema 5: primary key, BRIN on time, coarse cell, no GiST) and
// in the history table as it was at 1b71a5c (a GiST entry per row), the same questions asked of
// both in the same run. Prints the load rates, each side's answer time p50/p99, and checks that
// both sides give the same answers.
import ArgumentParser
import Foundation
import HypervisionCore
import HypervisionStore
import LoadTools
import Logging
import NIOCore
import PostgresNIO

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history-query", abstract: "Who passed near a place in a time window, on millions of stored pings, against the 1b71a5c schema.")

    @Option(help: "Units, each reporting every --interval seconds over one UTC day.") var units = 2_000
    @Option(help: "Seconds between two pings of a unit.") var interval = 17
    @Option(help: "Questions asked of each side (at 100, the p99 is the second slowest, not the slowest).") var questions = 100
    @Option(help: "Radius of each question, metres.") var radius = 1_000.0
    @Option(help: "Length of each question's window, minutes.") var windowMinutes = 30
    @Option(help: "A scratch database to use (its history tables are emptied unless --reuse); default: an embedded cluster of its own.")
    var databaseURL: String?
    @Flag(help: "With --database-url: keep the rows a previous run loaded, if they are all there.") var reuse = false

    func validate() throws {
        guard units > 0, interval > 0, questions > 0, radius >= 0, windowMinutes > 0 else {
            throw ArgumentParser.ValidationError("counts must be positive")
        }
    }
}

let options = Options.parseOrExit()
var logger = Logger(label: "history-query")
logger.logLevel = .warning

let server = try await ScratchServer.start(url: options.databaseURL, tag: "hv-history", logger: logger)
let endpoint = server.endpoint
defer { server.stop() }

// Yesterday, UTC: a whole day of one partition, as a day of history is once it is over.
let day = Timestamp.now().epochDay - 1
let dayStart = Timestamp(microseconds: day * 86_400_000_000)
let perUnit = 86_400 / options.interval
let total = perUnit * options.units

/// Unit `u`'s ping `n`: units spread over 8 × 8 km of Paris, each wandering on its own slow loop
/// of about 2 km, so a place sees different units at different times.
func ping(unit u: Int, step n: Int) -> Ping {
    let time = dayStart.adding(seconds: Double(n * options.interval + u % options.interval))
    let phase = Double(n * options.interval) / 600 + Double(u)
    return Ping(
        unit: UnitID(trusted: "PN-H-\(u)"), time: time,
        position: GeoPoint(
            latitude: 48.82 + Double(u % 50) * 0.0015 + 0.01 * cos(phase * 0.857), longitude: 2.25 + Double(u / 50) * 0.003 + 0.015 * sin(phase)),
        speed: 8, heading: Double((u * 7 + n) % 360), status: .available, receivedAt: time)
}

var configuration = try endpoint.clientConfiguration()
configuration.options.maximumConnections = 4
// As the daemon's connections (StoreConfiguration.sessionParameters): a server with JIT on
// would compile the question for longer than it runs.
configuration.options.additionalStartupParameters.append(("jit", "off"))
let client = PostgresClient(configuration: configuration, backgroundLogger: logger)

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { await client.run() }
    let database = Database(client: client, logger: logger)
    try await Migrator(logger: logger).migrate(database)
    try await PingStore(database: database).ensurePartitions(around: day, daysBehind: 0, daysAhead: 0)
    try await Baseline1b71a5c.create(days: day...day, client: client, logger: logger)
    // The units, with the numbers the rows of today's schema carry (questions name units by them).
    let unitKeys = CopyReference.unitKeys(of: (0..<options.units).map { ping(unit: $0, step: 0) })
    try await CopyReference.registerUnits(unitKeys, client: client, logger: logger)
    print("hypervision history-query: \(total) pings of \(options.units) units over one day, \(options.questions) questions of \(Int(options.radius)) m and \(options.windowMinutes) min")

    // Load both tables in time order, as pings arrive, 20,000 rows per COPY.
    func load(_ target: CopyReference.Target) async throws -> Double {
        let start = ContinuousClock.now
        var chunk: [Ping] = []
        chunk.reserveCapacity(20_000)
        for n in 0..<perUnit {
            for u in 0..<options.units {
                chunk.append(ping(unit: u, step: n))
                if chunk.count == 20_000 {
                    try await CopyReference.copy(
                        CopyReference.encode(chunk, for: target, unitKeys: unitKeys), client: client, target: target, logger: logger)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
        }
        if !chunk.isEmpty {
            try await CopyReference.copy(CopyReference.encode(chunk, for: target, unitKeys: unitKeys), client: client, target: target, logger: logger)
        }
        try await client.query(PostgresQuery(unsafeSQL: "VACUUM ANALYZE \(target == .current ? "pings" : Baseline1b71a5c.table)"))
        return Double(total) / seconds(ContinuousClock.now - start)
    }
    let loaded = try await client.query(PostgresQuery(unsafeSQL: "SELECT (SELECT count(*) FROM pings), (SELECT count(*) FROM \(Baseline1b71a5c.table))"))
    var present = (Int64(0), Int64(0))
    for try await counts in loaded.decode((Int64, Int64).self) { present = counts }
    if options.reuse, present == (Int64(total), Int64(total)) {
        print("reusing the \(total) rows of each table a previous run loaded")
    } else {
        try await client.query(PostgresQuery(unsafeSQL: "TRUNCATE pings, \(Baseline1b71a5c.table)"))
        let currentRate = try await load(.current)
        let baselineRate = try await load(.baseline1b71a5c)
        print("loaded: today's schema \(fixed(currentRate)) rows/s, the 1b71a5c schema \(fixed(baselineRate)) rows/s (one COPY at a time, encoding included)")
    }
    let sizes = try await client.query(
        PostgresQuery(
            unsafeSQL: "SELECT pg_total_relation_size('pings_\(CivilDate(epochDay: day).isoString.replacingOccurrences(of: "-", with: ""))'), "
                + "pg_total_relation_size('\(Baseline1b71a5c.table)_\(CivilDate(epochDay: day).isoString.replacingOccurrences(of: "-", with: ""))')"))
    for try await (current, baseline) in sizes.decode((Int64, Int64).self) {
        print("on disk with indexes: today's schema \(current / 1_048_576) MiB, the 1b71a5c schema \(baseline / 1_048_576) MiB")
    }

    // A day that is over was written to disk long ago: the pages the load left dirty are
    // flushed before the questions, not by the checkpointer while they run.
    let flushStart = ContinuousClock.now
    try await client.query("CHECKPOINT")
    print("checkpoint before the questions: \(fixed(seconds(ContinuousClock.now - flushStart), 1)) s")

    // The questions: places over the units' area, windows anywhere in the day.
    var random = SeededRandom(seed: 18)
    let asked = (0..<options.questions).map { _ in
        let place = GeoPoint(latitude: .random(in: 48.81...48.91, using: &random), longitude: .random(in: 2.24...2.42, using: &random))
        let from = dayStart.adding(seconds: Double(Int.random(in: 0..<(86_400 - options.windowMinutes * 60), using: &random)))
        return (place, from, from.adding(seconds: Double(options.windowMinutes * 60)))
    }
    let history = HistoryStore(database: database)
    var currentTimes: [Double] = [], baselineTimes: [Double] = []
    var answered = 0, different = 0
    for (place, from, to) in asked {
        let t0 = ContinuousClock.now
        let current = try await history.unitsPassing(near: place, radius: options.radius, from: from, to: to, limit: 1_000)
        currentTimes.append(seconds(ContinuousClock.now - t0) * 1_000)
        // The question as the 1b71a5c schema answered it, with its GiST index.
        let t1 = ContinuousClock.now
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    WITH here AS (SELECT ST_SetSRID(ST_MakePoint(\(place.longitude), \(place.latitude)), 4326)::geography AS g),
                    closest AS (
                        SELECT DISTINCT ON (unit_id) unit_id, ST_Distance(position, here.g) AS distance,
                               (extract(epoch FROM time) * 1000000)::int8 AS micros, count(*) OVER (PARTITION BY unit_id) AS pings
                        FROM \(Baseline1b71a5c.table), here
                        WHERE time >= '\(from.postgresText)'::timestamptz AND time < '\(to.postgresText)'::timestamptz
                          AND ST_DWithin(position, here.g, \(options.radius))
                        ORDER BY unit_id, ST_Distance(position, here.g), time
                    )
                    SELECT unit_id, distance, micros, pings FROM closest ORDER BY distance, unit_id LIMIT 1000
                    """))
        var baseline: [PassingUnit] = []
        for try await (unit, distance, micros, count) in rows.decode((String, Double, Int64, Int64).self) {
            baseline.append(PassingUnit(unit: unit, closestMetres: distance, closestAt: Timestamp(microseconds: micros), pings: Int(count)))
        }
        baselineTimes.append(seconds(ContinuousClock.now - t1) * 1_000)
        answered += current.count
        if current != baseline { different += 1 }
    }
    let slowest = currentTimes.indices.max { currentTimes[$0] < currentTimes[$1] }!
    print("today's schema, slowest question: number \(slowest + 1) of \(asked.count), \(fixed(currentTimes[slowest], 1)) ms")
    currentTimes.sort()
    baselineTimes.sort()
    print("answers: \(answered) units in all; questions answered differently by the two schemas: \(different)")
    print(
        "the 1b71a5c schema (GiST on every row): p50 \(fixed(percentile(baselineTimes, 0.5), 1)) ms, p99 \(fixed(percentile(baselineTimes, 0.99), 1)) ms")
    print("today's schema (BRIN on time, cell key): p50 \(fixed(percentile(currentTimes, 0.5), 1)) ms, p99 \(fixed(percentile(currentTimes, 0.99), 1)) ms (target < 100 ms)")
    group.cancelAll()
    if different > 0 { throw ExitCode(1) }
}
