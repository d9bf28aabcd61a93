import HypervisionCore
import HypervisionIngest
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Settings of the Cursor-on-Target TCP port.
public struct CoTIngestConfiguration: Sendable, Hashable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8087
    /// TAK clients send no credentials: only these networks may connect.
    public var allowedNetworks: AllowedNetworks = .loopback
    public var maximumEventBytes: Int = 65_536
    public var idleTimeout: TimeAmount = .seconds(300)
    public var maximumConnections: Int = 1_024
    public init() {}
}

/// Cursor-on-Target over TCP: `<event>` elements back to back, as TAK clients stream them.
/// Each read's complete events go to the writer as one submission. CoT has no answers: a
/// refused event is counted and logged at a bounded rate; malformed framing (or a DOCTYPE)
/// closes the connection, since the stream cannot be resynchronised safely.
public final class CoTIngestServer: Service, Sendable {
    private let configuration: CoTIngestConfiguration
    private let tls: TLSConfiguration?
    private let intake: PingIntake
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    private let connections: ConnectionLimit
    private let refusedLog = RateLimitedLog()

    public init(
        configuration: CoTIngestConfiguration, tls: TLSConfiguration? = nil, intake: PingIntake, logger: Logger,
        onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.tls = tls
        self.intake = intake
        self.logger = logger
        self.onBound = onBound
        self.connections = ConnectionLimit(maximum: configuration.maximumConnections)
    }

    public func run() async throws {
        let configuration = self.configuration
        let server = try await TCPListener.bind(host: configuration.host, port: configuration.port, tls: tls) { channel in
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
            return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
        logger.notice(
            "Cursor-on-Target ingest listening", metadata: ["address": "\(server.channel.localAddress?.description ?? "?")", "tls": "\(tls != nil)"])
        onBound(server.channel.localAddress)
        try await TCPListener.serve(server) { await self.serve($0) }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress
        let intake = self.intake
        let logger = self.logger
        let refusedLog = self.refusedLog
        let admitted = configuration.allowedNetworks.contains(peer) && connections.admit()
        guard admitted else {
            refusedLog.log { held in
                logger.warning("CoT connection refused (network not allowed, or too many connections)",
                               metadata: ["peer": "\(peer?.description ?? "?")", "held_back": "\(held)"])
            }
            try? await connection.channel.close()
            return
        }
        defer { connections.release() }
        let maximumEventBytes = configuration.maximumEventBytes
        do {
            try await connection.executeThenClose { inbound, _ in
                // A store that fails ends the connection (there is no acknowledgement to refuse);
                // the TAK client reconnects and resends.
                try await intake.readWhileStoring(failed: { error, _ in throw error }) { queue in
                    var framer = CoTFramer(maximumEventBytes: maximumEventBytes)
                    let decoder = CoTDecoder()
                    for try await chunk in inbound.cancelOnGracefulShutdown() {
                        let events = try chunk.withUnsafeReadableBytes { bytes throws(ValidationError) in try framer.append(bytes) }
                        guard !events.isEmpty else { continue }
                        let items: [JSONPingDecoder.Item] = events.map { event in
                            switch decoder.decode(event) {
                            case .success(let decoded):
                                var ping = decoded.ping
                                ping.callsign = decoded.callsign
                                return .ping(ping)
                            case .failure(let error): return .invalid(error)
                            }
                        }
                        let prepared = intake.prepare(items)
                        for (_, error) in prepared.rejected {
                            refusedLog.log { held in
                                logger.warning("CoT event refused", metadata: [
                                    "peer": "\(peer?.description ?? "?")", "code": "\(error.code)", "reason": "\(error.message)",
                                    "held_back": "\(held)",
                                ])
                            }
                        }
                        guard !prepared.pings.isEmpty else { continue }
                        guard await queue.push(prepared, weight: prepared.pings.count) else { return }
                    }
                    try framer.finish()
                }
            }
        } catch let error as ValidationError {
            intake.countRejectedBody()
            logger.warning("CoT stream closed", metadata: ["peer": "\(peer?.description ?? "?")", "code": "\(error.code)", "reason": "\(error.message)"])
        } catch {
            logger.debug("CoT connection ended", metadata: ["peer": "\(peer?.description ?? "?")", "reason": "\(error)"])
        }
    }
}
