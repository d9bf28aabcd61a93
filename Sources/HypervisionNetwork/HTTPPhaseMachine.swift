import NIOCore

/// The deadlines of an HTTP/1.1 connection, as a pure state machine: events in, one ``Action``
/// out, no clock and no channel (``HTTPDeadlineHandler`` runs it on a connection).
///
/// One deadline is armed at a time, for the phase the connection is in:
///
/// - ``ConnectionPhase/header``: from the connection (TLS handshake included), or from the first
///   byte of a later request, until the request head is complete (a new connection is also
///   idle: the idle deadline applies if shorter). A client that trickles a
///   head (slowloris) is closed, and told so with a 408 when no response is under way.
/// - ``ConnectionPhase/body``: from the head until the end of the body (also when the response
///   went out before the body was read, since the client must still finish sending it).
/// - none while a request is being answered: the handler's own limits apply (database statement
///   timeouts, the writer's), not a connection deadline.
/// - ``ConnectionPhase/idle``: once every request is answered, until the next one starts.
///
/// After a WebSocket upgrade the connection is no longer HTTP: nothing is armed (the stream
/// has deadlines of its own).
public struct HTTPPhaseMachine: Sendable {
    /// How long each phase may last.
    public struct Deadlines: Sendable, Hashable {
        public var header: TimeAmount
        public var body: TimeAmount
        public var idle: TimeAmount

        public init(header: TimeAmount = .seconds(10), body: TimeAmount = .seconds(60), idle: TimeAmount = .seconds(60)) {
            self.header = header
            self.body = body
            self.idle = idle
        }
    }

    /// What the handler does after an event.
    public enum Action: Sendable, Hashable {
        case none
        /// (Re)start the one timer: `phase` ends in `after`.
        case arm(ConnectionPhase, after: TimeAmount)
        /// Stop the timer: nothing has a deadline now.
        case disarm
        /// `phase` outlasted its deadline: close the connection, first with a 408 when `answer`
        /// (a response may be written: none is under way).
        case close(ConnectionPhase, answer: Bool)
        /// Close at once, no deadline involved (the server is stopping and the connection has
        /// no request to finish).
        case closeNow
    }

    public let deadlines: Deadlines
    /// The phase whose deadline is armed.
    public private(set) var armed: ConnectionPhase?
    /// Between a request's head and its end.
    private var readingRequest = false
    /// Requests whose head was read and whose response has not ended.
    private var unanswered = 0
    private var upgraded = false
    private var closed = false

    public init(deadlines: Deadlines) {
        self.deadlines = deadlines
    }

    /// The connection is open: the first request head must arrive in time. A new connection is
    /// idle as well as waiting for its head, so the shorter of the two deadlines applies.
    public mutating func connected() -> Action {
        arm(.header, min(deadlines.header, deadlines.idle))
    }

    /// Bytes arrived (before decoding): an idle connection starts a new request.
    public mutating func bytesReceived() -> Action {
        guard armed == .idle else { return .none }
        return arm(.header, deadlines.header)
    }

    /// A request head was decoded.
    public mutating func headReceived() -> Action {
        guard !closed, !upgraded else { return .none }
        readingRequest = true
        unanswered += 1
        return arm(.body, deadlines.body)
    }

    /// A request ended (its last body part was decoded).
    public mutating func endReceived() -> Action {
        guard !closed, !upgraded, readingRequest else { return .none }
        readingRequest = false
        return unanswered > 0 ? disarm() : arm(.idle, deadlines.idle)
    }

    /// A response head was written; a 101 means the connection is a WebSocket from now on.
    public mutating func responseHeadWritten(switchingProtocols: Bool) -> Action {
        guard switchingProtocols, !closed else { return .none }
        upgraded = true
        return disarm()
    }

    /// A response ended.
    public mutating func responseEnded() -> Action {
        guard !closed, !upgraded, unanswered > 0 else { return .none }
        unanswered -= 1
        if readingRequest { return .none }  // the body deadline still runs
        return unanswered == 0 ? arm(.idle, deadlines.idle) : .none
    }

    /// The armed timer fired.
    public mutating func timerFired() -> Action {
        guard !closed, let phase = armed else { return .none }
        closed = true
        armed = nil
        return .close(phase, answer: phase == .header && unanswered == 0)
    }

    /// The server is stopping (`ChannelShouldQuiesceEvent`): a connection between requests, or
    /// one that has not delivered a whole head, goes now; one with a request under way finishes
    /// it (the HTTP layer closes it after the response).
    public mutating func quiesce() -> Action {
        guard !closed, !upgraded, armed == .idle || (armed == .header && unanswered == 0) else { return .none }
        closed = true
        armed = nil
        return .closeNow
    }

    private mutating func arm(_ phase: ConnectionPhase, _ after: TimeAmount) -> Action {
        guard !closed, !upgraded else { return .none }
        armed = phase
        return .arm(phase, after: after)
    }

    private mutating func disarm() -> Action {
        guard armed != nil else { return .none }
        armed = nil
        return .disarm
    }
}
