import PostgresNIO

/// Sorting database failures into "unreachable, spool and retry" and "refused, report it".
public enum DatabaseErrors {
    /// True when the error means the server could not be reached or went away, as opposed to
    /// the server refusing the statement.
    public static func isConnectivity(_ error: any Error) -> Bool {
        let error = unwrap(error)
        if error is DatabaseTimeout || error is CancellationError { return true }
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                // 08: connection exception; 57P01-57P03: shutdown, crash, cannot connect now;
                // 53: insufficient resources (too many connections, disk full); 3D000: the
                // database does not exist yet (a server being rebuilt); 57014: statement_timeout
                // ended the statement, a server too slow to count on; 25006: a hot standby that
                // is read-only, a primary that has just been demoted.
                return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") || state == "3D000"
                    || state == "57014" || state == "25006"
            case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed,
                .failedToAddSSLHandler, .sslUnsupported:
                return true
            default:
                return false
            }
        }
        // Socket-level errors (connection refused, no such file) surface as NIO or POSIX errors.
        return true
    }

    /// The SQLSTATE of a server error, if it is one.
    public static func sqlState(_ error: any Error) -> String? {
        guard let error = unwrap(error) as? PSQLError, error.code == .server else { return nil }
        return error.serverInfo?[.sqlState]
    }

    /// True for failures that a retry of the same transaction resolves (deadlock, serialization).
    public static func isTransient(_ error: any Error) -> Bool {
        guard let error = unwrap(error) as? PSQLError, error.code == .server else { return false }
        let state = error.serverInfo?[.sqlState] ?? ""
        return state == "40P01" || state == "40001"
    }

    /// The error that matters inside postgres-nio's transaction wrapper: a failed BEGIN or
    /// COMMIT means the connection, a failed body means the statement.
    public static func unwrap(_ error: any Error) -> any Error {
        guard let transaction = error as? PostgresTransactionError else { return error }
        if let begin = transaction.beginError { return unwrap(begin) }
        if let body = transaction.closureError { return unwrap(body) }
        if let commit = transaction.commitError { return unwrap(commit) }
        if let rollback = transaction.rollbackError { return unwrap(rollback) }
        return error
    }

    /// A one-line reason with the server's message when there is one (PSQLError's own
    /// description is redacted on purpose).
    public static func describe(_ error: any Error) -> String {
        let error = unwrap(error)
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState] ?? "?"
                return "\(message) (SQLSTATE \(state))"
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }
}
