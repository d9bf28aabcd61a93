import Foundation
import HypervisionCore
import HypervisionStore
import Logging
import PostgresNIO

/// Durable ingest through the daemon's own ``PingWriter`` on `client`'s server: `pings` submitted
/// `submission` at a time, `concurrency` submissions in flight, each waiting for its durable
/// acknowledgement; the writer with `streams` concurrent batches. Returns the rate (pings/s) and
/// the acknowledgement latencies (ms, sorted). The tables are the caller's to empty first.
public func measureWriter(
    client: PostgresClient, pings: [Ping], streams: Int, concurrency: Int, submission: Int, batchSize: Int?, logger: Logger
) async throws -> (rate: Double, latencies: [Double]) {
    let spoolDirectory = "/tmp/hv-bench-spool-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let spool = try Spool(directory: spoolDirectory, maximumBytes: 1 << 30)
    defer { try? FileManager.default.removeItem(atPath: spoolDirectory) }
    let status = DatabaseStatus()
    status.update(.ready)
    var configuration = PingWriterConfiguration()
    configuration.queueCapacity = pings.count
    configuration.concurrency = streams
    if let batchSize { configuration.maximumBatchSize = batchSize }
    let writer = PingWriter(
        store: PingStore(database: Database(client: client, logger: logger)), status: status, spool: spool, configuration: configuration,
        logger: logger)
    let runner = Task { try await writer.run() }
    // The writer starts on its spool until it has seen the database: measure direct writes.
    while !writer.acceptsBeforeDurable { try await Task.sleep(for: .milliseconds(5)) }
    let submissions = stride(from: 0, to: pings.count, by: submission).map { Array(pings[$0..<min($0 + submission, pings.count)]) }
    let start = ContinuousClock.now
    var latencies: [Double] = []
    var accepted = 0
    try await withThrowingTaskGroup(of: (Double, Int).self) { submitters in
        var next = 0
        func submit() {
            let batch = submissions[next]
            next += 1
            submitters.addTask {
                let t0 = ContinuousClock.now
                let receipt = try await writer.write(batch)
                return (seconds(ContinuousClock.now - t0) * 1000, receipt.accepted)
            }
        }
        for _ in 0..<min(concurrency, submissions.count) { submit() }
        while let (latency, count) = try await submitters.next() {
            latencies.append(latency)
            accepted += count
            if next < submissions.count { submit() }
        }
    }
    let elapsed = seconds(ContinuousClock.now - start)
    runner.cancel()
    _ = try? await runner.value
    precondition(accepted == pings.count, "writer acknowledged \(accepted) of \(pings.count)")
    return (Double(pings.count) / elapsed, latencies.sorted())
}

/// The rows the durable-ingest tools write: `units` units reporting in turn, one ping each per
/// second, `perUnit` each, ending a minute ago.
public func syntheticPings(units: Int, perUnit: Int) -> [Ping] {
    let start = Timestamp.now().adding(seconds: -Double(perUnit) - 60)
    var pings: [Ping] = []
    pings.reserveCapacity(perUnit * units)
    for n in 0..<perUnit {
        let time = start.adding(seconds: Double(n))
        for u in 0..<units {
            pings.append(
                Ping(
                    unit: UnitID(trusted: "PN-\(u % 95 + 1)-U-\(u)"), time: time,
                    position: GeoPoint(latitude: 43 + Double(u % 500) * 0.01 + Double(n) * 1e-5, longitude: -1 + Double(u / 500) * 0.01),
                    altitude: 35, speed: 12.5, heading: Double((u + n) % 360), accuracy: 8, status: .available, battery: 81,
                    receivedAt: time))
        }
    }
    return pings
}

/// The PostgreSQL server of a durable-ingest tool: the one `url` names (a scratch database), or a
/// private durable cluster (fsync on, default settings) under `/tmp/<tag>-<pid>` that ``stop()``
/// removes.
public struct ScratchServer: Sendable {
    public let endpoint: DatabaseEndpoint
    private let cluster: EmbeddedPostgres?

    public static func start(url: String?, tag: String, logger: Logger) async throws -> ScratchServer {
        if let url {
            let endpoint = try DatabaseEndpoint.resolve(url: url, environment: ProcessInfo.processInfo.environment, currentUser: "postgres")
            return ScratchServer(endpoint: endpoint, cluster: nil)
        }
        let base = "/tmp/\(tag)-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        chmod(base, 0o755)
        let cluster = EmbeddedPostgres(configuration: EmbeddedPostgresConfiguration(baseDirectory: base), logger: logger)
        return ScratchServer(endpoint: try await cluster.start(), cluster: cluster)
    }

    /// Stops and removes the private cluster, if there is one.
    public func stop() {
        guard let cluster else { return }
        try? cluster.stop()
        try? FileManager.default.removeItem(atPath: cluster.configuration.baseDirectory)
    }
}
