import HypervisionCore
import HypervisionIngest
import Logging
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle

/// What one datagram holds.
public enum DatagramFormat: String, Sendable, Hashable {
    /// One JSON ping (the contract's ping object).
    case jsonPing
    /// One Cursor-on-Target `<event>` (TAK clients' UDP output).
    case cursorOnTarget

    func decode(_ bytes: UnsafeRawBufferPointer) -> JSONPingDecoder.Item {
        switch self {
        case .jsonPing:
            return JSONPingDecoder().decodeLine(bytes)
        case .cursorOnTarget:
            switch CoTDecoder().decode(bytes) {
            case .success(let event):
                var ping = event.ping
                ping.callsign = event.callsign
                return .ping(ping)
            case .failure(let error): return .invalid(error)
            }
        }
    }
}

/// Settings of a UDP ingest port.
public struct UDPIngestConfiguration: Sendable, Hashable {
    public var host: String = "127.0.0.1"
    public var port: Int = 7401
    /// Senders allowed, since a datagram carries no credentials.
    public var allowedNetworks: AllowedNetworks = .loopback
    /// Socket receive buffer: room for bursts while a batch is being written.
    public var receiveBufferBytes: Int = 4 << 20
    public var format: DatagramFormat = .jsonPing
    /// The config section, named in log lines (`ingest.udp`, `ingest.cot`).
    public var name: String = "ingest.udp"
    public init() {}
}

/// One ping per datagram (up to 64 KiB): a JSON ping, or a Cursor-on-Target event. There is no
/// answer on UDP: refused datagrams are counted by code and logged at a bounded rate.
public final class UDPIngestServer: Service, Sendable {
    private let configuration: UDPIngestConfiguration
    private let intake: PingIntake
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    private let refusedLog = RateLimitedLog()
    private let notAllowed: Counter

    public init(
        configuration: UDPIngestConfiguration, intake: PingIntake, logger: Logger, metricsFactory: any MetricsFactory,
        onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.intake = intake
        self.logger = logger
        self.onBound = onBound
        notAllowed = Counter(
            label: "hypervision_ingest_not_allowed_total", dimensions: [("port", configuration.name)], factory: metricsFactory)
    }

    public func run() async throws {
        let configuration = self.configuration
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(configuration.receiveBufferBytes))
            // NIO reads 2048-byte datagrams by default; a ping batch may be larger.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ReadBurstBatchHandler<AddressedEnvelope<ByteBuffer>>(maximumLines: 1_000))
                    return try NIOAsyncChannel<[AddressedEnvelope<ByteBuffer>], AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel)
                }
            }
        logger.notice(
            "UDP ingest listening",
            metadata: ["address": "\(channel.channel.localAddress?.description ?? "?")", "format": "\(configuration.format.rawValue)"])
        onBound(channel.channel.localAddress)
        let intake = self.intake
        let logger = self.logger
        let notAllowed = self.notAllowed
        let refusedLog = self.refusedLog
        try await channel.executeThenClose { inbound, _ in
            try await intake.readWhileStoring(failed: { error, count in
                refusedLog.log { held in
                    logger.error("UDP pings not stored", metadata: ["pings": "\(count)", "reason": "\(error)", "held_back": "\(held)"])
                }
            }) { queue in
                for try await datagrams in inbound.cancelOnGracefulShutdown() {
                    var items: [JSONPingDecoder.Item] = []
                    var senders: [SocketAddress] = []
                    for datagram in datagrams {
                        guard configuration.allowedNetworks.contains(datagram.remoteAddress) else {
                            notAllowed.increment()
                            refusedLog.log { held in
                                logger.warning(
                                    "UDP datagram from a network not in \(configuration.name).allowedNetworks",
                                    metadata: ["sender": "\(datagram.remoteAddress)", "held_back": "\(held)"])
                            }
                            continue
                        }
                        var data = datagram.data
                        // A trailing newline (nc, logger scripts) is not part of the ping.
                        while let last = data.readableBytesView.last, last == 0x0A || last == 0x0D {
                            data.moveWriterIndex(to: data.writerIndex - 1)
                        }
                        items.append(data.withUnsafeReadableBytes { configuration.format.decode($0) })
                        senders.append(datagram.remoteAddress)
                    }
                    guard !items.isEmpty else { continue }
                    let prepared = intake.prepare(items)
                    for (index, error) in prepared.rejected {
                        refusedLog.log { held in
                            logger.warning(
                                "UDP ping refused",
                                metadata: ["sender": "\(senders[index])", "code": "\(error.code)", "reason": "\(error.message)",
                                           "held_back": "\(held)"])
                        }
                    }
                    guard !prepared.pings.isEmpty else { continue }
                    guard await queue.push(prepared, weight: prepared.pings.count) else { return }
                }
            }
        }
    }
}
