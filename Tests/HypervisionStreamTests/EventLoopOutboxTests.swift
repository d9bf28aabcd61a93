import NIOCore
import NIOEmbedded
import Testing

@testable import HypervisionStream

/// The outbox writes each channel's lines in the order they were queued, one buffer for a line
/// shared by many channels, and a close only after the lines queued before it.
@Suite struct EventLoopOutboxTests {
    @Test func queuedOffTheLoopLinesGoOutInOrderSharingOneBufferAndACloseComesLast() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let outbox = EventLoopOutbox(eventLoop: loop)
        let a = NIOAsyncTestingChannel(loop: loop), b = NIOAsyncTestingChannel(loop: loop)
        try await a.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        try await b.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        let sinkA = ChannelSink(channel: a, outbox: outbox), sinkB = ChannelSink(channel: b, outbox: outbox)
        let shared: [UInt8] = Array("{\"type\":\"patch\",\"seq\":2}\n".utf8)
        // From this task, not the loop (as a round does): nothing is scheduled until the hand-over.
        sinkA.send(Array("{\"type\":\"scene\",\"seq\":1}\n".utf8))
        sinkA.send(shared)
        sinkB.send(shared)
        sinkB.close()
        await loop.run()
        #expect(try await a.readOutbound(as: ByteBuffer.self) == nil)
        #expect(b.isActive)
        // Every sink of the publish hands over: one drain takes all four.
        sinkA.handOver()
        sinkB.handOver()
        await loop.run()

        let firstA = try #require(try await a.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: firstA) == "{\"type\":\"scene\",\"seq\":1}\n")
        let secondA = try #require(try await a.readOutbound(as: ByteBuffer.self))
        let onlyB = try #require(try await b.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: secondA) == "{\"type\":\"patch\",\"seq\":2}\n" && onlyB == secondA)
        // The same storage: the line was copied into a buffer once for both channels.
        secondA.withUnsafeReadableBytes { x in onlyB.withUnsafeReadableBytes { y in #expect(x.baseAddress == y.baseAddress) } }
        #expect(try await a.readOutbound(as: ByteBuffer.self) == nil)
        #expect(try await b.readOutbound(as: ByteBuffer.self) == nil)
        #expect(a.isActive && !b.isActive)

        // Later lines schedule a drain of their own.
        sinkA.send(shared)
        sinkA.handOver()
        await loop.run()
        #expect(try await a.readOutbound(as: ByteBuffer.self) == secondA)
        _ = try? await a.finish()
        try await loop.shutdownGracefully()
    }
}
