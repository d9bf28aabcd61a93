import HypervisionCore
import HypervisionIngest
import HypervisionNetwork
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Settings of the NDJSON-over-TCP ingest port.
public struct NDJSONIngestConfiguration: Sendable, Hashable {
    public var host: String = "127.0.0.1"
    public var port: Int = 7401
    /// Longest accepted line; a longer one closes the connection with `line_too_long`.
    public var maximumLineBytes: Int = 64 * 1024
    /// Longest first line while tokens are configured: it must be the auth line, a hundred bytes
    /// or so, and it is all an unauthenticated client may make the server hold.
    public var maximumAuthLineBytes: Int = 4 * 1024
    /// Most lines gathered from one read burst.
    public var maximumBatchLines: Int = 1_000
    /// Most lines of one connection read and not yet acknowledged; beyond, reading pauses until
    /// the writer catches up (TCP then slows the sender).
    public var maximumPendingLines: Int = 20_000
    /// A connection silent for this long (or not reading our answers) is closed.
    public var idleTimeout: TimeAmount = .seconds(300)
    /// The auth line must arrive within this time of connecting (when tokens are configured).
    public var authenticationTimeout: TimeAmount = .seconds(10)
    /// Authenticated connections (all connections when no tokens are configured); beyond, new
    /// ones are refused with `too_many_connections`.
    public var maximumConnections: Int = 1_024
    /// Connections that have not sent a valid auth line yet: a small budget of their own, so
    /// strangers cannot take the gateways' slots.
    public var maximumUnauthenticated: Int = 64
    /// Connections from one client address (IPv4, or IPv6 /64), authenticated or not.
    public var maximumConnectionsPerAddress: Int = 64
    /// Connections from one client address that have not authenticated yet: one address cannot
    /// fill the budget of ``maximumUnauthenticated``.
    public var maximumUnauthenticatedPerAddress: Int = 8
    public init() {}

    var admissionLimits: AdmissionLimits {
        AdmissionLimits(
            maximumConnections: maximumConnections, maximumUnauthenticated: maximumUnauthenticated,
            maximumPerAddress: maximumConnectionsPerAddress, maximumUnauthenticatedPerAddress: maximumUnauthenticatedPerAddress)
    }
}

/// NDJSON pings over TCP for AVL gateways (protocol: ``NDJSONIngestProtocol``): one ping per
/// line, acknowledgements once durable, errors per refused line; bounded lines, deadlines for
/// the auth line and for idleness, and admission limits (see ``NDJSONIngestConfiguration``).
///
/// A gateway may shut its side of the connection down after its last line: everything it sent
/// is stored and acknowledged before the connection closes. On a graceful stop, every
/// connection is told `shutting_down` once what it sent is stored and acknowledged.
public final class NDJSONIngestServer: Service, Sendable {
    private let configuration: NDJSONIngestConfiguration
    private let tls: TLSConfiguration?
    private let intake: PingIntake
    private let authority: TokenAuthority
    private let logger: Logger
    private let onBound: @Sendable (SocketAddress?) -> Void
    /// Admission and the port's connection metrics (`port="ingest.tcp"`).
    public let gate: ConnectionGate
    private let decoder = JSONPingDecoder()

    public init(
        configuration: NDJSONIngestConfiguration, tls: TLSConfiguration? = nil, intake: PingIntake, authority: TokenAuthority,
        logger: Logger, metricsFactory: any MetricsFactory, onBound: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.tls = tls
        self.intake = intake
        self.authority = authority
        self.logger = logger
        self.onBound = onBound
        self.gate = ConnectionGate(port: "ingest.tcp", limits: configuration.admissionLimits, metricsFactory: metricsFactory)
    }

    public func run() async throws {
        let configuration = self.configuration
        let authenticating = authority.isEnabled
        let gate = self.gate
        var options = TCPListener.Options()
        // A gateway that shuts its side down after its last line still gets its acks.
        options.allowRemoteHalfClosure = true
        let idleSeconds = configuration.idleTimeout.nanoseconds / 1_000_000_000
        let authSeconds = configuration.authenticationTimeout.nanoseconds / 1_000_000_000
        let server = try await TCPListener.bind(
            host: configuration.host, port: configuration.port, tls: tls, options: options, gate: gate, authenticated: !authenticating,
            refusal: { reason in
                ByteBuffer(string: NDJSONIngestProtocol.fatal(
                    code: "too_many_connections", message: "\(reason.explanation); retry later", retry: true))
            }
        ) { channel, _ in
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(
                IdleStateHandler(readTimeout: configuration.idleTimeout, writeTimeout: configuration.idleTimeout))
            try pipeline.addHandler(
                ConnectionDeadlineHandler(
                    startingPhase: authenticating ? (.authentication, configuration.authenticationTimeout) : nil,
                    farewell: { expiry in
                        let line: String
                        switch expiry {
                        case .phase:
                            line = NDJSONIngestProtocol.fatal(
                                code: "auth_timeout", message: "no {\"type\":\"auth\",\"token\":\"…\"} line within \(authSeconds) s")
                        case .idleReading:
                            line = NDJSONIngestProtocol.fatal(code: "idle_timeout", message: "closing an idle connection (no data for \(idleSeconds) s)")
                        case .idleWriting:
                            line = NDJSONIngestProtocol.fatal(code: "idle_timeout", message: "closing an idle connection (answers not read)")
                        }
                        return ByteBuffer(string: line)
                    },
                    onExpiry: { gate.deadlineExpired($0.phase) }))
            try pipeline.addHandler(
                ByteToMessageHandler(
                    NDJSONLineDecoder(
                        firstLineLimit: authenticating ? min(configuration.maximumAuthLineBytes, configuration.maximumLineBytes)
                            : configuration.maximumLineBytes,
                        lineLimit: configuration.maximumLineBytes)))
            try pipeline.addHandler(LineBatchHandler(maximumLines: configuration.maximumBatchLines))
            return AcceptedConnection(try NIOAsyncChannel<[ByteBuffer], ByteBuffer>(wrappingChannelSynchronously: channel))
        }
        logger.notice(
            "NDJSON ingest listening", metadata: ["address": "\(server.channel.localAddress?.description ?? "?")", "tls": "\(tls != nil)"])
        onBound(server.channel.localAddress)
        try await TCPListener.serve(server) { connection, ticket in await self.serve(connection.channel, ticket: ticket) }
    }

    private func serve(_ connection: NIOAsyncChannel<[ByteBuffer], ByteBuffer>, ticket: AdmissionTicket) async {
        let peer = connection.channel.remoteAddress?.description ?? "?"
        do {
            try await connection.executeThenClose { inbound, outbound in
                do {
                    try await self.session(inbound: inbound, outbound: outbound, channel: connection.channel, ticket: ticket)
                } catch let error as LineTooLongError {
                    intake.countRejectedBody()
                    let message = error.isFirstLine && authority.isEnabled
                        ? "the first line is longer than \(error.limit) bytes: it must be {\"type\":\"auth\",\"token\":\"…\"}"
                        : "a line is longer than \(error.limit) bytes"
                    try await outbound.write(ByteBuffer(string: NDJSONIngestProtocol.fatal(code: "line_too_long", message: message)))
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

    /// Why the reader stopped.
    private enum ReaderEnd: Sendable {
        /// The client closed its side (or left): what it sent is stored and acknowledged.
        case endOfStream
        /// The daemon stops: what was read is stored and acknowledged, then the client is told.
        case shuttingDown
        /// The connection cannot go on: this line says why.
        case refused(String)
        case failed(any Error)
    }

    /// One connection: a reader that validates each burst of lines and shows it on the live
    /// picture at once, and a storer that makes what piled up durable in one submission and
    /// acknowledges it. The wall never waits for a commit; the sender's acks still do.
    private func session(
        inbound: NIOAsyncChannelInboundStream<[ByteBuffer]>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: any Channel,
        ticket: AdmissionTicket
    ) async throws {
        let queue = StoreQueue<ReadBatch>(limit: configuration.maximumPendingLines)
        let readerEnd = try await withThrowingTaskGroup(of: ReaderEnd?.self) { group in
            group.addTask {
                defer { queue.finish() }
                return await self.read(inbound, into: queue, channel: channel, ticket: ticket)
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
        case .shuttingDown:
            try await outbound.write(ByteBuffer(string: NDJSONIngestProtocol.fatal(
                code: "shutting_down", message: "the daemon is stopping; every line read is acknowledged above: resend what follows",
                retry: true)))
        case .refused(let line): try await outbound.write(ByteBuffer(string: line))
        case .failed(let error): throw error
        }
    }

    private func read(
        _ inbound: NIOAsyncChannelInboundStream<[ByteBuffer]>, into queue: StoreQueue<ReadBatch>, channel: any Channel, ticket: AdmissionTicket
    ) async -> ReaderEnd {
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
                            // Out of the small unauthenticated budget, into a gateway's slot.
                            if let refusal = gate.authenticate(ticket) {
                                return .refused(NDJSONIngestProtocol.fatal(
                                    code: "too_many_connections", message: "\(refusal.explanation); retry later", retry: true))
                            }
                            channel.triggerUserOutboundEvent(ConnectionPhaseCompleted(.authentication), promise: nil)
                            authenticated = true
                            batch.leadingReplies += NDJSONIngestProtocol.authOK
                            continue
                        case .unauthenticated(let reason), .forbidden(let reason):
                            return .refused(NDJSONIngestProtocol.fatal(
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
            // The loop also ends when the daemon stops (cancelOnGracefulShutdown): then the
            // client is told why, once what was read is acknowledged.
            return Task.isShuttingDownGracefully ? .shuttingDown : .endOfStream
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
