import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Talks systemd's notify protocol: one datagram per message to the Unix socket named by
/// `$NOTIFY_SOCKET` (a path, or an abstract name starting with `@`). No library does this for
/// Swift on Linux, and it is small enough to own.
public struct SystemdNotifier: Sendable {
    /// The socket address, or nil when not started by systemd (every call is then a no-op).
    public let socketPath: String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let value = environment["NOTIFY_SOCKET"] ?? ""
        socketPath = value.isEmpty ? nil : value
    }

    public var isEnabled: Bool { socketPath != nil }

    /// The datagram for a set of assignments, one `KEY=value` per line.
    public static func message(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0)=\($0.1.replacingOccurrences(of: "\n", with: " "))" }.joined(separator: "\n")
    }

    public func ready(status: String) { send([("READY", "1"), ("STATUS", status), ("MAINPID", String(getpid()))]) }
    public func stopping(status: String) { send([("STOPPING", "1"), ("STATUS", status)]) }
    public func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        send([("RELOADING", "1"), ("MONOTONIC_USEC", String(usec))])
    }
    public func status(_ text: String) { send([("STATUS", text)]) }
    public func watchdog() { send([("WATCHDOG", "1")]) }

    /// Sends one datagram. Failures are ignored: systemd going away must not stop the daemon.
    @discardableResult
    public func send(_ fields: [(String, String)]) -> Bool {
        guard let socketPath else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in pathBytes.enumerated() { raw[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))
        let payload = Array(Self.message(fields).utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == payload.count
    }

    /// The watchdog interval systemd asked for (`$WATCHDOG_USEC`, for this process per `$WATCHDOG_PID`).
    public static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let usecText = environment["WATCHDOG_USEC"], let usec = UInt64(usecText), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], let value = Int32(pid), value != getpid() { return nil }
        return .microseconds(usec)
    }
}
