import Foundation

#if canImport(Glibc)
import Glibc
#endif

// What the load tools (writer-throughput, ingest-load, fanout-load, latency-load, live-memory)
// measure with and how they print it, written once.

/// Seconds on the monotonic clock, for intervals.
public func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A `Duration` in seconds.
public func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// The value at quantile `p` (0...1) of `sorted`, nearest rank below; NaN when there is none,
/// so that a missing figure prints as `nan` rather than as a plausible 0.
public func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

/// `value` with `digits` decimals.
public func fixed(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }

/// CPU time (user and system) this process has used, in seconds.
public func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// CPU time (user and system) another process has used, in seconds, from `/proc`.
public func cpuSeconds(pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the ")".
    let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// This process's resident set size, in bytes.
public func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { a in
        withUnsafeMutablePointer(to: &resident) { b in withVaList([a, b]) { vfscanf(file, "%ld %ld", $0) } }
    }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Another process's resident set size, in bytes, from `/proc`.
public func residentBytes(pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A loopback TCP port free at the time of the call (the kernel's pick).
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A blocking TCP connection to 127.0.0.1:`port` with Nagle off, or nil when it is refused.
public func loopbackConnection(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        close(fd)
        return nil
    }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

/// The environment a load tool starts hypervisiond with: its own without any `HYPERVISION_` or
/// `PG` setting (the machine's must not change what is measured), plus `settings`, plus the log
/// level at warning unless `settings` says otherwise.
public func daemonEnvironment(_ settings: [String: String]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HYPERVISION_") && !$0.key.hasPrefix("PG") }
    environment["HYPERVISION_LOG_LEVEL"] = "warning"
    environment.merge(settings) { $1 }
    return environment
}

/// Starts a release hypervisiond with its HTTP port, state directory and database, and the
/// settings of ``daemonEnvironment(_:)``. Its standard output is dropped; its standard error goes
/// to the file `log` (never a pipe of this tool's, which the daemon would hold open for a caller
/// waiting on it), or is this tool's when nil.
public func launchDaemon(
    executable: String, httpPort: Int, stateDirectory: String, databaseURL: String, settings: [String: String], log: String?
) throws -> Process {
    let daemon = Process()
    daemon.executableURL = URL(fileURLWithPath: executable)
    daemon.arguments = ["--http-port", "\(httpPort)", "--state-dir", stateDirectory, "--database-url", databaseURL]
    daemon.environment = daemonEnvironment(settings)
    daemon.standardOutput = FileHandle.nullDevice
    if let log {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        daemon.standardError = FileHandle(forWritingAtPath: log)
    }
    try daemon.run()
    return daemon
}

/// SIGTERM, then up to 10 s for the graceful stop, then SIGKILL. True when it had to be killed.
@discardableResult
public func stopDaemon(_ daemon: Process) -> Bool {
    daemon.terminate()
    for _ in 0..<100 where daemon.isRunning { usleep(100_000) }
    guard daemon.isRunning else { return false }
    kill(daemon.processIdentifier, SIGKILL)
    return true
}

/// Whether `GET /readyz` on the loopback `port` answers 200 within `seconds`.
public func waitUntilReady(httpPort port: Int, seconds: Double) async -> Bool {
    let deadline = monotonic() + seconds
    while monotonic() < deadline {
        if let fd = loopbackConnection(port: port) {
            let request = Array("GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            var answer = [UInt8](repeating: 0, count: 256)
            let n = answer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            close(fd)
            if n > 0, String(decoding: answer[..<n], as: UTF8.self).hasPrefix("HTTP/1.1 200") { return true }
        }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return false
}

/// The daemon's `/metrics` text (loopback `httpPort`); empty when it cannot be read.
public func metricsText(httpPort: Int) -> String {
    guard let fd = loopbackConnection(port: httpPort) else { return "" }
    defer { close(fd) }
    let request = Array("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        answer += buffer[..<n]
    }
    return String(decoding: answer, as: UTF8.self)
}

/// The value of the unlabelled series `name` on the daemon's `/metrics`; nil when absent.
public func metricValue(httpPort: Int, name: String) -> Double? {
    for line in metricsText(httpPort: httpPort).split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.dropFirst(name.count + 1))
    }
    return nil
}

/// The cumulative buckets (`le`, count) of the Prometheus histogram `name` on the daemon's
/// `/metrics` (loopback `httpPort`), by ascending `le`; empty when it cannot be read.
public func histogramBuckets(httpPort: Int, name: String) -> [(le: Double, count: Double)] {
    let prefix = name + "_bucket{le=\""
    var buckets: [(le: Double, count: Double)] = []
    for line in metricsText(httpPort: httpPort).split(separator: "\n") where line.hasPrefix(prefix) {
        let rest = line.dropFirst(prefix.count)
        guard let quote = rest.firstIndex(of: "\""), let space = rest.lastIndex(of: " ") else { continue }
        let edge = rest[..<quote] == "+Inf" ? Double.infinity : Double(rest[..<quote])
        guard let edge, let count = Double(rest[rest.index(after: space)...]) else { continue }
        buckets.append((edge, count))
    }
    return buckets.sorted { $0.le < $1.le }
}

/// From two readings of the same histogram: how many observations fell between them, the
/// smallest bucket edge holding at least `quantile` of them, and the share above `edge`.
public func histogramDifference(
    _ before: [(le: Double, count: Double)], _ after: [(le: Double, count: Double)], quantile: Double, above edge: Double
) -> (count: Double, quantileEdge: Double, shareAbove: Double) {
    let earlier = Dictionary(before.map { ($0.le, $0.count) }, uniquingKeysWith: { $1 })
    let between = after.map { (le: $0.le, count: $0.count - (earlier[$0.le] ?? 0)) }
    guard let total = between.last?.count, total > 0 else { return (0, .nan, .nan) }
    let quantileEdge = between.first { $0.count >= quantile * total }?.le ?? .infinity
    let within = between.last { $0.le <= edge }?.count ?? 0
    return (total, quantileEdge, 1 - within / total)
}
