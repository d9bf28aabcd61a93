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
        var spoolDirectory: String
        var group: ServiceGroup
        /// When the writer's `run()` returned.
        var writerFinished: Locked<ContinuousClock.Instant?>

        /// Waits until the writer writes straight to the database again (its spool replayed).
        func waitUntilDirect(within limit: Duration = .seconds(60)) async throws -> Bool {
            let deadline = ContinuousClock.now + limit
            while !writer.acceptsBeforeDurable {
                if ContinuousClock.now >= deadline { return false }
                try await Task.sleep(for: .milliseconds(10))
            }
            return true
        }

        /// Starts a graceful stop and returns how long the writer took to finish.
        func stop() async throws -> Duration {
            let start = ContinuousClock.now
            await group.triggerGracefulShutdown()
            while writerFinished.value == nil {
                if ContinuousClock.now - start > .seconds(120) { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            return (writerFinished.value ?? .now) - start
        }
    }

    /// Records when the service it wraps returns.
    struct Timed: Service {
        let base: any Service
        let finished: Locked<ContinuousClock.Instant?>
        func run() async throws {
            try await base.run()
            finished.mutate { $0 = .now }
        }
    }

    /// Runs a client and a writer against `endpoint` for the duration of `body`, then shuts
    /// them down gracefully (the writer drains before the client stops). The database is
    /// migrated and the writer writes directly before `body` runs.
    static func withWriter(
        _ endpoint: DatabaseEndpoint, spoolDirectory: String? = nil, spoolBytes: Int = 64 << 20,
        configure: (inout PingWriterConfiguration) -> Void = { _ in }, _ body: @Sendable (Rig) async throws -> Void
    ) async throws {
        var clientConfiguration = try endpoint.clientConfiguration()
        clientConfiguration.options.maximumConnections = 4
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: TestPostgres.logger)
        let status = DatabaseStatus()
        let store = PingStore(database: client.database)
        let spoolDirectory = spoolDirectory ?? NSTemporaryDirectory() + "hv-writer-\(UUID().uuidString)"
        let spool = try Spool(directory: spoolDirectory, maximumBytes: spoolBytes)
        var configuration = PingWriterConfiguration()
        configuration.linger = .zero
        configure(&configuration)
        let writer = PingWriter(store: store, status: status, spool: spool, configuration: configuration, logger: TestPostgres.logger)
        let finished = Locked<ContinuousClock.Instant?>(nil)
        let group = ServiceGroup(services: [client, Timed(base: writer, finished: finished)], logger: TestPostgres.logger)
        let rig = Rig(
            endpoint: endpoint, client: client, writer: writer, status: status, spoolDirectory: spoolDirectory, group: group,
            writerFinished: finished)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await Migrator(logger: TestPostgres.logger).migrate(client.database)
                status.update(.ready)
                // The writer starts on its spool until it has seen the database; the tests of
                // direct writes begin once it writes directly.
                #expect(try await rig.waitUntilDirect(within: .seconds(90)), "the spool was not replayed in time")
                try await body(rig)
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
                "SELECT unit_id, (extract(epoch FROM time) * 1000000)::int8 FROM ping_history", logger: TestPostgres.logger)
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
            // Long enough that a loaded machine (the whole suite, clusters starting) does not
            // count a slow but live server as down, and keep it spooling.
            $0.writeTimeout = .seconds(4)
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
            let deadline = ContinuousClock.now + .seconds(90)
            while rig.writer.spooledBytes > 0 || !rig.writer.acceptsBeforeDurable {
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


extension PingWriterTests {
    static func chunks(_ pings: [Ping], of size: Int) -> [[Ping]] {
        stride(from: 0, to: pings.count, by: size).map { Array(pings[$0..<min($0 + size, pings.count)]) }
    }

    /// A frozen server (processes stopped, sockets open) answers nothing; before the fix the
    /// writer waited on it forever and acknowledged nothing. Now each batch waits one write
    /// deadline at most, then everything goes to the spool until the server answers again.
    @Test(.timeLimit(.minutes(3)))
    func aFrozenDatabaseIsTreatedLikeOneThatIsDown() async throws {
        let cluster = TestPostgres.makeCluster("frozen", durable: true)
        registerStopAtExit(cluster)
        let endpoint = try await cluster.start()
        let acknowledged = Locked<[Ping.Key]>([])
        try await Self.withWriter(endpoint, configure: {
            $0.writeTimeout = .seconds(1)
            $0.retryInterval = .milliseconds(300)
        }) { rig in
            let batches = Self.chunks(TestPings.make(units: 20, perUnit: 100, step: 0.5), of: 20)
            var spooled = 0
            var slowest = Duration.zero
            for (index, batch) in batches.enumerated() {
                if index == 10 { cluster.freeze() }
                if index == 60 { cluster.thaw() }
                let start = ContinuousClock.now
                let receipt = try await rig.writer.write(batch)
                slowest = max(slowest, ContinuousClock.now - start)
                acknowledged.mutate { $0 += batch.map(\.key) }
                spooled += receipt.results.count { $0 == .spooled }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(spooled >= 50 * 20, "the frozen stretch went to the spool")
            #expect(slowest < .seconds(5), "one write deadline (1 s), and a margin for a loaded machine: never the minutes it was")
            #expect(try await rig.waitUntilDirect(), "the spool is replayed once the server runs again")
        }
        let stored = try await Self.storedKeys(endpoint)
        #expect(stored.count == Set(stored).count)
        #expect(Set(stored) == Set(acknowledged.value))
        try cluster.stop()
    }

    /// Replaying a large spool used to hold every new acknowledgement back until it finished
    /// (97 s in the field). New pings now go to the spool behind the replay: acknowledged at
    /// once, stored in order after the backlog.
    @Test(.timeLimit(.minutes(5)))
    func newPingsAreAcknowledgedWhileTheSpoolIsReplayed() async throws {
        let cluster = TestPostgres.makeCluster("replay", durable: true)
        registerStopAtExit(cluster)
        let endpoint = try await cluster.start()
        let acknowledged = Locked<[Ping.Key]>([])
        try await Self.withWriter(endpoint, configure: {
            $0.writeTimeout = .seconds(5)
            $0.retryInterval = .milliseconds(200)
            $0.maximumBatchSize = 5_000
        }) { rig in
            try cluster.kill()
            // 100k pings: a replay of several seconds even on an idle machine (so new pings
            // arrive while it runs), and one that a suite loading both cores still finishes.
            let backlog = TestPings.make(units: 500, perUnit: 200, start: Timestamp.now().adding(seconds: -7_200))
            for chunk in Self.chunks(backlog, of: 5_000) {
                let receipt = try await rig.writer.write(chunk)
                #expect(receipt.results.allSatisfy { $0 == .spooled })
                acknowledged.mutate { $0 += chunk.map(\.key) }
            }
            _ = try await cluster.start()
            var latencies: [Duration] = []
            for chunk in Self.chunks(TestPings.make(units: 50, perUnit: 400, start: Timestamp.now().adding(seconds: -600), step: 0.1), of: 50) {
                // Replaying: the writer saw the database again and has not caught up yet.
                let replaying = rig.status.current == .ready && !rig.writer.acceptsBeforeDurable
                let start = ContinuousClock.now
                _ = try await rig.writer.write(chunk)
                if replaying { latencies.append(ContinuousClock.now - start) }
                acknowledged.mutate { $0 += chunk.map(\.key) }
                if rig.writer.acceptsBeforeDurable { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(latencies.count >= 5, "new pings arrived while the replay ran (\(latencies.count))")
            // The defect held acknowledgements for the whole replay (97 s in the field; tens of
            // seconds here): 5 s leaves a full suite on two cores its margin (3.2 s seen once).
            #expect((latencies.max() ?? .zero) < .seconds(5), "slowest acknowledgement during the replay: \(latencies.max() ?? .zero)")
            // The replay runs at a few thousand pings a second when the whole suite shares two
            // cores (CI once needed more than 60 s for twice this backlog).
            #expect(try await rig.waitUntilDirect(within: .seconds(150)), "the spool was not replayed in time")
        }
        let stored = try await Self.storedKeys(endpoint)
        #expect(stored.count == Set(stored).count)
        #expect(Set(stored) == Set(acknowledged.value))
        try cluster.stop()
    }

    enum StopPhase: String, CaseIterable, Sendable {
        /// A batch waits on a frozen server when the stop comes.
        case frozen
        /// The server is down; everything goes to the spool.
        case spooling
        /// The server is back and a large spool is being replayed.
        case replaying
    }

    /// SIGTERM used to wait for a replay that waited on the server; now a stop takes one write
    /// deadline at most, whatever the writer was doing, and loses nothing acknowledged.
    @Test(.timeLimit(.minutes(4)), arguments: StopPhase.allCases)
    func aStopTakesOneWriteDeadlineAtMost(phase: StopPhase) async throws {
        let cluster = TestPostgres.makeCluster("stop-\(phase)", durable: true)
        registerStopAtExit(cluster)
        let endpoint = try await cluster.start()
        let spoolDirectory = NSTemporaryDirectory() + "hv-stop-\(UUID().uuidString)"
        let acknowledged = Locked<[Ping.Key]>([])
        let writeTimeout = Duration.seconds(2)
        try await Self.withWriter(endpoint, spoolDirectory: spoolDirectory, configure: {
            $0.writeTimeout = writeTimeout
            $0.retryInterval = .milliseconds(200)
            $0.maximumBatchSize = 2_000
        }) { rig in
            switch phase {
            case .frozen:
                cluster.freeze()
            case .spooling:
                try cluster.kill()
            case .replaying:
                try cluster.kill()
                for chunk in Self.chunks(TestPings.make(units: 500, perUnit: 200, start: Timestamp.now().adding(seconds: -7_200)), of: 5_000) {
                    _ = try await rig.writer.write(chunk)
                    acknowledged.mutate { $0 += chunk.map(\.key) }
                }
                _ = try await cluster.start()
                while rig.status.current != .ready { try await Task.sleep(for: .milliseconds(5)) }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Submitters keep writing until the writer refuses: shutting down.
                for submitter in 0..<4 {
                    group.addTask {
                        let pings = TestPings.make(units: 10, perUnit: 1_000, start: Timestamp.now().adding(seconds: -1_800 + Double(submitter)), step: 1)
                        for chunk in Self.chunks(pings, of: 10) {
                            do throws(PingWriterError) {
                                _ = try await rig.writer.write(chunk)
                                acknowledged.mutate { $0 += chunk.map(\.key) }
                            } catch {
                                #expect(error.code == .shuttingDown)
                                return
                            }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
                let took = try await rig.stop()
                #expect(took < writeTimeout + .seconds(3), "\(phase): the stop took \(took) (one write deadline, and a margin for a loaded machine)")
                try await group.waitForAll()
            }
        }
        cluster.thaw()
        _ = try await cluster.start()
        // A writer on the same spool (the daemon started again) replays what was spooled.
        try await Self.withWriter(endpoint, spoolDirectory: spoolDirectory) { _ in }
        let stored = Set(try await Self.storedKeys(endpoint))
        let missing = acknowledged.value.filter { !stored.contains($0) }
        #expect(missing.isEmpty, "\(phase): \(missing.count) acknowledged pings missing")
        try cluster.stop()
    }

    /// A ping the database refuses used to sink its whole batch, other senders' pings included.
    /// Now only it is refused, named by its index; from the spool, it is set aside in quarantine.
    @Test(.timeLimit(.minutes(3)))
    func onlyThePingsTheDatabaseRefusesAreRefused() async throws {
        let cluster = TestPostgres.makeCluster("refuse", durable: true)
        registerStopAtExit(cluster)
        let endpoint = try await cluster.start()
        let spoolDirectory = NSTemporaryDirectory() + "hv-refuse-\(UUID().uuidString)"
        try await Self.withWriter(endpoint, spoolDirectory: spoolDirectory, configure: { $0.retryInterval = .milliseconds(200) }) { rig in
            try await TestPostgres.withConnection(endpoint) { connection in
                // The history refuses that unit's rows (by its number, which the history keeps).
                try await connection.query("INSERT INTO units (id) VALUES ('PN-75-T-3')", logger: TestPostgres.logger)
                try await connection.query(
                    """
                    DO $$ BEGIN
                        EXECUTE format('ALTER TABLE pings ADD CONSTRAINT refuse_one_unit CHECK (unit_key <> %s)',
                                       (SELECT key FROM units WHERE id = 'PN-75-T-3'));
                    END $$
                    """, logger: TestPostgres.logger)
            }
            let pings = TestPings.make(units: 10, perUnit: 5)
            let receipt = try await rig.writer.write(pings)
            let refusedUnits = Set(receipt.refused.map { pings[$0.index].unit.rawValue })
            #expect(refusedUnits == ["PN-75-T-3"])
            #expect(receipt.refused.count == 5)
            #expect(receipt.refused.allSatisfy { $0.reason.contains("refuse_one_unit") })
            #expect(receipt.accepted == 45)

            // The same from the spool: the refused pings are set aside, the others stored.
            try cluster.kill()
            let later = TestPings.make(units: 10, perUnit: 5, start: Timestamp.now().adding(seconds: -60))
            #expect(try await rig.writer.write(later).results.allSatisfy { $0 == .spooled })
            _ = try await cluster.start()
            #expect(try await rig.waitUntilDirect())
        }
        let stored = Set(try await Self.storedKeys(endpoint))
        #expect(stored.count == 90)
        #expect(!stored.contains { $0.unit.rawValue == "PN-75-T-3" })
        let quarantine = try FileManager.default.contentsOfDirectory(atPath: spoolDirectory + "/quarantine")
        let file = try #require(quarantine.first { $0.hasSuffix(".spool") })
        let content = Array(try Data(contentsOf: URL(fileURLWithPath: spoolDirectory + "/quarantine/" + file)))
        let setAside = try SpoolCodec.decode(Array(content.dropFirst(12)))
        #expect(setAside.count == 5 && setAside.allSatisfy { $0.unit.rawValue == "PN-75-T-3" })
        try cluster.stop()
    }
}

extension FileManager {
    func attributesSize(_ path: String) -> Int {
        ((try? attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }
}
