import Foundation
import HypervisionCore
import HypervisionStore
import Logging
import PostgresNIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL + PostGIS for the tests, started by the tests themselves through the same
/// launcher the daemon uses (never the machine's system cluster). One cluster per test
/// process; every test gets its own database, so tests run in parallel without seeing each other.
///
/// Set `HYPERVISION_TEST_BASE` to choose where clusters live (default `/tmp`).
public actor TestPostgres {
    public static let shared = TestPostgres()

    private var cluster: EmbeddedPostgres?
    private let serial = AsyncLock()
    private var counter = 0
    public static let logger: Logger = {
        var logger = Logger(label: "tests")
        // HYPERVISION_TEST_LOG_LEVEL=trace shows what the writer decides, to debug a fault test.
        logger.logLevel = ProcessInfo.processInfo.environment["HYPERVISION_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }()

    static var testBase: String { ProcessInfo.processInfo.environment["HYPERVISION_TEST_BASE"] ?? "/tmp" }

    /// A fresh, uniquely named cluster directory under the test base.
    public static func makeBaseDirectory(_ tag: String) -> String {
        _ = abandonedClustersReaped
        let base = testBase
        let path = "\(base)/hvt-\(tag)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o755)
        return path
    }

    /// A cluster tuned for tests: durability off for speed (the durability tests stop the
    /// server with an immediate shutdown, which keeps the WAL, so they stay meaningful).
    public static func makeCluster(_ tag: String, durable: Bool = false) -> EmbeddedPostgres {
        var configuration = EmbeddedPostgresConfiguration(baseDirectory: makeBaseDirectory(tag))
        if !durable {
            configuration.settings = ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"]
        }
        configuration.settings["max_connections"] = "200"
        // Short-lived databases need no autovacuum, and its workers would hold the template
        // open ("source database is being accessed by other users").
        configuration.settings["autovacuum"] = "off"
        return EmbeddedPostgres(configuration: configuration, logger: logger)
    }

    private func started() async throws -> EmbeddedPostgres {
        if let cluster { return cluster }
        let cluster = Self.makeCluster("shared")
        _ = try await cluster.start()
        registerStopAtExit(cluster)
        try await Self.withConnection(cluster.endpoint) { connection in
            try await connection.query("CREATE DATABASE hv_template", logger: Self.logger)
        }
        var template = cluster.endpoint
        template.database = "hv_template"
        try await Self.withConnection(template) { connection in
            try await connection.query("CREATE EXTENSION postgis", logger: Self.logger)
            try await connection.query("VACUUM ANALYZE", logger: Self.logger)
        }
        // Like template0: nobody (not even a stray worker) connects, so copies never collide.
        try await Self.withConnection(cluster.endpoint) { connection in
            try await connection.query("ALTER DATABASE hv_template WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", logger: Self.logger)
        }
        self.cluster = cluster
        return cluster
    }

    /// A new empty database with PostGIS installed (not migrated).
    public func makeDatabase() async throws -> DatabaseEndpoint {
        // One at a time: an actor is re-entrant across awaits, and two copies of one template
        // at once make PostgreSQL refuse the second (55006), as would a second cluster start.
        await serial.lock()
        do {
            let endpoint = try await makeDatabaseOnce()
            await serial.unlock()
            return endpoint
        } catch {
            await serial.unlock()
            // PSQLError's description is redacted; a test failure should say what happened.
            throw DescribedError(description: "makeDatabase: \(String(reflecting: error))")
        }
    }

    private func makeDatabaseOnce() async throws -> DatabaseEndpoint {
        let cluster = try await started()
        counter += 1
        let name = "t\(counter)"
        // The template's last setup connection may still be closing server-side ("source database
        // is being accessed by other users", 55006): retry briefly.
        for attempt in 1...50 {
            do {
                try await Self.withConnection(cluster.endpoint) { connection in
                    try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE hv_template"), logger: Self.logger)
                }
                break
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55006" && attempt < 50 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        var endpoint = cluster.endpoint
        endpoint.database = name
        return endpoint
    }

    /// Runs `body` with one plain connection.
    @discardableResult
    public static func withConnection<T: Sendable>(
        _ endpoint: DatabaseEndpoint, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        // The endpoint's own configuration: a test cluster's socket, or a TCP server (Patroni's).
        let connection = try await PostgresConnection.connect(configuration: endpoint.connectionConfiguration(), id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Runs `body` with a running `PostgresClient` (its `run()` in a child task).
    @discardableResult
    public static func withClient<T: Sendable>(
        _ endpoint: DatabaseEndpoint, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        var configuration = try endpoint.clientConfiguration()
        configuration.options.maximumConnections = 4
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        do {
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(client)
            }
        } catch let error as PSQLError {
            throw DescribedError(description: "withClient: \(String(reflecting: error))")
        }
    }

    /// Runs one query and returns the first column of every row as Int64.
    public static func integers(_ endpoint: DatabaseEndpoint, _ sql: String) async throws -> [Int64] {
        try await withConnection(endpoint) { connection in
            var values: [Int64] = []
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) {
                values.append(value)
            }
            return values
        }
    }
}

extension TestPostgres {
    /// Once per test process: the clusters of earlier test processes that died without their
    /// exit handler (killed, crashed) are stopped and their directories removed, so servers do
    /// not pile up on a developer's machine. A directory belongs to a dead process when the pid
    /// in its name (`hvt-TAG-PID-RANDOM`) no longer runs.
    static let abandonedClustersReaped: Void = {
        let base = testBase
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix("hvt-") {
            let parts = name.split(separator: "-")
            guard parts.count >= 4, let pid = pid_t(parts[parts.count - 2]), pid > 0, pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            let directory = "\(base)/\(name)"
            try? EmbeddedPostgres(configuration: EmbeddedPostgresConfiguration(baseDirectory: directory), logger: logger).kill()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }()
}

nonisolated(unsafe) private var clustersToStop: [EmbeddedPostgres] = []

/// Stops test clusters when the test process exits, so no server outlives the run.
public func registerStopAtExit(_ cluster: EmbeddedPostgres) {
    let first = clustersToStop.isEmpty
    clustersToStop.append(cluster)
    if first {
        atexit {
            for cluster in clustersToStop {
                try? cluster.kill()
                try? FileManager.default.removeItem(atPath: cluster.configuration.baseDirectory)
            }
        }
    }
}

/// Pings for tests: deterministic, valid, around Paris.
public enum TestPings {
    public static func make(units: Int, perUnit: Int, start: Timestamp = Timestamp.now().adding(seconds: -3600), step: Double = 1)
        -> [Ping]
    {
        var pings: [Ping] = []
        for n in 0..<perUnit {
            for u in 0..<units {
                let time = start.adding(seconds: Double(n) * step)
                pings.append(
                    Ping(
                        unit: UnitID(trusted: "PN-75-T-\(u)"), time: time,
                        position: GeoPoint(latitude: 48.85 + Double(u % 100) * 0.001, longitude: 2.35 + Double(n % 100) * 0.001),
                        altitude: 35, speed: 12.5, heading: Double((u * 7 + n) % 360), accuracy: 8,
                        status: .available, battery: 81, receivedAt: time))
            }
        }
        return pings
    }
}

/// A value shared between test tasks.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public var value: Value { mutex.withLock { $0 } }
    public func mutate<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// An error with its full description, for test failure messages.
public struct DescribedError: Error, CustomStringConvertible {
    public var description: String
}

/// A lock for async code: waiters queue in order.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if locked {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            locked = true
        }
    }

    func unlock() {
        if waiters.isEmpty {
            locked = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}

extension PostgresClient {
    /// This client as the daemon's stores take it, with the tests' logger and default deadline.
    public var database: Database { Database(client: self, logger: TestPostgres.logger) }
}
