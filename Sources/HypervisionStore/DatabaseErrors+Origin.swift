import PostgresNIO

extension DatabaseErrors {
    /// Whether the error comes from postgres-nio (the server, the connection, the pool), so a
    /// caller can tell database failures from its own without importing PostgresNIO.
    /// ``isConnectivity(_:)`` answers true for any error it does not know; this narrows it.
    public static func isPostgresError(_ error: any Error) -> Bool {
        unwrap(error) is PSQLError
    }
}
