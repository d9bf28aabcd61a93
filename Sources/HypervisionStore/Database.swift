import Logging
import Metrics
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// PostgreSQL as every part of the daemon uses it: each call has a deadline that really ends it.
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
public struct Database: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    /// The deadline of a call that names none.
    public var defaultDeadline: Duration
    private let metrics: DatabaseMetrics

    public init(
        client: PostgresClient, logger: Logger, defaultDeadline: Duration = .seconds(15),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.client = client
        self.logger = logger
        self.defaultDeadline = defaultDeadline
        self.metrics = DatabaseMetrics(factory: metricsFactory)
    }

    /// Runs `body` with a leased connection, the lease and the work together bounded by `deadline`.
    /// Throws ``DatabaseTimeout`` when the deadline passes; the connection is closed then.
    public func withConnection<T: Sendable>(
        deadline: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let limit = deadline ?? defaultDeadline
        let call = DatabaseCall<T>(limit: limit, metrics: metrics, logger: logger)
        let client = self.client
        // Unstructured on purpose (see the type's documentation): the caller must be able to
        // stop waiting for work that postgres-nio may never finish. Cancellation is forwarded.
        let work = Task {
            let result: Result<T, any Error>
            do {
                result = .success(
                    try await client.withConnection { connection in
                        try call.hold(connection)
                        defer { call.release() }
                        return try await body(connection)
                    })
            } catch {
                result = .failure(error)
            }
            call.complete(result)
        }
        call.attach(work)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                call.wait(continuation, timer: MultiThreadedEventLoopGroup.singleton.any())
            }
        } onCancel: {
            call.expire(CancellationError())
        }
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
    /// `COPY table (columns) FROM STDIN` of `rows` (text format), unless the connection is
    /// already closed (see ``checkedQuery(_:logger:)``).
    func checkedCopy(into table: String, columns: [String], logger: Logger, rows: ByteBuffer) async throws {
        guard !isClosed else { throw DatabaseConnectionClosed() }
        try await copyFrom(table: table, columns: columns, logger: logger) { writer in try await writer.write(rows) }
    }
}
