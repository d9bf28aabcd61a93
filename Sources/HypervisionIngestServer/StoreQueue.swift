import HypervisionCore
import Synchronization

/// The hand-over between a connection's reader and the task that stores what it read and
/// acknowledges it, so that reading never waits for durability.
///
/// A connection that awaited each batch's commit before reading the next would leave the next
/// pings in the socket for a whole commit (tens of milliseconds), and the live picture and the
/// walls would see them that much later. With this queue the reader validates a batch, shows it
/// on the live picture and pushes it here at once; the storer takes everything that piled up
/// meanwhile, stores it as one submission and acknowledges it, in order.
///
/// Bounded: entries pushed and not yet reported stored weigh at most `limit` (pings, say); a push
/// beyond waits, which leaves the rest in the socket, so TCP's own flow control pushes back on
/// the sender. One producer and one consumer.
final class StoreQueue<Entry: Sendable>: Sendable {
    private struct State {
        var entries: [Entry] = []
        /// Weight pushed and not yet reported done (queued or being stored).
        var weight = 0
        /// The producer has no more entries.
        var finished = false
        /// The consumer stopped: pushes are refused.
        var abandoned = false
        var consumer: CheckedContinuation<Void, Never>?
        var producer: CheckedContinuation<Void, Never>?
    }

    private enum PushStep { case queued(CheckedContinuation<Void, Never>?), refused, wait }

    /// The most weight held before a push waits (an entry alone may exceed it).
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Queues `entry`, first waiting while the queue is full. False when the consumer stopped or
    /// the task was cancelled: the entry was not queued and the producer should stop.
    func push(_ entry: Entry, weight: Int) async -> Bool {
        while true {
            let step = state.withLock { state -> PushStep in
                if state.abandoned { return .refused }
                guard state.weight == 0 || state.weight + weight <= limit else { return .wait }
                state.entries.append(entry)
                state.weight += weight
                let consumer = state.consumer
                state.consumer = nil
                return .queued(consumer)
            }
            switch step {
            case .queued(let consumer):
                consumer?.resume()
                return true
            case .refused:
                return false
            case .wait:
                if Task.isCancelled { return false }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let wakeNow = state.withLock { state -> Bool in
                            // Checked under the lock the cancellation handler also takes: no lost wake-up.
                            if state.abandoned || Task.isCancelled || state.weight == 0 || state.weight + weight <= limit { return true }
                            state.producer = continuation
                            return false
                        }
                        if wakeNow { continuation.resume() }
                    }
                } onCancel: {
                    wakeProducer()
                }
            }
        }
    }

    /// Everything queued, in order, once there is something; nil when the producer finished and
    /// everything was taken.
    func takeAll() async -> [Entry]? {
        while true {
            let taken = state.withLock { state -> [Entry]?? in
                if !state.entries.isEmpty {
                    let entries = state.entries
                    state.entries.removeAll()
                    return .some(entries)
                }
                return state.finished ? .some(nil) : nil
            }
            if let taken { return taken }
            await withCheckedContinuation { continuation in
                let wakeNow = state.withLock { state -> Bool in
                    if !state.entries.isEmpty || state.finished { return true }
                    state.consumer = continuation
                    return false
                }
                if wakeNow { continuation.resume() }
            }
        }
    }

    /// Whether a push is parked, waiting for room (tests await this instead of sleeping).
    var isProducerWaiting: Bool { state.withLock { $0.producer != nil } }

    /// Whether the consumer is parked, waiting for entries.
    var isConsumerWaiting: Bool { state.withLock { $0.consumer != nil } }

    /// The consumer stored (or gave up on) entries of this total weight: room for more.
    func done(weight: Int) {
        state.withLock { $0.weight -= weight }
        wakeProducer()
    }

    /// The producer has nothing more; the consumer takes what is left, then gets nil.
    func finish() {
        let consumer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            defer { state.consumer = nil }
            return state.consumer
        }
        consumer?.resume()
    }

    /// The consumer stops: a waiting push returns false, and so does every later one.
    func abandon() {
        state.withLock { $0.abandoned = true }
        wakeProducer()
    }

    private func wakeProducer() {
        let producer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.producer = nil }
            return state.producer
        }
        producer?.resume()
    }
}

extension PingIntake {
    /// For ports without acknowledgements (UDP, Cursor-on-Target): runs `read`, which validates
    /// what arrives and shows it on the live picture (``prepare(_:)``) and queues it, while a
    /// storer makes the queued pings durable, what piled up as one submission at a time. So the
    /// next datagrams or events are read while earlier ones are being committed, not left in
    /// the socket for a whole commit.
    ///
    /// A failed store goes to `failed`: returning goes on (the pings are lost, as the sender of
    /// an unacknowledged protocol accepts), throwing ends reading and is rethrown. At most
    /// `limit` pings wait; beyond, `read`'s pushes wait.
    func readWhileStoring(
        limit: Int = 20_000, failed: @escaping @Sendable (PingWriterError, _ pings: Int) throws -> Void,
        read: @escaping @Sendable (StoreQueue<Prepared>) async throws -> Void
    ) async throws {
        let queue = StoreQueue<Prepared>(limit: limit)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { queue.finish() }
                try await read(queue)
            }
            group.addTask {
                while let batches = await queue.takeAll() {
                    var merged = Prepared()
                    for batch in batches { merged.append(batch) }
                    defer { queue.done(weight: merged.pings.count) }
                    do throws(PingWriterError) {
                        _ = try await store(merged)
                    } catch {
                        do {
                            try failed(error, merged.pings.count)
                        } catch {
                            queue.abandon()
                            throw error
                        }
                    }
                }
            }
            // No cancellation: a reader that fails has finished the queue, and the storer still
            // stores what it had read (it is on the live picture already); a storer that fails
            // has abandoned the queue, and the reader's next push returns.
            var firstError: (any Error)?
            while true {
                do {
                    guard try await group.next() != nil else { break }
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            if let firstError { throw firstError }
        }
    }
}
