import HypervisionCore
import Testing

@testable import HypervisionStore

/// The writer's decisions, with plain numbers for batches and no database, spool or clock.
@Suite struct PingWriterStateMachineTests {
    typealias Machine = PingWriterStateMachine<Int>

    static func tick(_ seconds: Double, ready: Bool = false) -> Machine.Event {
        .tick(now: .milliseconds(Int64(seconds * 1000)), schemaReady: true, databaseReady: ready)
    }

    /// A machine that has come up and writes directly.
    static func direct() -> Machine {
        var machine = Machine(concurrency: 2, retryInterval: .seconds(2))
        _ = machine.handle(tick(0, ready: true))
        _ = machine.handle(.replayFinished(.end))
        _ = machine.handle(.drainCompleted(succeeded: true))
        return machine
    }

    @Test func startsOnTheSpoolAndGoesDirectOnceTheDatabaseIsSeenAndTheSpoolReplayed() {
        var machine = Machine(concurrency: 2, retryInterval: .seconds(2))
        #expect(machine.mode == .spooling)
        // Not migrated yet: no probe.
        #expect(machine.handle(.tick(now: .zero, schemaReady: false, databaseReady: false)).isEmpty)
        // Migrated, but not seen answering: probe, once per retry interval.
        guard case .probe = machine.handle(Self.tick(1)).first else { Issue.record("expected a probe"); return }
        #expect(machine.handle(Self.tick(1.5)).isEmpty)
        _ = machine.handle(.probeFinished(reachable: false))
        #expect(machine.handle(Self.tick(2)).isEmpty, "retry interval not over")
        guard case .probe = machine.handle(Self.tick(3.1)).first else { Issue.record("expected a second probe"); return }
        guard case .replayNext = machine.handle(.probeFinished(reachable: true)).first else { Issue.record("expected replay"); return }
        #expect(machine.mode == .draining)
        guard case .replayNext = machine.handle(.replayFinished(.progress)).first else { Issue.record("expected more replay"); return }
        guard case .completeDrain = machine.handle(.replayFinished(.end)).first else { Issue.record("expected the drain to complete"); return }
        #expect(!machine.wantsBatch, "nothing is taken while the spool is emptied")
        _ = machine.handle(.drainCompleted(succeeded: true))
        #expect(machine.mode == .direct)
        #expect(machine.wantsBatch)
    }

    @Test func directWritesAreBoundedByConcurrency() {
        var machine = Self.direct()
        guard case .writeToDatabase(1, linger: true) = machine.handle(.batchTaken(1)).first else { Issue.record("expected a write"); return }
        guard case .writeToDatabase(2, linger: false) = machine.handle(.batchTaken(2)).first else { Issue.record("expected a write"); return }
        #expect(!machine.wantsBatch)
        _ = machine.handle(.databaseWriteFinished(.stored))
        #expect(machine.wantsBatch)
    }

    /// An unreachable database sends the batch and everything after it to the spool, one
    /// append at a time, in order.
    @Test func anUnreachableDatabaseSendsEverythingToTheSpoolInOrder() {
        var machine = Self.direct()
        _ = machine.handle(.batchTaken(1))
        _ = machine.handle(.batchTaken(2))
        guard case .appendToSpool(1) = machine.handle(.databaseWriteFinished(.unreachable(1))).first else {
            Issue.record("expected batch 1 to be spooled")
            return
        }
        #expect(machine.mode == .spooling)
        #expect(machine.handle(.databaseWriteFinished(.unreachable(2))).isEmpty, "the spool takes one append at a time")
        #expect(!machine.wantsBatch, "batches waiting for the spool go first")
        guard case .appendToSpool(2) = machine.handle(.spoolAppendFinished(failed: nil)).first else {
            Issue.record("expected batch 2 next")
            return
        }
        _ = machine.handle(.spoolAppendFinished(failed: nil))
        #expect(machine.wantsBatch)
        guard case .appendToSpool(3) = machine.handle(.batchTaken(3)).first else { Issue.record("expected the spool"); return }
    }

    /// While the spool is replayed, new batches go behind it into the spool, never straight to
    /// the database: acknowledged at once, and each unit's pings stored in order.
    @Test func whileDrainingNewBatchesGoBehindTheReplay() {
        var machine = Machine(concurrency: 2, retryInterval: .seconds(2))
        _ = machine.handle(Self.tick(0, ready: true))
        #expect(machine.mode == .draining)
        guard case .appendToSpool(7) = machine.handle(.batchTaken(7)).first else { Issue.record("expected the spool"); return }
        // The replay catches up while an append is in flight: appends wait, the last record
        // is replayed, then the spool is emptied.
        #expect(machine.handle(.replayFinished(.end)).isEmpty)
        guard case .replayNext = machine.handle(.spoolAppendFinished(failed: nil)).first else { Issue.record("expected replay"); return }
        #expect(!machine.wantsBatch, "held while the drain completes")
        guard case .completeDrain = machine.handle(.replayFinished(.end)).first else { Issue.record("expected completion"); return }
        _ = machine.handle(.drainCompleted(succeeded: true))
        #expect(machine.mode == .direct && machine.wantsBatch)
    }

    @Test func aFullSpoolIsOverloadWhileDrainingAndUnavailabilityWhileTheDatabaseIsAway() {
        var draining = Machine(concurrency: 2, retryInterval: .seconds(2))
        _ = draining.handle(Self.tick(0, ready: true))
        _ = draining.handle(.batchTaken(1))
        guard case .refuse(1, let overloaded) = draining.handle(.spoolAppendFinished(failed: (1, full: true, message: "full"))).first else {
            Issue.record("expected a refusal")
            return
        }
        #expect(overloaded.code == .overloaded)

        var spooling = Machine(concurrency: 2, retryInterval: .seconds(2))
        _ = spooling.handle(.batchTaken(1))
        guard case .refuse(1, let unavailable) = spooling.handle(.spoolAppendFinished(failed: (1, full: true, message: "full"))).first else {
            Issue.record("expected a refusal")
            return
        }
        #expect(unavailable.code == .storageUnavailable)
    }

    @Test func aRefusedBatchIsIsolatedInItsSlot() {
        var machine = Self.direct()
        _ = machine.handle(.batchTaken(1))
        _ = machine.handle(.batchTaken(2))
        guard case .isolate(1) = machine.handle(.databaseWriteFinished(.refused(1))).first else { Issue.record("expected isolation"); return }
        #expect(!machine.wantsBatch, "the isolation holds the slot")
        _ = machine.handle(.isolationFinished(unreachable: nil))
        #expect(machine.wantsBatch)
    }

    /// A batch that fails over while the spool is being emptied would be emptied with it: it
    /// waits for the drain to complete.
    @Test func noAppendRunsWhileTheSpoolIsEmptied() {
        var machine = Machine(concurrency: 2, retryInterval: .seconds(2))
        _ = machine.handle(Self.tick(0, ready: true))
        guard case .completeDrain = machine.handle(.replayFinished(.end)).first else { Issue.record("expected completion"); return }
        // The drain is completing; imagine a direct write from before the outage failing now.
        #expect(machine.handle(.databaseWriteFinished(.unreachable(9))).isEmpty)
        guard case .appendToSpool(9) = machine.handle(.drainCompleted(succeeded: true)).first else {
            Issue.record("expected the waiting batch after the drain")
            return
        }
        #expect(machine.mode == .spooling)
    }

    @Test func aStopFinishesOnceTheQueueIsDrainedAndNothingIsInFlight() {
        var machine = Machine(concurrency: 2, retryInterval: .seconds(2))
        _ = machine.handle(Self.tick(0, ready: true))
        _ = machine.handle(.batchTaken(1))
        _ = machine.handle(.replayFinished(.end))  // appends now held for the end of the drain
        #expect(!machine.wantsBatch)
        _ = machine.handle(.stop)
        #expect(!machine.isFinished(queueDrained: true), "an append is in flight")
        let actions = machine.handle(.spoolAppendFinished(failed: nil))
        #expect(actions.isEmpty, "no replay is started while stopping")
        #expect(machine.wantsBatch, "a stop lets held batches through to the spool")
        #expect(!machine.isFinished(queueDrained: false))
        #expect(machine.isFinished(queueDrained: true))
        #expect(machine.handle(Self.tick(100, ready: true)).isEmpty, "no probe or replay while stopping")
    }

    /// Random interleavings of completions: every batch taken ends exactly once (stored,
    /// spooled or refused); never two appends or two replay steps at once; never more database
    /// writes than allowed; nothing appended while the spool is emptied; and batches reach the
    /// spool in the order they were taken or failed over.
    @Test(arguments: 0..<200)
    func randomInterleavingsKeepEveryRule(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var machine = Machine(concurrency: 2, retryInterval: .seconds(1))
        var now = 0.0
        var nextBatch = 0
        var pending: [Machine.Action] = []
        var ended: [Int: String] = [:]
        var databaseWrites = 0, appends = 0, replays = 0, draining = false
        var appendedOrder: [Int] = []
        var stopped = false
        var takenStraightToSpool: Set<Int> = []

        func apply(_ actions: [Machine.Action]) {
            for action in actions {
                switch action {
                case .writeToDatabase: databaseWrites += 1
                case .isolate: break  // takes over the slot of the refused write
                case .appendToSpool(let batch):
                    appends += 1
                    #expect(appends == 1, "seed \(seed): two appends at once")
                    #expect(!draining, "seed \(seed): an append while the spool is emptied")
                    appendedOrder.append(batch)
                case .replayNext:
                    replays += 1
                    #expect(replays == 1, "seed \(seed): two replay steps at once")
                case .completeDrain: draining = true
                case .refuse(let batch, _):
                    #expect(ended[batch] == nil, "seed \(seed): batch \(batch) ended twice")
                    ended[batch] = "refused"
                case .probe: break
                }
                #expect(databaseWrites <= 2, "seed \(seed): too many database writes")
                if case .refuse = action { continue }
                pending.append(action)
            }
        }

        for step in 0..<300 {
            if !stopped && step == 250 {
                stopped = true
                apply(machine.handle(.stop))
            }
            if !stopped && machine.wantsBatch && Bool.random(using: &random) {
                nextBatch += 1
                let actions = machine.handle(.batchTaken(nextBatch))
                if case .appendToSpool = actions.first { takenStraightToSpool.insert(nextBatch) }
                apply(actions)
                continue
            }
            if pending.isEmpty || Int.random(in: 0..<5, using: &random) == 0 {
                now += Double.random(in: 0...0.6, using: &random)
                apply(machine.handle(.tick(now: .milliseconds(Int64(now * 1000)), schemaReady: true, databaseReady: Bool.random(using: &random))))
                continue
            }
            let action = pending.remove(at: Int.random(in: 0..<pending.count, using: &random))
            let fate = Int.random(in: 0..<4, using: &random)
            switch action {
            case .writeToDatabase(let batch, _):
                databaseWrites -= 1
                switch fate {
                case 0: apply(machine.handle(.databaseWriteFinished(.unreachable(batch))))
                case 1:
                    databaseWrites += 1  // the isolation keeps the slot
                    apply(machine.handle(.databaseWriteFinished(.refused(batch))))
                default:
                    ended[batch] = "stored"
                    apply(machine.handle(.databaseWriteFinished(.stored)))
                }
            case .isolate(let batch):
                databaseWrites -= 1
                if fate == 0 {
                    apply(machine.handle(.isolationFinished(unreachable: batch)))
                } else {
                    ended[batch] = "stored"
                    apply(machine.handle(.isolationFinished(unreachable: nil)))
                }
            case .appendToSpool(let batch):
                appends -= 1
                if fate == 0 {
                    apply(machine.handle(.spoolAppendFinished(failed: (batch, full: true, message: "full"))))
                } else {
                    ended[batch] = "spooled"
                    apply(machine.handle(.spoolAppendFinished(failed: nil)))
                }
            case .replayNext:
                replays -= 1
                let outcomes: [Machine.ReplayOutcome] = [.progress, .end, .unreachable, .failed(at: .milliseconds(Int64(now * 1000)))]
                apply(machine.handle(.replayFinished(outcomes[fate])))
            case .completeDrain:
                draining = false
                apply(machine.handle(.drainCompleted(succeeded: fate != 0)))
            case .probe:
                apply(machine.handle(.probeFinished(reachable: fate != 0)))
            case .refuse:
                break
            }
        }
        // Let everything in flight complete well.
        if !stopped { apply(machine.handle(.stop)) }
        var guardSteps = 0
        while !pending.isEmpty && guardSteps < 10_000 {
            guardSteps += 1
            let action = pending.removeFirst()
            switch action {
            case .writeToDatabase(let batch, _):
                databaseWrites -= 1
                ended[batch] = "stored"
                apply(machine.handle(.databaseWriteFinished(.stored)))
            case .isolate(let batch):
                databaseWrites -= 1
                ended[batch] = "stored"
                apply(machine.handle(.isolationFinished(unreachable: nil)))
            case .appendToSpool(let batch):
                appends -= 1
                ended[batch] = "spooled"
                apply(machine.handle(.spoolAppendFinished(failed: nil)))
            case .replayNext:
                replays -= 1
                apply(machine.handle(.replayFinished(.end)))
            case .completeDrain:
                draining = false
                apply(machine.handle(.drainCompleted(succeeded: true)))
            case .probe:
                apply(machine.handle(.probeFinished(reachable: true)))
            case .refuse:
                break
            }
        }
        #expect(machine.isFinished(queueDrained: true), "seed \(seed): a stopped machine with nothing in flight is finished")
        #expect(ended.count == nextBatch, "seed \(seed): \(nextBatch - ended.count) batches never ended")
        #expect(Set(appendedOrder).count == appendedOrder.count, "seed \(seed): a batch appended twice")
        // Batches taken while the spool was in use reach it in the order they were taken.
        let takenForSpool = appendedOrder.filter { takenStraightToSpool.contains($0) }
        #expect(takenForSpool == takenForSpool.sorted(), "seed \(seed): spool order \(takenForSpool)")
    }
}
