import HummingbirdCore
import HypervisionNetwork
import Logging
import NIOCore
import HTTPTypes
import HypervisionCore

/// Admission and deadlines around one of Hummingbird's HTTP child channels (the API port with
/// its WebSocket upgrade, the OsmAnd port), with TLS inside or not.
///
/// Each accepted connection is first admitted by the port's ``ConnectionGate`` (a cap in all and
/// per client address). A refused one gets no HTTP pipeline at all: a ``RefusalHandler`` answers
/// `503` with `Retry-After` and `{"error":{"code":"too_many_connections",…}}` (nothing on a TLS
/// port, where the bytes would not be TLS) and closes it. An admitted one gets an
/// ``HTTPDeadlineHandler``: the request head, the body and keep-alive idleness each have their
/// deadline, including before Hummingbird has set up its own handlers (which it does only once
/// the first head is known).
struct GuardedHTTPChannel<Base: ServerChildChannel>: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        /// Nil for a refused connection: nothing to handle.
        let base: Base.Value?
        let channel: any Channel
    }

    let base: Base
    let gate: ConnectionGate
    let deadlines: HTTPPhaseMachine.Deadlines
    /// Whether refusals may be written as plain HTTP (false on a TLS port).
    let plainText: Bool
    /// What a refused client is told to wait before retrying.
    var retryAfterSeconds = 5

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let ticket: AdmissionTicket
        switch gate.admit(channel.remoteAddress, authenticated: true) {
        case .failure(let reason):
            let message = plainText ? Self.refusal(reason, retryAfterSeconds: retryAfterSeconds) : nil
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(RefusalHandler(message: message))
                return Value(base: nil, channel: channel)
            }
        case .success(let admitted):
            ticket = admitted
        }
        gate.release(ticket, whenClosed: channel)
        let gate = self.gate
        let handler = NIOLoopBound(
            HTTPDeadlineHandler(deadlines: deadlines, onExpiry: { phase in gate.deadlineExpired(phase) }), eventLoop: channel.eventLoop)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(handler.value.bytesObserver, position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            try handler.value.install(in: channel.pipeline.syncOperations)
            return Value(base: value, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard let admitted = value.base else { return }
        await base.handle(value: admitted, logger: logger)
    }

    /// The whole `503` response of a refused connection, written before any request is read.
    static func refusal(_ reason: AdmissionRefusal, retryAfterSeconds: Int) -> ByteBuffer {
        let body = APIError(.serviceUnavailable, "too_many_connections", "\(reason.explanation); retry in \(retryAfterSeconds) s").body.encoded()
        let head = [
            "HTTP/1.1 503 Service Unavailable", "Content-Type: application/json", "Content-Length: \(body.utf8.count)",
            "Retry-After: \(retryAfterSeconds)", "Connection: close",
        ]
        return ByteBuffer(string: head.joined(separator: "\r\n") + "\r\n\r\n" + body)
    }
}
