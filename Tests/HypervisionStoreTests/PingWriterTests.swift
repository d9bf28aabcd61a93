import Foundation
import HypervisionCore
import HypervisionTestSupport
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

@testable import HypervisionStore

@Suite struct PingWriterTests {
    struct Rig: Sendable {
        var endpoint: DatabaseEndpoint
        var client: PostgresClient
        var writer: PingWriter
        var status: DatabaseStatus
        var spoolPath: String
    }

    /// Runs a client and a writer against `endpoint` for the duration of `body`, then shuts
    /// them down gracefully (the writer drains before the client stops).
    static func withWriter(
        _ endpoint: DatabaseEndpoint, configure: (inout PingWriterConfiguration) -> Void = { _ in },
        _ body: @Sendable (Rig) async throws -> Void
    ) async throws {
        var clientConfiguration = try endpoint.clientConfiguration()
        clientConfiguration.options.maximumConnections = 4
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: TestPostgres.logger)
        let status = DatabaseStatus()
        let store = PingStore(client: client, logger: TestPostgres.logger)
        let spoolPath = NSTemporaryDirectory() + "hv-writer-\(UUID().uuidString)/pings.spool"
        let spool = try Spool(path: spoolPath, maximumBytes: 64 << 20)
        var configuration = PingWriterConfiguration()
        configuration.linger = .zero
        configure(&configuration)
        let writer = PingWriter(store: store, status: status, spool: spool, configuration: configuration, logger: TestPostgres.logger)
        let group = ServiceGroup(services: [client, writer], logger: TestPostgres.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await Migrator(logger: TestPostgres.logger).migrate(client)
                status.update(.ready)
                try await body(Rig(endpoint: endpoint, client: client, writer: writer, status: status, spoolPath: spoolPath))
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func storedKeys(_ endpoint: DatabaseEndpoint) async throws -> [Ping.Key] {
        try await TestPostgres.withConnection(endpoint) { connection in
            let rows = try await connection.query(
                "SELECT unit_id, (extract(epoch FROM time) * 1000000)::int8 FROM pings", logger: TestPostgres.logger)
            var keys: [Ping.Key] = []
            for try await (unit, micros) in rows.decode((String, Int64).self) {
                keys.append(Ping.Key(unit: UnitID(trusted: unit), time: Timestamp(microseconds: micros)))
            }
            return keys
        }
    }

    @Test func acknowledgesEachPingOnceDurableAndFlagsDuplicates() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await Self.withWriter(endpoint) { rig in
            let pings = TestPings.make(units: 50, perUnit: 4)
            let receipt = try await rig.writer.write(pings)
            #expect(receipt.accepted == 200 && receipt.duplicates == 0)
            #expect(receipt.results.allSatisfy { $0 == .stored })
            // Committed before the acknowledgement: visible to another connection right away.
            #expect(try await Self.storedKeys(endpoint).count == 200)
            // Half repeated, with a repeat inside the submission itself.
            let again = try await rig.writer.write(Array(pings[0..<100]) + [pings[150], pings[150]] + TestPings.make(units: 1, perUnit: 1, start: .now()))
            #expect(again.accepted == 1 && again.duplicates == 102)
            #expect(again.results.last == .stored)
        }
    }

    @Test func concurrentSubmittersEachGetTheirOwnAnswer() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await Self.withWriter(endpoint, configure: { $0.maximumBatchSize = 500 }) { rig in
            let all = TestPings.make(units: 40, perUnit: 50)
            let chunks = stride(from: 0, to: all.count, by: 100).map { Array(all[$0..<min($0 + 100, all.count)]) }
            try await withThrowingTaskGroup(of: WriteReceipt.self) { group in
                for chunk in chunks { group.addTask { try await rig.writer.write(chunk) } }
                // Every ping of the first chunk again, racing its original.
                group.addTask { try await rig.writer.write(chunks[0]) }
                var accepted = 0, duplicates = 0
                for try await receipt in group {
                    accepted += receipt.accepted
                    duplicates += receipt.duplicates
                }
                #expect(accepted == all.count)
                #expect(duplicates == 100)
            }
            #expect(try await Self.storedKeys(endpoint).count == all.count)
        }
    }

    @Test func gracefulShutdownFlushesEverythingQueued() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let acknowledged = Locked<[Ping.Key]>([])
        let refused = Locked(0)
        let submitters = Locked<[Task<Void, Never>]>([])
        try await Self.withWriter(endpoint, configure: { $0.maximumBatchSize = 1_000 }) { rig in
            let all = TestPings.make(units: 100, perUnit: 40)
            // Submit without waiting for the answers; return (and so shut down) at once.
            for start in stride(from: 0, to: all.count, by: 200) {
                let chunk = Array(all[start..<(start + 200)])
                let submitter = Task {
                    do {
                        let receipt = try await rig.writer.write(chunk)
                        acknowledged.mutate { $0 += zip(chunk, receipt.results).filter { $0.1 != .duplicate }.map(\.0.key) }
                    } catch {
                        #expect((error as? PingWriterError)?.code == .shuttingDown)
                        refused.mutate { $0 += chunk.count }
                    }
                }
                submitters.mutate { $0.append(submitter) }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        for submitter in submitters.value { await submitter.value }
        let stored = Set(try await Self.storedKeys(endpoint))
        let acked = acknowledged.value
        #expect(!acked.isEmpty)
        #expect(acked.allSatisfy { stored.contains($0) })
        #expect(acked.count + refused.value == 4_000)
    }

    /// The durability promise: PostgreSQL dies mid-stream and comes back; every acknowledged
    /// ping ends up in the table exactly once.
    @Test(.timeLimit(.minutes(3)))
    func everyAcknowledgedPingSurvivesADatabaseOutage() async throws {
        let cluster = TestPostgres.makeCluster("outage", durable: true)
        registerStopAtExit(cluster)
        let endpoint = try await cluster.start()
        let acknowledged = Locked<[Ping.Key]>([])
        let spooledCount = Locked(0)
        try await Self.withWriter(endpoint, configure: {
            $0.writeTimeout = .milliseconds(1_500)
            $0.retryInterval = .milliseconds(300)
        }) { rig in
            let all = TestPings.make(units: 25, perUnit: 240, step: 0.5)
            let batches = stride(from: 0, to: all.count, by: 50).map { Array(all[$0..<($0 + 50)]) }
            for (index, batch) in batches.enumerated() {
                if index == 20 { try cluster.kill() }  // crash: no clean shutdown
                if index == 70 { _ = try await cluster.start() }
                let receipt = try await rig.writer.write(batch)
                acknowledged.mutate { $0 += batch.map(\.key) }
                spooledCount.mutate { $0 += receipt.results.count { $0 == .spooled } }
                try await Task.sleep(for: .milliseconds(10))
            }
            // Wait for the replay to drain the spool.
            let deadline = ContinuousClock.now + .seconds(60)
            while rig.writer.spooledBytes > 0 || FileManager.default.attributesSize(rig.spoolPath) > 0 {
                #expect(ContinuousClock.now < deadline, "spool not replayed in time")
                if ContinuousClock.now >= deadline { break }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(spooledCount.value > 0, "the outage should have sent pings to the spool")
        let stored = try await Self.storedKeys(endpoint)
        let acked = acknowledged.value
        #expect(acked.count == 6_000)
        #expect(stored.count == Set(stored).count)  // exactly once
        #expect(Set(stored) == Set(acked))
        try cluster.stop()
    }
}

extension FileManager {
    func attributesSize(_ path: String) -> Int {
        ((try? attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }
}
