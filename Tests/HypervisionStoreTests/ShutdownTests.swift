import Foundation
import HypervisionCore
import HypervisionTestSupport
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@testable import HypervisionStore

/// Each long-running part of the store stops on graceful shutdown, promptly and without losing
/// what it was asked to keep, whatever the database is doing: driven by ServiceLifecycleTestKit,
/// with no service group and no daemon.
@Suite struct ShutdownTests {
    /// A database that no server answers (a socket directory with nothing in it).
    static func unreachable() throws -> Database {
        let directory = NSTemporaryDirectory() + "hv-nothing-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let endpoint = DatabaseEndpoint(host: directory, user: "nobody", database: "nothing", sslMode: .disable)
        return try Database(endpoint: endpoint, logger: TestPostgres.logger, defaultDeadline: .seconds(1))
    }

    /// The supervisor waits for an unreachable database with backoff; a stop ends the wait.
    @Test(.timeLimit(.minutes(1)))
    func theSupervisorStopsWhileWaitingForTheDatabase() async throws {
        let database = try Self.unreachable()
        let status = DatabaseStatus()
        let supervisor = DatabaseSupervisor(
            database: database, store: PingStore(database: database), status: status, configuration: .init(), logger: TestPostgres.logger)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await supervisor.run() }
                // Waiting for the database: its status says why.
                while case .connecting(let reason) = status.current, reason == "starting" { try await Task.sleep(for: .milliseconds(10)) }
                #expect(status.summary.hasPrefix("connecting:"), "\(status.summary)")
                let stop = ContinuousClock.now
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                #expect(ContinuousClock.now - stop < .seconds(2), "the supervisor stopped \(ContinuousClock.now - stop) after the request")
            }
        }
    }

    /// With no database, a stop spools what is queued, refuses what comes after, and returns.
    @Test(.timeLimit(.minutes(1)))
    func theWriterSpoolsWhatIsQueuedAndStopsWithoutADatabase() async throws {
        let database = try Self.unreachable()
        let spoolDirectory = NSTemporaryDirectory() + "hv-shutdown-\(UUID().uuidString)"
        var configuration = PingWriterConfiguration()
        configuration.writeTimeout = .seconds(1)
        let writer = PingWriter(
            store: PingStore(database: database), status: DatabaseStatus(), spool: try Spool(directory: spoolDirectory, maximumBytes: 1 << 20),
            configuration: configuration, logger: TestPostgres.logger)
        let pings = TestPings.make(units: 5, perUnit: 4)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await writer.run() }
                let receipt = try await writer.write(pings)
                #expect(receipt.results.allSatisfy { $0 == .spooled })
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        do {
            _ = try await writer.write(pings)
            Issue.record("a stopped writer took pings")
        } catch {
            #expect(error.code == .shuttingDown)
        }
        var spooled: [Ping] = []
        try Spool(directory: spoolDirectory, maximumBytes: 1 << 20).forEachRecord { spooled += $0 }
        #expect(spooled == pings)
    }
}
