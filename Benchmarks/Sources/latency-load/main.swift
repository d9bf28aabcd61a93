// Ping-to-patch latency, end to end, against a real hypervisiond: a wall whose map region covers
// the test area (walls directory), layout every 10 ms, subscribers capped at 200 messages/s
// (above the walls' 100 rounds/s, so the cap never holds a round back; `--max-messages-per-second
// 100` shows what a cap equal to the round rate costs), 50 TCP subscribers on the subscription port, pings at 10,000/s over TCP NDJSON for units inside the
// map viewport. For every ping: the time from its write on the ingest socket until the first patch
// that puts its unit's marker at its position reaches subscriber 0, and reaches all subscribers.
//
//   swift build -c release --package-path Benchmarks --product hypervisiond
//   swift run -c release --package-path Benchmarks latency-load --daemon Benchmarks/.build/release/hypervisiond
//
// With --cluster, two daemons share the database as nodes of one cluster (cluster.node): the
// pings go to the first, the measured subscribers are on the second, so the figure is the
// cross-daemon latency (LISTEN/NOTIFY included). One reference subscriber on the first daemon
// gives the same-daemon latency in the same run.
import ArgumentParser
import Foundation
import HypervisionCore
import HypervisionStore
import LoadTools
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency-load", abstract: "From a ping entering the daemon to the patch that moves its marker at each subscriber.")

    @Option(help: "Pings per second, over all connections.") var rate = 10_000
    @Option(help: "Measured seconds.") var seconds = 20
    @Option(help: "Seconds before measuring.") var warmup = 3
    @Option(help: "TCP subscribers to the wall.") var subscribers = 50
    @Option(help: "Units on the wall's map.") var units = 1_000
    @Option(help: "NDJSON ingest connections.") var connections = 10
    @Option(help: "The hub's cap per subscriber (subscriptions.maxMessagesPerSecond).") var maxMessagesPerSecond = 200
    @Option(help: "The hypervisiond to start (a release build).") var daemon = "../.build/release/hypervisiond"
    @Flag(help: "Pings to one daemon, subscribers on a second one sharing its database (cross-daemon latency).") var cluster = false
    @Option(help: "How often the walls are laid out (walls.intervalMs).") var intervalMs = 10
    /// The two paths of --cluster differ: the owner relays its versions to the other daemon, or
    /// lays the wall out from the pings the other publishes. Left to a race, a long run may
    /// never take the path one wants to measure.
    @Option(help: "With --cluster, which daemon lays the wall out: first (bench-a, which takes the pings), second (bench-b, which has the subscribers), or any.")
    var owner = "any"

    func validate() throws {
        guard rate > 0, seconds > 0, warmup >= 0, subscribers > 0, units > 0, connections > 0, maxMessagesPerSecond > 0 else {
            throw ArgumentParser.ValidationError("counts and rates must be positive")
        }
        guard ["first", "second", "any"].contains(owner) else { throw ArgumentParser.ValidationError("--owner: first, second or any") }
    }
}

/// Progress on stderr (unbuffered), with the time since start.
let toolStart = monotonic()
func say(_ text: String) {
    FileHandle.standardError.write(Data("[\(String(format: "%6.2f", monotonic() - toolStart)) s] \(text)\n".utf8))
}

/// Every socket opened, closed before the daemon is stopped (it waits for open connections).
let openSockets = Mutex<[Int32]>([])
func connectLoopback(_ port: Int) -> Int32? {
    guard let fd = loopbackConnection(port: port) else { return nil }
    openSockets.withLock { $0.append(fd) }
    return fd
}
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        precondition(n > 0, "write failed: \(errno)")
        offset += n
    }
}
/// Where the units are: a grid inside the map viewport (central Paris). Unit u's ping of round r
/// is at (baseLatitude(u) + r * step, baseLongitude(u)), so a latitude in a patch names its round.
let viewport = (west: 2.25, south: 48.81, east: 2.42, north: 48.91)
let step = 1e-5  // ~1 m per round
func baseLatitude(_ unit: Int) -> Double { 48.83 + Double(unit % 40) * 0.0015 }
func baseLongitude(_ unit: Int) -> Double { 2.28 + Double(unit / 40 % 50) * 0.002 }
func unitName(_ unit: Int) -> String { "LAT-\(unit)" }

let options = Options.parseOrExit()
var logger = Logger(label: "latency-load")
logger.logLevel = .warning
guard FileManager.default.isExecutableFile(atPath: options.daemon) else {
    print("no hypervisiond at \(options.daemon): build it with `swift build -c release --package-path Benchmarks --product hypervisiond` or pass --daemon")
    exit(2)
}
let roundsNeeded = Double(options.rate) * Double(options.seconds + options.warmup + 2) / Double(options.units)
precondition(48.83 + 39 * 0.0015 + roundsNeeded * step < viewport.north, "units would leave the viewport: use fewer seconds or more units")

// 1. A private PostgreSQL and the daemon with one wall: a map over the 3x2 displays.
let base = "/tmp/hv-latency-\(getpid())"
try FileManager.default.createDirectory(atPath: base + "/walls", withIntermediateDirectories: true)
chmod(base, 0o755)
let wall = """
    {"id": "bench", "title": "Latency bench",
     "displays": {"rows": 2, "columns": 3, "default": {"width": 1920, "height": 1080, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.8}},
     "regions": [
       {"id": "map", "area": {"row": 0, "column": 0, "rows": 2, "columns": 3}, "kind": "map",
        "viewport": {"west": \(viewport.west), "south": \(viewport.south), "east": \(viewport.east), "north": \(viewport.north)}}
     ]}
    """
try wall.write(toFile: base + "/walls/bench.json", atomically: true, encoding: .utf8)
let cluster = EmbeddedPostgres(configuration: EmbeddedPostgresConfiguration(baseDirectory: base + "/pg"), logger: logger)
let admin = try await cluster.start()
defer {
    try? cluster.stop()
    try? FileManager.default.removeItem(atPath: base)
}
let httpPort = freePort(), tcpPort = freePort(), subscriptionPort = freePort()
// Not our stderr: the daemon must not hold a pipe open that a caller of this tool waits on.
let daemonLog = "/tmp/latency-load-daemon-\(getpid()).log"
let databaseURL = "postgres:///postgres?host=\(admin.host)&user=\(admin.user)"
let commonSettings = [
        "HYPERVISION_SUBSCRIPTIONS_MAX_MESSAGES_PER_SECOND": "\(options.maxMessagesPerSecond)",
        "HYPERVISION_WALLS_INTERVAL_MS": "\(options.intervalMs)",
        "HYPERVISION_WALLS_DIRECTORY": base + "/walls",
        "HYPERVISION_INGEST_UDP_ENABLED": "false",
        "HYPERVISION_INGEST_OSMAND_ENABLED": "false",
        "HYPERVISION_INGEST_COT_ENABLED": "false",
        // Every client connects from 127.0.0.1: the per-address caps must not be what is measured.
        "HYPERVISION_SUBSCRIPTIONS_MAX_CONNECTIONS_PER_ADDRESS": "\(options.subscribers + 100)",
        "HYPERVISION_SUBSCRIPTIONS_MAX_UNSUBSCRIBED": "\(options.subscribers + 100)",
        "HYPERVISION_SUBSCRIPTIONS_MAX_UNSUBSCRIBED_PER_ADDRESS": "\(options.subscribers + 100)",
        "HYPERVISION_INGEST_TCP_MAX_CONNECTIONS_PER_ADDRESS": "\(options.connections + 10)",
    ]
func settings(node: String, tcp: Int, subscriptions: Int) -> [String: String] {
    var settings = commonSettings
    settings["HYPERVISION_INGEST_TCP_PORT"] = "\(tcp)"
    settings["HYPERVISION_SUBSCRIPTIONS_PORT"] = "\(subscriptions)"
    if options.cluster { settings["HYPERVISION_CLUSTER_NODE"] = node }
    return settings
}
// The second node of --cluster: where the measured subscribers are.
let secondHTTPPort = freePort(), secondSubscriptionPort = freePort()
func launchFirst() throws -> Process {
    let daemon = try launchDaemon(
        executable: options.daemon, httpPort: httpPort, stateDirectory: base + "/state", databaseURL: databaseURL,
        settings: settings(node: "bench-a", tcp: tcpPort, subscriptions: subscriptionPort), log: daemonLog)
    say("daemon started (pid \(daemon.processIdentifier)), HTTP \(httpPort), ingest \(tcpPort), subscriptions \(subscriptionPort)")
    return daemon
}
func launchSecond() throws -> Process {
    try launchDaemon(
        executable: options.daemon, httpPort: secondHTTPPort, stateDirectory: base + "/state-b", databaseURL: databaseURL,
        settings: settings(node: "bench-b", tcp: freePort(), subscriptions: secondSubscriptionPort), log: daemonLog + ".b")
}
/// Waits until the daemon on `port` lays the wall out (--owner): the other starts after.
func waitUntilOwner(httpPort port: Int) async throws {
    for _ in 0..<1_200 {
        if (metricValue(httpPort: port, name: "hypervision_cluster_walls_owned") ?? 0) > 0 { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    say("the daemon on HTTP port \(port) did not take the wall within 120 s")
    exit(3)
}
let (daemon, second): (Process, Process?) = try await {
    guard options.cluster else { return (try launchFirst(), nil) }
    if options.owner == "second" {
        let second = try launchSecond()
        try await waitUntilOwner(httpPort: secondHTTPPort)
        return (try launchFirst(), second)
    }
    let daemon = try launchFirst()
    if options.owner == "first" { try await waitUntilOwner(httpPort: httpPort) }
    return (daemon, try launchSecond())
}()
/// Stops the daemon and the cluster, then exits (exit() skips top-level defers).
let stopAll: @Sendable (Int32) -> Never = { code in
    fflush(nil)
    for fd in openSockets.withLock({ $0 }) { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    if stopDaemon(daemon) { say("the daemon did not stop within 10 s of SIGTERM; it was killed") }
    if let second, stopDaemon(second) { say("the second daemon did not stop within 10 s of SIGTERM; it was killed") }
    try? cluster.stop()
    try? FileManager.default.removeItem(atPath: base)
    exit(code)
}
// A watchdog: whatever hangs, the daemon and the cluster are stopped.
let watchdogSeconds = 120 + 2 * (options.seconds + options.warmup)
DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(watchdogSeconds)) {
    say("watchdog: no result after \(watchdogSeconds) s; stopping")
    stopAll(3)
}
defer {
    daemon.terminate()
    daemon.waitUntilExit()
}
guard await waitUntilReady(httpPort: httpPort, seconds: 60) else { print("the daemon did not become ready"); stopAll(1) }
say("daemon ready")
if options.cluster {
    guard await waitUntilReady(httpPort: secondHTTPPort, seconds: 60) else { print("the second daemon did not become ready"); stopAll(1) }
    var listening = false
    for _ in 0..<300 where !listening {
        listening = [httpPort, secondHTTPPort].allSatisfy { metricValue(httpPort: $0, name: "hypervision_cluster_listening") == 1 }
        if !listening { try await Task.sleep(for: .milliseconds(100)) }
    }
    guard listening else { print("the daemons do not hear each other (hypervision_cluster_listening)"); stopAll(1) }
    say("second daemon ready; both listening")
}
print("hypervision latency-load: \(options.rate) pings/s for \(options.seconds) s (+\(options.warmup) s warm-up) from \(options.units) units over \(options.connections) TCP NDJSON connections; \(options.subscribers) subscribers\(options.cluster ? " on a second daemon (cluster), 1 reference subscriber on the first" : ""); walls every \(options.intervalMs) ms, subscribers capped at \(options.maxMessagesPerSecond)/s")

// 2. Ingest connections, each with a thread reading its ack lines.
let runStart = Timestamp.now()
@Sendable func line(unit: Int, round: Int, time: Timestamp) -> [UInt8] {
    let lat = baseLatitude(unit) + Double(round) * step
    return Array(
        #"{"unit":"\#(unitName(unit))","time":"\#(time.rfc3339)","lat":\#(lat),"lon":\#(baseLongitude(unit)),"speed":8.5,"heading":0,"status":"busy"}"#
            .utf8) + [0x0A]
}
final class AckCounter: @unchecked Sendable {
    // @unchecked: each thread writes its own slot; read after the run.
    var acked = [Int](repeating: 0, count: 64)
    var rejected = [Int](repeating: 0, count: 64)
    var errors: [String] = []
    let lock = NSLock()
}
let acks = AckCounter()
var ingest: [Int32] = []
for c in 0..<options.connections {
    guard let fd = connectLoopback(tcpPort) else { print("cannot connect to the ingest port"); stopAll(1) }
    ingest.append(fd)
    Thread.detachNewThread {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var pending: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            pending += buffer[..<n]
            while let newline = pending.firstIndex(of: 0x0A) {
                let text = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if text.contains("\"type\":\"ack\"") {
                    if let range = text.range(of: "\"through\":") { acks.acked[c] = Int(text[range.upperBound...].prefix { $0.isNumber }) ?? acks.acked[c] }
                } else {
                    acks.rejected[c] += 1
                    acks.lock.withLock { if acks.errors.count < 5 { acks.errors.append(text) } }
                }
            }
        }
    }
}
// Every unit once, so the measured pings move markers that are already on the wall.
do {
    let now = runStart.adding(seconds: -1)
    for unit in 0..<options.units { writeAll(ingest[unit % ingest.count], line(unit: unit, round: 0, time: now)) }
}
say("\(options.units) seed pings sent")
try await Task.sleep(for: .seconds(2))

// 3. Subscribers on one polling thread; every line's arrival time is noted with its sequence
// number, and subscriber 0 keeps its lines to be parsed after the run.
var subscriberFDs: [Int32] = []
// With --cluster the measured subscribers are on the second daemon, and one more, the reference,
// on the daemon that takes the pings.
let measuredPort = options.cluster ? secondSubscriptionPort : subscriptionPort
for index in 0..<(options.subscribers + (options.cluster ? 1 : 0)) {
    guard let fd = connectLoopback(index < options.subscribers ? measuredPort : subscriptionPort) else {
        print("cannot connect to the subscription port"); stopAll(1)
    }
    writeAll(fd, Array(#"{"type":"subscribe","wall":"bench"}"#.utf8) + [0x0A])
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    subscriberFDs.append(fd)
}
final class Arrivals: @unchecked Sendable {
    // @unchecked: written by the reader thread only, read after it stopped.
    var seqTimes: [[(seq: UInt64, time: Double)]]
    var lines0: [(time: Double, line: [UInt8])] = []
    /// The reference subscriber's lines (--cluster): on the daemon that takes the pings.
    var linesReference: [(time: Double, line: [UInt8])] = []
    var stop = false
    var stopped = false
    var closed = 0
    init(_ n: Int) { seqTimes = Array(repeating: [], count: n) }
}
let arrivals = Arrivals(subscriberFDs.count)
let subscriberFDsCopy = subscriberFDs
Thread.detachNewThread {
    let n = subscriberFDsCopy.count
    var polls = subscriberFDsCopy.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    var pending = [[UInt8]](repeating: [], count: n)
    var buffer = [UInt8](repeating: 0, count: 1 << 18)
    let seqTag = Array(#""seq":"#.utf8)
    while !arrivals.stop {
        if poll(&polls, nfds_t(n), 20) <= 0 { continue }
        let now = monotonic()
        for index in 0..<n where polls[index].revents != 0 {
            polls[index].revents = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { read(subscriberFDsCopy[index], $0.baseAddress, $0.count) }
                if count == 0 { arrivals.closed += 1; polls[index].fd = -1; break }
                if count < 0 { break }
                pending[index] += buffer[..<count]
                var start = pending[index].startIndex
                while let newline = pending[index][start...].firstIndex(of: 0x0A) {
                    let line = pending[index][start..<newline]
                    // `…,"seq":N,"type":"patch"}`: the sequence number is near the end.
                    let tail = line.suffix(48)
                    if let at = tail.firstRange(of: seqTag) {
                        var seq: UInt64 = 0
                        for byte in tail[at.upperBound...] {
                            guard byte >= 0x30 && byte <= 0x39 else { break }
                            seq = seq * 10 + UInt64(byte - 0x30)
                        }
                        if !tail.suffix(12).elementsEqual(#""heartbeat"}"#.utf8) {
                            arrivals.seqTimes[index].append((seq, now))
                            if index == 0 { arrivals.lines0.append((now, Array(line))) }
                            if index == options.subscribers { arrivals.linesReference.append((now, Array(line))) }
                        }
                    }
                    start = newline + 1
                }
                pending[index].removeSubrange(..<start)
                if count < buffer.count { break }
            }
        }
    }
    arrivals.stopped = true
}
try await Task.sleep(for: .seconds(1))
say("\(options.subscribers) subscribers connected; lines so far at subscriber 0: \(arrivals.seqTimes[0].count)")

// 4. Pings at the rate, in 1 ms ticks; each connection thread sends its share and notes, for
// every ping, the tick it was due at and the time of the write that sent it. Latency from the
// due time has no coordinated omission: a sender held back by a slow daemon does not also hold
// back the clock its pings are judged by.
final class Sent: @unchecked Sendable {
    // @unchecked: each thread writes its own array.
    var records: [[(unit: Int32, round: Int32, due: Double, time: Double)]]
    init(_ n: Int) { records = Array(repeating: [], count: n) }
}
let sent = Sent(options.connections)
let totalPings = options.rate * (options.warmup + options.seconds)
let startAt = monotonic() + 0.05
let wallStart = Timestamp.now().adding(seconds: 0.05)
let senders = DispatchGroup()
let ingestFDs = ingest
for c in 0..<options.connections {
    senders.enter()
    Thread.detachNewThread {
        let fd = ingestFDs[c]
        var records: [(unit: Int32, round: Int32, due: Double, time: Double)] = []
        records.reserveCapacity(totalPings / options.connections + 16)
        var k = c  // ping numbers c, c + C, c + 2C, …
        var tick = 0
        while k < totalPings {
            tick += 1
            let due = startAt + Double(tick) * 0.001
            let wait = due - monotonic()
            if wait > 0 { usleep(useconds_t(wait * 1e6)) }
            // Every ping scheduled up to this tick.
            let until = min(totalPings, Int(Double(options.rate) * Double(tick) * 0.001))
            var chunk: [UInt8] = []
            var first = records.count
            let time = wallStart.adding(seconds: Double(tick) * 0.001)
            while k < until {
                let unit = k % options.units, round = 1 + k / options.units
                chunk += line(unit: unit, round: round, time: time)
                records.append((Int32(unit), Int32(round), due, 0))
                k += options.connections
            }
            if chunk.isEmpty { continue }
            let now = monotonic()
            writeAll(fd, chunk)
            while first < records.count { records[first].time = now; first += 1 }
        }
        sent.records[c] = records
        senders.leave()
    }
}
let daemonCPU0 = cpuSeconds(pid: daemon.processIdentifier)
let secondCPU0 = second.map { cpuSeconds(pid: $0.processIdentifier) } ?? 0
let roundsBefore = histogramBuckets(httpPort: httpPort, name: "hypervision_wall_round_duration_seconds")
let roundsCPUBefore = histogramBuckets(httpPort: httpPort, name: "hypervision_wall_round_cpu_seconds")
let sendStart = monotonic()
while senders.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(50)) }
let sendElapsed = monotonic() - sendStart
say("sending done in \(fixed(sendElapsed, 2)) s")
let daemonCPU = cpuSeconds(pid: daemon.processIdentifier) - daemonCPU0
let secondCPU = (second.map { cpuSeconds(pid: $0.processIdentifier) } ?? 0) - secondCPU0
let roundsAfter = histogramBuckets(httpPort: httpPort, name: "hypervision_wall_round_duration_seconds")
let roundsCPUAfter = histogramBuckets(httpPort: httpPort, name: "hypervision_wall_round_cpu_seconds")
try await Task.sleep(for: .seconds(1))
arrivals.stop = true
while !arrivals.stopped { try await Task.sleep(for: .milliseconds(10)) }

say("readers stopped; subscriber 0 got \(arrivals.lines0.count) lines")
// 5. Matching. A subscriber's lines: which (unit, round) each one carries, first seen.
let wallMinusMonotonic = Double(wallStart.microseconds) / 1e6 - startAt
struct Shown {
    var firstSeq: [Int: UInt64] = [:]  // key unit * 1_000_000 + round
    /// When each version was computed (its generatedAt), on this tool's monotonic clock, to split
    /// the latency into "until the round that shows the ping" and "from that round on".
    var generatedAt: [UInt64: Double] = [:]
    var patchLines = 0, sceneLines = 0, operations = 0

    mutating func noteGenerated(_ text: String?, seq: UInt64) {
        guard let text, let time = Timestamp(rfc3339: text) else { return }
        generatedAt[seq] = Double(time.microseconds) / 1e6 - wallMinusMonotonic
    }

    mutating func note(unit name: String, latitude: Double, seq: UInt64) {
        guard name.hasPrefix("LAT-"), let unit = Int(name.dropFirst(4)) else { return }
        let round = Int(((latitude - baseLatitude(unit)) / step).rounded())
        let key = unit * 1_000_000 + round
        if firstSeq[key] == nil { firstSeq[key] = seq }
    }

    init(_ lines: [(time: Double, line: [UInt8])]) {
        for (_, line) in lines {
            guard let message = try? JSONValue(parsing: line), let object = message.objectValue,
                let seq = object["seq"]?.doubleValue.map({ UInt64($0) })
            else { continue }
            switch object["type"]?.stringValue {
            case "patch":
                patchLines += 1
                for op in object["patch"]?.arrayValue ?? [] {
                    if op.objectValue?["path"]?.stringValue == "/generatedAt" { noteGenerated(op.objectValue?["value"]?.stringValue, seq: seq) }
                    guard let path = op.objectValue?["path"]?.stringValue, path.hasPrefix("/units/") else { continue }
                    operations += 1
                    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
                    // /units/ID/lat (a replace) or /units/ID (a whole marker).
                    if parts.count == 4, parts[3] == "lat", let latitude = op.objectValue?["value"]?.doubleValue {
                        note(unit: String(parts[2]), latitude: latitude, seq: seq)
                    } else if parts.count == 3, let latitude = op.objectValue?["value"]?.objectValue?["lat"]?.doubleValue {
                        note(unit: String(parts[2]), latitude: latitude, seq: seq)
                    }
                }
            case "scene":
                sceneLines += 1
                noteGenerated(object["scene"]?.objectValue?["generatedAt"]?.stringValue, seq: seq)
                for (name, unit) in object["scene"]?.objectValue?["units"]?.objectValue ?? [:] {
                    if let latitude = unit.objectValue?["lat"]?.doubleValue { note(unit: name, latitude: latitude, seq: seq) }
                }
            default: continue
            }
        }
    }
}
/// When a subscriber first got each sequence number, by sequence number. A later line also
/// covers an earlier seq (coalescing): a ping shown at seq s reached a subscriber with the first
/// line whose seq is >= s.
struct ArrivalTimes {
    let sorted: [(key: UInt64, value: Double)]
    init(_ seqTimes: [(seq: UInt64, time: Double)]) {
        var first: [UInt64: Double] = [:]
        for (seq, time) in seqTimes where first[seq] == nil { first[seq] = time }
        sorted = first.sorted { $0.key < $1.key }
    }
    func first(atOrAfter seq: UInt64) -> Double? {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid].key < seq { low = mid + 1 } else { high = mid }
        }
        return low < sorted.count ? sorted[low].value : nil
    }
}
let shown0 = Shown(arrivals.lines0)
let (patchLines, sceneLines, operations) = (shown0.patchLines, shown0.sceneLines, shown0.operations)
let firstSeq = shown0.firstSeq, generatedAt = shown0.generatedAt
let arrival0 = ArrivalTimes(arrivals.seqTimes[0])
func firstArrival0(atOrAfter seq: UInt64) -> Double? { arrival0.first(atOrAfter: seq) }
var arrivalAll: [UInt64: (count: Int, last: Double)] = [:]
for perSubscriber in arrivals.seqTimes.prefix(options.subscribers) {
    var seen = Set<UInt64>()
    for (seq, time) in perSubscriber where seen.insert(seq).inserted {
        let current = arrivalAll[seq] ?? (0, 0)
        arrivalAll[seq] = (current.count + 1, max(current.last, time))
    }
}
let measureFrom = startAt + Double(options.warmup)
var latencies0: [Double] = [], latenciesAll: [Double] = []
var dueLatencies0: [Double] = [], dueLatenciesAll: [Double] = []
var senderLag: [Double] = []
var untilRound: [Double] = [], afterRound: [Double] = []
var measured = 0, unseen = 0
for records in sent.records {
    for record in records where record.time >= measureFrom {
        measured += 1
        guard let seq = firstSeq[Int(record.unit) * 1_000_000 + Int(record.round)], let arrived = firstArrival0(atOrAfter: seq) else {
            unseen += 1
            continue
        }
        latencies0.append((arrived - record.time) * 1000)
        dueLatencies0.append((arrived - record.due) * 1000)
        senderLag.append((record.time - record.due) * 1000)
        if let generated = generatedAt[seq] {
            untilRound.append((generated - record.time) * 1000)
            afterRound.append((arrived - generated) * 1000)
        }
        if let all = arrivalAll[seq], all.count == options.subscribers {
            latenciesAll.append((all.last - record.time) * 1000)
            dueLatenciesAll.append((all.last - record.due) * 1000)
        }
    }
}
// The reference subscriber (--cluster): the same pings, seen on the daemon that took them.
var referenceLatencies: [Double] = [], referenceDue: [Double] = []
if options.cluster {
    let shown = Shown(arrivals.linesReference)
    let arrival = ArrivalTimes(arrivals.seqTimes[options.subscribers])
    for records in sent.records {
        for record in records where record.time >= measureFrom {
            guard let seq = shown.firstSeq[Int(record.unit) * 1_000_000 + Int(record.round)], let arrived = arrival.first(atOrAfter: seq) else { continue }
            referenceLatencies.append((arrived - record.time) * 1000)
            referenceDue.append((arrived - record.due) * 1000)
        }
    }
    referenceLatencies.sort()
    referenceDue.sort()
}
latencies0.sort()
latenciesAll.sort()
dueLatencies0.sort()
dueLatenciesAll.sort()
senderLag.sort()
untilRound.sort()
afterRound.sort()
let sentCount = sent.records.reduce(0) { $0 + $1.count }
let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
print("sent \(sentCount) pings in \(fixed(sendElapsed, 2)) s: \(fixed(Double(sentCount) / sendElapsed)) pings/s achieved; acked \(acks.acked.reduce(0, +)) lines (incl. \(options.units) seed pings), \(acks.rejected.reduce(0, +)) error lines \(acks.errors)")
print("subscriber 0: \(patchLines) patches (\(fixed(Double(operations) / Double(max(patchLines, 1)), 1)) unit ops each), \(sceneLines) scenes; \(arrivals.closed) subscribers closed")
print("measured \(measured) pings after the warm-up; \(unseen) never shown (superseded within one round, or lost)")
print("ping -> patch at subscriber 0, from its write: p50 \(fixed(percentile(latencies0, 0.5), 2)) ms  p99 \(fixed(percentile(latencies0, 0.99), 2)) ms  p99.9 \(fixed(percentile(latencies0, 0.999), 2)) ms  max \(fixed(latencies0.last ?? .nan, 2)) ms   (target p99 < 20 ms)")
print("ping -> patch at all \(options.subscribers) subscribers: p50 \(fixed(percentile(latenciesAll, 0.5), 2)) ms  p99 \(fixed(percentile(latenciesAll, 0.99), 2)) ms  p99.9 \(fixed(percentile(latenciesAll, 0.999), 2)) ms  max \(fixed(latenciesAll.last ?? .nan, 2)) ms")
print("from each ping's due time (no coordinated omission): subscriber 0 p50 \(fixed(percentile(dueLatencies0, 0.5), 2)) ms  p99 \(fixed(percentile(dueLatencies0, 0.99), 2)) ms  p99.9 \(fixed(percentile(dueLatencies0, 0.999), 2)) ms; all \(options.subscribers) p99 \(fixed(percentile(dueLatenciesAll, 0.99), 2)) ms; sender behind schedule p99 \(fixed(percentile(senderLag, 0.99), 2)) ms, max \(fixed(senderLag.last ?? .nan, 2)) ms")
print("  of which: ping -> the round that shows it   p50 \(fixed(percentile(untilRound, 0.5), 2)) ms  p99 \(fixed(percentile(untilRound, 0.99), 2)) ms")
print("            that round -> subscriber 0        p50 \(fixed(percentile(afterRound, 0.5), 2)) ms  p99 \(fixed(percentile(afterRound, 0.99), 2)) ms   (round start to arrival: layout, diff, delivery)")
// The rounds' own wall-clock time under this load, from the daemon's histogram (bucket edges).
let rounds = histogramDifference(roundsBefore, roundsAfter, quantile: 0.99, above: 0.001)
let roundsMedian = histogramDifference(roundsBefore, roundsAfter, quantile: 0.5, above: 0.001)
print("wall rounds while sending: \(Int(rounds.count)); wall-clock p50 <= \(fixed(roundsMedian.quantileEdge * 1000, 2)) ms, p99 <= \(fixed(rounds.quantileEdge * 1000, 2)) ms (bucket edges of hypervision_wall_round_duration_seconds), \(fixed(rounds.shareAbove * 100, 2))% over 1 ms (target p99 < 1 ms)")
// The same rounds' CPU time (their thread's): what a round costs, without the waits for a core.
let roundsCPU = histogramDifference(roundsCPUBefore, roundsCPUAfter, quantile: 0.99, above: 0.001)
let roundsCPUMedian = histogramDifference(roundsCPUBefore, roundsCPUAfter, quantile: 0.5, above: 0.001)
print("  their CPU time: p50 <= \(fixed(roundsCPUMedian.quantileEdge * 1000, 2)) ms, p99 <= \(fixed(roundsCPU.quantileEdge * 1000, 2)) ms (hypervision_wall_round_cpu_seconds), \(fixed(roundsCPU.shareAbove * 100, 2))% over 1 ms")
if options.cluster {
    print("reference, same daemon as the pings: from its write p50 \(fixed(percentile(referenceLatencies, 0.5), 2)) ms  p99 \(fixed(percentile(referenceLatencies, 0.99), 2)) ms; from its due time p99 \(fixed(percentile(referenceDue, 0.99), 2)) ms")
    // Whichever daemon took the wall first lays it out: the path a ping takes to bench-b's
    // subscribers depends on it, so the figure says which it was.
    let path: String
    if (metricValue(httpPort: httpPort, name: "hypervision_cluster_walls_owned") ?? 0) > 0 {
        path = "bench-a lays the wall out, bench-b relays it"
    } else if (metricValue(httpPort: secondHTTPPort, name: "hypervision_cluster_walls_owned") ?? 0) > 0 {
        path = "bench-b lays the wall out from the pings bench-a published; bench-a's reference is relayed back"
    } else {
        path = "neither daemon held the wall at the end"
    }
    print("cross-daemon (pings to node bench-a, subscribers on bench-b; \(path)), from the due time: p50 \(fixed(percentile(dueLatencies0, 0.5), 2)) ms  p99 \(fixed(percentile(dueLatencies0, 0.99), 2)) ms (target p99 < 100 ms); \(fixed(percentile(dueLatencies0, 0.99) - percentile(referenceDue, 0.99), 2)) ms over the same daemon at p99")
}
print("daemon CPU while sending: \(fixed(daemonCPU / sendElapsed, 2)) cores\(second == nil ? "" : ", second daemon \(fixed(secondCPU / sendElapsed, 2)) cores"); load average \(load)")
stopAll(0)
