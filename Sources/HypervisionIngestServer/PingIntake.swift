import HypervisionCore
import HypervisionIngest
import Metrics
import Synchronization

/// The one path from decoded items to durable pings, shared by every front door: validate each
/// item, hand the valid pings to storage, and report per item. One bad item never rejects
/// the others.
///
/// The live picture sees valid pings before they are durable while storage writes straight to
/// the database (walls and queries must not wait for a commit). While storage works from its
/// spool, where a submission may still be refused for want of room, pings are shown once they
/// are durable: the picture never shows a ping its sender was told was refused.
public struct PingIntake: Sendable {
    let storage: any PingStorage
    let validator: PingValidator
    let metrics: IngestMetrics
    let now: @Sendable () -> Timestamp
    /// Sees every valid ping before the database write: the live picture, which must not wait
    /// for durability (walls and queries show a ping at once).
    let observe: @Sendable ([Ping]) -> Void
    /// Sees the callsigns that valid pings carried (Cursor-on-Target), for the unit registry.
    let observeCallsigns: @Sendable ([(UnitID, String)]) -> Void

    public init(
        storage: any PingStorage, protocol name: String, validator: PingValidator = .init(), metricsFactory: any MetricsFactory,
        now: @escaping @Sendable () -> Timestamp = { .now() }, observe: @escaping @Sendable ([Ping]) -> Void = { _ in },
        observeCallsigns: @escaping @Sendable ([(UnitID, String)]) -> Void = { _ in }
    ) {
        self.observeCallsigns = observeCallsigns
        self.storage = storage
        self.validator = validator
        self.metrics = IngestMetrics(protocol: name, factory: metricsFactory)
        self.now = now
        self.observe = observe
    }

    /// What happened to a submission of items.
    public struct Report: Sendable {
        public var accepted = 0
        public var duplicates = 0
        /// Refused items by their index in the submission, in order.
        public var rejected: [(index: Int, error: ValidationError)] = []
    }

    /// Items validated (and, while storage writes directly, already shown on the live
    /// picture), waiting to be stored.
    public struct Prepared: Sendable {
        /// The valid pings, in submission order.
        public var pings: [Ping] = []
        /// Refused items by their index in the submission, in order.
        public var rejected: [(index: Int, error: ValidationError)] = []
        /// Ranges of `pings` not shown yet: they are shown once stored.
        var unshown: [Range<Int>] = []

        /// Appends a later submission's items, as if both had been one submission.
        public mutating func append(_ later: Prepared) {
            let itemsBefore = pings.count + rejected.count  // every item is a ping or refused
            let pingsBefore = pings.count
            pings.append(contentsOf: later.pings)
            for (index, error) in later.rejected { rejected.append((itemsBefore + index, error)) }
            for range in later.unshown { unshown.append((range.lowerBound + pingsBefore)..<(range.upperBound + pingsBefore)) }
        }
    }

    /// The code of a ping the database itself refused (the others of its submission are stored).
    public static let rejectedByDatabase = ValidationError.Code(rawValue: "rejected_by_database")

    /// Validates and stores; returns once every accepted ping is durable. Throws when the
    /// writer cannot take the pings (nothing of the submission was acknowledged then).
    public func submit(_ items: [JSONPingDecoder.Item]) async throws(PingWriterError) -> Report {
        try await store(prepare(items))
    }

    /// Validates items and shows the valid pings on the live picture at once: the first half of
    /// ``submit(_:)``, for connections that keep reading while earlier pings are being stored.
    public func prepare(_ items: [JSONPingDecoder.Item]) -> Prepared {
        let receivedAt = now()
        var prepared = Prepared()
        prepared.pings.reserveCapacity(items.count)
        var callsigns: [(UnitID, String)] = []
        for (index, item) in items.enumerated() {
            switch item {
            case .ping(let raw):
                do {
                    let ping = try validator.validate(raw, now: receivedAt)
                    prepared.pings.append(ping)
                    if let callsign = raw.callsign, !callsign.isEmpty, callsign.utf8.count <= 64 { callsigns.append((ping.unit, callsign)) }
                } catch {
                    prepared.rejected.append((index, error))
                }
            case .invalid(let error):
                prepared.rejected.append((index, error))
            }
        }
        metrics.received.increment(by: items.count)
        for (_, error) in prepared.rejected { metrics.rejected(error.code) }
        guard !prepared.pings.isEmpty else { return prepared }
        if !callsigns.isEmpty { observeCallsigns(callsigns) }
        if storage.acceptsBeforeDurable {
            observe(prepared.pings)
        } else {
            prepared.unshown = [0..<prepared.pings.count]
        }
        return prepared
    }

    /// Stores prepared pings (the second half of ``submit(_:)``); returns once they are durable.
    public func store(_ prepared: Prepared) async throws(PingWriterError) -> Report {
        var report = Report(rejected: prepared.rejected)
        guard !prepared.pings.isEmpty else { return report }
        let receipt = try await write(prepared.pings)
        showDurable(prepared.pings, ranges: prepared.unshown, receipt: receipt)
        report.accepted = receipt.accepted
        report.duplicates = receipt.duplicates
        let refused = receipt.refused
        if !refused.isEmpty {
            // Refusals by ping index become refusals by item index, among the validator's own.
            let rejectedItems = Set(prepared.rejected.map(\.index))
            var itemIndex: [Int] = []
            itemIndex.reserveCapacity(prepared.pings.count)
            var item = 0
            while itemIndex.count < prepared.pings.count {
                if !rejectedItems.contains(item) { itemIndex.append(item) }
                item += 1
            }
            for (index, reason) in refused {
                report.rejected.append((itemIndex[index], ValidationError(Self.rejectedByDatabase, "the database refused this ping: \(reason)")))
                metrics.rejected(Self.rejectedByDatabase)
            }
            report.rejected.sort { $0.index < $1.index }
        }
        return report
    }

    /// Stores pings that are already valid (the demo feed's): observed, written, counted.
    public func submit(validated pings: [Ping]) async throws(PingWriterError) -> WriteReceipt {
        metrics.received.increment(by: pings.count)
        let shownNow = storage.acceptsBeforeDurable
        if shownNow { observe(pings) }
        let receipt = try await write(pings)
        if !shownNow { showDurable(pings, ranges: [0..<pings.count], receipt: receipt) }
        return receipt
    }

    /// Shows the pings of `ranges` that are now durable (stored or spooled).
    private func showDurable(_ pings: [Ping], ranges: [Range<Int>], receipt: WriteReceipt) {
        guard !ranges.isEmpty else { return }
        var durable: [Ping] = []
        for range in ranges {
            for index in range where receipt.results[index] == .stored || receipt.results[index] == .spooled {
                durable.append(pings[index])
            }
        }
        if !durable.isEmpty { observe(durable) }
    }

    private func write(_ pings: [Ping]) async throws(PingWriterError) -> WriteReceipt {
        let receipt: WriteReceipt
        do {
            receipt = try await storage.write(pings)
        } catch {
            metrics.failed.increment(by: pings.count)
            throw error
        }
        metrics.accepted.increment(by: receipt.accepted)
        metrics.duplicates.increment(by: receipt.duplicates)
        return receipt
    }

    /// Counts a body or line refused as a whole (malformed framing, too large).
    public func countRejectedBody() { metrics.rejectedBodies.increment() }
}

/// Per-protocol ingest counters, created once. Label values are bounded: the protocol names
/// and the fixed set of validation codes.
final class IngestMetrics: Sendable {
    let received: Counter
    let accepted: Counter
    let duplicates: Counter
    let failed: Counter
    let rejectedBodies: Counter
    let factory: any MetricsFactory
    let protocolName: String
    /// One counter per validation code, made on first use (the codes are a fixed, small set).
    private let rejectedByCode = Mutex<[String: Counter]>([:])

    init(protocol name: String, factory: any MetricsFactory) {
        self.factory = factory
        protocolName = name
        func counter(_ result: String) -> Counter {
            Counter(label: "hypervision_ingest_pings_total", dimensions: [("protocol", name), ("result", result)], factory: factory)
        }
        received = counter("received")
        accepted = counter("accepted")
        duplicates = counter("duplicate")
        failed = counter("failed")
        rejectedBodies = Counter(label: "hypervision_ingest_rejected_bodies_total", dimensions: [("protocol", name)], factory: factory)
    }

    func rejected(_ code: ValidationError.Code) {
        let counter = rejectedByCode.withLock { counters in
            if let counter = counters[code.rawValue] { return counter }
            let counter = Counter(
                label: "hypervision_ingest_rejected_total", dimensions: [("protocol", protocolName), ("code", code.rawValue)],
                factory: factory)
            counters[code.rawValue] = counter
            return counter
        }
        counter.increment()
    }
}
