import HypervisionCore
import HypervisionIngest
import HypervisionStore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Settings of the NDJSON-over-TCP ingest port.
public struct NDJSONIngestConfiguration: Sendable, Hashable {
    public var host: String = "127.0.0.1"
    public var port: Int = 7401
    /// Longest accepted line; a longer one closes the connection with `line_too_long`.
    public var maximumLineBytes: Int = 64 * 1024
    /// Most lines gathered into one writer submission.
    public var maximumBatchLines: Int = 1_000
    /// A connection silent for this long (or not reading our answers) is closed.
    public var idleTimeout: TimeAmount = .seconds(300)
    /// Connections beyond this are refused with `too_many_connections`.
    public var maximumConnections: Int = 1_024
    public init() {}
}

/// NDJSON pings over TCP for AVL gateways (protocol: ``NDJSONIngestProtocol``): one ping per
/// line, acknowledgements once durable, errors per refused line; bounded lines, idle and
/// connection limits.
public final class NDJSONIngestServer: Service, Sendable {
    private let configuration: NDJSONIngestConfiguration
    private let intake: PingIntake
    private let authority: TokenAuthority
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    private let connections: ConnectionLimit
    private let decoder = JSONPingDecoder()

    public init(
        configuration: NDJSONIngestConfiguration, intake: PingIntake, authority: TokenAuthority, logger: Logger,
        onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.intake = intake
        self.authority = authority
        self.logger = logger
        self.onBound = onBound
        self.connections = ConnectionLimit(maximum: configuration.maximumConnections)
    }

    public func run() async throws {
        let configuration = self.configuration
        let server = try await TCPListener.bind(host: configuration.host, port: configuration.port) { channel in
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(
                IdleStateHandler(readTimeout: configuration.idleTimeout, writeTimeout: configuration.idleTimeout))
            // LineBasedFrameDecoder has no cap of its own: the buffer limit is the line limit.
            try pipeline.addHandler(
                ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: configuration.maximumLineBytes))
            try pipeline.addHandler(LineBatchHandler(maximumLines: configuration.maximumBatchLines))
            try pipeline.addHandler(IdleConnectionCloser())
            return try NIOAsyncChannel<[ByteBuffer], ByteBuffer>(wrappingChannelSynchronously: channel)
        }
        logger.notice("NDJSON ingest listening", metadata: ["address": "\(server.channel.localAddress?.description ?? "?")"])
        onBound(server.channel.localAddress)
        try await TCPListener.serve(server) { await self.serve($0) }
    }

    private func serve(_ connection: NIOAsyncChannel<[ByteBuffer], ByteBuffer>) async {
        let admitted = connections.admit()
        defer { if admitted { connections.release() } }
        let peer = connection.channel.remoteAddress?.description ?? "?"
        do {
            try await connection.executeThenClose { inbound, outbound in
                guard admitted else {
                    try await outbound.write(ByteBuffer(string: NDJSONIngestProtocol.fatal(
                        code: "too_many_connections", message: "the server holds \(configuration.maximumConnections) connections; retry later",
                        retry: true)))
                    return
                }
                do {
                    try await self.session(inbound: inbound, outbound: outbound)
                } catch let error as ByteToMessageDecoderError.PayloadTooLargeError {
                    _ = error
                    intake.countRejectedBody()
                    try await outbound.write(ByteBuffer(string: NDJSONIngestProtocol.fatal(
                        code: "line_too_long", message: "a line is longer than \(configuration.maximumLineBytes) bytes")))
                }
            }
        } catch {
            logger.debug("NDJSON connection ended", metadata: ["peer": "\(peer)", "reason": "\(error)"])
        }
    }

    private func session(
        inbound: NIOAsyncChannelInboundStream<[ByteBuffer]>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws {
        var authenticated = !authority.isEnabled
        var nextLine: Int64 = 1
        for try await lines in inbound.cancelOnGracefulShutdown() {
            var replies = ByteBuffer()
            var items: [JSONPingDecoder.Item] = []
            var numbers: [Int64] = []
            items.reserveCapacity(lines.count)
            for var line in lines {
                if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
                if !authenticated {
                    let token = NDJSONIngestProtocol.authToken(Array(line.readableBytesView))
                    switch authority.authorize(secret: token, for: .ingest) {
                    case .allowed:
                        authenticated = true
                        replies.writeString(NDJSONIngestProtocol.authOK)
                        continue
                    case .unauthenticated(let reason), .forbidden(let reason):
                        replies.writeString(NDJSONIngestProtocol.fatal(
                            code: "unauthorized", message: token == nil ? "the first line must be {\"type\":\"auth\",\"token\":\"…\"}" : reason))
                        try await outbound.write(replies)
                        return
                    }
                }
                if line.readableBytes == 0 { continue }  // blank lines are not pings
                items.append(line.withUnsafeReadableBytes { decoder.decodeLine($0) })
                numbers.append(nextLine)
                nextLine += 1
            }
            if !items.isEmpty {
                do {
                    let report = try await intake.submit(items)
                    for (index, error) in report.rejected {
                        replies.writeString(NDJSONIngestProtocol.rejected(line: numbers[index], error))
                    }
                    replies.writeString(NDJSONIngestProtocol.ack(
                        through: numbers.last!, accepted: report.accepted, duplicates: report.duplicates, rejected: report.rejected.count))
                } catch {
                    replies.writeString(NDJSONIngestProtocol.fatal(
                        code: error.code.rawValue, message: "\(error.message); lines from \(numbers.first!) on were not stored",
                        retry: error.code != .rejectedByDatabase))
                    try await outbound.write(replies)
                    return
                }
            }
            if replies.readableBytes > 0 { try await outbound.write(replies) }
        }
    }
}
