import DequeModule
import HypervisionCore
import Logging
import Metrics
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Tuning of the ``PingWriter``.
public struct PingWriterConfiguration: Sendable, Hashable {
    /// The most pings written in one transaction: under load, larger batches pay a transaction's
    /// fixed costs (its commit's flush above all) once for more pings.
    public var maximumBatchSize: Int = 50_000
    /// How long an idle writer waits after the first ping for more to join its batch.
    public var linger: Duration = .milliseconds(2)
    /// The most pings queued before submissions are refused with ``PingWriterError/Code/overloaded``.
    public var queueCapacity: Int = 200_000
    /// How many batches may be written at once (each on its own connection).
    public var concurrency: Int = 2
    /// How long one batch may take, waiting for a connection included, before the database
    /// counts as unreachable: the connection is closed and the batch goes to the spool.
    public var writeTimeout: Duration = .seconds(10)
    /// How often to try the database again while pings are spooled.
    public var retryInterval: Duration = .seconds(2)

    public init() {}
}

/// The durable path of every ping: a bounded queue, batches by size and time, one transaction
/// per batch, and a local spool when PostgreSQL is unreachable, slow or frozen.
///
/// ``write(_:)`` returns only once each ping is committed or fsynced to the spool. The service's
/// `run()` is one loop that feeds a ``PingWriterStateMachine`` (where every decision lives: which
/// batch goes where, when to probe, replay and switch back) and carries out its actions in child
/// tasks, each of which ends in an event for the loop. Every database call has a deadline that
/// closes its connection (``Database``), so no state waits on a server that does not answer, and
/// a stop takes at most one write deadline: the queue drains to the database or the spool.
public final class PingWriter: Service, PingStorage, Sendable {
    private let store: PingStore
    private let status: DatabaseStatus
    private let spool: Spool
    private let configuration: PingWriterConfiguration
    private let logger: Logger
    private let queue: SubmissionQueue
    private let metrics: WriterMetrics
    private let events: AsyncStream<Machine.Event>
    private let eventSink: AsyncStream<Machine.Event>.Continuation
    private let progress = Mutex(ContinuousClock.now)
    private let mode = Mutex(Machine.Mode.spooling)
    /// Where the replay stands in the spool; touched by one replay step at a time.
    private let replayPosition = Mutex<Spool.Position?>(nil)
    private let replaySize: Mutex<ReplayStepSize>
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant

    typealias Machine = PingWriterStateMachine<[Submission]>

    public init(
        store: PingStore, status: DatabaseStatus, spool: Spool, configuration: PingWriterConfiguration = .init(),
        logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.store = store
        self.status = status
        self.spool = spool
        self.configuration = configuration
        self.logger = logger
        (events, eventSink) = AsyncStream.makeStream(of: Machine.Event.self)
        let sink = eventSink
        self.queue = SubmissionQueue(
            capacity: configuration.queueCapacity, maximumBatch: configuration.maximumBatchSize, onSubmit: { sink.yield(.queued) })
        self.metrics = WriterMetrics(factory: metricsFactory)
        self.started = clock.now
        self.replaySize = Mutex(ReplayStepSize(maximum: configuration.maximumBatchSize))
        metrics.recordSpool(spool.sizeInBytes)
        // A database that has just become ready is used at once, not at the next tick.
        status.onChange { _ in sink.yield(.tick(now: .zero, schemaReady: false, databaseReady: false)) }
    }

    /// Submits pings and waits until each is durable (or the submission is refused).
    public func write(_ pings: [Ping]) async throws(PingWriterError) -> WriteReceipt {
        guard !pings.isEmpty else { return WriteReceipt(results: []) }
        let result: Result<WriteReceipt, PingWriterError> = await withCheckedContinuation { continuation in
            queue.submit(Submission(pings: pings, continuation: continuation))
        }
        return try result.get()
    }

    /// True while pings go straight to the database; false while the writer works from its spool.
    public var acceptsBeforeDurable: Bool { mode.withLock { $0 } == .direct }

    /// Bytes currently held in the spool.
    public var spooledBytes: Int { spool.sizeInBytes }

    /// Pings waiting in the queue.
    public var queuedPings: Int { queue.depth }

    /// Whether the pipeline moved recently: the writer loop handled an event (a batch, a replay
    /// step, a probe or an idle tick) within `window`. Feeds the systemd watchdog.
    public func isMakingProgress(within window: Duration) -> Bool {
        let last = progress.withLock { $0 }
        return ContinuousClock.now - last <= window
    }

    public func run() async throws {
        reportRecovery()
        if !spool.isEmpty {
            logger.notice(
                "spool holds pings from an earlier run; replaying when the database is ready",
                metadata: ["bytes": "\(spool.sizeInBytes)", "path": "\(spool.directory)"])
        }
        let queue = self.queue, sink = self.eventSink
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await loop()
            } onGracefulShutdown: {
                queue.close()
                sink.yield(.stop)
            }
        } onCancel: {
            queue.close()
            sink.yield(.stop)
        }
        logger.info("ping writer stopped", metadata: ["spooled_bytes": "\(spool.sizeInBytes)"])
    }

    /// The one loop: events in, the state machine's actions out, each carried out in a child
    /// task that reports back with an event.
    private func loop() async {
        var machine = Machine(concurrency: configuration.concurrency, retryInterval: configuration.retryInterval)
        let sink = eventSink
        await withDiscardingTaskGroup { group in
            // Time for probes and replay retries; a quarter of the retry interval at most, so a
            // database that the supervisor has just migrated is used promptly.
            let tick = min(configuration.retryInterval / 4, .milliseconds(250))
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: tick)
                    sink.yield(.tick(now: .zero, schemaReady: false, databaseReady: false))
                }
            }
            // A database already seen ready is used at once, not at the first tick.
            sink.yield(.tick(now: .zero, schemaReady: false, databaseReady: false))
            for await event in events {
                logger.trace("writer event", metadata: ["event": "\(event)", "mode": "\(machine.mode)"])
                var actions = machine.handle(stamped(event))
                while machine.wantsBatch, let batch = queue.take() {
                    actions += machine.handle(.batchTaken(batch))
                }
                for action in actions {
                    logger.trace("writer action", metadata: ["action": "\(action)"])
                    perform(action, in: &group)
                }
                mode.withLock { $0 = machine.mode }
                progress.withLock { $0 = .now }
                metrics.queueDepth.record(queue.depth)
                if machine.isFinished(queueDrained: queue.isClosedAndEmpty) { break }
            }
            group.cancelAll()
        }
    }

    /// Ticks are sent without a time (from places that have no clock of the writer's); the loop
    /// stamps them.
    private func stamped(_ event: Machine.Event) -> Machine.Event {
        guard case .tick = event else { return event }
        return .tick(now: clock.now - started, schemaReady: status.isSchemaReady, databaseReady: status.current == .ready)
    }

    private func perform(_ action: Machine.Action, in group: inout DiscardingTaskGroup) {
        let sink = eventSink
        switch action {
        case .writeToDatabase(let batch, let linger):
            group.addTask { sink.yield(.databaseWriteFinished(await self.writeToDatabase(batch, linger: linger))) }
        case .isolate(let batch):
            group.addTask { sink.yield(.isolationFinished(unreachable: await self.isolate(batch))) }
        case .appendToSpool(let batch):
            group.addTask { sink.yield(.spoolAppendFinished(failed: await self.appendToSpool(batch))) }
        case .refuse(let batch, let error):
            for submission in batch {
                metrics.failed.increment(by: submission.pings.count)
                submission.continuation.resume(returning: .failure(error))
            }
        case .probe:
            group.addTask { sink.yield(.probeFinished(reachable: await self.probe())) }
        case .replayNext:
            group.addTask { sink.yield(.replayFinished(await self.replayStep())) }
        case .completeDrain:
            group.addTask { sink.yield(.drainCompleted(succeeded: await self.completeDrain())) }
        }
    }

    // MARK: Database

    private func writeToDatabase(_ batch: [Submission], linger: Bool) async -> Machine.DatabaseOutcome {
        var batch = batch
        if linger, configuration.linger > .zero, queue.depth < configuration.maximumBatchSize {
            // The first ping after a quiet spell: give its neighbours a moment to join.
            try? await Task.sleep(for: configuration.linger)
            batch += queue.takeMore(after: batch.reduce(0) { $0 + $1.pings.count })
        }
        let pings = batch.flatMap(\.pings)
        let start = ContinuousClock.now
        do {
            let stored = try await store.insert(pings, deadline: configuration.writeTimeout)
            metrics.batchDuration.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
            metrics.batches.increment()
            acknowledge(batch, stored: stored)
            return .stored
        } catch where DatabaseErrors.isConnectivity(error) {
            let reason = DatabaseErrors.describe(error)
            if status.current == .ready { logger.warning("database unreachable; spooling pings", metadata: ["reason": "\(reason)"]) }
            status.update(.unreachable(reason: reason))
            return .unreachable(batch)
        } catch {
            logger.error(
                "database refused a batch; writing its submissions one by one",
                metadata: ["reason": "\(DatabaseErrors.describe(error))", "pings": "\(pings.count)"])
            return .refused(batch)
        }
    }

    /// Writes a refused batch submission by submission, and a refused submission ping by ping
    /// (halving), so that only the pings the database refuses are refused. Returns the batch if
    /// the database went away meanwhile (those already stored are then stored again, harmlessly).
    private func isolate(_ batch: [Submission]) async -> [Submission]? {
        for (index, submission) in batch.enumerated() {
            do {
                let results = try await storeIsolating(submission.pings[...])
                count(results)
                submission.continuation.resume(returning: .success(WriteReceipt(results: results)))
            } catch {
                status.update(.unreachable(reason: DatabaseErrors.describe(error)))
                return Array(batch[index...])
            }
        }
        return nil
    }

    /// The results of writing `pings`, halving on refusal down to single pings; throws only when
    /// the database is unreachable.
    private func storeIsolating(_ pings: ArraySlice<Ping>) async throws -> [PingWriteResult] {
        do {
            return try await store.insert(Array(pings), deadline: configuration.writeTimeout).isNew.map { $0 ? .stored : .duplicate }
        } catch where !DatabaseErrors.isConnectivity(error) {
            let reason = DatabaseErrors.describe(error)
            guard pings.count > 1 else {
                logger.error("database refused a ping", metadata: ["unit": "\(pings.first!.unit)", "reason": "\(reason)"])
                return [.refused(reason: reason)]
            }
            let middle = pings.startIndex + pings.count / 2
            return try await storeIsolating(pings[..<middle]) + storeIsolating(pings[middle...])
        }
    }

    /// `SELECT 1` within the write deadline: is the database back?
    private func probe() async -> Bool {
        do {
            try await store.database.query("SELECT 1", deadline: configuration.writeTimeout)
            logger.info("database reachable again; replaying the spool")
            status.update(.ready)
            return true
        } catch {
            status.update(.unreachable(reason: DatabaseErrors.describe(error)))
            return false
        }
    }

    // MARK: Spool

    private func appendToSpool(_ batch: [Submission]) async -> ([Submission], full: Bool, message: String)? {
        let pings = batch.flatMap(\.pings)
        let spool = self.spool
        do {
            try await NIOThreadPool.singleton.runIfActive { try spool.append(pings) }
        } catch {
            let full = (error as? SpoolError)?.isFull ?? false
            logger.error("cannot spool pings", metadata: ["reason": "\(error)", "pings": "\(pings.count)"])
            return (batch, full, "\(error)")
        }
        metrics.recordSpool(spool.sizeInBytes)
        for submission in batch {
            metrics.spooled.increment(by: submission.pings.count)
            submission.continuation.resume(
                returning: .success(WriteReceipt(results: Array(repeating: .spooled, count: submission.pings.count))))
        }
        return nil
    }

    /// Replays the next records of the spool into the database, in one transaction, and lets go
    /// of the segments it finished.
    private func replayStep() async -> Machine.ReplayOutcome {
        let spool = self.spool
        let position = replayPosition.withLock { $0 } ?? spool.start
        let read: Spool.Batch?
        do {
            let maximum = replaySize.withLock { $0.current }
            read = try await NIOThreadPool.singleton.runIfActive { try spool.read(from: position, maximumPings: maximum) }
        } catch {
            logger.critical("spool unreadable; will try again", metadata: ["reason": "\(error)", "position": "\(position)"])
            return .failed(at: clock.now - started)
        }
        guard let read else { return .end }
        for file in read.quarantined {
            metrics.quarantinedRecords.increment()
            logger.critical("spool record undecodable; set aside", metadata: ["file": "\(file)"])
        }
        if !read.pings.isEmpty {
            do {
                let results = try await storeIsolating(read.pings[...])
                let refused = zip(read.pings, results).compactMap { ping, result -> Ping? in
                    if case .refused = result { return ping }
                    return nil
                }
                if !refused.isEmpty { setAside(refused, results: results) }
            } catch {
                let reason = DatabaseErrors.describe(error)
                // The next try takes fewer pings: a step that a slow server cannot finish within
                // the write deadline would otherwise fail forever while the spool grows.
                let size = replaySize.withLock { size -> Int in
                    size.failed()
                    return size.current
                }
                logger.info("spool replay interrupted", metadata: ["reason": "\(reason)", "next_step_pings": "\(size)"])
                status.update(.unreachable(reason: reason))
                return .unreachable
            }
        }
        replaySize.withLock { $0.succeeded() }
        metrics.replayed.increment(by: read.pings.count)
        replayPosition.withLock { $0 = read.next }
        _ = try? await NIOThreadPool.singleton.runIfActive { spool.release(before: read.next) }
        metrics.recordSpool(spool.sizeInBytes)
        return spool.isDrained(at: read.next) ? .end : .progress
    }

    /// Spooled pings the database refuses go to the spool's quarantine, never silently away.
    private func setAside(_ refused: [Ping], results: [PingWriteResult]) {
        let reasons = Set(results.compactMap { result -> String? in
            if case .refused(let reason) = result { return reason }
            return nil
        })
        let reason = reasons.sorted().joined(separator: "; ")
        metrics.quarantinedPings.increment(by: refused.count)
        do {
            let file = try spool.quarantine(refused, reason: reason)
            logger.critical(
                "the database refuses spooled pings; set aside for manual recovery",
                metadata: ["pings": "\(refused.count)", "file": "\(file)", "reason": "\(reason)"])
        } catch {
            logger.critical(
                "the database refuses spooled pings and they cannot be set aside",
                metadata: ["pings": "\(refused.count)", "reason": "\(reason)", "error": "\(error)"])
        }
    }

    private func completeDrain() async -> Bool {
        let spool = self.spool
        do {
            try await NIOThreadPool.singleton.runIfActive { try spool.reset() }
        } catch {
            logger.error("cannot empty the replayed spool; will try again", metadata: ["reason": "\(error)"])
            return false
        }
        replayPosition.withLock { $0 = nil }
        metrics.recordSpool(0)
        status.update(.ready)
        logger.notice("spool replayed into the database; writing directly again")
        return true
    }

    private func reportRecovery() {
        let recovery = spool.recovery
        guard recovery.quarantinedBytes > 0 else { return }
        metrics.quarantinedBytes.increment(by: recovery.quarantinedBytes)
        logger.critical(
            "the spool held bytes that are not intact records (a write torn by a crash, or damage); kept every intact record and set the rest aside",
            metadata: [
                "records_kept": "\(recovery.records)", "bytes_set_aside": "\(recovery.quarantinedBytes)",
                "files": "\(recovery.quarantineFiles.map { spool.directory + "/quarantine/" + $0 })",
            ])
    }

    // MARK: Answers

    /// `stored` is by position in the batch's pings, submission after submission.
    private func acknowledge(_ batch: [Submission], stored: StoredPings) {
        var position = 0
        for submission in batch {
            let results = stored.isNew[position..<position + submission.pings.count].map { $0 ? PingWriteResult.stored : .duplicate }
            position += submission.pings.count
            count(results)
            submission.continuation.resume(returning: .success(WriteReceipt(results: results)))
        }
    }

    private func count(_ results: [PingWriteResult]) {
        let receipt = WriteReceipt(results: results)
        metrics.stored.increment(by: receipt.accepted)
        metrics.duplicates.increment(by: receipt.duplicates)
        let refused = receipt.refused.count
        if refused > 0 { metrics.refused.increment(by: refused) }
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
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let maximumBatch: Int
    /// Tells the writer loop there is something to take.
    private let onSubmit: @Sendable () -> Void

    init(capacity: Int, maximumBatch: Int, onSubmit: @escaping @Sendable () -> Void) {
        self.capacity = capacity
        self.maximumBatch = maximumBatch
        self.onSubmit = onSubmit
    }

    var depth: Int { state.withLock { $0.depth } }

    var isClosedAndEmpty: Bool { state.withLock { !$0.accepting && $0.submissions.isEmpty } }

    func submit(_ submission: Submission) {
        let refusal = state.withLock { state -> PingWriterError? in
            guard state.accepting else {
                return PingWriterError(.shuttingDown, "the daemon is shutting down; retry against the next instance")
            }
            // A single submission larger than the capacity is still taken when the queue is empty,
            // so a legitimate large batch cannot starve.
            guard state.depth == 0 || state.depth + submission.pings.count <= capacity else {
                return PingWriterError(.overloaded, "ingest queue is full (\(state.depth) pings waiting); retry shortly")
            }
            state.submissions.append(submission)
            state.depth += submission.pings.count
            return nil
        }
        if let refusal {
            submission.continuation.resume(returning: .failure(refusal))
        } else {
            onSubmit()
        }
    }

    /// Stops accepting submissions; what is queued is still taken.
    func close() {
        state.withLock { $0.accepting = false }
    }

    /// The next batch of whole submissions, or nil when nothing is queued.
    func take() -> [Submission]? {
        state.withLock { state in
            state.submissions.isEmpty ? nil : Self.take(&state, limit: maximumBatch)
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
    let refused: Counter
    let replayed: Counter
    let batches: Counter
    let batchDuration: Timer
    let spoolBytes: Gauge
    let queueDepth: Gauge
    let quarantinedBytes: Counter
    let quarantinedRecords: Counter
    let quarantinedPings: Counter

    init(factory: any MetricsFactory) {
        func pings(_ result: String) -> Counter {
            Counter(label: "hypervision_writer_pings_total", dimensions: [("result", result)], factory: factory)
        }
        stored = pings("stored")
        duplicates = pings("duplicate")
        spooled = pings("spooled")
        failed = pings("failed")
        refused = pings("refused")
        replayed = Counter(label: "hypervision_spool_replayed_pings_total", factory: factory)
        batches = Counter(label: "hypervision_writer_batches_total", factory: factory)
        batchDuration = Timer(label: "hypervision_writer_batch_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        spoolBytes = Gauge(label: "hypervision_spool_bytes", factory: factory)
        queueDepth = Gauge(label: "hypervision_writer_queue_pings", factory: factory)
        quarantinedBytes = Counter(label: "hypervision_spool_quarantined_bytes_total", factory: factory)
        quarantinedRecords = Counter(label: "hypervision_spool_quarantined_records_total", factory: factory)
        quarantinedPings = Counter(label: "hypervision_spool_quarantined_pings_total", factory: factory)
    }

    func recordSpool(_ bytes: Int) {
        spoolBytes.record(bytes)
    }
}

/// How many spooled pings one replay step takes: as many as a batch may hold while steps
/// succeed; half as many after a step that failed, down to `minimum`; twice as many after each
/// step that succeeded. A step too big for a loaded server to finish within the write deadline
/// would otherwise be tried again, whole, forever.
struct ReplayStepSize: Sendable, Hashable {
    let maximum: Int
    let minimum: Int
    private(set) var current: Int

    init(maximum: Int, minimum: Int = 500) {
        self.maximum = max(1, maximum)
        self.minimum = min(max(1, minimum), self.maximum)
        current = self.maximum
    }

    mutating func succeeded() { current = min(maximum, current * 2) }
    mutating func failed() { current = max(minimum, current / 2) }
}
