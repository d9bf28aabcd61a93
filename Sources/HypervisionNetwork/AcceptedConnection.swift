import NIOCore

/// A connection as a listening port hands it to its accept loop.
///
/// NIO's async server bootstrap can drop a connection it has already accepted and wrapped when
/// the listener stops at that very moment (apple/swift-nio#2637): the dropped `NIOAsyncChannel`
/// then traps, because its writer was never finished. Wrapped in this box, a dropped connection
/// is finished and closed here instead; a served one is untouched (`executeThenClose` finished
/// and closed it already, and both are idempotent). Shared by the ingest and subscription ports.
public final class AcceptedConnection<Inbound: Sendable, Outbound: Sendable>: Sendable {
    public let channel: NIOAsyncChannel<Inbound, Outbound>

    public init(_ channel: NIOAsyncChannel<Inbound, Outbound>) {
        self.channel = channel
    }

    deinit {
        (channel as any UnservedTeardown).finishWriter()
        channel.channel.close(promise: nil)
    }
}

/// Reaches the writer of a connection that never got to `executeThenClose`. NIO deprecates the
/// accessor in favour of that scoped method; going through a protocol keeps the one deliberate
/// use from warning at every build.
private protocol UnservedTeardown {
    func finishWriter()
}

extension NIOAsyncChannel: UnservedTeardown {
    @available(*, deprecated, message: "only for AcceptedConnection: a dropped connection never reached executeThenClose")
    func finishWriter() { outbound.finish() }
}
