// What a synchronous standby costs durable ingest: the daemon's writer against a single
// PostgreSQL, and against a primary whose every commit waits for its synchronous standby
// (streaming replication, both on this machine, as the fault suite runs them), with the same
// pings and the same settings, alternating, in one run. Prints each rate and their ratio.
//
//   swift run -c release --package-path Benchmarks standby-cost
import ArgumentParser
import Foundation
import HypervisionCore
import HypervisionStore
import HypervisionTestSupport
import LoadTools
import Logging
import PostgresNIO

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "standby-cost", abstract: "Durable ingest with a synchronous standby against a single server, same run.")

    @Option(help: "Pings per round.") var pings = 300_000
    @Option(help: "Distinct units.") var units = 5_000
    @Option(help: "Rounds; the side that goes first alternates.") var rounds = 2
    @Option(help: "Pings per submission.") var submission = 1_000
    @Option(help: "Submissions in flight.") var concurrency = 128
    @Option(help: "The writer's concurrent batches.") var streams = 2

    func validate() throws {
        guard pings > 0, units > 0, rounds > 0, submission > 0, concurrency > 0, streams > 0 else {
            throw ArgumentParser.ValidationError("counts must be positive")
        }
    }
}

let options = Options.parseOrExit()
let logger: Logger = {
    var logger = Logger(label: "standby-cost")
    logger.logLevel = .warning
    return logger
}()

let single = TestPostgres.makeCluster("standby-cost-single", durable: true)
registerStopAtExit(single)
_ = try await single.start()
let pair = try await ReplicatedPostgres.start("standby-cost")
defer {
    for cluster in [single, pair.primary, pair.standby] {
        try? cluster.stop()
        try? FileManager.default.removeItem(atPath: cluster.configuration.baseDirectory)
    }
}

let pings = syntheticPings(units: options.units, perUnit: max(1, options.pings / options.units))
let allPings = pings
print("hypervision standby-cost: \(allPings.count) pings from \(options.units) units, \(options.rounds) rounds; the writer on a single durable server and on a primary with a synchronous standby (synchronous_standby_names = '*'), both on this machine")

/// A migrated server and a client on it.
func prepare(_ endpoint: DatabaseEndpoint) async throws -> PostgresClient {
    var configuration = try endpoint.clientConfiguration()
    configuration.options.maximumConnections = 4
    return PostgresClient(configuration: configuration, backgroundLogger: logger)
}
let singleClient = try await prepare(single.endpoint)
let primaryClient = try await prepare(pair.primary.endpoint)

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { await singleClient.run() }
    group.addTask { await primaryClient.run() }
    for client in [singleClient, primaryClient] {
        try await Migrator(logger: logger).migrate(Database(client: client, logger: logger))
        try await PingStore(database: Database(client: client, logger: logger)).ensurePartitions(
            around: Timestamp.now().epochDay, daysBehind: 2, daysAhead: 1)
    }
    @MainActor func measure(_ client: PostgresClient) async throws -> Double {
        try await client.query("TRUNCATE pings, units")
        try await client.query("CHECKPOINT")
        return try await measureWriter(
            client: client, pings: allPings, streams: options.streams, concurrency: options.concurrency, submission: options.submission,
            batchSize: nil, logger: logger
        ).rate
    }
    var ratios: [Double] = []
    for round in 1...options.rounds {
        let singleRate: Double, replicatedRate: Double
        if round % 2 == 1 {
            singleRate = try await measure(singleClient)
            replicatedRate = try await measure(primaryClient)
        } else {
            replicatedRate = try await measure(primaryClient)
            singleRate = try await measure(singleClient)
        }
        ratios.append(replicatedRate / singleRate)
        print("round \(round): single server \(fixed(singleRate)) pings/s; with a synchronous standby \(fixed(replicatedRate)) pings/s (\(fixed(replicatedRate / singleRate * 100, 1))%)")
    }
    ratios.sort()
    print("with a synchronous standby: \(fixed((ratios[(ratios.count - 1) / 2] + ratios[ratios.count / 2]) / 2 * 100, 1))% of the single server's rate (median of the rounds)")
    group.cancelAll()
}
