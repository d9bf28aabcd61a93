import HypervisionConfiguration
import HypervisionCore
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Settings of the ``DatabaseSupervisor``; `retentionDays` may change at run time (SIGHUP).
public struct DatabaseSupervisorConfiguration: Sendable, Hashable {
    public var retentionDays: Int = 30
    public var partitionsAhead: Int = 3
    public var healthInterval: Duration = .seconds(2)
    public var maintenanceInterval: Duration = .seconds(3600)
    public var maximumBackoff: Duration = .seconds(30)
    /// At start-up, how long every server named may answer as a standby before that is taken
    /// for a connection string that names no primary (exit 78): longer than a failover (Patroni's
    /// leader TTL is 30 s by default).
    public var startupPrimaryWait: Duration = .seconds(120)
    public init() {}
}

/// Brings the database up (retrying with backoff while it is down), applies migrations,
/// keeps day partitions ahead and drops expired ones, and keeps ``DatabaseStatus`` current.
public final class DatabaseSupervisor: Service, Sendable {
    private let database: Database
    private let store: PingStore
    private let status: DatabaseStatus
    private let logger: Logger
    private let settings: Mutex<DatabaseSupervisorConfiguration>
    private let onReady: @Sendable () -> Void

    public init(
        database: Database, store: PingStore, status: DatabaseStatus,
        configuration: DatabaseSupervisorConfiguration, logger: Logger, onReady: @escaping @Sendable () -> Void = {}
    ) {
        self.database = database
        self.store = store
        self.status = status
        self.logger = logger
        self.settings = Mutex(configuration)
        self.onReady = onReady
    }

    /// Changes the retention at run time; takes effect at the next maintenance pass, which runs now.
    public func updateRetention(days: Int) {
        settings.withLock { $0.retentionDays = days }
    }

    public func run() async throws {
        // Shutdown may come while the database is still being waited for: then the wait ends,
        // and the stop is a clean one (a thrown CancellationError would fail the service group).
        do {
            try await cancelWhenGracefulShutdown { try await self.bootstrap() }
        } catch is CancellationError where Task.isShuttingDownGracefully {
            return
        }
        if Task.isShuttingDownGracefully || Task.isCancelled { return }
        onReady()
        var lastMaintenance: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let config = settings.withLock { $0 }
            if lastMaintenance == nil || ContinuousClock.now - lastMaintenance! >= config.maintenanceInterval {
                if await maintainPartitions(config) { lastMaintenance = .now }
            }
            await checkHealth()
            try? await Task.sleep(for: config.healthInterval)
        }
    }

    /// Connects and migrates, retrying with exponential backoff while the server is unreachable.
    /// A schema that cannot be used (newer than this binary, a failing migration) stops here.
    func bootstrap() async throws {
        var delay: Duration = .milliseconds(250)
        let maximum = settings.withLock { $0.maximumBackoff }
        var namesChecked = false
        /// Since when every server named has answered as a standby, without a break.
        var onlyStandbysSince: ContinuousClock.Instant?
        while true {
            try Task.checkCancellation()
            do {
                if !namesChecked {
                    try await refuseHostsThatDoNotExist()
                    namesChecked = true
                }
                // A direct connection first: it fails fast with the server's real reason, where
                // the pool would keep a caller waiting while it retries in the background.
                try await probe()
                try await refuseAStandbyNamedAsPrimary()
                let outcome = try await Migrator(logger: logger).migrate(database)
                logger.notice("database ready", metadata: ["schema_version": "\(outcome.version)", "applied": "\(outcome.applied)"])
                status.update(.ready)
                return
            } catch let error as ConfigurationError {
                status.update(.failed(reason: error.description))
                throw error
            } catch let error as MigrationError {
                status.update(.failed(reason: error.description))
                logger.critical("cannot use the database", metadata: ["reason": "\(error)"])
                throw error
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { throw CancellationError() }
                if let endpointError = error as? DatabaseEndpointError, endpointError.everyServerIsAStandby {
                    let since = onlyStandbysSince ?? .now
                    onlyStandbysSince = since
                    let wait = settings.withLock { $0.startupPrimaryWait }
                    if ContinuousClock.now - since >= wait {
                        let problem = ConfigurationError(
                            key: "database.url",
                            problem: "every server named answers as a standby, and none became the primary within "
                                + "\(wait.components.seconds) s (\(endpointError.message)): name the primary too")
                        status.update(.failed(reason: problem.description))
                        throw problem
                    }
                } else {
                    onlyStandbysSince = nil
                }
                let reason = DatabaseErrors.describe(error)
                status.update(.connecting(reason: reason))
                logger.warning("database not reachable yet; retrying", metadata: ["reason": "\(reason)", "retry_in": "\(delay)"])
                try await gracefulSleep(delay)
                delay = min(delay * 2, maximum)
            }
        }
    }

    @discardableResult
    func maintainPartitions(_ config: DatabaseSupervisorConfiguration) async -> Bool {
        let today = Timestamp.now().epochDay
        do {
            try await store.ensurePartitions(around: today, daysBehind: 1, daysAhead: Int64(config.partitionsAhead))
            let dropped = try await store.dropPartitions(olderThan: Int64(config.retentionDays), today: today)
            if !dropped.isEmpty {
                logger.notice("dropped expired ping partitions", metadata: ["partitions": "\(dropped)"])
            }
            return true
        } catch {
            logger.warning("partition maintenance failed; will retry", metadata: ["reason": "\(DatabaseErrors.describe(error))"])
            return false
        }
    }

    /// Host names the resolver says do not exist. All of them: the connection string is wrong
    /// (exit 78 at start-up, where waiting would look like a database that is merely down). Some
    /// of them: the daemon runs on the others, and says loudly that a failover to those can never
    /// happen. A resolver that cannot answer now (no network yet at boot) is waited out like a
    /// server that does not answer.
    private func refuseHostsThatDoNotExist() async throws {
        guard let endpoint = database.configuredEndpoint else { return }
        var unknown: [String] = []
        for (server, check) in await HostNameCheck.check(endpoint) {
            if case .unknown(let reason) = check { unknown.append("\(server): unknown host (\(reason))") }
        }
        if unknown.count == endpoint.servers.count {
            throw ConfigurationError(
                key: "database.url",
                problem: "no server named exists: \(unknown.joined(separator: "; ")); check the host names")
        }
        if !unknown.isEmpty {
            logger.error(
                "database.url names hosts that do not exist; the daemon can never use them",
                metadata: ["hosts": "\(unknown.joined(separator: "; "))"])
        }
    }

    /// A server taken because it answers (no `target_session_attrs=read-write` to look for the
    /// primary) that is a standby: this daemon writes, so that is a configuration mistake, told
    /// at start-up (exit 78). With `read-write`, a standby is passed over instead, and a time
    /// with no primary at all (a failover under way) is waited out.
    private func refuseAStandbyNamedAsPrimary() async throws {
        guard database.targetSession == .any else { return }
        let rows = try await database.query("SELECT pg_is_in_recovery()", deadline: .seconds(5))
        guard try rows.first?.decode(Bool.self) == true else { return }
        let server = database.currentEndpoint?.serverDescription ?? "the server"
        throw ConfigurationError(
            key: "database.url",
            problem: "\(server) is a standby (pg_is_in_recovery() is true), and hypervisiond writes: name the primary, or name every server "
                + "with target_session_attrs=read-write (postgresql://a,b/db?target_session_attrs=read-write) so that it finds the "
                + "primary and follows failovers")
    }

    /// The server to use answers, and the pool points at it (with several servers, the one that
    /// takes writes); throws the reason otherwise.
    private func probe() async throws {
        do {
            try await database.checkServer()
        } catch let refused as DatabaseAccessRefused {
            // At start-up: a connection string that names the wrong user or password.
            throw ConfigurationError(key: "database.url", problem: refused.description)
        }
    }

    private func checkHealth() async {
        do {
            try await database.checkPool(deadline: .seconds(2))
            if status.current != .ready {
                logger.notice("database reachable again")
                status.update(.ready)
            }
        } catch {
            if Task.isCancelled { return }
            let reason = DatabaseErrors.describe(error)
            if status.current == .ready { logger.warning("database unreachable", metadata: ["reason": "\(reason)"]) }
            status.update(.unreachable(reason: reason))
        }
    }

    private func gracefulSleep(_ duration: Duration) async throws {
        try await cancelWhenGracefulShutdown {
            try await Task.sleep(for: duration)
        }
    }
}
