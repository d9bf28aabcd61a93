import Logging
import Metrics
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// PostgreSQL as every part of the daemon uses it: each call has a deadline that really ends it,
/// and the daemon follows the primary when it moves.
///
/// A deadline made of task cancellation alone cannot end a statement sent to a server that has
/// stopped answering (its processes frozen, or a network that drops packets): postgres-nio waits
/// for the server's reply, and a `COPY` for the socket to drain. So at the deadline the call is
/// cancelled and the connection it leased is closed, which fails every wait on that connection;
/// the pool drops it and opens a new one when needed. Waiting for a connection from the pool is
/// inside the deadline too.
///
/// postgres-nio 1.33 can lose a statement's reply outright: a statement written to a connection
/// that has just closed (the server crashed between two statements of a transaction) is dropped
/// with its promise, and the caller would wait forever. Statements here are checked against a
/// closed connection first, and transactions never send `ROLLBACK` on one, which makes that rare;
/// for what remains, the call's work runs in a task of its own that the caller stops waiting for
/// at the deadline. Such a call is counted (`hypervision_database_calls_abandoned`) and logged;
/// its connection is closed, so the pool does not lose the slot.
///
/// The server-side `statement_timeout` (set for every pooled connection by the daemon) ends
/// runaway statements on a server that still runs; the deadline covers the one that does not.
///
/// Made with an endpoint (``init(endpoint:configure:logger:defaultDeadline:metricsFactory:)``),
/// the database is a service that owns its connection pool: it connects to the endpoint's first
/// server that answers, or with several servers and `target_session_attrs=read-write` to the one
/// that takes writes, and when calls start failing it looks again and moves the pool to the new
/// primary (a failover managed by Patroni or pg_auto_failover). Made around a client
/// (``init(client:logger:defaultDeadline:metricsFactory:)``), it uses that client as it is.
public final class Database: Service, Sendable {
    public let logger: Logger
    /// The deadline of a call that names none.
    public let defaultDeadline: Duration
    private let metrics: DatabaseMetrics
    private let pool: Mutex<(client: PostgresClient, endpoint: DatabaseEndpoint?)>
    private let owned: OwnedPool?

    /// The pool in use now.
    public var client: PostgresClient { pool.withLock { $0.client } }

    /// The server the pool connects to now (nil for a client made elsewhere).
    public var currentEndpoint: DatabaseEndpoint? { pool.withLock { $0.endpoint } }

    /// How the pool picks its server among those configured (nil for a client made elsewhere).
    public var targetSession: DatabaseEndpoint.TargetSession? { owned?.endpoint.targetSession }

    /// The servers configured, in order (nil for a client made elsewhere).
    public var configuredEndpoint: DatabaseEndpoint? { owned?.endpoint }

    /// Uses `client`, which the caller runs.
    public init(
        client: PostgresClient, logger: Logger, defaultDeadline: Duration = .seconds(15),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.logger = logger
        self.defaultDeadline = defaultDeadline
        self.metrics = DatabaseMetrics(factory: metricsFactory)
        self.pool = Mutex((client, nil))
        self.owned = nil
    }

    /// Owns a pool for `endpoint`'s primary, set up by `configure` (pool size, startup
    /// parameters); `run()` runs it and follows the primary.
    public init(
        endpoint: DatabaseEndpoint, configure: @escaping @Sendable (inout PostgresClient.Configuration) -> Void = { _ in },
        logger: Logger, defaultDeadline: Duration = .seconds(15), relocationInterval: Duration = .seconds(1),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws {
        self.logger = logger
        self.defaultDeadline = defaultDeadline
        self.metrics = DatabaseMetrics(factory: metricsFactory)
        let owned = OwnedPool(endpoint: endpoint, configure: configure, relocationInterval: relocationInterval)
        let first = endpoint.candidates[0]
        self.pool = Mutex((try owned.makeClient(for: first, logger: logger), first))
        self.owned = owned
    }

    public func run() async throws {
        guard let owned else {
            try? await gracefulShutdown()
            return
        }
        let (initial, _) = pool.withLock { ($0.client, $0.endpoint) }
        await withDiscardingTaskGroup { group in
            var running = RunningClient(initial, in: &group)
            // Several servers, or one that must take writes: find the right one now.
            if owned.follows { owned.requestRelocation() }
            for await _ in owned.relocations.cancelOnGracefulShutdown() {
                guard let found = await relocate(owned), found != currentEndpoint else { continue }
                do {
                    let next = try owned.makeClient(for: found, logger: logger)
                    let previous = running
                    running = RunningClient(next, in: &group)
                    pool.withLock { $0 = (next, found) }
                    logger.notice("database: now using \(found)")
                    // Calls in flight on the old pool fail and are retried by their callers.
                    previous.stop()
                } catch {
                    logger.error("database: cannot use \(found)", metadata: ["error": "\(error)"])
                }
            }
            running.stop()
        }
    }

    /// Checks, on direct connections (they fail fast with the server's own reason, where a pool
    /// keeps retrying), that the server to use answers: the first that answers, or with several
    /// servers and `target_session_attrs` the one that takes writes. Moves the pool there if it
    /// points elsewhere, and throws meanwhile. Throws the reason (for `/readyz`) if none.
    public func checkServer() async throws {
        guard let owned else {
            try await query("SELECT 1", deadline: .seconds(5))
            return
        }
        let found = try await PrimaryLocator.locate(owned.endpoint, logger: logger)
        guard found == currentEndpoint else {
            owned.requestRelocation(force: true)
            throw DatabaseEndpointError("moving to \(found.serverDescription)")
        }
    }

    /// Checks the pool within `deadline`: a server answers, and takes writes when it must (a
    /// primary demoted to a standby answers, read-only: the pool is moved to the new primary).
    public func checkPool(deadline: Duration) async throws {
        let rows = try await query("SELECT pg_is_in_recovery()", deadline: deadline)
        if let owned, owned.endpoint.targetSession != .any, try rows.first?.decode(Bool.self) == true {
            owned.requestRelocation(force: true)
            throw DatabaseEndpointError("\(currentEndpoint?.serverDescription ?? "the server") is a read-only standby now")
        }
    }

    /// Asks the run loop to find the primary again: a call failed as if the server were gone.
    func requestRelocation() {
        owned?.requestRelocation()
    }

    private func relocate(_ owned: OwnedPool) async -> DatabaseEndpoint? {
        do {
            return try await PrimaryLocator.locate(owned.endpoint, logger: logger)
        } catch {
            logger.warning("database: no server to use yet", metadata: ["reason": "\(error)"])
            // Try again later, whether or not anything else fails meanwhile.
            owned.requestRelocation(after: owned.relocationInterval)
            return nil
        }
    }

    /// Runs `body` with a leased connection, the lease and the work together bounded by `deadline`.
    /// Throws ``DatabaseTimeout`` when the deadline passes; the connection is closed then.
    public func withConnection<T: Sendable>(
        deadline: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let call = DatabaseCall<T>(limit: deadline ?? defaultDeadline, metrics: metrics, logger: logger)
        let client = self.client
        do {
            return try await call.run {
                try await client.withConnection { connection in
                    try call.hold(connection)
                    defer { call.release() }
                    return try await body(connection)
                }
            }
        } catch {
            // The server may have gone away for good (a failover): look for the primary again.
            if !(error is CancellationError), DatabaseErrors.isConnectivity(error) { requestRelocation() }
            throw error
        }
    }

    /// Runs `body` on `connection`, a connection of the caller's own (not from the pool), within
    /// `limit`: past it, the caller gets ``DatabaseTimeout`` at once, the work is cancelled and
    /// the connection closed, without waiting for the work to give up (a server that vanished
    /// may never answer it).
    public func withDeadline<T: Sendable>(
        _ limit: Duration, on connection: PostgresConnection, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let call = DatabaseCall<T>(limit: limit, metrics: metrics, logger: logger)
        try call.hold(connection)
        return try await call.run(body)
    }

    /// Runs `body` in a transaction on one connection, bounded by `deadline` like
    /// ``withConnection(deadline:_:)``: committed if it returns, rolled back if it throws.
    public func withTransaction<T: Sendable>(
        deadline: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        return try await withConnection(deadline: deadline) { connection in
            try await connection.transaction(logger: logger) { connection in try await body(connection) }
        }
    }

    /// Runs one statement and returns all its rows, bounded by `deadline`.
    @discardableResult
    public func query(_ query: PostgresQuery, deadline: Duration? = nil) async throws -> [PostgresRow] {
        let logger = self.logger
        return try await withConnection(deadline: deadline) { connection in
            try await connection.checkedQuery(query, logger: logger).collect()
        }
    }
}

extension PostgresConnection {
    /// Runs a statement, unless the connection is already closed: postgres-nio (1.33) drops a
    /// statement written to a closed connection without ever answering it.
    @discardableResult
    func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw DatabaseConnectionClosed() }
        return try await self.query(query, logger: logger)
    }

    /// A transaction: `BEGIN`, `body`, then `COMMIT`, or `ROLLBACK` when `body` throws and the
    /// connection is still open (on a closed one the transaction is gone already, and postgres-nio's
    /// own `withTransaction` would wait forever for the `ROLLBACK`). Errors are the body's own.
    func transaction<T>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await checkedQuery("BEGIN", logger: logger)
        let value: T
        do {
            value = try await body(self)
        } catch {
            if !isClosed { _ = try? await query("ROLLBACK", logger: logger) }
            throw error
        }
        try await checkedQuery("COMMIT", logger: logger)
        return value
    }
}

/// One ``Database`` call: whichever of its work and its deadline ends first answers the caller.
private final class DatabaseCall<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var answered = false
        var expired = false
        var connection: PostgresConnection?
        var work: Task<Void, Never>?
        var timer: Scheduled<Void>?
    }

    private let state = Mutex(State())
    private let limit: Duration
    private let metrics: DatabaseMetrics
    private let logger: Logger

    init(limit: Duration, metrics: DatabaseMetrics, logger: Logger) {
        self.limit = limit
        self.metrics = metrics
        self.logger = logger
    }

    /// Runs `work` and answers with its result, or with the deadline's error first.
    /// The work is unstructured on purpose (see ``Database``): the caller must be able to stop
    /// waiting for work that postgres-nio may never finish. Cancellation is forwarded.
    func run(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await work())
            } catch {
                result = .failure(error)
            }
            self.complete(result)
        }
        attach(task)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                wait(continuation, timer: MultiThreadedEventLoopGroup.singleton.any())
            }
        } onCancel: {
            expire(CancellationError())
        }
    }

    func attach(_ work: Task<Void, Never>) {
        let cancelNow = state.withLock { state -> Bool in
            state.work = work
            return state.expired
        }
        if cancelNow { work.cancel() }
    }

    /// The caller waits; the timer on `loop` expires the call at its deadline.
    func wait(_ continuation: CheckedContinuation<T, any Error>, timer loop: any EventLoop) {
        let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        let answerNow = state.withLock { state -> Result<T, any Error>? in
            if let result = state.result {
                state.answered = true
                return result
            }
            if state.expired {
                state.answered = true
                return .failure(CancellationError())
            }
            state.continuation = continuation
            return nil
        }
        if let answerNow {
            continuation.resume(with: answerNow)
            return
        }
        let timer = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in expire(DatabaseTimeout(limit: limit)) }
        state.withLock { $0.timer = timer }
    }

    /// Records the leased connection; throws (and closes it) when the call expired meanwhile.
    /// A closed connection is refused too: the pool may lend one it has not seen close yet.
    func hold(_ connection: PostgresConnection) throws {
        let expired = state.withLock { state -> Bool in
            if !state.expired { state.connection = connection }
            return state.expired
        }
        if expired {
            connection.close().whenComplete { _ in }
            throw DatabaseTimeout(limit: limit)
        }
        if connection.isClosed { throw DatabaseConnectionClosed() }
    }

    func release() {
        state.withLock { $0.connection = nil }
    }

    /// The work ended: answer the caller unless the deadline answered first.
    func complete(_ result: Result<T, any Error>) {
        let (continuation, timer, abandoned) = state.withLock { state -> (CheckedContinuation<T, any Error>?, Scheduled<Void>?, Bool) in
            state.result = result
            let continuation = state.answered ? nil : state.continuation
            if continuation != nil { state.answered = true }
            state.continuation = nil
            return (continuation, state.timer, state.expired)
        }
        timer?.cancel()
        if abandoned { metrics.abandoned.decrement() }
        continuation?.resume(with: result)
    }

    /// The deadline passed or the caller was cancelled: answer with `error`, cancel the work,
    /// then close its connection. In that order: postgres-nio releases a `COPY` that waits for
    /// the socket to drain only through cancellation (closing first leaves it waiting forever).
    func expire(_ error: any Error) {
        let (continuation, work, connection, first) = state.withLock { state in
            let first = !state.expired && state.result == nil
            state.expired = true
            let continuation = state.answered ? nil : state.continuation
            if continuation != nil { state.answered = true }
            state.continuation = nil
            return (continuation, state.work, state.connection, first)
        }
        guard first else {
            continuation?.resume(throwing: error)
            return
        }
        metrics.pastDeadline.increment()
        metrics.abandoned.increment()
        work?.cancel()
        connection?.close().whenComplete { _ in }
        logger.debug(
            "database call stopped: cancelled and its connection closed",
            metadata: ["reason": "\(error)", "connection": "\(connection.map { "\($0.id)" } ?? "none leased yet")"])
        continuation?.resume(throwing: error)
    }
}

/// The database layer's metrics, created once.
final class DatabaseMetrics: Sendable {
    /// Calls that reached their deadline (or whose caller gave up).
    let pastDeadline: Counter
    /// Calls stopped that have not returned yet: above zero for long means postgres-nio lost a reply.
    let abandoned: Meter

    init(factory: any MetricsFactory) {
        pastDeadline = Counter(label: "hypervision_database_calls_past_deadline_total", factory: factory)
        abandoned = Meter(label: "hypervision_database_calls_abandoned", factory: factory)
    }
}

/// The deadline of one database operation passed.
public struct DatabaseTimeout: Error, Sendable, CustomStringConvertible {
    public var limit: Duration
    public var description: String { "no answer from the database within \(limit)" }
}

/// A statement was not sent because its connection had closed (the server went away).
public struct DatabaseConnectionClosed: Error, Sendable, CustomStringConvertible {
    public var description: String { "the connection to the database is closed" }
}

extension PostgresConnection {
    /// `COPY table (columns) FROM STDIN` of `rows` in binary format, as ``CopyBinaryWriter``
    /// writes them, unless the connection is already closed (see ``checkedQuery(_:logger:)``).
    func checkedCopy(into table: String, columns: [String], logger: Logger, rows: ByteBuffer) async throws {
        guard !isClosed else { throw DatabaseConnectionClosed() }
        try await copyFrom(table: table, columns: columns, format: .binary, logger: logger) { writer in try await writer.write(rows) }
    }
}

/// What a ``Database`` that owns its pool needs: its endpoint, how to configure a pool, and the
/// requests to find the primary again.
private final class OwnedPool: Sendable {
    let endpoint: DatabaseEndpoint
    let configure: @Sendable (inout PostgresClient.Configuration) -> Void
    let relocationInterval: Duration
    let relocations: AsyncStream<Void>
    private let requests: AsyncStream<Void>.Continuation
    private let lastRequest = Mutex<ContinuousClock.Instant?>(nil)

    /// Whether there is a choice to make: several servers, or one that must take writes.
    var follows: Bool { endpoint.servers.count > 1 || endpoint.targetSession != .any }

    init(
        endpoint: DatabaseEndpoint, configure: @escaping @Sendable (inout PostgresClient.Configuration) -> Void,
        relocationInterval: Duration
    ) {
        self.endpoint = endpoint
        self.configure = configure
        self.relocationInterval = relocationInterval
        // One pending request is enough: the next relocation answers all of them.
        (relocations, requests) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func makeClient(for server: DatabaseEndpoint, logger: Logger) throws -> PostgresClient {
        var configuration = try server.clientConfiguration()
        configure(&configuration)
        var logger = logger
        logger[metadataKey: "component"] = "postgres"
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// At most one relocation per `relocationInterval`, however many calls fail meanwhile
    /// (`force`: now, when the primary is known to have moved).
    func requestRelocation(force: Bool = false) {
        guard follows else { return }
        let now = ContinuousClock.now
        let allowed = lastRequest.withLock { last -> Bool in
            if !force, let last, now - last < relocationInterval { return false }
            last = now
            return true
        }
        if allowed { requests.yield() }
    }

    func requestRelocation(after delay: Duration) {
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
            requestRelocation()
        }
    }
}

/// A pool running in the database's task group until stopped.
private struct RunningClient {
    private let stopper: AsyncStream<Void>.Continuation

    init(_ client: PostgresClient, in group: inout DiscardingTaskGroup) {
        let (stopped, stopper) = AsyncStream.makeStream(of: Void.self)
        self.stopper = stopper
        group.addTask {
            await withDiscardingTaskGroup { pool in
                pool.addTask { await client.run() }
                for await _ in stopped {}
                pool.cancelAll()
            }
        }
    }

    func stop() { stopper.finish() }
}

/// Every server named answered, and refused the user (no such role, a wrong password, no
/// `pg_hba.conf` entry): the connection string is wrong, which no retry mends.
public struct DatabaseAccessRefused: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Finds, among an endpoint's servers, the one to use, as libpq does with several hosts: the
/// first that answers, or with `target_session_attrs=read-write` the first that is not in
/// recovery (`pg_is_in_recovery()` false: a primary, not a standby).
public enum PrimaryLocator {
    public static func locate(_ endpoint: DatabaseEndpoint, logger: Logger, deadline: Duration = .seconds(5)) async throws -> DatabaseEndpoint {
        var reasons: [String] = []
        var refusedAccess = 0
        var standbys = 0
        for candidate in endpoint.candidates {
            do {
                if try await isUsable(candidate, target: endpoint.targetSession, logger: logger, deadline: deadline) { return candidate }
                standbys += 1
                reasons.append("\(candidate.serverDescription): read-only (a standby)")
            } catch {
                // SQLSTATE class 28: the user or its password refused (no such role, wrong password, no pg_hba entry).
                if DatabaseErrors.sqlState(error)?.hasPrefix("28") == true { refusedAccess += 1 }
                reasons.append("\(candidate.serverDescription): \(DatabaseErrors.describe(error))")
            }
        }
        if refusedAccess == endpoint.candidates.count {
            throw DatabaseAccessRefused(description: "every server refused the user: \(reasons.joined(separator: "; "))")
        }
        throw DatabaseEndpointError(
            "no server \(endpoint.targetSession == .any ? "answers" : "takes writes"): \(reasons.joined(separator: "; "))",
            everyServerIsAStandby: standbys == endpoint.candidates.count)
    }

    private static func isUsable(
        _ server: DatabaseEndpoint, target: DatabaseEndpoint.TargetSession, logger: Logger, deadline: Duration
    ) async throws -> Bool {
        // connectTimeout bounds the connection, start-up included.
        let connection = try await PostgresConnection.connect(configuration: server.connectionConfiguration(), id: 0, logger: logger)
        let usable: Result<Bool, any Error>
        if target == .any {
            usable = .success(true)
        } else {
            do {
                usable = .success(try await isPrimary(connection, logger: logger, deadline: deadline))
            } catch {
                usable = .failure(error)
            }
        }
        // Awaited: a connection must be closed before it goes away.
        try? await connection.close()
        return try usable.get()
    }

    private static func isPrimary(_ connection: PostgresConnection, logger: Logger, deadline: Duration) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                let rows = try await connection.checkedQuery("SELECT pg_is_in_recovery()", logger: logger).collect()
                return try rows.first?.decode(Bool.self) == false
            }
            group.addTask {
                try await Task.sleep(for: deadline)
                throw DatabaseTimeout(limit: deadline)
            }
            defer { group.cancelAll() }
            do {
                return try await group.next()!
            } catch {
                // A server that does not answer: the query was written while the connection was
                // open, so closing it ends the wait.
                connection.close().whenComplete { _ in }
                throw error
            }
        }
    }
}
