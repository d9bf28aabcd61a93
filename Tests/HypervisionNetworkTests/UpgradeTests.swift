import HypervisionNetwork
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOWebSocket
import Testing

/// The deadline handler inside NIO's own upgradable pipeline, as Hummingbird builds it for the
/// API port: a WebSocket upgrade still completes, and then the handler is gone.
@Suite struct UpgradeTests {
    @Test func aWebSocketUpgradeCompletesThroughTheDeadlineHandler() throws {
        let channel = EmbeddedChannel()
        let sync = channel.pipeline.syncOperations
        let handler = HTTPDeadlineHandler(deadlines: .init(header: .seconds(10), body: .seconds(30), idle: .seconds(60)))
        try sync.addHandler(handler.bytesObserver, position: .first)
        let upgrader = NIOTypedWebSocketServerUpgrader<Bool>(
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in channel.eventLoop.makeSucceededFuture(true) })
        var configuration = NIOUpgradableHTTPServerPipelineConfiguration<Bool>(
            upgradeConfiguration: .init(upgraders: [upgrader], notUpgradingCompletionHandler: { channel in
                channel.eventLoop.makeSucceededFuture(false)
            }))
        configuration.enablePipelining = false
        configuration.enableErrorHandling = false
        configuration.enableResponseHeaderValidation = false
        let upgraded = try sync.configureUpgradableHTTPServerPipeline(configuration: configuration)
        try handler.install(in: sync)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: [
            "GET /api/v1/walls/w/stream HTTP/1.1", "Host: a", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "", "",
        ].joined(separator: "\r\n")))
        channel.embeddedEventLoop.run()
        var answer = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { answer += String(buffer: buffer) }
        #expect(answer.hasPrefix("HTTP/1.1 101"), "\(answer)")
        var result: Bool?
        upgraded.assumeIsolated().whenSuccess { result = $0 }
        channel.embeddedEventLoop.run()
        #expect(result == true, "the upgrade did not complete")
        #expect(throws: (any Error).self) { try sync.handler(type: HTTPDeadlineHandler.self) }
        channel.embeddedEventLoop.advanceTime(by: .seconds(3_600))
        #expect(channel.isActive)
    }
}
