// Scene hub fan-out over real TCP, in process: SceneHub + SubscriptionServer + SceneHubService on a
// loopback port (authentication off), N subscribers in a second process of this tool (so the
// server process's getrusage counts the hub and its sockets only), a scene of 200 units where
// `--moving` of them move at every change, 10 changes per second, subscribers capped at 10/s.
//
// With `--daemon PATH`, the same subscribers subscribe to the demo wall of a real hypervisiond
// (a release build, on a private PostgreSQL, its demo feed moving the units), and the figures are
// that process's: its CPU then also counts the demo feed, ingest and the wall rounds.
//
// Prints: RSS per idle subscriber (N subscribers on a static scene, RSS before/after), then for
// `--seconds` of changes: updates received per subscriber per second (min / median), patch size,
// and the server process's CPU as cores (user+sys seconds / wall seconds).
//
//   swift run -c release --package-path Benchmarks fanout-load [--subscribers 1000] [--seconds 20] [--moving 20] [--rate 10] [--cap 10]
//   swift run -c release --package-path Benchmarks fanout-load --daemon Benchmarks/.build/release/hypervisiond
import ArgumentParser
import Foundation
import HypervisionCore
import HypervisionStore
import HypervisionStream
import LoadTools
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout-load", abstract: "1,000 TCP subscribers to one wall: the daemon's CPU and memory per subscriber.")

    @Option(help: "TCP subscribers.") var subscribers = 1_000
    @Option(help: "Measured seconds.") var seconds = 20
    @Option(help: "Seconds before measuring.") var warmup = 2
    @Option(help: "Units that move on the wall's map.") var moving = 20
    @Option(help: "Units on the wall's map.") var units = 200
    @Option(help: "Wall changes per second.") var rate = 10.0
    @Option(help: "Messages per second per subscriber (the hub's cap); default: the rate (in process) or the daemon's default.") var cap: Double?
    @Option(help: "A release hypervisiond: subscribe to its demo wall instead of an in-process hub.") var daemon: String?
    @Option(help: .hidden) var wall = "bench"
    /// Internal: the tool re-runs itself as the subscribers' process.
    @Option(name: .customLong("client"), help: .hidden) var clientPort: Int?

    func validate() throws {
        guard subscribers > 0, seconds > 0, warmup >= 0, units > 0, moving >= 0, rate > 0, cap ?? 1 > 0 else {
            throw ArgumentParser.ValidationError("counts and rates must be positive")
        }
    }
}

/// Raises the open-file soft limit to the hard limit (or `wanted`, whichever is lower).
func raiseFileLimit(to wanted: Int) -> Int {
    var limit = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < rlim_t(wanted) {
        limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}

let options = Options.parseOrExit()
let limit = raiseFileLimit(to: options.subscribers + 256)
guard limit >= options.subscribers + 64 else {
    print("open-file limit \(limit) is too low for \(options.subscribers) subscribers (raise the hard limit)")
    exit(2)
}

// MARK: - Client side (second process)

/// N subscribers on one thread with poll(2): connect, subscribe, wait for every first scene and
/// say "ready"; on "go" from stdin, read for warmup + seconds and count lines per subscriber
/// from the end of the warmup; print the counts.
func runClients(port: Int) -> Never {
    var fds: [Int32] = []
    for _ in 0..<options.subscribers {
        guard let fd = loopbackConnection(port: port) else { fatalError("connect failed: \(errno)") }
        let request = Array(#"{"type":"subscribe","wall":"\#(options.wall)"}"#.utf8) + [0x0A]
        precondition(request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == request.count)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        fds.append(fd)
    }
    let n = fds.count
    var tails = [[UInt8]](repeating: [], count: n)  // the last bytes seen, for lines split across reads
    var scenes = [Int](repeating: 0, count: n), patches = [Int](repeating: 0, count: n), heartbeats = [Int](repeating: 0, count: n)
    var others = 0, closed = 0, bytes = 0
    var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    let patchTag = Array(#""type":"patch"}"#.utf8), sceneTag = Array(#""type":"scene"}"#.utf8), heartbeatTag = Array(#""type":"heartbeat"}"#.utf8)

    func pump(until deadline: Double) {
        while monotonic() < deadline {
            let ready = poll(&polls, nfds_t(n), 20)
            if ready <= 0 { continue }
            for index in 0..<n where polls[index].revents != 0 {
                polls[index].revents = 0
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fds[index], $0.baseAddress, $0.count) }
                    if count == 0 { closed += 1; polls[index].fd = -1; break }
                    if count < 0 { break }  // EAGAIN
                    bytes += count
                    var lineStart = 0
                    while let newline = buffer[lineStart..<count].firstIndex(of: 0x0A) {
                        // The last bytes before the newline carry the type.
                        let end: [UInt8]
                        if newline - lineStart >= 24 { end = Array(buffer[(newline - 24)..<newline]) }
                        else if lineStart > 0 { end = Array(buffer[lineStart..<newline]) }
                        else { end = Array((tails[index] + buffer[0..<newline]).suffix(24)) }
                        if end.count >= patchTag.count, end.suffix(patchTag.count).elementsEqual(patchTag) { patches[index] += 1 }
                        else if end.count >= sceneTag.count, end.suffix(sceneTag.count).elementsEqual(sceneTag) { scenes[index] += 1 }
                        else if end.count >= heartbeatTag.count, end.suffix(heartbeatTag.count).elementsEqual(heartbeatTag) { heartbeats[index] += 1 }
                        else { others += 1 }
                        lineStart = newline + 1
                    }
                    // Keep the last bytes of an unfinished line.
                    if lineStart > 0 { tails[index] = Array(buffer[max(lineStart, count - 24)..<count]) }
                    else { tails[index] = Array((tails[index] + buffer[max(0, count - 24)..<count]).suffix(24)) }
                    if count < buffer.count { break }
                }
            }
        }
    }

    // Every subscriber gets its first scene.
    let connectDeadline = monotonic() + 60
    while scenes.reduce(0, { $0 + min($1, 1) }) < n && monotonic() < connectDeadline { pump(until: monotonic() + 0.1) }
    let subscribed = scenes.filter { $0 > 0 }.count
    print("ready \(subscribed)")
    fflush(nil)
    guard readLine() == "go" else { exit(1) }
    let cpu0 = cpuSeconds()
    pump(until: monotonic() + Double(options.warmup))
    for i in 0..<n { scenes[i] = 0; patches[i] = 0; heartbeats[i] = 0 }
    bytes = 0
    let start = monotonic()
    pump(until: start + Double(options.seconds))
    let elapsed = monotonic() - start
    let cpu = cpuSeconds() - cpu0
    let updates = (0..<n).map { Double(scenes[$0] + patches[$0]) / elapsed }.sorted()
    let patchRates = patches.map { Double($0) / elapsed }.sorted()
    print(
        "result min \(updates.first ?? 0) median \(updates[n / 2]) max \(updates.last ?? 0) patchmin \(patchRates.first ?? 0) patchmedian \(patchRates[n / 2]) scenes \(scenes.reduce(0, +)) heartbeats \(heartbeats.reduce(0, +)) others \(others) closed \(closed) bytes \(bytes) elapsed \(elapsed) cpu \(cpu)"
    )
    fflush(nil)
    exit(0)
}

if let port = options.clientPort { runClients(port: port) }

// MARK: - Server side

/// The next line the client process writes, read on a thread of its own (a blocking read).
func nextLine(_ fd: Int32) async -> String? {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while read(fd, &byte, 1) == 1 {
                if byte == 0x0A { continuation.resume(returning: String(decoding: bytes, as: UTF8.self)); return }
                bytes.append(byte)
            }
            continuation.resume(returning: nil)
        }
    }
}

/// This tool again, as the subscribers' process, connected to `port`; ready once every
/// subscriber has its first scene.
func startClients(port: Int, wall: String) async throws -> (Process, Pipe, Int32, String) {
    let client = Process()
    client.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    client.arguments = [
        "--client", "\(port)", "--wall", wall, "--subscribers", "\(options.subscribers)", "--seconds", "\(options.seconds)",
        "--warmup", "\(options.warmup)",
    ]
    let toClient = Pipe(), fromClient = Pipe()
    client.standardInput = toClient
    client.standardOutput = fromClient
    try client.run()
    let output = fromClient.fileHandleForReading.fileDescriptor
    guard let ready = await nextLine(output), ready.hasPrefix("ready ") else { throw CancellationError() }
    return (client, toClient, output, String(ready.dropFirst(6)))
}

/// The client process's `result` line as numbers by name.
func resultValues(_ result: String) -> [String: Double] {
    let fields = result.split(separator: " ").dropFirst()
    var values: [String: Double] = [:]
    for i in stride(from: 0, to: fields.count - 1, by: 2) {
        values[String(fields[fields.startIndex + i])] = Double(fields[fields.startIndex + i + 1])
    }
    return values
}

/// What every subscriber received, and the traffic it made.
func printReceived(_ values: [String: Double]) {
    let bytesPerSecond = (values["bytes"] ?? 0) / (values["elapsed"] ?? 1)
    let updatesPerSecond = (values["median"] ?? 0) * Double(options.subscribers)
    print("received per subscriber per second over \(fixed(values["elapsed"] ?? 0, 1)) s: updates min \(fixed(values["min"] ?? 0, 2)) / median \(fixed(values["median"] ?? 0, 2)) / max \(fixed(values["max"] ?? 0, 2)); patches min \(fixed(values["patchmin"] ?? 0, 2)) / median \(fixed(values["patchmedian"] ?? 0, 2)); full scenes \(Int(values["scenes"] ?? 0)), heartbeats \(Int(values["heartbeats"] ?? 0)), closed \(Int(values["closed"] ?? 0))")
    print("traffic: \(fixed(bytesPerSecond / 1_048_576, 1)) MiB/s to all subscribers, \(fixed(bytesPerSecond / max(updatesPerSecond, 1))) B per update")
    print("client process CPU (not counted above): \(fixed((values["cpu"] ?? 0) / ((values["elapsed"] ?? 1) + Double(options.warmup)), 3)) cores")
}

// MARK: - Against a real daemon

/// `--daemon`: a release hypervisiond running the demo on a private PostgreSQL, the subscribers
/// on its subscription port, its CPU and memory read from `/proc`.
func runAgainstDaemon(_ executable: String) async throws -> Never {
    var logger = Logger(label: "fanout-load")
    logger.logLevel = .warning
    let base = "/tmp/hv-fanout-\(getpid())"
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    chmod(base, 0o755)
    let cluster = EmbeddedPostgres(configuration: EmbeddedPostgresConfiguration(baseDirectory: base + "/pg"), logger: logger)
    let admin = try await cluster.start()
    let httpPort = freePort(), subscriptionPort = freePort(), ingestPort = freePort()
    var settings = [
        "HYPERVISION_DEMO_ENABLED": "true", "HYPERVISION_DEMO_VIDEO_PORT": "0",
        "HYPERVISION_SUBSCRIPTIONS_PORT": "\(subscriptionPort)", "HYPERVISION_INGEST_TCP_PORT": "\(ingestPort)",
        "HYPERVISION_INGEST_UDP_ENABLED": "false", "HYPERVISION_INGEST_OSMAND_ENABLED": "false", "HYPERVISION_INGEST_COT_ENABLED": "false",
    ]
    if let cap = options.cap { settings["HYPERVISION_SUBSCRIPTIONS_MAX_MESSAGES_PER_SECOND"] = "\(cap)" }
    // Every subscriber connects from 127.0.0.1: the per-address caps must not be what is measured.
    for key in ["MAX_CONNECTIONS", "MAX_CONNECTIONS_PER_ADDRESS", "MAX_UNSUBSCRIBED", "MAX_UNSUBSCRIBED_PER_ADDRESS"] {
        settings["HYPERVISION_SUBSCRIPTIONS_\(key)"] = "\(options.subscribers + 100)"
    }
    let daemonLog = base + "-daemon.log"
    let daemon = try launchDaemon(
        executable: executable, httpPort: httpPort, stateDirectory: base + "/state",
        databaseURL: "postgres:///postgres?host=\(admin.host)&user=\(admin.user)", settings: settings, log: daemonLog)
    func stop(_ code: Int32) -> Never {
        fflush(nil)
        stopDaemon(daemon)
        try? cluster.stop()
        try? FileManager.default.removeItem(atPath: base)
        exit(code)
    }
    guard await waitUntilReady(httpPort: httpPort, seconds: 120) else {
        print("the daemon did not become ready (log: \(daemonLog))")
        stop(1)
    }
    // The demo's units and cameras are loaded and its walls laid out before the baseline.
    try await Task.sleep(for: .seconds(5))
    let pid = daemon.processIdentifier
    let rssBefore = residentBytes(pid: pid)
    print("fanout-load against \(executable) (pid \(pid)) running the demo: \(options.subscribers) subscribers to the demo wall, open-file limit \(limit)")
    guard let (client, toClient, output, subscribed) = try? await startClients(port: subscriptionPort, wall: "demo") else {
        print("the client side failed (daemon log: \(daemonLog))")
        stop(1)
    }
    try await Task.sleep(for: .seconds(3))
    let rssIdle = residentBytes(pid: pid)
    print("subscribed: \(subscribed); daemon RSS \(fixed(Double(rssBefore) / 1_048_576, 1)) MiB -> \(fixed(Double(rssIdle) / 1_048_576, 1)) MiB: \(fixed(Double(rssIdle - rssBefore) / Double(options.subscribers) / 1024, 1)) KiB per subscriber (target < 64 KiB; the demo moves units meanwhile)")
    toClient.fileHandleForWriting.write(Data("go\n".utf8))
    try await Task.sleep(for: .seconds(options.warmup))
    let cpu0 = cpuSeconds(pid: pid), wall0 = monotonic()
    try await Task.sleep(for: .seconds(options.seconds))
    let cpu = cpuSeconds(pid: pid) - cpu0, wall = monotonic() - wall0
    let rssActive = residentBytes(pid: pid)
    guard let result = await nextLine(output), result.hasPrefix("result ") else {
        print("the client side gave no result")
        stop(1)
    }
    client.waitUntilExit()
    printReceived(resultValues(result))
    print("daemon CPU: \(fixed(cpu, 2)) s over \(fixed(wall, 1)) s = \(fixed(cpu / wall, 3)) cores, demo feed, ingest and wall rounds included (target < 1 core); RSS \(fixed(Double(rssActive) / 1_048_576, 1)) MiB")
    stop(0)
}

if let executable = options.daemon { try await runAgainstDaemon(executable) }

// MARK: - In process

/// A wall scene of `units` unit markers plus 96 camera tiles and 10 incidents; `round` moves
/// `moving` units (a different set each round) by a few metres.
final class SceneMaker {
    var positions: [(Double, Double)]
    var round = 0
    var rng = SystemRandomNumberGenerator()
    let tiles: JSONValue
    init(units: Int) {
        positions = (0..<units).map { _ in (48.85 + .random(in: -0.04...0.04), 2.35 + .random(in: -0.06...0.06)) }
        var members: [String: JSONValue] = [:]
        for i in 0..<96 {
            members["cam-\(i)"] = .object([
                "region": "cams", "slot": .number(Double(i)),
                "rect": .object(["x": .number(Double(i % 16 * 1920)), "y": .number(Double(i / 16 * 1080)), "width": 1920, "height": 1080]),
                "source": .object([
                    "kind": "camera", "id": .string("cam-\(i)"), "title": .string("Camera \(i)"), "status": "online",
                    "streams": .array([.object(["protocol": "rtsp", "quality": "main", "url": .string("rtsp://vms.local/cam-\(i)/main")])]),
                ]),
                "reason": "event", "z": 0,
            ])
        }
        tiles = .object(members)
    }
    func next(moving: Int) -> JSONValue {
        round += 1
        for k in 0..<moving {
            let i = (round * moving + k) % positions.count
            positions[i].0 += .random(in: -0.0001...0.0001)
            positions[i].1 += .random(in: -0.00015...0.00015)
        }
        var units: [String: JSONValue] = [:]
        for (i, p) in positions.enumerated() {
            units["PN-75-BAC-\(i)"] = .object([
                "lat": .number(p.0), "lon": .number(p.1), "callsign": .string("BAC \(i)"), "kind": "car",
                "heading": .number(Double((i * 37) % 360)), "status": "busy", "stale": false,
            ])
        }
        return .object(["wall": "bench", "canvas": .object(["width": 23040, "height": 8640]), "tiles": tiles, "units": .object(units)])
    }
}

var logger = Logger(label: "fanout-load")
logger.logLevel = .warning
var hubConfiguration = SceneHub.Configuration()
hubConfiguration.subscriber = .init(maximumMessagesPerSecond: options.cap ?? options.rate)
let hub = SceneHub(configuration: hubConfiguration)
let key = StreamKey(wall: "bench")
let maker = SceneMaker(units: options.units)
hub.publish(key, content: maker.next(moving: 0))
var serverConfiguration = SubscriptionServerConfiguration()
serverConfiguration.port = 0
serverConfiguration.maximumConnections = options.subscribers + 100
// Every subscriber connects from 127.0.0.1, and all of them may be waiting to subscribe at once.
serverConfiguration.maximumUnsubscribed = options.subscribers + 100
serverConfiguration.maximumConnectionsPerAddress = options.subscribers + 100
serverConfiguration.maximumUnsubscribedPerAddress = options.subscribers + 100
let bound = Mutex<Int?>(nil)
let server = SubscriptionServer(
    configuration: serverConfiguration, hub: hub, authority: TokenAuthority(tokens: []), logger: logger,
    metricsFactory: NOOPMetricsHandler.instance,
    onBound: { address in bound.withLock { $0 = address?.port } })

print("fanout-load: \(options.subscribers) subscribers, scene of \(options.units) units with \(options.moving) moving per change, \(fixed(options.rate)) changes/s, subscriber cap \(fixed(options.cap ?? options.rate))/s, open-file limit \(limit)")

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await server.run() }
    group.addTask { try await SceneHubService(hub: hub).run() }
    var port: Int?
    while port == nil {
        port = bound.withLock { $0 }
        if port == nil { try await Task.sleep(for: .milliseconds(10)) }
    }
    // Let the event loops and allocator settle before the baseline.
    try await Task.sleep(for: .seconds(1))
    let rssBefore = residentBytes()

    let (client, toClient, clientOutput, subscribed) = try await startClients(port: port!, wall: "bench")
    // Idle: every subscriber holds the static scene; wait for the heap and socket buffers to settle.
    try await Task.sleep(for: .seconds(3))
    let rssIdle = residentBytes()
    print("idle: \(subscribed) subscribers on the hub (hub count \(hub.subscriberCount)); RSS \(fixed(Double(rssBefore) / 1_048_576, 1)) MiB -> \(fixed(Double(rssIdle) / 1_048_576, 1)) MiB: \(fixed(Double(rssIdle - rssBefore) / Double(options.subscribers) / 1024, 1)) KiB per idle subscriber (target < 64 KiB)")

    // Changes at `rate` per second, on a task of their own.
    let publisher = Task {
        let interval = 1.0 / options.rate
        var next = monotonic()
        var published = 0
        var publishTime = 0.0
        while !Task.isCancelled {
            next += interval
            let start = monotonic()
            hub.publish(key, content: maker.next(moving: options.moving))
            publishTime += monotonic() - start
            published += 1
            let wait = next - monotonic()
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(Int(wait * 1e9))) }
        }
        return (published, publishTime)
    }
    toClient.fileHandleForWriting.write(Data("go\n".utf8))
    try await Task.sleep(for: .seconds(options.warmup))
    let cpu0 = cpuSeconds(), wall0 = monotonic()
    try await Task.sleep(for: .seconds(options.seconds))
    let cpu = cpuSeconds() - cpu0, wall = monotonic() - wall0
    let rssActive = residentBytes()
    guard let result = await nextLine(clientOutput), result.hasPrefix("result ") else { print("the client side gave no result"); exit(1) }
    publisher.cancel()
    let (published, publishTime) = await publisher.value
    client.waitUntilExit()

    print("load: \(published) changes published, hub.publish (diff + encode + decide) \(fixed(publishTime / Double(max(published, 1)) * 1e6)) µs each on average")
    printReceived(resultValues(result))
    print("server process CPU: \(fixed(cpu, 2)) s over \(fixed(wall, 1)) s = \(fixed(cpu / wall, 3)) cores (target < 1 core); RSS under load \(fixed(Double(rssActive) / 1_048_576, 1)) MiB")
    group.cancelAll()
}
exit(0)
