import Metrics
import NIOCore
import Synchronization

/// A part of a connection's life that has a deadline of its own. The raw values are the `phase`
/// label of `hypervision_connection_deadline_closes_total`: a fixed, small set.
public enum ConnectionPhase: String, Sendable, Hashable, CaseIterable {
    /// Connecting (the TLS handshake included) until an HTTP request head is complete.
    case header
    /// An HTTP request head was read, its body is still arriving.
    case body
    /// Nothing to do: between HTTP requests, or a line protocol with no data (or not reading
    /// what it is sent).
    case idle
    /// A line-protocol client has not authenticated yet (NDJSON ingest's auth line).
    case authentication
    /// A subscriber has not sent its `subscribe` message yet (TCP or WebSocket).
    case firstMessage = "first_message"
}

/// Sent down a channel's pipeline (`triggerUserOutboundEvent`) when a phase that had a deadline
/// is over, so its ``ConnectionDeadlineHandler`` stops the clock. The async code that decides
/// (a valid token, a subscribe line) cannot touch the handler itself: the event crosses to the
/// channel's event loop.
public struct ConnectionPhaseCompleted: Sendable, Hashable {
    public let phase: ConnectionPhase
    public init(_ phase: ConnectionPhase) { self.phase = phase }
}

/// The admission control of one listening port: an ``AdmissionLedger`` behind a lock, with its
/// metrics:
///
/// - `hypervision_connections_open{port}`: connections held now (authenticated or not);
/// - `hypervision_connections_refused_total{port,reason}`: ``AdmissionRefusal``;
/// - `hypervision_connection_deadline_closes_total{port,phase}`: ``ConnectionPhase``.
///
/// `port` is the configuration section of the port (`http`, `ingest.tcp`, `ingest.osmand`,
/// `ingest.cot`, `subscriptions`). Every handle is made once, here: labels are bounded.
public final class ConnectionGate: Sendable {
    public let port: String
    private let ledger: Mutex<AdmissionLedger>
    private let openGauge: Gauge
    private let refusedCounters: [AdmissionRefusal: Counter]
    private let deadlineCounters: [ConnectionPhase: Counter]
    private let totals = Mutex<(refused: Int, deadlineCloses: Int)>((0, 0))

    public init(port: String, limits: AdmissionLimits, metricsFactory: any MetricsFactory) {
        self.port = port
        ledger = Mutex(AdmissionLedger(limits: limits))
        openGauge = Gauge(label: "hypervision_connections_open", dimensions: [("port", port)], factory: metricsFactory)
        refusedCounters = Dictionary(uniqueKeysWithValues: AdmissionRefusal.allCases.map { reason in
            (reason, Counter(
                label: "hypervision_connections_refused_total", dimensions: [("port", port), ("reason", reason.rawValue)],
                factory: metricsFactory))
        })
        deadlineCounters = Dictionary(uniqueKeysWithValues: ConnectionPhase.allCases.map { phase in
            (phase, Counter(
                label: "hypervision_connection_deadline_closes_total", dimensions: [("port", port), ("phase", phase.rawValue)],
                factory: metricsFactory))
        })
        openGauge.record(0)
    }

    public var limits: AdmissionLimits { ledger.withLock { $0.limits } }

    /// Connections held now.
    public var openConnections: Int { ledger.withLock { $0.open } }

    /// Connections held now that have not authenticated.
    public var unauthenticatedConnections: Int { ledger.withLock { $0.unauthenticated } }

    /// Connections refused since the start, for every reason.
    public var refusedConnections: Int { totals.withLock { $0.refused } }

    /// Connections closed by a deadline since the start, in every phase.
    public var deadlineCloses: Int { totals.withLock { $0.deadlineCloses } }

    /// Admits a connection from `peer`, or counts the refusal.
    public func admit(_ peer: SocketAddress?, authenticated: Bool) -> Result<AdmissionTicket, AdmissionRefusal> {
        let address = ClientAddress(peer)
        let (result, open) = ledger.withLock { ledger in (ledger.admit(address, authenticated: authenticated), ledger.open) }
        switch result {
        case .success: openGauge.record(open)
        case .failure(let reason): count(reason)
        }
        return result
    }

    /// Counts a refusal decided before admission (a network that is not allowed).
    public func count(_ refusal: AdmissionRefusal) {
        totals.withLock { $0.refused += 1 }
        refusedCounters[refusal]?.increment()
    }

    /// Moves a connection that proved who it is into the port's slots; the refusal, counted,
    /// when they are all taken.
    public func authenticate(_ ticket: AdmissionTicket) -> AdmissionRefusal? {
        let refusal = ledger.withLock { $0.authenticate(ticket) }
        if let refusal { count(refusal) }
        return refusal
    }

    /// The connection closed (idempotent).
    public func release(_ ticket: AdmissionTicket) {
        let (released, open) = ledger.withLock { ledger in (ledger.release(ticket), ledger.open) }
        if released { openGauge.record(open) }
    }

    /// Releases the ticket when `channel` closes, however it closes.
    public func release(_ ticket: AdmissionTicket, whenClosed channel: any Channel) {
        channel.closeFuture.whenComplete { [self] _ in release(ticket) }
    }

    /// A connection was closed because `phase` outlasted its deadline.
    public func deadlineExpired(_ phase: ConnectionPhase) {
        totals.withLock { $0.deadlineCloses += 1 }
        deadlineCounters[phase]?.increment()
    }
}

extension ChannelHandlerContext {
    /// Closes the connection so that the client sees the end at once: the output is shut down
    /// first (the FIN goes out even when a child process, forked at that moment, holds a copy
    /// of the descriptor, which would keep a plain close from ending the connection), then the
    /// channel is closed.
    func closeConnection() {
        close(mode: .output, promise: nil)
        close(promise: nil)
    }
}
