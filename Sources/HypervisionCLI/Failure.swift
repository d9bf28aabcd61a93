/// Why a command failed, with the message printed to standard error and the process's exit status.
///
/// Exit statuses are part of the interface scripts depend on; they never change once published.
public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The exit status of the process, one of the constants on ``Failure``.
    public var exitStatus: Int32
    public var message: String

    public init(exitStatus: Int32, _ message: String) {
        self.exitStatus = exitStatus
        self.message = message
    }

    public var description: String { message }

    /// The daemon answered with an error other than the ones below (400, 409, 5xx…), or an answer
    /// that could not be read.
    public static let daemonError: Int32 = 1
    /// The thing asked for does not exist (404).
    public static let notFound: Int32 = 2
    /// The daemon could not be reached: connection refused, timeout, unknown host.
    public static let unreachable: Int32 = 3
    /// The token was missing, refused (401) or lacks the scope (403).
    public static let refused: Int32 = 4
    /// The command line was wrong (ArgumentParser's own status for validation errors).
    public static let usage: Int32 = 64
    /// An input file could not be used (EX_DATAERR).
    public static let badInput: Int32 = 65
    /// A local configuration file could not be used (EX_CONFIG).
    public static let badConfiguration: Int32 = 78

    /// A problem with what the operator typed, found before any request.
    public static func usage(_ message: String) -> Failure { Failure(exitStatus: usage, message) }
}
