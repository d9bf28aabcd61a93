import HypervisionStore
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// What every TCP ingest port shares: binding, accepting until graceful shutdown with one
/// child task per connection, and a bound on open connections.
enum TCPListener {
    /// Binds `host:port`; `pipeline` sets up each accepted channel (on its event loop), after
    /// the TLS handler when `tls` is set.
    static func bind<Inbound: Sendable, Outbound: Sendable>(
        host: String, port: Int, tls: TLSConfiguration? = nil,
        pipeline: @escaping @Sendable (any Channel) throws -> NIOAsyncChannel<Inbound, Outbound>
    ) async throws -> NIOAsyncChannel<AcceptedConnection<Inbound, Outbound>, Never> {
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    return AcceptedConnection(try pipeline(channel))
                }
            }
    }

    /// Accepts until graceful shutdown, serving each connection in its own child task; returns
    /// once every connection has ended.
    static func serve<Inbound: Sendable, Outbound: Sendable>(
        _ server: NIOAsyncChannel<AcceptedConnection<Inbound, Outbound>, Never>,
        _ handle: @escaping @Sendable (NIOAsyncChannel<Inbound, Outbound>) async -> Void
    ) async throws {
        // Accepting ends by closing the listening socket, not by abandoning the loop: a
        // connection accepted at that moment would otherwise be dropped unclosed (NIO traps).
        // Each connection's own reading stops on graceful shutdown.
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await handle(connection.channel) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }
}

/// Open connections counted against a limit, so a flood of clients cannot exhaust the daemon.
final class ConnectionLimit: Sendable {
    let maximum: Int
    private let open = Mutex(0)

    init(maximum: Int) { self.maximum = maximum }

    /// Takes a slot; false when the limit is reached. Every `true` must be `release`d.
    func admit() -> Bool {
        open.withLock { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
    }

    func release() { open.withLock { $0 -= 1 } }
}
