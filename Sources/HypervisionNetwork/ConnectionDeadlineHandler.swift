import NIOCore

/// What ran out on a connection of a line protocol.
public enum DeadlineExpiry: Sendable, Hashable {
    /// The phase the connection started in (authentication, the first message) took too long.
    case phase(ConnectionPhase)
    /// Nothing was received for the idle time.
    case idleReading
    /// Nothing could be sent for the idle time: the client does not read its answers.
    case idleWriting

    /// The phase the expiry is counted under.
    public var phase: ConnectionPhase {
        switch self {
        case .phase(let phase): phase
        case .idleReading, .idleWriting: .idle
        }
    }
}

/// The deadlines of a connection of a line protocol (NDJSON ingest, Cursor-on-Target, scene
/// subscriptions): the phase it starts in must end in time, and it must not stay idle.
///
/// - The starting phase (``ConnectionPhase/authentication`` or ``ConnectionPhase/firstMessage``)
///   is armed when the connection becomes active and stopped by a ``ConnectionPhaseCompleted``
///   outbound user event, which the connection's async code sends once it has seen a valid
///   first message.
/// - Idleness is NIO's `IdleStateHandler`'s: put one before this handler, and its events close
///   the connection here.
///
/// On expiry the handler writes `farewell(expiry)` when there is one (the protocol's `error`
/// line), reports it, and closes. It must sit after any TLS handler, so that the farewell is
/// encrypted like the rest, and before the framing decoders, whose messages it passes on untouched.
public final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let startingPhase: (phase: ConnectionPhase, deadline: TimeAmount)?
    private let farewell: @Sendable (DeadlineExpiry) -> ByteBuffer?
    private let onExpiry: @Sendable (DeadlineExpiry) -> Void
    private var timer: Scheduled<Void>?
    private var armed = false
    private var expired = false

    /// - Parameters:
    ///   - startingPhase: the phase the connection starts in and its deadline; nil when there is
    ///     none (only idleness is watched).
    ///   - farewell: the line that tells the client why it is closed, if any.
    ///   - onExpiry: counts the close (``ConnectionGate/deadlineExpired(_:)``).
    public init(
        startingPhase: (phase: ConnectionPhase, deadline: TimeAmount)?,
        farewell: @escaping @Sendable (DeadlineExpiry) -> ByteBuffer? = { _ in nil },
        onExpiry: @escaping @Sendable (DeadlineExpiry) -> Void = { _ in }
    ) {
        self.startingPhase = startingPhase
        self.farewell = farewell
        self.onExpiry = onExpiry
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent {
            expire(idle == .write ? .idleWriting : .idleReading, context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let completed = event as? ConnectionPhaseCompleted {
            // Consumed here: nothing nearer the socket knows the event.
            if completed.phase == startingPhase?.phase { disarm() }
            promise?.succeed(())
            return
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    private func arm(context: ChannelHandlerContext) {
        guard !armed, let startingPhase else { return }
        armed = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: startingPhase.deadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.expire(.phase(startingPhase.phase), context: context)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func expire(_ expiry: DeadlineExpiry, context: ChannelHandlerContext) {
        guard !expired, context.channel.isActive else { return }
        expired = true
        disarm()
        onExpiry(expiry)
        if let line = farewell(expiry) { context.writeAndFlush(wrapOutboundOut(line), promise: nil) }
        context.closeConnection()
    }
}
