/// Where the ingest front doors hand valid pings to be made durable. The daemon's is the
/// PostGIS writer with its local spool; ingest code knows only this protocol.
public protocol PingStorage: Sendable {
    /// Makes `pings` durable and returns one result per ping, in order, once each is committed
    /// or spooled. Throws when the submission as a whole is not taken (nothing of it is durable).
    func write(_ pings: [Ping]) async throws(PingWriterError) -> WriteReceipt

    /// Whether pings handed over now are on their way straight into the database. When false,
    /// the storage is working from its spool (the database is away or being caught up with), and
    /// a submission may yet be refused because the spool is full: the live picture then shows
    /// pings only once they are durable, never pings their sender was told were refused.
    var acceptsBeforeDurable: Bool { get }
}

/// What happened to one submitted ping.
public enum PingWriteResult: Sendable, Hashable {
    /// Committed in PostGIS.
    case stored
    /// The same unit and device time was already stored; nothing changed.
    case duplicate
    /// Written and fsynced to the local spool; it will reach PostGIS when the database returns.
    case spooled
    /// The database refused this ping (and only this one: the others of its batch were stored).
    case refused(reason: String)
}

/// The acknowledgement of a submission: one result per ping, in submission order.
public struct WriteReceipt: Sendable, Hashable {
    public var results: [PingWriteResult]
    public init(results: [PingWriteResult]) { self.results = results }
    /// Pings newly made durable (stored or spooled).
    public var accepted: Int { results.count { $0 == .stored || $0 == .spooled } }
    public var duplicates: Int { results.count { $0 == .duplicate } }
    /// The pings the database refused, by index in the submission, with its reason.
    public var refused: [(index: Int, reason: String)] {
        results.enumerated().compactMap { index, result in
            if case .refused(let reason) = result { return (index, reason) }
            return nil
        }
    }
}

/// Why a submission was not acknowledged. The pings are not durable; the sender should retry.
public struct PingWriterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code, written in snake case on the wire.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// The queue is full, or the spool is while the database catches up; retry shortly.
        public static let overloaded = Code(rawValue: "overloaded")
        /// The daemon is stopping.
        public static let shuttingDown = Code(rawValue: "shutting_down")
        /// Neither the database nor the spool could take the pings (spool full or unwritable).
        public static let storageUnavailable = Code(rawValue: "storage_unavailable")
        /// The database refused the pings for a reason other than being unreachable.
        public static let rejectedByDatabase = Code(rawValue: "rejected_by_database")
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code): \(message)" }
}
