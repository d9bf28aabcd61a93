import HypervisionCore
import NIOCore
import PostgresNIO

/// A ``Timestamp`` bound to a query as a `timestamptz` value (binary, exact to the microsecond).
///
/// Bound as text with `$1::timestamptz`, a time is parsed by a cast PostgreSQL may not fold into
/// a constant (text input depends on settings), so a condition that is rechecked per row (a BRIN
/// scan's) parses it again for every row: 50 ms of a 10-million-row history question.
public struct PostgresTime: PostgresNonThrowingEncodable, Sendable {
    public var timestamp: Timestamp
    public init(_ timestamp: Timestamp) { self.timestamp = timestamp }

    /// PostgreSQL's epoch, 2000-01-01T00:00:00Z, in microseconds since 1970.
    static let postgresEpochMicroseconds: Int64 = 946_684_800_000_000

    /// The binary `timestamptz`: microseconds since PostgreSQL's epoch.
    var postgresMicroseconds: Int64 { timestamp.microseconds - Self.postgresEpochMicroseconds }

    public static var psqlType: PostgresDataType { .timestamptz }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(postgresMicroseconds)
    }
}
