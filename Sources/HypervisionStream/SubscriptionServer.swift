import HypervisionStore
import HypervisionCore
import Logging
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
    public var maximumConnections = 2_000
    public init() {}
}

/// Scene subscriptions over TCP (`:7400`), newline-delimited JSON: the renderer sends one
/// `subscribe` line, then receives `scene`, `patch` and `heartbeat` lines until it leaves.
/// Malformed or unauthorized requests get one `error` line and a close.
public final class SubscriptionServer: Service, Sendable {
    private let configuration: SubscriptionServerConfiguration
    private let hub: SceneHub
    private let authority: TokenAuthority
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    private let open = Mutex(0)

    public init(
        configuration: SubscriptionServerConfiguration, hub: SceneHub, authority: TokenAuthority, logger: Logger,
        onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.hub = hub
        self.authority = authority
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let configuration = self.configuration
        let sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Below the state machine's pending-bytes limit, so "not writable" arrives first.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            // The kernel's own send buffer autotunes to megabytes on loopback; bounded, a
            // renderer that stops reading is noticed (not writable) after a few hundred kB.
            .childChannelOption(.socketOption(.so_sndbuf), value: 128 * 1024)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext { try sync.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try sync.addHandler(ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: configuration.maximumLineBytes + 2))
                    try sync.addHandler(OversizedLineResponder(maximumLineBytes: configuration.maximumLineBytes))
                    let reporter = WritabilityReporter()
                    try sync.addHandler(reporter)
                    let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    return (AcceptedConnection(wrapped), reporter)
                }
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
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await (connection, reporter) in inbound {
                        group.addTask { await self.serve(connection.channel, reporter: reporter) }
                    }
                }
            }
        } onGracefulShutdown: { [hub] in
            hub.shutdown()
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, reporter: WritabilityReporter) async {
        let channel = connection.channel
        let admitted = open.withLock { count in
            guard count < configuration.maximumConnections else { return false }
            count += 1
            return true
        }
        defer { if admitted { open.withLock { $0 -= 1 } } }
        let sink = ChannelSink(channel: channel)
        guard admitted else {
            sink.send(WireLine.error(StreamError(code: StreamError.Code(rawValue: "too_many_connections"), message: "the port serves \(configuration.maximumConnections) connections at most")))
            sink.close()
            return
        }
        // A client that connects and says nothing is dropped after the subscribe timeout.
        let seconds = configuration.subscribeTimeout.nanoseconds / 1_000_000_000
        let timeout = channel.eventLoop.scheduleTask(in: configuration.subscribeTimeout) {
            sink.send(WireLine.error(StreamError(code: .badRequest, message: "no subscribe line within \(seconds) s")))
            sink.close()
        }
        var subscription: SceneHub.SubscriptionID?
        do {
            try await connection.executeThenClose { inbound, _ in
                // Ends on graceful shutdown too: a connection that never subscribed must not hold it.
                for try await line in inbound.cancelOnGracefulShutdown() {
                    if subscription != nil { continue }  // renderers say nothing after subscribing
                    timeout.cancel()
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
                    switch hub.subscribe(request, sink: sink) {
                    case .success(let id):
                        subscription = id
                        reporter.onChange = { [hub] writable in hub.writabilityChanged(id, writable: writable) }
                        logger.debug("renderer subscribed", metadata: ["stream": "\(request.key)", "peer": "\(channel.remoteAddress?.description ?? "?")"])
                    case .failure(let error):
                        refuse(error, sink)
                        return
                    }
                }
            }
        } catch {
            logger.debug("subscription connection ended", metadata: ["error": "\(error)"])
        }
        timeout.cancel()
        if let subscription { hub.unsubscribe(subscription) }
    }

    private func refuse(_ error: StreamError, _ sink: ChannelSink) {
        sink.send(WireLine.error(error))
        sink.close()
    }
}

/// A subscriber's connection as the hub sees it: writes go to the channel's event loop.
final class ChannelSink: SceneSink {
    let channel: any Channel
    init(channel: any Channel) { self.channel = channel }

    func send(_ line: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: line), promise: nil)
    }

    func close() {
        // Queued on the channel's event loop after the writes above, so the error line goes out
        // first. Shutting the output down sends the FIN even if a child process inherited the
        // descriptor (a plain close would then not end the connection).
        channel.close(mode: .output, promise: nil)
        channel.close(mode: .all, promise: nil)
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
    private let callback = Mutex<(@Sendable (Bool) -> Void)?>(nil)

    var onChange: (@Sendable (Bool) -> Void)? {
        get { callback.withLock { $0 } }
        set { callback.withLock { $0 = newValue } }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        callback.withLock { $0 }?(writable)
        context.fireChannelWritabilityChanged()
    }
}
