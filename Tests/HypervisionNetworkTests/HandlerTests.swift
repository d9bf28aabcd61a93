import HypervisionNetwork
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

/// The handlers on EmbeddedChannel, with its virtual clock.
@Suite struct HandlerTests {
    static let peer = try! SocketAddress(ipAddress: "127.0.0.1", port: 4000)

    func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func aRefusedConnectionIsToldWhyAndClosed() throws {
        let channel = EmbeddedChannel(handler: RefusalHandler(message: ByteBuffer(string: "{\"type\":\"error\"}\n")))
        try channel.connect(to: Self.peer).wait()
        #expect(try outbound(channel) == "{\"type\":\"error\"}\n")
        #expect(!channel.isActive)
    }

    @Test func aRefusedConnectionOnATLSPortIsClosedSilently() throws {
        let channel = EmbeddedChannel(handler: RefusalHandler(message: nil))
        try channel.connect(to: Self.peer).wait()
        #expect(try outbound(channel).isEmpty)
        #expect(!channel.isActive)
    }

    final class Expiries: Sendable {
        let seen = Mutex<[DeadlineExpiry]>([])
        var all: [DeadlineExpiry] { seen.withLock { $0 } }
    }

    func lineChannel(expiries: Expiries) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ConnectionDeadlineHandler(
                startingPhase: (.authentication, .seconds(10)),
                farewell: { expiry in ByteBuffer(string: "bye: \(expiry.phase.rawValue)\n") },
                onExpiry: { expiry in expiries.seen.withLock { $0.append(expiry) } }))
        try channel.connect(to: Self.peer).wait()
        return channel
    }

    @Test func aClientThatDoesNotAuthenticateInTimeIsToldAndClosed() throws {
        let expiries = Expiries()
        let channel = try lineChannel(expiries: expiries)
        // Bytes that are not a valid auth line do not stop the clock: only the async side can say.
        try channel.writeInbound(ByteBuffer(string: "{\"type\":\"au"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(9_999))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try outbound(channel) == "bye: authentication\n")
        #expect(!channel.isActive)
        #expect(expiries.all == [.phase(.authentication)])
    }

    @Test func aCompletedPhaseStopsItsClock() throws {
        let expiries = Expiries()
        let channel = try lineChannel(expiries: expiries)
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        channel.triggerUserOutboundEvent(ConnectionPhaseCompleted(.authentication), promise: nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        #expect(expiries.all.isEmpty)
        _ = try channel.finish()
    }

    @Test func anIdleConnectionIsClosedAndCountedAsIdle() throws {
        // NIO's IdleStateHandler measures with the real clock, not EmbeddedEventLoop's: its
        // event is sent here as it would send it.
        let expiries = Expiries()
        let channel = try lineChannel(expiries: expiries)
        channel.triggerUserOutboundEvent(ConnectionPhaseCompleted(.authentication), promise: nil)
        channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.write)
        #expect(!channel.isActive)
        #expect(expiries.all == [.idleWriting])
        #expect(try outbound(channel) == "bye: idle\n")
    }

    // MARK: HTTP

    final class Phases: Sendable {
        let seen = Mutex<[ConnectionPhase]>([])
        var all: [ConnectionPhase] { seen.withLock { $0 } }
    }

    /// Answers every request with `200 ok` once its end is read, or with `status` when given.
    final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let status: HTTPResponseStatus
        init(status: HTTPResponseStatus = .ok) { self.status = status }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: status == .switchingProtocols ? "0" : "2")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            if status != .switchingProtocols { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func httpChannel(status: HTTPResponseStatus = .ok, phases: Phases) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let sync = channel.pipeline.syncOperations
        let deadlines = HTTPPhaseMachine.Deadlines(header: .seconds(10), body: .seconds(30), idle: .seconds(60))
        let handler = HTTPDeadlineHandler(deadlines: deadlines, onExpiry: { phase in phases.seen.withLock { $0.append(phase) } })
        try sync.addHandler(handler.bytesObserver, position: .first)
        try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
        try handler.install(in: sync)
        try sync.addHandler(Responder(status: status))
        try channel.connect(to: Self.peer).wait()
        return channel
    }

    @Test func aSlowlorisHeadGetsA408AtTheHeaderDeadline() throws {
        let phases = Phases()
        let channel = try httpChannel(phases: phases)
        for line in ["GET /api/v1/units/X HTTP/1.1\r\n", "Host: a\r\n", "X-Slow: 1\r\n"] {
            try channel.writeInbound(ByteBuffer(string: line))
            channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        let answer = try outbound(channel)
        #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout"), "\(answer)")
        #expect(answer.contains(#""code":"request_timeout""#))
        #expect(!channel.isActive)
        #expect(phases.all == [.header])
    }

    @Test func aTrickledBodyIsClosedAtTheBodyDeadline() throws {
        let phases = Phases()
        let channel = try httpChannel(phases: phases)
        try channel.writeInbound(ByteBuffer(string: "POST /api/v1/pings HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{"))
        // Past the header deadline: the head is complete, so only the body's counts.
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        try channel.writeInbound(ByteBuffer(string: "\"unit\""))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
        #expect(try outbound(channel).isEmpty, "no 408 in the middle of a request")
        #expect(phases.all == [.body])
    }

    @Test func keepAliveIdlesThenTheNextHeadHasItsOwnDeadline() throws {
        let phases = Phases()
        let channel = try httpChannel(phases: phases)
        try channel.writeInbound(ByteBuffer(string: "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(try outbound(channel).hasPrefix("HTTP/1.1 200 OK"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        try channel.writeInbound(ByteBuffer(string: "GET /readyz HT"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
        #expect(try outbound(channel).hasPrefix("HTTP/1.1 408"))
        #expect(phases.all == [.header])

        let quiet = try httpChannel(phases: phases)
        try quiet.writeInbound(ByteBuffer(string: "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n"))
        quiet.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(!quiet.isActive)
        #expect(phases.all == [.header, .idle])
    }

    @Test func aWebSocketUpgradeTakesTheHandlersOut() throws {
        let phases = Phases()
        let channel = try httpChannel(status: .switchingProtocols, phases: phases)
        try channel.writeInbound(ByteBuffer(string: "GET /api/v1/walls/w/stream HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(try outbound(channel).hasPrefix("HTTP/1.1 101"))
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: HTTPDeadlineHandler.self) }
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: HTTPDeadlineHandler.BytesObserver.self) }
        channel.embeddedEventLoop.advanceTime(by: .seconds(3_600))
        #expect(channel.isActive)
        #expect(phases.all.isEmpty)
    }

    @Test func stoppingTheServerClosesAConnectionThatSentNothing() throws {
        let phases = Phases()
        let channel = try httpChannel(phases: phases)
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!channel.isActive)
        #expect(phases.all.isEmpty, "a stop is not a deadline")
    }
}
