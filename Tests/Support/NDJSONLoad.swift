import Foundation
import HypervisionCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Gateways streaming pings over NDJSON/TCP the way the README tells them to: windows of lines,
/// each settled by an `ack` line; on a lost connection, reconnect and resend what follows the
/// last `through`. Each gateway runs on a thread of its own (blocking sockets, off Swift's
/// cooperative pool) and counts what it sent and what was acknowledged, so a fault test can
/// check that every acknowledged ping is stored.
///
/// Every ping is unique: unit `LOAD-<gateway>-<n % units>`, device time from a per-gateway
/// clock that advances 1 ms per ping, so resends after a reconnect are the same pings.
public final class NDJSONLoad: Sendable {
    public struct Figures: Sendable, CustomStringConvertible {
        public var sent = 0
        public var acknowledged = 0
        public var refusedLines = 0
        public var reconnects = 0
        /// Error lines that ended a connection, by code.
        public var closingErrors: [String: Int] = [:]
        /// The longest time without an acknowledgement while lines were waiting for one.
        public var longestAckGap: Duration = .zero
        public var description: String {
            "sent \(sent), acknowledged \(acknowledged), refused lines \(refusedLines), reconnects \(reconnects), "
                + "closing errors \(closingErrors), longest wait for an ack \(longestAckGap)"
        }
    }

    private struct State {
        var figures = Figures()
        var acknowledged: [Ping.Key] = []
        var stopping = false
        var running = 0
        /// Acknowledgement times, to tell acks that came during an interval of the test.
        var ackTimes: [ContinuousClock.Instant] = []
    }

    public let port: Int
    public let gateways: Int
    public let linesPerSecond: Int
    public let window: Int
    public let token: String?
    /// The start of every unit id (`LOAD-3-17`): loads sent to several daemons at once are told apart.
    public let prefix: String
    private let state = Mutex(State())
    private let start = Timestamp.now().adding(seconds: -1_800)

    /// `linesPerSecond` per gateway, in windows of `window` lines.
    public init(port: Int, gateways: Int = 4, linesPerSecond: Int = 250, window: Int = 25, token: String? = nil, prefix: String = "LOAD") {
        self.port = port
        self.prefix = prefix
        self.gateways = gateways
        self.linesPerSecond = linesPerSecond
        self.window = window
        self.token = token
    }

    public func begin() {
        for gateway in 0..<gateways {
            state.withLock { $0.running += 1 }
            let thread = Thread { [self] in
                run(gateway: gateway)
                state.withLock { $0.running -= 1 }
            }
            thread.name = "ndjson-load-\(gateway)"
            thread.start()
        }
    }

    /// Stops sending, waits until every gateway has finished its window (or given up), and
    /// returns the figures.
    public func finish() async -> Figures {
        state.withLock { $0.stopping = true }
        while state.withLock({ $0.running }) > 0 { try? await Task.sleep(for: .milliseconds(20)) }
        return figures
    }

    public var figures: Figures { state.withLock { $0.figures } }
    public var acknowledged: [Ping.Key] { state.withLock { $0.acknowledged } }

    /// Acknowledgements received between two instants.
    public func acknowledgements(from: ContinuousClock.Instant, to: ContinuousClock.Instant) -> Int {
        state.withLock { $0.ackTimes.count { $0 >= from && $0 < to } }
    }

    /// Waits until at least `count` more pings are acknowledged than now, or `timeout` passes.
    public func waitForAcknowledgements(_ count: Int, timeout: Duration) async -> Bool {
        let target = figures.acknowledged + count
        let deadline = ContinuousClock.now + timeout
        while figures.acknowledged < target {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    public func ping(gateway: Int, number: Int) -> (line: String, key: Ping.Key) {
        let unit = "\(prefix)-\(gateway)-\(number % 50)"
        let time = start.adding(seconds: Double(number) / 1000 + Double(gateway) * 0.000_001)
        let lat = 48.8 + Double(number % 1000) * 0.0001
        let line = #"{"unit":"\#(unit)","time":"\#(time.rfc3339)","lat":\#(lat),"lon":2.35}"#
        return (line, Ping.Key(unit: UnitID(trusted: unit), time: time))
    }

    private func run(gateway: Int) {
        var next = 0  // the first ping not yet acknowledged
        let interval = Double(window) / Double(linesPerSecond)
        var firstAttempt = true
        while !state.withLock({ $0.stopping }) {
            if !firstAttempt {
                state.withLock { $0.figures.reconnects += 1 }
                Thread.sleep(forTimeInterval: 0.2)
            }
            firstAttempt = false
            guard let connection = Connection(port: port) else { continue }
            if let token {
                connection.send(#"{"type":"auth","token":"\#(token)"}"# + "\n")
                guard let reply = connection.readLine(timeout: 10), reply.contains(#""ok":true"#) else { continue }
            }
            // The connection's line numbers start at 1 with the ping `next`.
            let base = next
            var sentThrough = 0
            while !state.withLock({ $0.stopping }) {
                let windowStart = Date()
                var lines = ""
                var keys: [Ping.Key] = []
                for offset in 0..<window {
                    let (line, key) = ping(gateway: gateway, number: base + sentThrough + offset)
                    lines += line + "\n"
                    keys.append(key)
                }
                guard connection.send(lines) else { break }
                state.withLock { $0.figures.sent += window }
                let target = sentThrough + window
                let waitStarted = ContinuousClock.now
                var settled = false
                while let reply = connection.readLine(timeout: 30) {
                    if reply.contains(#""type":"ack""#), let through = Self.integer(reply, after: #""through":"#) {
                        state.withLock { state in
                            let gap = ContinuousClock.now - waitStarted
                            if gap > state.figures.longestAckGap { state.figures.longestAckGap = gap }
                        }
                        let newly = Int(through) - sentThrough
                        if newly > 0 {
                            let ackedKeys = keys.prefix(newly)
                            state.withLock { state in
                                state.figures.acknowledged += newly
                                state.acknowledged += ackedKeys
                                state.ackTimes += Array(repeating: ContinuousClock.now, count: newly)
                            }
                            keys.removeFirst(min(newly, keys.count))
                            sentThrough = Int(through)
                        }
                        if sentThrough >= target {
                            settled = true
                            break
                        }
                    } else if reply.contains(#""type":"error""#) {
                        if reply.contains(#""line":"#) {
                            state.withLock { $0.figures.refusedLines += 1 }
                        } else {
                            let code = Self.string(reply, after: #""code":""#) ?? "?"
                            state.withLock { $0.figures.closingErrors[code, default: 0] += 1 }
                            break
                        }
                    }
                }
                next = base + sentThrough
                guard settled else { break }
                let elapsed = Date().timeIntervalSince(windowStart)
                if elapsed < interval { Thread.sleep(forTimeInterval: interval - elapsed) }
            }
        }
    }

    public static func integer(_ text: String, after marker: String) -> Int64? {
        guard let range = text.range(of: marker) else { return nil }
        return Int64(text[range.upperBound...].prefix { $0.isNumber })
    }

    public static func string(_ text: String, after marker: String) -> String? {
        guard let range = text.range(of: marker) else { return nil }
        return String(text[range.upperBound...].prefix { $0 != "\"" })
    }

    /// A blocking TCP connection with read timeouts.
    public final class Connection {
        private let fd: Int32
        private var buffer: [UInt8] = []

        public init?(port: Int) {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else {
                close(fd)
                return nil
            }
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        @discardableResult
        func send(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }

        /// The next line; nil after `timeout` seconds of silence or when the peer closed.
        func readLine(timeout: Double) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let newline = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self)
                    buffer.removeSubrange(...newline)
                    return line
                }
                var chunk = [UInt8](repeating: 0, count: 16_384)
                let n = recv(fd, &chunk, chunk.count, 0)
                if n == 0 { return nil }
                if n > 0 {
                    buffer += chunk[0..<n]
                } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    return nil
                }
            }
            return nil
        }
    }
}
