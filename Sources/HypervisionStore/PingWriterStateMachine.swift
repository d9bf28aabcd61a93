import DequeModule
import HypervisionCore

/// Every decision of the ``PingWriter``, with no I/O: events in, actions out, as postgres-nio's
/// pool does it. The writer's loop feeds it what happened and carries out what it answers; the
/// batches themselves are opaque here (`Batch`), so the rules are tested with plain values.
///
/// The writer is in one of three modes:
/// - ``Mode/direct``: the spool is empty and the database answers. Batches go to the database,
///   up to `concurrency` at once. A batch that finds the database unreachable (or too slow: the
///   write deadline) goes to the spool, and so does everything after it: ``Mode/spooling``.
/// - ``Mode/spooling``: the database is away. Every batch is appended to the spool, which answers
///   in milliseconds, and the database is probed every `retryInterval`. When it answers:
///   ``Mode/draining``.
/// - ``Mode/draining``: the database is back and the spool is replayed into it, step by step,
///   while new batches keep being appended to the spool behind the replay. So new pings are
///   acknowledged at the speed of the spool, never after the replay, and every unit's pings reach
///   the database in the order they were acknowledged. Once the replay has caught up, appends are
///   held for the moment it takes to replay the last record and empty the spool: ``Mode/direct``.
///
/// Only one append runs at a time, and one replay step; probes and replay stop on ``Event/stop``,
/// and the machine is finished once the queue is drained and nothing is in flight.
struct PingWriterStateMachine<Batch> {
    enum Mode: Sendable, Hashable {
        case direct, spooling, draining
    }

    /// What a write to the database ended with.
    enum DatabaseOutcome {
        /// Stored and acknowledged by the writer.
        case stored
        /// The database did not answer in time or went away: the batch still needs a home.
        case unreachable(Batch)
        /// The database refused the batch: find which pings it refuses.
        case refused(Batch)
    }

    /// What one replay step ended with.
    enum ReplayOutcome {
        /// Records were replayed and more are held.
        case progress
        /// Everything held was replayed.
        case end
        /// The database went away mid-replay.
        case unreachable
        /// The spool could not be read (at `at` on the writer's clock); tried again after `retryInterval`.
        case failed(at: Duration)
    }

    enum Event {
        /// A submission was queued: the loop takes batches if ``wantsBatch``.
        case queued
        /// A batch taken from the queue after ``wantsBatch`` said yes.
        case batchTaken(Batch)
        case databaseWriteFinished(DatabaseOutcome)
        /// An isolation (ping by ping writes of a refused batch) ended; `unreachable` carries the
        /// batch when the database went away meanwhile.
        case isolationFinished(unreachable: Batch?)
        case spoolAppendFinished(failed: (Batch, full: Bool, message: String)?)
        case probeFinished(reachable: Bool)
        case replayFinished(ReplayOutcome)
        case drainCompleted(succeeded: Bool)
        /// Time passes, or the database status changed. `schemaReady`: the database was migrated
        /// in this process (before that, a probe is pointless: the supervisor is still
        /// connecting); `databaseReady`: the supervisor saw it answer last.
        case tick(now: Duration, schemaReady: Bool, databaseReady: Bool)
        case stop
    }

    enum Action {
        /// Write to the database; `linger` when the writer was idle, so neighbours may join.
        case writeToDatabase(Batch, linger: Bool)
        /// Write the batch's submissions one by one, and a refused one ping by ping.
        case isolate(Batch)
        case appendToSpool(Batch)
        /// Refuse the batch's submissions.
        case refuse(Batch, PingWriterError)
        case probe
        case replayNext
        /// Empty the spool: everything in it is in the database.
        case completeDrain
    }

    private(set) var mode: Mode
    private let concurrency: Int
    private let retryInterval: Duration

    private var databaseWrites = 0
    private var spoolAppending = false
    /// Batches the database did not take, waiting for the spool.
    private var waitingForSpool: Deque<Batch> = []
    private var probing = false
    private var lastProbe: Duration?
    private var replaying = false
    private var lastReplayFailure: Duration?
    /// The replay has caught up: appends wait while the last records are replayed.
    private var closingDrain = false
    private var completingDrain = false
    private(set) var stopping = false

    /// Starts spooling: the database has not been seen yet, and the spool may hold pings of an
    /// earlier run. The first probe decides.
    init(concurrency: Int, retryInterval: Duration) {
        self.mode = .spooling
        self.concurrency = max(1, concurrency)
        self.retryInterval = retryInterval
    }

    /// Whether the writer should take a batch from the queue now.
    var wantsBatch: Bool {
        if completingDrain { return false }
        switch mode {
        case .direct:
            return databaseWrites < concurrency
        case .spooling, .draining:
            return !spoolAppending && waitingForSpool.isEmpty && !closingDrain
        }
    }

    /// Whether a stopping writer has nothing left to do, given that its queue is drained.
    func isFinished(queueDrained: Bool) -> Bool {
        stopping && queueDrained && databaseWrites == 0 && !spoolAppending && waitingForSpool.isEmpty && !probing
            && !replaying && !completingDrain
    }

    mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .queued:
            return []

        case .batchTaken(let batch):
            precondition(wantsBatch, "a batch was taken that the writer did not ask for")
            if mode == .direct {
                databaseWrites += 1
                return [.writeToDatabase(batch, linger: databaseWrites == 1)]
            }
            spoolAppending = true
            return [.appendToSpool(batch)]

        case .databaseWriteFinished(.stored):
            databaseWrites -= 1
            return []

        case .databaseWriteFinished(.unreachable(let batch)), .isolationFinished(unreachable: .some(let batch)):
            databaseWrites -= 1
            if mode != .spooling {
                mode = .spooling
                closingDrain = false
            }
            return spool(batch)

        case .databaseWriteFinished(.refused(let batch)):
            // Still one database write in flight: the isolation takes the slot over.
            return [.isolate(batch)]

        case .isolationFinished(unreachable: nil):
            databaseWrites -= 1
            return []

        case .spoolAppendFinished(let failure):
            spoolAppending = false
            var actions: [Action] = []
            if let (batch, full, message) = failure {
                // With the database back and the spool full of what it still owes, the database
                // is the bottleneck: retry shortly. With the database away, nothing can take them.
                let error =
                    mode == .draining && full
                    ? PingWriterError(.overloaded, "the database is catching up with the spool, which is full; retry shortly")
                    : PingWriterError(.storageUnavailable, "the database is unreachable and the spool cannot take the pings: \(message)")
                actions.append(.refuse(batch, error))
            }
            if let next = waitingForSpool.popFirst() {
                spoolAppending = true
                actions.append(.appendToSpool(next))
            } else if closingDrain && !replaying && !stopping {
                // The append the drain waited for is done: replay it, then the spool is empty.
                replaying = true
                actions.append(.replayNext)
            }
            return actions

        case .probeFinished(let reachable):
            probing = false
            guard reachable, mode == .spooling, !stopping else { return [] }
            mode = .draining
            return startReplay()

        case .replayFinished(let outcome):
            replaying = false
            switch outcome {
            case .progress:
                return stopping || mode != .draining ? [] : startReplay()
            case .end:
                guard !stopping, mode == .draining else { return [] }
                closingDrain = true
                guard !spoolAppending, waitingForSpool.isEmpty else { return [] }
                completingDrain = true
                return [.completeDrain]
            case .unreachable:
                closingDrain = false
                if mode == .draining { mode = .spooling }
                return []
            case .failed(let now):
                closingDrain = false
                lastReplayFailure = now
                return []
            }

        case .drainCompleted(let succeeded):
            completingDrain = false
            closingDrain = false
            if succeeded, mode == .draining { mode = .direct }
            // A batch that failed over while the spool was being emptied waited for it.
            guard let next = waitingForSpool.popFirst() else { return [] }
            spoolAppending = true
            return [.appendToSpool(next)]

        case .tick(let now, let schemaReady, let databaseReady):
            guard !stopping else { return [] }
            switch mode {
            case .direct:
                return []
            case .spooling:
                guard schemaReady, !probing else { return [] }
                if let lastProbe, now - lastProbe < retryInterval { return [] }
                lastProbe = now
                if databaseReady {
                    // The supervisor has just seen it answer: no need to ask again.
                    mode = .draining
                    return startReplay()
                }
                probing = true
                return [.probe]
            case .draining:
                guard !replaying, !closingDrain, !completingDrain else { return [] }
                if let lastReplayFailure, now - lastReplayFailure < retryInterval { return [] }
                return startReplay()
            }

        case .stop:
            stopping = true
            // Appends held for the end of a drain would never be released: let them through.
            closingDrain = false
            return []
        }
    }

    private mutating func spool(_ batch: Batch) -> [Action] {
        // One append at a time, and none while the spool is being emptied (it would go with it).
        if spoolAppending || completingDrain {
            waitingForSpool.append(batch)
            return []
        }
        spoolAppending = true
        return [.appendToSpool(batch)]
    }

    private mutating func startReplay() -> [Action] {
        guard !replaying else { return [] }
        replaying = true
        return [.replayNext]
    }
}

extension PingWriterStateMachine.DatabaseOutcome: Sendable where Batch: Sendable {}
extension PingWriterStateMachine.Event: Sendable where Batch: Sendable {}
extension PingWriterStateMachine.Action: Sendable where Batch: Sendable {}
