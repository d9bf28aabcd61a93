import DequeModule
import HypervisionCore
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Tuning of the ``PingWriter``.
public struct PingWriterConfiguration: Sendable, Hashable {
    /// The most pings written in one transaction. Each batch also upserts the latest position of
    /// every unit in it, so larger batches under load pay that once for more pings.
    public var maximumBatchSize: Int = 50_000
    /// How long an idle writer waits after the first ping for more to join its batch.
    public var linger: Duration = .milliseconds(2)
    /// The most pings queued before submissions are refused with ``PingWriterError/Code/overloaded``.
    public var queueCapacity: Int = 200_000
    /// How many batches may be written at once (each on its own connection).
    public var concurrency: Int = 2
    /// How long one batch may take before the database counts as unreachable.
    public var writeTimeout: Duration = .seconds(10)
    /// How often to try the database again while pings are spooled.
    public var retryInterval: Duration = .seconds(2)

    public init() {}
}

/// What happened to one submitted ping.
public enum PingWriteResult: Sendable, Hashable {
    /// Committed in PostGIS.
    case stored
    /// The same unit and device time was already stored; nothing changed.
    case duplicate
    /// Written and fsynced to the local spool; it will reach PostGIS when the database returns.
    case spooled
}

/// The acknowledgement of a submission: one result per ping, in submission order.
public struct WriteReceipt: Sendable, Hashable {
    public var results: [PingWriteResult]
    public init(results: [PingWriteResult]) { self.results = results }
    /// Pings newly made durable (stored or spooled).
    public var accepted: Int { results.count { $0 != .duplicate } }
    public var duplicates: Int { results.count { $0 == .duplicate } }
}

/// Why a submission was not acknowledged. The pings are not durable; the sender should retry.
public struct PingWriterError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// The queue is full; retry after a short delay.
        public static let overloaded = Code(rawValue: "overloaded")
        /// The daemon is stopping.
        public static let shuttingDown = Code(rawValue: "shutting_down")
        /// Neither the database nor the spool could take the pings (spool full or unwritable).
        public static let storageUnavailable = Code(rawValue: "storage_unavailable")
        /// The database refused the batch for a reason other than being unreachable.
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

/// The durable path of every ping: a bounded queue, batches by size and time, one transaction
/// per batch, and a local spool when PostgreSQL is unreachable.
///
/// ``write(_:)`` returns only once each ping is committed or fsynced to the spool. The service's
/// `run()` drains the queue and writes up to ``PingWriterConfiguration/concurrency`` batches at
/// once; spool appends are serialised and replay runs alone, in the spool's order. The primary
/// key makes a replayed ping that had in fact committed (a timeout racing a commit) harmless.
public final class PingWriter: Service, Sendable {
    private let store: PingStore
    private let status: DatabaseStatus
    private let spool: Spool
    private let configuration: PingWriterConfiguration
    private let logger: Logger
    private let queue: SubmissionQueue
    private let metrics: WriterMetrics
    private let progress = Mutex(ContinuousClock.now)
    /// Serialises spool appends from concurrent batches (replay runs alone on the loop).
    private let spoolLock = Mutex(())
    /// How far the current replay got, so an interrupted replay resumes rather than restarts.
    private let replay = Mutex(ReplayState())

    private struct ReplayState {
        var offset = 0
    }

    public init(
        store: PingStore, status: DatabaseStatus, spool: Spool, configuration: PingWriterConfiguration = .init(),
        logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.store = store
        self.status = status
        self.spool = spool
        self.configuration = configuration
        self.logger = logger
        self.queue = SubmissionQueue(capacity: configuration.queueCapacity, maximumBatch: configuration.maximumBatchSize)
        self.metrics = WriterMetrics(factory: metricsFactory)
        metrics.recordSpool(spool.sizeInBytes)
    }

    /// Submits pings and waits until each is durable (or the submission is refused).
    public func write(_ pings: [Ping]) async throws(PingWriterError) -> WriteReceipt {
        guard !pings.isEmpty else { return WriteReceipt(results: []) }
        let result: Result<WriteReceipt, PingWriterError> = await withCheckedContinuation { continuation in
            queue.submit(Submission(pings: pings, continuation: continuation))
        }
        return try result.get()
    }

    /// Bytes currently held in the spool.
    public var spooledBytes: Int { metrics.lastSpoolBytes.withLock { $0 } }

    /// Pings waiting in the queue.
    public var queuedPings: Int { queue.depth }

    /// Whether the pipeline moved recently: the writer loop completed an iteration (a batch, a
    /// replay attempt or an idle tick) within `window`. Feeds the systemd watchdog.
    public func isMakingProgress(within window: Duration) -> Bool {
        let last = progress.withLock { $0 }
        return ContinuousClock.now - last <= window
    }

    public func run() async throws {
        if !spool.isEmpty {
            logger.notice("spool holds pings from an earlier run; replaying when the database is ready",
                          metadata: ["bytes": "\(spool.sizeInBytes)", "path": "\(spool.path)"])
        }
        let queue = self.queue
        let interval = configuration.retryInterval
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    // Probes the database while pings wait in the spool, off the writer loop so
                    // an unreachable server never delays acknowledgements, and wakes the loop so
                    // the spool is replayed without new traffic.
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: interval)
                            await self.probeDatabaseIfSpooling()
                            queue.poke()
                        }
                    }
                    await self.loop()
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                queue.close()
            }
        } onCancel: {
            queue.close()
        }
        logger.info("ping writer stopped", metadata: ["spooled_bytes": "\(spool.sizeInBytes)"])
    }

    /// Drains the queue. Up to `concurrency` batches are written at once, so encoding the next
    /// batch and the server's work on the current one overlap; replay runs alone, in order.
    private func loop() async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            var idle = true
            while let next = await queue.next() {
                var batch = next
                if !batch.isEmpty, idle, configuration.linger > .zero, queue.depth < configuration.maximumBatchSize {
                    // The first ping after a quiet spell: give its neighbours a moment to join.
                    try? await Task.sleep(for: configuration.linger)
                    batch += queue.takeMore(after: batch.reduce(0) { $0 + $1.pings.count })
                }
                if spoolHoldsPings && databaseLooksUsable {
                    while inFlight > 0, await group.next() != nil { inFlight -= 1 }
                    await replaySpool()
                }
                if !batch.isEmpty {
                    while inFlight >= configuration.concurrency, await group.next() != nil { inFlight -= 1 }
                    let submissions = batch
                    group.addTask { await self.process(submissions) }
                    inFlight += 1
                }
                idle = batch.isEmpty || queue.depth == 0
                progress.withLock { $0 = .now }
                metrics.queueDepth.record(queue.depth)
            }
            await group.waitForAll()
        }
    }

    private func process(_ batch: [Submission]) async {
        let pings = batch.flatMap(\.pings)
        let outcome: Outcome
        if !spoolHoldsPings && databaseLooksUsable {
            outcome = await writeToDatabase(pings)
        } else {
            // Known to be down (or not migrated yet): straight to the spool, no waiting.
            outcome = appendToSpool(pings)
        }
        complete(batch, outcome)
        progress.withLock { $0 = .now }
    }

    private var spoolHoldsPings: Bool { spooledBytes > 0 }

    private var databaseLooksUsable: Bool { status.isSchemaReady && status.current == .ready }

    /// While the spool holds pings and the database was last seen down, checks whether it is
    /// back (a `SELECT 1` within the write timeout).
    private func probeDatabaseIfSpooling() async {
        guard spooledBytes > 0, status.isSchemaReady, status.current != .ready else { return }
        do {
            try await withDeadline(configuration.writeTimeout) { [store] in
                try await store.client.query("SELECT 1")
                return ()
            }
            logger.info("database reachable again; replaying the spool")
            status.update(.ready)
        } catch {
            status.update(.unreachable(reason: DatabaseErrors.describe(error)))
        }
    }

    private enum Outcome {
        case stored(Set<Ping.Key>)
        case spooled
        case failed(PingWriterError)
    }

    private func writeToDatabase(_ pings: [Ping]) async -> Outcome {
        let start = ContinuousClock.now
        do {
            let keys = try await withDeadline(configuration.writeTimeout) { [store] in
                do {
                    return try await store.insert(pings)
                } catch where DatabaseErrors.isTransient(error) {
                    // Two batches repeating the same pings can deadlock; the loser retries once.
                    return try await store.insert(pings)
                }
            }
            metrics.batchDuration.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
            metrics.batches.increment()
            return .stored(keys)
        } catch let error where DatabaseErrors.isConnectivity(error) {
            let reason = DatabaseErrors.describe(error)
            status.update(.unreachable(reason: reason))
            logger.warning("database unreachable; spooling pings", metadata: ["reason": "\(reason)"])
            return appendToSpool(pings)
        } catch {
            let reason = DatabaseErrors.describe(error)
            logger.error("database refused a batch", metadata: ["reason": "\(reason)", "pings": "\(pings.count)"])
            return .failed(PingWriterError(.rejectedByDatabase, reason))
        }
    }

    private func appendToSpool(_ pings: [Ping]) -> Outcome {
        do {
            // Concurrent batches may fail over together; the spool takes one append at a time.
            let size = try spoolLock.withLock { _ in
                try spool.append(pings)
                return spool.sizeInBytes
            }
            metrics.recordSpool(size)
            return .spooled
        } catch {
            logger.error("cannot spool pings", metadata: ["reason": "\(error)"])
            return .failed(PingWriterError(.storageUnavailable, "database unreachable and \(error)"))
        }
    }

    /// Replays the spool, record by record in order. Called on the writer loop only while the
    /// database is believed reachable, so a failure here costs at most one write timeout.
    private func replaySpool() async {
        var offset = replay.withLock { $0.offset }
        var replayed = 0
        do {
            while let (pings, next) = try spool.record(at: offset) {
                _ = try await withDeadline(configuration.writeTimeout) { [store] in try await store.insert(pings) }
                replayed += pings.count
                offset = next
                replay.withLock { $0.offset = next }
            }
            try spool.truncate()
            replay.withLock { $0.offset = 0 }
            metrics.recordSpool(0)
            status.update(.ready)
            logger.notice("spool replayed into the database", metadata: ["pings": "\(replayed)"])
        } catch let error where DatabaseErrors.isConnectivity(error) {
            if replayed > 0 {
                logger.info("spool replay interrupted", metadata: ["replayed": "\(replayed)"])
            }
            status.update(.unreachable(reason: DatabaseErrors.describe(error)))
        } catch let error as SpoolError {
            logger.critical("spool unreadable; moving it aside for manual recovery", metadata: ["reason": "\(error)"])
            quarantineSpool()
        } catch {
            // The database refuses a spooled record: keep the data aside rather than block forever.
            logger.critical(
                "database refuses a spooled record; moving the spool aside for manual recovery",
                metadata: ["reason": "\(DatabaseErrors.describe(error))"])
            quarantineSpool()
        }
    }

    private func quarantineSpool() {
        do {
            let moved = try spool.quarantine()
            replay.withLock { $0.offset = 0 }
            metrics.recordSpool(0)
            logger.critical("spool moved aside", metadata: ["path": "\(moved)"])
        } catch {
            logger.critical("cannot move spool aside", metadata: ["reason": "\(error)"])
        }
    }

    private func complete(_ batch: [Submission], _ outcome: Outcome) {
        switch outcome {
        case .failed(let error):
            for submission in batch {
                metrics.failed.increment(by: submission.pings.count)
                submission.continuation.resume(returning: .failure(error))
            }
        case .spooled:
            for submission in batch {
                metrics.spooled.increment(by: submission.pings.count)
                submission.continuation.resume(
                    returning: .success(WriteReceipt(results: Array(repeating: .spooled, count: submission.pings.count))))
            }
        case .stored(var keys):
            for submission in batch {
                var results: [PingWriteResult] = []
                results.reserveCapacity(submission.pings.count)
                for ping in submission.pings {
                    results.append(keys.remove(ping.key) != nil ? .stored : .duplicate)
                }
                let receipt = WriteReceipt(results: results)
                metrics.stored.increment(by: receipt.accepted)
                metrics.duplicates.increment(by: receipt.duplicates)
                submission.continuation.resume(returning: .success(receipt))
            }
        }
    }
}

/// A submission waiting for its acknowledgement.
struct Submission: Sendable {
    var pings: [Ping]
    var continuation: CheckedContinuation<Result<WriteReceipt, PingWriterError>, Never>
}

/// The bounded queue between submitters and the writer loop.
final class SubmissionQueue: Sendable {
    private struct State {
        var submissions: Deque<Submission> = []
        var depth = 0
        var accepting = true
        var poked = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let maximumBatch: Int

    init(capacity: Int, maximumBatch: Int) {
        self.capacity = capacity
        self.maximumBatch = maximumBatch
    }

    var depth: Int { state.withLock { $0.depth } }

    func submit(_ submission: Submission) {
        enum Action { case wake(CheckedContinuation<Void, Never>?), refuse(PingWriterError) }
        let action = state.withLock { state -> Action in
            guard state.accepting else {
                return .refuse(PingWriterError(.shuttingDown, "the daemon is shutting down; retry against the next instance"))
            }
            // A single submission larger than the capacity is still taken when the queue is empty,
            // so a legitimate large batch cannot starve.
            guard state.depth == 0 || state.depth + submission.pings.count <= capacity else {
                return .refuse(PingWriterError(.overloaded, "ingest queue is full (\(state.depth) pings waiting); retry shortly"))
            }
            state.submissions.append(submission)
            state.depth += submission.pings.count
            defer { state.waiter = nil }
            return .wake(state.waiter)
        }
        switch action {
        case .wake(let waiter): waiter?.resume()
        case .refuse(let error): submission.continuation.resume(returning: .failure(error))
        }
    }

    /// Wakes the writer loop with an empty batch (a tick while idle).
    func poke() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.poked = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Stops accepting submissions and wakes the loop so it drains what is queued.
    func close() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.accepting = false
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The next batch of whole submissions, `[]` for a tick, or nil once closed and drained.
    func next() async -> [Submission]? {
        while true {
            enum Step { case batch([Submission]), finished, wait }
            let step = state.withLock { state -> Step in
                if !state.submissions.isEmpty { return .batch(Self.take(&state, limit: maximumBatch)) }
                if !state.accepting { return .finished }
                if state.poked {
                    state.poked = false
                    return .batch([])
                }
                return .wait
            }
            switch step {
            case .batch(let batch): return batch
            case .finished: return nil
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        if !state.submissions.isEmpty || !state.accepting || state.poked { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// More submissions to top up a batch that already holds `count` pings.
    func takeMore(after count: Int) -> [Submission] {
        state.withLock { state in Self.take(&state, limit: maximumBatch - count, allowEmpty: true) }
    }

    private static func take(_ state: inout State, limit: Int, allowEmpty: Bool = false) -> [Submission] {
        var batch: [Submission] = []
        var count = 0
        while let first = state.submissions.first {
            // Whole submissions only; the first one always goes, however large.
            if (!batch.isEmpty || allowEmpty) && count + first.pings.count > limit { break }
            state.submissions.removeFirst()
            count += first.pings.count
            batch.append(first)
        }
        state.depth -= count
        return batch
    }
}

/// The writer's metrics, created once.
final class WriterMetrics: Sendable {
    let stored: Counter
    let duplicates: Counter
    let spooled: Counter
    let failed: Counter
    let batches: Counter
    let batchDuration: Timer
    let spoolBytes: Gauge
    let queueDepth: Gauge
    let lastSpoolBytes = Mutex(0)

    init(factory: any MetricsFactory) {
        stored = Counter(label: "hypervision_writer_pings_total", dimensions: [("result", "stored")], factory: factory)
        duplicates = Counter(label: "hypervision_writer_pings_total", dimensions: [("result", "duplicate")], factory: factory)
        spooled = Counter(label: "hypervision_writer_pings_total", dimensions: [("result", "spooled")], factory: factory)
        failed = Counter(label: "hypervision_writer_pings_total", dimensions: [("result", "failed")], factory: factory)
        batches = Counter(label: "hypervision_writer_batches_total", factory: factory)
        batchDuration = Timer(label: "hypervision_writer_batch_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        spoolBytes = Gauge(label: "hypervision_spool_bytes", factory: factory)
        queueDepth = Gauge(label: "hypervision_writer_queue_pings", factory: factory)
    }

    func recordSpool(_ bytes: Int) {
        lastSpoolBytes.withLock { $0 = bytes }
        spoolBytes.record(bytes)
    }
}

extension Duration {
    /// Whole nanoseconds, as swift-metrics timers record them.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
