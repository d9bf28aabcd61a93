import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// A connection as the accept loop of a ``TCPListener`` gets it: admitted, with what the port's
/// pipeline made of it, or refused (its ``RefusalHandler`` answers and closes it on the event
/// loop; the accept loop has nothing to do).
public enum ListenerConnection<Value: Sendable>: Sendable {
    case admitted(Value, AdmissionTicket)
    case refused
}

/// What the line-protocol ports (NDJSON ingest, Cursor-on-Target, scene subscriptions) share:
/// binding, admission at accept time, accepting until graceful shutdown with one child task per
/// connection.
///
/// Admission happens in the channel initializer, on the event loop, before anything of the
/// port's own pipeline exists: a refused connection gets a ``RefusalHandler`` only, and no task.
/// An admitted one holds its ``AdmissionTicket`` until its channel closes, however it closes.
public enum TCPListener {
    /// Socket settings of a listening port.
    public struct Options: Sendable {
        public var backlog: Int32 = 256
        /// Keep the connection open for writing when the client shuts its side down, so that
        /// what it sent can still be answered (NDJSON's acks) or streamed to (a subscriber that
        /// closed its input).
        public var allowRemoteHalfClosure = false
        public var noDelay = false
        public var writeBufferWaterMark: ChannelOptions.Types.WriteBufferWaterMark?
        public var sendBufferBytes: Int?
        /// The longest a refused connection stays open (see ``RefusalHandler``).
        public var refusalLinger: TimeAmount = .seconds(2)
        public init() {}
    }

    /// Binds `host:port`. Every accepted connection is first checked by `admit` (the network
    /// allow-list; nil admits) and the `gate`: refused, it is answered with `refusal(reason)`
    /// (nil closes silently) and closed; admitted, `pipeline` sets it up after the TLS handler
    /// (when `tls` is set), on its event loop.
    public static func bind<Value: Sendable>(
        host: String, port: Int, tls: TLSConfiguration? = nil, options: Options = Options(), gate: ConnectionGate,
        authenticated: Bool,
        allowed: @escaping @Sendable (SocketAddress?) -> Bool = { _ in true },
        refusal: @escaping @Sendable (AdmissionRefusal) -> ByteBuffer?,
        pipeline: @escaping @Sendable (any Channel, AdmissionTicket) throws -> Value
    ) async throws -> NIOAsyncChannel<ListenerConnection<Value>, Never> {
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        var bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: options.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: options.allowRemoteHalfClosure)
        if options.noDelay { bootstrap = bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1) }
        if let marks = options.writeBufferWaterMark { bootstrap = bootstrap.childChannelOption(.writeBufferWaterMark, value: marks) }
        if let bytes = options.sendBufferBytes {
            bootstrap = bootstrap.childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(bytes))
        }
        let linger = options.refusalLinger
        return try await bootstrap.bind(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                let peer = channel.remoteAddress
                let decision: Result<AdmissionTicket, AdmissionRefusal>
                if allowed(peer) {
                    decision = gate.admit(peer, authenticated: authenticated)
                } else {
                    gate.count(.networkNotAllowed)
                    decision = .failure(.networkNotAllowed)
                }
                switch decision {
                case .failure(let reason):
                    // Plain text on a TLS port would only confuse the client: closed silently there.
                    try sync.addHandler(RefusalHandler(message: sslContext == nil ? refusal(reason) : nil, linger: linger))
                    return .refused
                case .success(let ticket):
                    gate.release(ticket, whenClosed: channel)
                    if let sslContext { try sync.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    return .admitted(try pipeline(channel, ticket), ticket)
                }
            }
        }
    }

    /// Accepts until graceful shutdown, serving each admitted connection in its own child task;
    /// returns once every connection has ended.
    public static func serve<Value: Sendable>(
        _ server: NIOAsyncChannel<ListenerConnection<Value>, Never>,
        _ handle: @escaping @Sendable (Value, AdmissionTicket) async -> Void
    ) async throws {
        // Accepting ends by closing the listening socket, not by abandoning the loop: a
        // connection accepted at that moment would otherwise be dropped unclosed (NIO traps).
        // Each connection's own reading stops on graceful shutdown.
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        guard case .admitted(let value, let ticket) = connection else { continue }
                        group.addTask { await handle(value, ticket) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }
}
