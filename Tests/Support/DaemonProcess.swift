import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A `hypervisiond` started by a test as its own process, the way systemd or an operator runs it.
/// Output goes to a file (the embedded database it may start would keep a pipe open forever).
public final class DaemonProcess: @unchecked Sendable {
    // @unchecked: the Process is only touched from the test that owns this object.
    public let process = Process()
    public let logPath: String
    /// The TCP port of the scene subscriptions (`HYPERVISION_SUBSCRIPTIONS_PORT`), picked free
    /// unless the caller's `environment` sets it.
    public let subscriptionsPort: Int

    /// The `hypervisiond` built next to the test bundle.
    public static var executable: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [bundle.appendingPathComponent("hypervisiond").path]
        // `swift test` runs .build/<triple>/debug/<package>PackageTests.xctest
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("hypervisiond").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    public init(arguments: [String], environment: [String: String] = [:]) throws {
        logPath = NSTemporaryDirectory() + "hypervisiond-test-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let output = FileHandle(forWritingAtPath: logPath)!
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("HYPERVISION_") || key.hasPrefix("PG") || key == "NOTIFY_SOCKET" || key.hasPrefix("WATCHDOG_") {
            env[key] = nil
        }
        // Every test daemon gets its own NDJSON port so parallel tests never collide on 7401.
        env["HYPERVISION_INGEST_TCP_PORT"] = String(Self.freePort())
        env["HYPERVISION_INGEST_UDP_PORT"] = String(Self.freePort())
        env["HYPERVISION_INGEST_OSMAND_PORT"] = String(Self.freePort())
        env["HYPERVISION_INGEST_COT_PORT"] = String(Self.freePort())
        env["HYPERVISION_SUBSCRIPTIONS_PORT"] = String(Self.freePort())
        for (key, value) in environment { env[key] = value }
        subscriptionsPort = env["HYPERVISION_SUBSCRIPTIONS_PORT"].flatMap { Int($0) } ?? 7400
        process.environment = env
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The daemon's environment, with the ports picked for it (`HYPERVISION_INGEST_TCP_PORT`…).
    public var environment: [String: String] { process.environment ?? [:] }

    /// A port the daemon was given through its environment (`"INGEST_COT"` for
    /// `HYPERVISION_INGEST_COT_PORT`).
    public func port(_ name: String) -> Int? { environment["HYPERVISION_\(name)_PORT"].flatMap { Int($0) } }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit and returns its status, or nil on timeout.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }

    /// Where ``freePort()`` looks next: below the kernel's ephemeral range (32768-60999), apart
    /// for each test process.
    private static let nextCandidate = Mutex(20_000 + Int(getpid()) % 6_000 * 2)

    /// A port free for TCP and UDP a moment ago, and not given out before by this process.
    ///
    /// Ports the kernel picked (binding port 0) lie in its ephemeral range, where every outgoing
    /// connection of every test also takes its local port: one of them could take the port
    /// before the daemon bound it ("Address already in use"). Below that range only a listener
    /// binds a port on purpose.
    public static func freePort() -> Int {
        while true {
            let candidate = nextCandidate.withLock { next -> Int in
                defer { next = next >= 32_000 ? 20_000 : next + 1 }
                return next
            }
            if canBind(candidate, Int32(SOCK_STREAM.rawValue)) && canBind(candidate, Int32(SOCK_DGRAM.rawValue)) { return candidate }
        }
    }

    private static func canBind(_ port: Int, _ type: Int32) -> Bool {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// GET on the daemon's HTTP port; nil when nothing answers.
    public static func get(_ url: String) async -> (status: Int, body: String)? {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 3
        guard let (data, response) = try? await URLSession.shared.data(for: request) else { return nil }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// A Unix datagram socket standing in for systemd's notify socket.
public final class NotifySocketListener: @unchecked Sendable {
    // @unchecked: the descriptor is read from one test at a time.
    public let path: String
    private let fd: Int32

    public init() throws {
        path = NSTemporaryDirectory() + "hv-notify-\(UInt32.random(in: 0...UInt32.max)).sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw POSIXError(.EADDRINUSE) }
        // Reads time out so a test waiting for a message cannot hang.
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram, or nil after ~200 ms of silence.
    public func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Collects datagrams until one satisfies `predicate` or the timeout passes.
    public func waitFor(timeout: Duration, _ predicate: (String) -> Bool) async -> (found: String?, seen: [String]) {
        let deadline = ContinuousClock.now + timeout
        var seen: [String] = []
        while ContinuousClock.now < deadline {
            // Each read blocks up to 200 ms: off the cooperative pool (see offThePool).
            if let message = await offThePool({ self.receive() }) {
                seen.append(message)
                if predicate(message) { return (message, seen) }
            }
        }
        return (nil, seen)
    }
}

/// A blocking TCP client for tests of line protocols: send bytes, read lines with a timeout.
public final class LineClient: @unchecked Sendable {
    // @unchecked: used from one test at a time.
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// `receiveBuffer` shrinks the socket's receive buffer (before connecting), so a test can
    /// make a client that does not read fill up quickly. `source` binds the client to another
    /// loopback address first (`127.0.0.2`…), so a test can be several clients for the daemon's
    /// per-address limits.
    public init(port: Int, receiveBuffer: Int32? = nil, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            // Thrown once every stored property is set: deinit closes the descriptor.
            guard bound == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Shuts the client's side down (a FIN): the server reads the end of the input and may
    /// still answer.
    public func shutdownOutput() { shutdown(fd, Int32(SHUT_WR)) }

    /// The next line, or nil if none arrives within `timeout` or the server closed.
    public func readLine(timeout: Duration = .seconds(10)) async -> String? {
        await offThePool { self.blockingReadLine(timeout: timeout) }
    }

    /// Everything the server sends until it closes the connection (or `timeout` passes),
    /// unterminated last line included.
    public func readToEnd(timeout: Duration = .seconds(5)) async -> String {
        await offThePool {
            _ = self.blockingIsClosed(within: timeout)
            defer { self.buffer.removeAll() }
            return String(decoding: self.buffer, as: UTF8.self)
        }
    }

    /// True once the server has closed the connection (reads return end-of-file).
    public func isClosed(within timeout: Duration = .seconds(5)) async -> Bool {
        await offThePool { self.blockingIsClosed(within: timeout) }
    }

    private func blockingReadLine(timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return nil }
            if n > 0 { buffer += chunk[0..<n] }
        }
        return nil
    }

    private func blockingIsClosed(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return true }
            if n > 0 { buffer += chunk[0..<n] }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return true }
        }
        return false
    }
}

/// Sends one UDP datagram to 127.0.0.1.
public func sendDatagram(_ text: String, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let bytes = Array(text.utf8)
    _ = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
