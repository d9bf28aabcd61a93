import HypervisionCore
import HypervisionNetwork
import Logging
import Metrics
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Settings of the scene subscription port.
public struct SubscriptionServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 7400
    /// TLS for the port; nil: plain TCP.
    public var tls: TLSConfiguration?
    /// The first line (`subscribe`) must arrive within this time.
    public var subscribeTimeout: TimeAmount = .seconds(10)
    public var maximumLineBytes = SubscribeRequest.defaultMaximumLineBytes
    /// Subscribed connections; beyond, `too_many_connections`.
    public var maximumConnections = 2_000
    /// Connections that have not subscribed yet (their token comes with the subscribe line): a
    /// small budget of their own, so that idle strangers cannot take the renderers' slots.
    public var maximumUnsubscribed = 128
    /// Connections from one client address (IPv4, or IPv6 /64), subscribed or not.
    public var maximumConnectionsPerAddress = 256
    /// Connections from one client address that have not subscribed yet: one address cannot
    /// fill the budget of ``maximumUnsubscribed``.
    public var maximumUnsubscribedPerAddress = 16
    public init() {}
}

/// Scene subscriptions over TCP (`:7400`), newline-delimited JSON: the renderer sends one
/// `subscribe` line, then receives `scene`, `patch` and `heartbeat` lines until it leaves.
/// Malformed or unauthorized requests get one `error` line and a close, and so do connections
/// refused by the caps (`too_many_connections`) and ones that do not subscribe in time.
///
/// A renderer may shut its side of the connection down once it has subscribed (it has nothing
/// more to say): the stream goes on until the connection fails or the hub ends it.
public final class SubscriptionServer: Service, Sendable {
    private let configuration: SubscriptionServerConfiguration
    private let hub: SceneHub
    private let authority: TokenAuthority
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    /// Admission and the port's connection metrics (`port="subscriptions"`).
    public let gate: ConnectionGate
    private let outboxes = EventLoopOutboxes()

    public init(
        configuration: SubscriptionServerConfiguration, hub: SceneHub, authority: TokenAuthority, logger: Logger,
        metricsFactory: any MetricsFactory, onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.hub = hub
        self.authority = authority
        self.logger = logger
        self.onBound = onBound
        self.gate = ConnectionGate(
            port: "subscriptions",
            limits: AdmissionLimits(
                maximumConnections: configuration.maximumConnections, maximumUnauthenticated: configuration.maximumUnsubscribed,
                maximumPerAddress: configuration.maximumConnectionsPerAddress,
                maximumUnauthenticatedPerAddress: configuration.maximumUnsubscribedPerAddress),
            metricsFactory: metricsFactory)
    }

    public func run() async throws {
        let configuration = self.configuration
        let gate = self.gate
        var options = TCPListener.Options()
        options.noDelay = true
        // A renderer that closes its input after subscribing still gets its scenes.
        options.allowRemoteHalfClosure = true
        // Below the state machine's pending-bytes limit, so "not writable" arrives first.
        options.writeBufferWaterMark = .init(low: 64 * 1024, high: 256 * 1024)
        // The kernel's own send buffer autotunes to megabytes on loopback; bounded, a
        // renderer that stops reading is noticed (not writable) after a few hundred kB.
        options.sendBufferBytes = 128 * 1024
        let seconds = configuration.subscribeTimeout.nanoseconds / 1_000_000_000
        let server = try await TCPListener.bind(
            host: configuration.host, port: configuration.port, tls: configuration.tls, options: options, gate: gate, authenticated: false,
            refusal: { reason in
                ByteBuffer(bytes: WireLine.error(StreamError(code: .tooManyConnections, message: "\(reason.explanation); retry later")))
            }
        ) { channel, _ in
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(
                ConnectionDeadlineHandler(
                    startingPhase: (.firstMessage, configuration.subscribeTimeout),
                    farewell: { _ in
                        ByteBuffer(bytes: WireLine.error(StreamError(code: .badRequest, message: "no subscribe line within \(seconds) s")))
                    },
                    onExpiry: { gate.deadlineExpired($0.phase) }))
            try sync.addHandler(ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: configuration.maximumLineBytes + 2))
            try sync.addHandler(OversizedLineResponder(maximumLineBytes: configuration.maximumLineBytes))
            let reporter = WritabilityReporter()
            try sync.addHandler(reporter)
            let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            return SubscriptionConnection(connection: AcceptedConnection(wrapped), reporter: reporter)
        }
        logger.notice("scene subscriptions listening", metadata: [
            "address": "\(server.channel.localAddress?.description ?? "?")", "tls": "\(configuration.tls != nil)",
        ])
        onBound(server.channel.localAddress)
        // On shutdown, subscribers are told `shutting_down` and closed here: the task group
        // waits for every connection, and the hub's own service stops only after this one.
        // Accepting ends by closing the listening socket, not by abandoning the loop: a
        // connection accepted at that moment would otherwise be dropped unclosed (NIO traps).
        try await withGracefulShutdownHandler {
            try await TCPListener.serve(server) { accepted, ticket in
                await self.serve(accepted.connection.channel, reporter: accepted.reporter, ticket: ticket)
            }
        } onGracefulShutdown: { [hub] in
            hub.shutdown()
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, reporter: WritabilityReporter, ticket: AdmissionTicket) async {
        let channel = connection.channel
        let sink = ChannelSink(channel: channel, outbox: outboxes.outbox(for: channel.eventLoop))
        var subscription: SceneHub.SubscriptionID?
        do {
            try await connection.executeThenClose { inbound, _ in
                // Ends on graceful shutdown too: a connection that never subscribed must not hold it.
                for try await line in inbound.cancelOnGracefulShutdown() {
                    if subscription != nil { continue }  // renderers say nothing after subscribing
                    channel.triggerUserOutboundEvent(ConnectionPhaseCompleted(.firstMessage), promise: nil)
                    let request: SubscribeRequest
                    do throws(StreamError) {
                        request = try SubscribeRequest(line: line.readableBytesView, maximumLineBytes: configuration.maximumLineBytes)
                    } catch {
                        refuse(error, sink)
                        return
                    }
                    switch authority.authorize(secret: request.token, for: .subscribe(wall: request.wall)) {
                    case .allowed: break
                    case .unauthenticated(let why):
                        refuse(StreamError(code: .unauthorized, message: why), sink)
                        return
                    case .forbidden(let why):
                        refuse(StreamError(code: .forbidden, message: why), sink)
                        return
                    }
                    // Out of the small budget of connections not yet subscribed, into a renderer's slot.
                    if let refusal = gate.authenticate(ticket) {
                        refuse(StreamError(code: .tooManyConnections, message: "\(refusal.explanation); retry later"), sink)
                        return
                    }
                    switch hub.subscribe(request, sink: sink) {
                    case .success(let id):
                        subscription = id
                        reporter.onChange.set { [hub] writable in hub.writabilityChanged(id, writable: writable) }
                        logger.debug("renderer subscribed", metadata: ["stream": "\(request.key)", "peer": "\(channel.remoteAddress?.description ?? "?")"])
                    case .failure(let error):
                        refuse(error, sink)
                        return
                    }
                }
                if subscription == nil {
                    if !Task.isShuttingDownGracefully {
                        refuse(StreamError(code: .badRequest, message: "the input ended before a subscribe line"), sink)
                    }
                    return
                }
                // The renderer closed its input (or the daemon stops): the scenes go on until
                // the connection fails or the hub closes it (shutting down, slow, wall removed).
                try await channel.closeFuture.get()
            }
        } catch {
            logger.debug("subscription connection ended", metadata: ["error": "\(error)"])
        }
        if let subscription { hub.unsubscribe(subscription) }
    }

    private func refuse(_ error: StreamError, _ sink: ChannelSink) {
        sink.send(WireLine.error(error))
        sink.close()
        sink.handOver()
    }
}

/// What the subscription port's pipeline makes of an accepted connection.
struct SubscriptionConnection: Sendable {
    let connection: AcceptedConnection<ByteBuffer, ByteBuffer>
    let reporter: WritabilityReporter
}

/// A subscriber's connection as the hub sees it: its lines go through its event loop's
/// ``EventLoopOutbox``.
final class ChannelSink: SceneSink {
    let channel: any Channel
    private let outbox: EventLoopOutbox

    init(channel: any Channel, outbox: EventLoopOutbox) {
        self.channel = channel
        self.outbox = outbox
    }

    func send(_ line: [UInt8]) {
        outbox.append(.line(line, channel))
    }

    func close() {
        outbox.append(.close(channel))
    }

    func handOver() {
        outbox.handOver()
    }
}

/// The lines waiting for the subscriber connections of one event loop, written there by one task.
///
/// A wall round publishes each version to every subscriber of its streams. Written channel by
/// channel from the round's thread, each line cost an event-loop task, a wake-up of the loop and
/// a copy of the line into a buffer of its own, 50 times a round with 50 renderers: a sixth of
/// the round's CPU. Here the hub appends a publish's lines, then hands them over once: one drain
/// is scheduled, which makes one buffer per distinct line, writes every channel, then flushes
/// each once. Waking the loop at the first line instead let it drain that line alone while the
/// round went on queueing: on two cores the woken loop preempted the round for every subscriber.
///
/// Order per channel is kept: lines and closes are appended in the order the hub decided them,
/// and a drain scheduled before any later work on the loop takes everything appended so far. On
/// the loop itself (a subscribe answered by the connection's handler) a hand-over drains at once,
/// after what was queued before.
final class EventLoopOutbox: Sendable {
    enum Item: Sendable {
        case line([UInt8], any Channel)
        /// Shutting the output down sends the FIN even if a child process inherited the
        /// descriptor (a plain close would then not end the connection).
        case close(any Channel)
    }

    private struct Pending {
        var items: [Item] = []
        /// A drain is scheduled on the loop and has not taken the items yet.
        var drainScheduled = false
    }

    let eventLoop: any EventLoop
    private let pending = Mutex(Pending())

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// Queues `item`; it goes out after the next ``handOver()``.
    func append(_ item: Item) {
        pending.withLock { $0.items.append(item) }
    }

    /// Has what was appended written on the loop: at once on the loop, else by one drain
    /// scheduled there (none when one is scheduled already or nothing waits).
    func handOver() {
        if eventLoop.inEventLoop {
            drain()
            return
        }
        let schedule = pending.withLock { pending in
            guard !pending.items.isEmpty, !pending.drainScheduled else { return false }
            pending.drainScheduled = true
            return true
        }
        if schedule { eventLoop.execute { self.drain() } }
    }

    /// Writes everything queued; on the event loop only.
    private func drain() {
        let items = pending.withLock { pending in
            pending.drainScheduled = false
            var taken: [Item] = []
            swap(&taken, &pending.items)
            return taken
        }
        guard !items.isEmpty else { return }
        var toFlush: [ObjectIdentifier: any Channel] = [:]
        var lastLine: [UInt8] = []
        var lastBuffer: ByteBuffer?
        for item in items {
            switch item {
            case .line(let line, let channel):
                // Most lines of a drain are one patch sent to many: one buffer for them all.
                let buffer: ByteBuffer
                if let lastBuffer, Self.sameStorage(line, lastLine) {
                    buffer = lastBuffer
                } else {
                    buffer = channel.allocator.buffer(bytes: line)
                    lastBuffer = buffer
                    lastLine = line
                }
                channel.write(buffer, promise: nil)
                toFlush[ObjectIdentifier(channel)] = channel
            case .close(let channel):
                // What was written before goes out first.
                if toFlush.removeValue(forKey: ObjectIdentifier(channel)) != nil { channel.flush() }
                channel.close(mode: .output, promise: nil)
                channel.close(mode: .all, promise: nil)
            }
        }
        for channel in toFlush.values { channel.flush() }
    }

    /// Whether two lines are the same array (not merely equal bytes): a line shared by many
    /// subscribers is one array, and comparing bytes would cost as much as copying them.
    private static func sameStorage(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
    }
}

/// One ``EventLoopOutbox`` per event loop, made on first use.
final class EventLoopOutboxes: Sendable {
    private let outboxes = Mutex<[ObjectIdentifier: EventLoopOutbox]>([:])

    func outbox(for eventLoop: any EventLoop) -> EventLoopOutbox {
        outboxes.withLock { outboxes in
            let key = ObjectIdentifier(eventLoop)
            if let outbox = outboxes[key] { return outbox }
            let outbox = EventLoopOutbox(eventLoop: eventLoop)
            outboxes[key] = outbox
            return outbox
        }
    }
}

/// Answers a line longer than the limit with an `error` line before the connection closes (the
/// framing error would otherwise close it silently).
final class OversizedLineResponder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let maximumLineBytes: Int
    init(maximumLineBytes: Int) { self.maximumLineBytes = maximumLineBytes }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ByteToMessageDecoderError.PayloadTooLargeError {
            let line = WireLine.error(StreamError(code: .badRequest, message: "line longer than \(maximumLineBytes) bytes"))
            context.writeAndFlush(NIOAny(ByteBuffer(bytes: line)), promise: nil)
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}

/// Tells the hub when a connection stops or resumes taking bytes (NIO's write watermarks).
final class WritabilityReporter: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    /// Called with the connection's writability each time it changes.
    let onChange = CallbackSlot<Bool, Void>()

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        onChange(writable)
        context.fireChannelWritabilityChanged()
    }
}
