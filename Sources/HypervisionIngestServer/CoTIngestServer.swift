import HypervisionCore
import HypervisionIngest
import HypervisionNetwork
import Logging
import Metrics
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
    /// A connection that sends nothing for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(300)
    public var maximumConnections: Int = 1_024
    /// Connections from one client address (IPv4, or IPv6 /64).
    public var maximumConnectionsPerAddress: Int = 64
    public init() {}
}

/// Cursor-on-Target over TCP: `<event>` elements back to back, as TAK clients stream them.
/// Each read's complete events go to the writer as one submission. CoT has no answers: a
/// refused event is counted and logged at a bounded rate; malformed framing (or a DOCTYPE)
/// closes the connection at once, since the stream cannot be resynchronised safely (the events
/// framed before the fault are still stored). Connections from networks not allowed, beyond the
/// caps, or silent for the idle timeout are closed (CoT cannot say why), and counted.
public final class CoTIngestServer: Service, Sendable {
    private let configuration: CoTIngestConfiguration
    private let tls: TLSConfiguration?
    private let intake: PingIntake
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    /// Admission and the port's connection metrics (`port="ingest.cot"`).
    public let gate: ConnectionGate
    private let refusedLog = RateLimitedLog()

    public init(
        configuration: CoTIngestConfiguration, tls: TLSConfiguration? = nil, intake: PingIntake, logger: Logger,
        metricsFactory: any MetricsFactory, onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.tls = tls
        self.intake = intake
        self.logger = logger
        self.onBound = onBound
        self.gate = ConnectionGate(
            port: "ingest.cot",
            limits: AdmissionLimits(
                maximumConnections: configuration.maximumConnections, maximumPerAddress: configuration.maximumConnectionsPerAddress),
            metricsFactory: metricsFactory)
    }

    public func run() async throws {
        let configuration = self.configuration
        let gate = self.gate
        let logger = self.logger
        let refusedLog = self.refusedLog
        let server = try await TCPListener.bind(
            host: configuration.host, port: configuration.port, tls: tls, gate: gate, authenticated: true,
            allowed: { peer in
                guard configuration.allowedNetworks.contains(peer) else {
                    refusedLog.log { held in
                        logger.warning("CoT connection from a network not in ingest.cot.allowedNetworks",
                                       metadata: ["peer": "\(peer?.description ?? "?")", "held_back": "\(held)"])
                    }
                    return false
                }
                return true
            },
            refusal: { _ in nil }
        ) { channel, _ in
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
            try sync.addHandler(ConnectionDeadlineHandler(startingPhase: nil, onExpiry: { gate.deadlineExpired($0.phase) }))
            return AcceptedConnection(try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel))
        }
        logger.notice(
            "Cursor-on-Target ingest listening", metadata: ["address": "\(server.channel.localAddress?.description ?? "?")", "tls": "\(tls != nil)"])
        onBound(server.channel.localAddress)
        try await TCPListener.serve(server) { connection, _ in await self.serve(connection.channel) }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress
        let channel = connection.channel
        let intake = self.intake
        let logger = self.logger
        let refusedLog = self.refusedLog
        let maximumEventBytes = configuration.maximumEventBytes
        // Set by the reader when the stream cannot be framed; thrown once what was framed before is stored.
        let framingError = Mutex<ValidationError?>(nil)
        do {
            try await connection.executeThenClose { inbound, _ in
                // A store that fails ends the connection (there is no acknowledgement to refuse);
                // the TAK client reconnects and resends.
                try await intake.readWhileStoring(failed: { error, _ in throw error }) { queue in
                    var framer = CoTFramer(maximumEventBytes: maximumEventBytes)
                    let decoder = CoTDecoder()
                    /// Closes the connection now, keeping the error for the end.
                    func fail(_ error: ValidationError) {
                        framingError.withLock { $0 = error }
                        // The output first: the FIN goes out even if a forked child holds the descriptor.
                        channel.close(mode: .output, promise: nil)
                        channel.close(promise: nil)
                    }
                    for try await chunk in inbound.cancelOnGracefulShutdown() {
                        let framed = chunk.withUnsafeReadableBytes { bytes in
                            Result { () throws(ValidationError) in try framer.append(bytes) }
                        }
                        let events: [[UInt8]]
                        switch framed {
                        case .success(let complete): events = complete
                        case .failure(let error):
                            fail(error)
                            return
                        }
                        if !events.isEmpty {
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
                            if !prepared.pings.isEmpty {
                                guard await queue.push(prepared, weight: prepared.pings.count) else { return }
                            }
                            // The framer returns the events framed before a fault and keeps the fault
                            // for its next call, which would come only with the client's next bytes:
                            // an empty call asks for it now, so bad input closes the stream at once.
                            if case .failure(let error) = Result(catching: { () throws(ValidationError) in try framer.append([]) }) {
                                fail(error)
                                return
                            }
                        }
                    }
                    // A stop cuts streams anywhere; only a client's own end must end between events.
                    guard !Task.isShuttingDownGracefully else { return }
                    if case .failure(let error) = Result(catching: { () throws(ValidationError) in try framer.finish() }) {
                        framingError.withLock { $0 = error }
                    }
                }
                if let error = framingError.withLock({ $0 }) { throw error }
            }
        } catch let error as ValidationError {
            intake.countRejectedBody()
            logger.warning("CoT stream closed", metadata: ["peer": "\(peer?.description ?? "?")", "code": "\(error.code)", "reason": "\(error.message)"])
        } catch {
            logger.debug("CoT connection ended", metadata: ["peer": "\(peer?.description ?? "?")", "reason": "\(error)"])
        }
    }
}
