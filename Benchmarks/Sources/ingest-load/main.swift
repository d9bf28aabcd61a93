// End-to-end durable ingest: pings sent to a running hypervisiond over HTTP (NDJSON bodies) and
// over TCP NDJSON (windows of lines, waiting for the ack lines), against two references on the
// same server in the same run: the PingWriter's own rate, and COPY of the same rows into the same
// table (the physical limit). Prints pings/s, latency percentiles and both ratios.
//
//   scripts/bench-ingest            (builds hypervisiond in release, then runs this)
import ArgumentParser
import Foundation
import HypervisionCore
import HypervisionStore
import LoadTools
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-load", abstract: "Pings through HTTP and TCP NDJSON into a release hypervisiond, against the writer alone.")

    @Option(help: "Pings per phase.") var pings = 300_000
    @Option(help: "Distinct units.") var units = 5_000
    @Option(help: "Connections (threads) per phase.") var connections = 8
    @Option(help: "Pings per HTTP request or TCP window.") var batch = 1_000
    @Option(help: "The hypervisiond to start (a release build).") var daemon = "../.build/release/hypervisiond"

    func validate() throws {
        guard pings > 0, units > 0, connections > 0, batch > 0 else { throw ArgumentParser.ValidationError("counts must be positive") }
    }
}

/// A blocking TCP connection to loopback: the load generator must cost less than the daemon,
/// and a thread per connection with plain read/write is the cheapest client there is.
final class Connection {
    let fd: Int32
    var buffer: [UInt8] = []

    init(port: Int) throws {
        guard let fd = loopbackConnection(port: port) else { throw POSIXError(.ECONNREFUSED) }
        self.fd = fd
    }
    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            precondition(n > 0, "write failed")
            offset += n
        }
    }

    /// Reads until `buffer` holds `separator`; returns the bytes before it and drops them.
    func read(until separator: [UInt8]) -> [UInt8] {
        while true {
            if let range = buffer.firstRange(of: separator) {
                let head = Array(buffer[..<range.lowerBound])
                buffer.removeSubrange(..<range.upperBound)
                return head
            }
            fill()
        }
    }

    func read(count: Int) -> [UInt8] {
        while buffer.count < count { fill() }
        let head = Array(buffer[..<count])
        buffer.removeSubrange(..<count)
        return head
    }

    private func fill() {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        precondition(n > 0, "connection closed by the daemon")
        buffer += chunk[..<n]
    }
}

/// One line of NDJSON per ping: `units` units reporting in turn, one ping per second, starting
/// `offset` seconds after `start` so every phase writes rows no other phase wrote.
func ndjsonLines(count: Int, units: Int, start: Timestamp) -> [[UInt8]] {
    (0..<count).map { i in
        let unit = i % units, n = i / units
        let time = start.adding(seconds: Double(n))
        let lat = 43 + Double(unit % 500) * 0.01 + Double(n) * 1e-5, lon = -1 + Double(unit / 500) * 0.01
        return Array(
            #"{"unit":"PN-LOAD-\#(unit)","time":"\#(time.rfc3339)","lat":\#(lat),"lon":\#(lon),"speed":12.5,"heading":\#(i % 360),"status":"available","battery":81}"#
                .utf8) + [0x0A]
    }
}

/// Runs `work(connectionIndex)` on `count` threads at once and returns the wall time.
func onThreads(_ count: Int, _ work: @escaping @Sendable (Int) -> Void) -> Duration {
    let group = DispatchGroup()
    let start = ContinuousClock.now
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            work(index)
            group.leave()
        }
    }
    group.wait()
    return ContinuousClock.now - start
}

final class Latencies: @unchecked Sendable {
    // @unchecked: appended under the lock, read after every thread finished.
    private let lock = NSLock()
    private(set) var values: [Double] = []
    func add(_ milliseconds: Double) { lock.withLock { values.append(milliseconds) } }
}

let options = Options.parseOrExit()
var logger = Logger(label: "ingest-load")
logger.logLevel = .warning
guard FileManager.default.isExecutableFile(atPath: options.daemon) else {
    print("no hypervisiond at \(options.daemon): build it with `swift build -c release --product hypervisiond` or pass --daemon")
    exit(2)
}

// 1. A private durable cluster shared by all three measurements, each in its own database.
let base = "/tmp/hv-load-\(getpid())"
try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
chmod(base, 0o755)
let cluster = EmbeddedPostgres(configuration: EmbeddedPostgresConfiguration(baseDirectory: base + "/pg"), logger: logger)
let admin = try await cluster.start()
defer {
    try? cluster.stop()
    try? FileManager.default.removeItem(atPath: base)
}
func database(_ name: String) -> DatabaseEndpoint {
    var endpoint = admin
    endpoint.database = name
    return endpoint
}
let perPhase = options.pings
let startTime = Timestamp.now().adding(seconds: -Double(3 * perPhase / options.units) - 120)
print("hypervision ingest-load: \(perPhase) pings per phase from \(options.units) units, \(options.connections) connections, \(options.batch) pings per request/window")

try await withThrowingTaskGroup(of: Void.self) { group in
    let adminClient = PostgresClient(configuration: try admin.clientConfiguration(), backgroundLogger: logger)
    group.addTask { await adminClient.run() }
    for name in ["reference", "daemon"] { try await adminClient.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }

    // 2. Reference: the PingWriter in this process, as the daemon configures it.
    let referenceRate: Double, copyRate: Double
    do {
        var configuration = try database("reference").clientConfiguration()
        configuration.options.maximumConnections = 8
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        group.addTask { await client.run() }
        try await Migrator(logger: logger).migrate(Database(client: client, logger: logger))
        try await PingStore(database: Database(client: client, logger: logger)).ensurePartitions(around: Timestamp.now().epochDay, daysBehind: 2, daysAhead: 1)
        let status = DatabaseStatus()
        status.update(.ready)
        let writer = PingWriter(
            store: PingStore(database: Database(client: client, logger: logger)), status: status,
            spool: try Spool(directory: base + "/reference-spool", maximumBytes: 1 << 30), configuration: PingWriterConfiguration(),
            logger: logger)
        let runner = Task { try await writer.run() }
        // The writer starts on its spool until it has seen the database: measure direct writes.
        while !writer.acceptsBeforeDurable { try await Task.sleep(for: .milliseconds(5)) }
        let pings: [Ping] = (0..<perPhase).map { i in
            let unit = i % options.units, n = i / options.units
            let time = startTime.adding(seconds: Double(n))
            return Ping(
                unit: UnitID(trusted: "PN-LOAD-\(unit)"), time: time,
                position: GeoPoint(latitude: 43 + Double(unit % 500) * 0.01 + Double(n) * 1e-5, longitude: -1 + Double(unit / 500) * 0.01),
                speed: 12.5, heading: Double(i % 360), status: .available, battery: 81, receivedAt: time)
        }
        try await adminClient.query("CHECKPOINT")
        let t0 = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { submitters in
            let share = (perPhase + options.connections - 1) / options.connections
            for c in 0..<options.connections {
                submitters.addTask {
                    for batchStart in stride(from: c * share, to: min((c + 1) * share, perPhase), by: options.batch) {
                        _ = try await writer.write(Array(pings[batchStart..<min(batchStart + options.batch, (c + 1) * share, perPhase)]))
                    }
                }
            }
            try await submitters.waitForAll()
        }
        referenceRate = Double(perPhase) / seconds(ContinuousClock.now - t0)
        runner.cancel()
        // The physical limit: the same rows COPYed into the same (emptied) table, as many COPYs
        // at a time as there are connections.
        let copy = CopyReference(pings: pings)
        try await client.query("TRUNCATE pings")
        try await adminClient.query("CHECKPOINT")
        copyRate = try await copy.measure(client: client, streams: options.connections, logger: logger)
        print("COPY of the same rows into the same table (\(options.connections) at a time): \(fixed(copyRate)) rows/s")
        print("writer (in process, \(options.connections) submitters): \(fixed(referenceRate)) pings/s, \(fixed(referenceRate / copyRate * 100, 1))% of COPY")
    }

    // 3. The daemon, against its own database on the same server.
    let httpPort = freePort(), tcpPort = freePort()
    let daemon = try launchDaemon(
        executable: options.daemon, httpPort: httpPort, stateDirectory: base + "/state",
        databaseURL: "postgres:///daemon?host=\(admin.host)&user=\(admin.user)", settings: [
            "HYPERVISION_INGEST_TCP_PORT": "\(tcpPort)",
            "HYPERVISION_INGEST_UDP_ENABLED": "false",
            "HYPERVISION_INGEST_OSMAND_ENABLED": "false",
            "HYPERVISION_INGEST_COT_ENABLED": "false",
            "HYPERVISION_INGEST_HTTP_MAX_ITEMS": "\(max(options.batch, 10_000))",
        ], log: nil)
    defer { stopDaemon(daemon) }
    guard await waitUntilReady(httpPort: httpPort, seconds: 60) else { print("the daemon did not become ready"); exit(1) }

    // HTTP: each connection POSTs NDJSON bodies of `batch` pings and waits for the answer.
    // Every phase starts from the same state: empty tables, a fresh checkpoint (so one phase
    // does not pay for the previous one's dirty pages or bigger indexes).
    var daemonDatabase = try database("daemon").clientConfiguration()
    daemonDatabase.options.maximumConnections = 1
    let daemonClient = PostgresClient(configuration: daemonDatabase, backgroundLogger: logger)
    group.addTask { await daemonClient.run() }
    func resetDaemonTables() async throws {
        try await daemonClient.query("TRUNCATE pings")
        try await adminClient.query("CHECKPOINT")
    }
    try await resetDaemonTables()
    let httpLines = ndjsonLines(count: perPhase, units: options.units, start: startTime)
    let httpBodies = stride(from: 0, to: perPhase, by: options.batch).map { httpLines[$0..<min($0 + options.batch, perPhase)].reduce(into: [UInt8](), +=) }
    let httpLatencies = Latencies()
    let httpTime = onThreads(options.connections) { c in
        let connection = try! Connection(port: httpPort)
        for index in stride(from: c, to: httpBodies.count, by: options.connections) {
            let body = httpBodies[index]
            let head = "POST /api/v1/pings HTTP/1.1\r\nHost: load\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(body.count)\r\n\r\n"
            let t0 = ContinuousClock.now
            connection.send(Array(head.utf8) + body)
            let headers = String(decoding: connection.read(until: Array("\r\n\r\n".utf8)), as: UTF8.self)
            precondition(headers.hasPrefix("HTTP/1.1 200"), "HTTP answer: \(headers)")
            let length = headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let answer = String(decoding: connection.read(count: length), as: UTF8.self)
            precondition(answer.contains("\"accepted\":\(body.filter { $0 == 0x0A }.count)"), "not all accepted: \(answer)")
            httpLatencies.add(seconds(ContinuousClock.now - t0) * 1000)
        }
    }
    let httpRate = Double(perPhase) / seconds(httpTime)
    let httpSorted = httpLatencies.values.sorted()

    // TCP NDJSON: each connection sends a window of `batch` lines and waits for the ack lines
    // that cover them (durable), then sends the next window.
    try await resetDaemonTables()
    let tcpLines = ndjsonLines(count: perPhase, units: options.units, start: startTime.adding(seconds: Double(perPhase / options.units + 10)))
    let tcpLatencies = Latencies()
    let tcpTime = onThreads(options.connections) { c in
        let connection = try! Connection(port: tcpPort)
        let mine = stride(from: c, to: perPhase, by: options.connections).map { tcpLines[$0] }
        var sent = 0
        while sent < mine.count {
            let window = mine[sent..<min(sent + options.batch, mine.count)]
            let t0 = ContinuousClock.now
            connection.send(window.reduce(into: [UInt8](), +=))
            sent += window.count
            var through = 0
            while through < sent {
                let line = String(decoding: connection.read(until: [0x0A]), as: UTF8.self)
                precondition(line.contains("\"type\":\"ack\""), "unexpected line: \(line)")
                if let range = line.range(of: "\"through\":") {
                    through = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? through
                }
            }
            tcpLatencies.add(seconds(ContinuousClock.now - t0) * 1000)
        }
    }
    let tcpRate = Double(perPhase) / seconds(tcpTime)
    let tcpSorted = tcpLatencies.values.sorted()

    print("HTTP NDJSON: \(fixed(httpRate)) pings/s, \(fixed(httpRate / referenceRate * 100, 1))% of the writer, \(fixed(httpRate / copyRate * 100, 1))% of COPY; answer latency p50 \(fixed(percentile(httpSorted, 0.5), 1)) ms, p99 \(fixed(percentile(httpSorted, 0.99), 1)) ms")
    print("TCP NDJSON:  \(fixed(tcpRate)) pings/s, \(fixed(tcpRate / referenceRate * 100, 1))% of the writer, \(fixed(tcpRate / copyRate * 100, 1))% of COPY; window ack latency p50 \(fixed(percentile(tcpSorted, 0.5), 1)) ms, p99 \(fixed(percentile(tcpSorted, 0.99), 1)) ms")
    print("target: end-to-end >= 80% of the writer's own rate (the writer's own target: >= 70% of COPY)")
    group.cancelAll()
}
