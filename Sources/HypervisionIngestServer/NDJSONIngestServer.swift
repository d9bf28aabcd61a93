import HypervisionCore
import HypervisionIngest
import HypervisionStore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Settings of the NDJSON-over-TCP ingest port.
public struct NDJSONIngestConfiguration: Sendable, Hashable {
    public var host: String = "127.0.0.1"
    public var port: Int = 7401
    /// Longest accepted line; a longer one closes the connection with `line_too_long`.
    public var maximumLineBytes: Int = 64 * 1024
    /// Most lines gathered from one read burst.
    public var maximumBatchLines: Int = 1_000
    /// Most lines of one connection read and not yet acknowledged; beyond, reading pauses until
    /// the writer catches up (TCP then slows the sender).
    public var maximumPendingLines: Int = 20_000
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
    private let tls: TLSConfiguration?
    private let intake: PingIntake
    private let authority: TokenAuthority
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    private let connections: ConnectionLimit
    private let decoder = JSONPingDecoder()

    public init(
        configuration: NDJSONIngestConfiguration, tls: TLSConfiguration? = nil, intake: PingIntake, authority: TokenAuthority,
        logger: Logger, onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.tls = tls
        self.intake = intake
        self.authority = authority
        self.logger = logger
        self.onBound = onBound
        self.connections = ConnectionLimit(maximum: configuration.maximumConnections)
    }

    public func run() async throws {
        let configuration = self.configuration
        let server = try await TCPListener.bind(host: configuration.host, port: configuration.port, tls: tls) { channel in
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(
                IdleStateHandler(readTimeout: configuration.idleTimeout, writeTimeout: configuration.idleTimeout))
            try pipeline.addHandler(LineFraming.handler(maximumLineBytes: configuration.maximumLineBytes))
            try pipeline.addHandler(LineBatchHandler(maximumLines: configuration.maximumBatchLines))
            try pipeline.addHandler(IdleConnectionCloser())
            return try NIOAsyncChannel<[ByteBuffer], ByteBuffer>(wrappingChannelSynchronously: channel)
        }
        logger.notice(
            "NDJSON ingest listening", metadata: ["address": "\(server.channel.localAddress?.description ?? "?")", "tls": "\(tls != nil)"])
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

    /// What the reader hands the storer: lines validated and already on the live picture.
    private struct ReadBatch: Sendable {
        /// Answers owed before this batch's (the auth confirmation), kept in order with the acks.
        var leadingReplies: String = ""
        var prepared = PingIntake.Prepared()
        /// The connection's line number of each item of `prepared`'s submission.
        var numbers: [Int64] = []
    }

    /// Why the reader stopped early.
    private enum ReaderEnd: Sendable {
        case endOfStream
        case unauthorized(String)
        case failed(any Error)
    }

    /// One connection: a reader that validates each burst of lines and shows it on the live
    /// picture at once, and a storer that makes what piled up durable in one submission and
    /// acknowledges it. The wall never waits for a commit; the sender's acks still do.
    private func session(
        inbound: NIOAsyncChannelInboundStream<[ByteBuffer]>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws {
        let queue = StoreQueue<ReadBatch>(limit: configuration.maximumPendingLines)
        let readerEnd = try await withThrowingTaskGroup(of: ReaderEnd?.self) { group in
            group.addTask {
                defer { queue.finish() }
                return await self.read(inbound, into: queue)
            }
            group.addTask {
                try await self.storeAndAcknowledge(queue, outbound: outbound)
                return nil
            }
            var readerEnd: ReaderEnd = .endOfStream
            do {
                while let result = try await group.next() {
                    if let result { readerEnd = result }
                }
            } catch {
                // The storer could not store: it said why on the connection; stop reading.
                queue.abandon()
                group.cancelAll()
                throw error
            }
            return readerEnd
        }
        switch readerEnd {
        case .endOfStream: return
        case .unauthorized(let line): try await outbound.write(ByteBuffer(string: line))
        case .failed(let error): throw error
        }
    }

    private func read(_ inbound: NIOAsyncChannelInboundStream<[ByteBuffer]>, into queue: StoreQueue<ReadBatch>) async -> ReaderEnd {
        var authenticated = !authority.isEnabled
        var nextLine: Int64 = 1
        do {
            for try await lines in inbound.cancelOnGracefulShutdown() {
                var batch = ReadBatch()
                var items: [JSONPingDecoder.Item] = []
                items.reserveCapacity(lines.count)
                batch.numbers.reserveCapacity(lines.count)
                for var line in lines {
                    if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
                    if !authenticated {
                        let token = NDJSONIngestProtocol.authToken(Array(line.readableBytesView))
                        switch authority.authorize(secret: token, for: .ingest) {
                        case .allowed:
                            authenticated = true
                            batch.leadingReplies += NDJSONIngestProtocol.authOK
                            continue
                        case .unauthenticated(let reason), .forbidden(let reason):
                            return .unauthorized(NDJSONIngestProtocol.fatal(
                                code: "unauthorized", message: token == nil ? "the first line must be {\"type\":\"auth\",\"token\":\"…\"}" : reason))
                        }
                    }
                    if line.readableBytes == 0 { continue }  // blank lines are not pings
                    items.append(line.withUnsafeReadableBytes { decoder.decodeLine($0) })
                    batch.numbers.append(nextLine)
                    nextLine += 1
                }
                if items.isEmpty && batch.leadingReplies.isEmpty { continue }
                batch.prepared = intake.prepare(items)
                guard await queue.push(batch, weight: items.count) else { return .endOfStream }
            }
            return .endOfStream
        } catch {
            return .failed(error)
        }
    }

    /// Takes what the reader queued, stores it as one submission, and answers: refused lines,
    /// then one ack through the last line. A writer failure is explained and ends the connection.
    private func storeAndAcknowledge(_ queue: StoreQueue<ReadBatch>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        while let batches = await queue.takeAll() {
            var merged = PingIntake.Prepared()
            var numbers: [Int64] = []
            var replies = ByteBuffer()
            for batch in batches {
                replies.writeString(batch.leadingReplies)
                merged.append(batch.prepared)
                numbers.append(contentsOf: batch.numbers)
            }
            let weight = numbers.count
            if !numbers.isEmpty {
                do {
                    let report = try await intake.store(merged)
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
                    throw error
                }
            }
            queue.done(weight: weight)
            if replies.readableBytes > 0 { try await outbound.write(replies) }
        }
    }
}
