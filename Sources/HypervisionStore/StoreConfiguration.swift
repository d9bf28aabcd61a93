import HypervisionConfiguration
import HypervisionCore

/// The store's configuration section: `database.*` (where PostgreSQL is, or how to run the
/// embedded one), `writer.*`, `spool.*` and `retention.*`.
public struct StoreConfiguration: ConfigurationSection, Hashable {
    /// A libpq-style URL (several hosts allowed); empty: the embedded PostgreSQL, unless `PG*`
    /// environment variables name a server.
    public var databaseURL = ""
    public var poolSize = 8
    /// The server ends any statement running longer (`statement_timeout` of every connection);
    /// the daemon closes a connection whose answer is this late (plus a margin), so a frozen
    /// server never holds a request or a pooled connection.
    public var statementTimeout: Duration = .seconds(15)
    /// The system user that runs the embedded PostgreSQL when the daemon runs as root.
    public var embeddedUser = "postgres"
    public var embeddedBinDirectory = "/usr/lib/postgresql/15/bin"
    public var writer = PingWriterConfiguration()
    public var spoolMaximumBytes = 1 << 30
    /// Day partitions kept and made ahead; `retentionDays` may change on SIGHUP.
    public var retention = DatabaseSupervisorConfiguration()

    public init() {}

    public static let keys = [
        "database.url", "database.poolSize", "database.statementTimeoutMs", "database.startupPrimaryWaitSeconds", "database.embedded.user", "database.embedded.binDir",
        "writer.batchSize", "writer.lingerMs", "writer.queueCapacity", "writer.writeTimeoutMs", "writer.retryIntervalMs",
        "writer.concurrency", "spool.maxBytes", "retention.days", "retention.partitionsAhead",
    ]

    public init(reader r: SectionReader) throws(ConfigurationError) {
        databaseURL = r.string("database.url", default: databaseURL)
        poolSize = try r.int("database.poolSize", default: poolSize, in: 1...200)
        statementTimeout = try r.duration("database.statementTimeoutMs", default: 15_000, in: 100...3_600_000, unit: .milliseconds(1))
        retention.startupPrimaryWait = try r.duration("database.startupPrimaryWaitSeconds", default: 120, in: 1...3_600, unit: .seconds(1))
        embeddedUser = r.string("database.embedded.user", default: embeddedUser)
        embeddedBinDirectory = r.string("database.embedded.binDir", default: embeddedBinDirectory)
        writer.maximumBatchSize = try r.int("writer.batchSize", default: writer.maximumBatchSize, in: 1...1_000_000)
        writer.linger = try r.duration("writer.lingerMs", default: 2, in: 0...10_000, unit: .milliseconds(1))
        writer.queueCapacity = try r.int("writer.queueCapacity", default: writer.queueCapacity, in: 1...100_000_000)
        writer.concurrency = try r.int("writer.concurrency", default: writer.concurrency, in: 1...16)
        writer.writeTimeout = try r.duration("writer.writeTimeoutMs", default: 10_000, in: 100...600_000, unit: .milliseconds(1))
        writer.retryInterval = try r.duration("writer.retryIntervalMs", default: 2_000, in: 10...600_000, unit: .milliseconds(1))
        spoolMaximumBytes = try r.int("spool.maxBytes", default: spoolMaximumBytes, in: 1 << 16...1 << 50)
        retention.retentionDays = try r.int("retention.days", default: retention.retentionDays, in: 1...36_500)
        retention.partitionsAhead = try r.int("retention.partitionsAhead", default: retention.partitionsAhead, in: 1...366)
        if !databaseURL.isEmpty {
            do {
                _ = try DatabaseEndpoint.resolve(url: databaseURL, environment: [:], currentUser: "hypervision")
            } catch {
                throw ConfigurationError(key: "database.url", problem: error.message)
            }
        }
    }

    /// The settings every pooled connection of the daemon starts with (startup parameters):
    ///
    /// - `statement_timeout`: the server ends a runaway statement (``statementTimeout``);
    /// - `idle_in_transaction_session_timeout`: a transaction left open by a lost client ends;
    /// - `jit` off: the planner's estimates for "who passed here" (BRIN ranges are estimated
    ///   coarsely) exceed JIT's thresholds, and compiling the query took about 570 ms on the
    ///   project's machine, for a query that runs in about 65 ms. The daemon's queries are short
    ///   and planned often; none gains from JIT. The embedded PostgreSQL has it off already, an
    ///   integrator's server usually has it on (PostgreSQL's default);
    /// - `application_name`: which daemon holds the connection, in `pg_stat_activity`.
    public func sessionParameters(node: String) -> [(String, String)] {
        [
            ("statement_timeout", String(statementTimeout.nanoseconds / 1_000_000)),
            ("idle_in_transaction_session_timeout", "60000"),
            ("jit", "off"),
            ("application_name", node.isEmpty ? "hypervisiond" : "hypervisiond \(node)"),
        ]
    }

    /// How long without progress before the writer counts as stuck (systemd's watchdog).
    public var writerProgressWindow: Duration {
        writer.writeTimeout + writer.retryInterval * 2 + .seconds(5)
    }
}
