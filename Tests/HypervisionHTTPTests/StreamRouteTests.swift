import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import WSCore
import HypervisionCore
import HypervisionHTTP
import HypervisionNetwork
@testable import HypervisionStream
import Logging
import Metrics
import Synchronization
import Testing

/// The WebSocket stream (`router.ws`) on the API port's own server, in process on a loopback
/// port (`.live`): the upgrade goes through the port's admission and deadlines, every refusal
/// is sent as an `error` message before the close, and a stream that never subscribes is told
/// so at its deadline.
@Suite struct StreamRouteTests {
    /// The messages a WebSocket client receives until the server closes the stream.
    static func messages(_ client: some TestClientProtocol, _ path: String, send first: String?) async throws -> [String] {
        let received = Mutex<[String]>([])
        try await client.ws(path) { inbound, outbound, _ in
            if let first { try await outbound.write(.text(first)) }
            for try await message in inbound.messages(maxSize: 1 << 22) {
                if case .text(let text) = message { received.withLock { $0.append(text) } }
            }
        }
        return received.withLock { $0 }
    }

    @Test(.timeLimit(.minutes(1)))
    func theStreamSubscribesRefusesWithAnErrorAndHasASubscribeDeadline() async throws {
        let walls = makeWalls()
        try walls.define(json: try JSONValue(parsing: wallDefinition("ops")), origin: .api)
        walls.runRound()
        let gate = ConnectionGate(
            port: "http", limits: AdmissionLimits(maximumConnections: 16, maximumPerAddress: 16), metricsFactory: NOOPMetricsHandler.instance)
        var stream = WallStreamRoutes(hub: walls.hub, authority: Tokens.authority, gate: gate)
        stream.subscribeTimeout = .milliseconds(300)
        let router = apiRouter { WallRoutes(walls: walls, authority: Tokens.authority).addRoutes(to: $0) }
        let app = Application(router: router, server: stream.serverBuilder(deadlines: .init(), tls: nil))
        try await app.test(.live) { client in
            // A renderer's token: the scene first, the one GET …/scene serves.
            let served = try await client.call(.get, "/api/v1/walls/ops/scene", token: "renderer-secret")
            let received = Mutex<String?>(nil)
            try await client.ws("/api/v1/walls/ops/stream") { inbound, outbound, _ in
                try await outbound.write(.text(#"{"type":"subscribe","wall":"ops","token":"renderer-secret"}"#))
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    if case .text(let text) = message { received.withLock { $0 = text } }
                    break
                }
            }
            let first = try JSONValue(parsing: Array((received.withLock { $0 } ?? "").utf8))
            #expect(first["type"] == "scene" && first["scene"] == served.json, "\(first.encoded().prefix(300))")

            // The token as ?token=, the subscribe message without one.
            let byQuery = Mutex<String?>(nil)
            try await client.ws("/api/v1/walls/ops/stream?token=renderer-secret") { inbound, outbound, _ in
                try await outbound.write(.text(#"{"type":"subscribe","wall":"ops"}"#))
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    if case .text(let text) = message { byQuery.withLock { $0 = text } }
                    break
                }
            }
            #expect(byQuery.withLock { $0 }?.contains(#""type":"scene""#) == true)

            // Every refusal: its error message, then the close.
            for (request, code) in [
                (#"{"type":"subscribe","wall":"ops","token":"wrong-secret"}"#, "unauthorized"),
                (#"{"type":"subscribe","wall":"ops","token":"ingest-secret"}"#, "forbidden"),
                (#"{"type":"subscribe","wall":"other","token":"admin-secret"}"#, "bad_request"),
                (#"{"type":"subscribe","wall":"ops","display":"r9c9","token":"admin-secret"}"#, "not_found"),
                ("not json", "bad_request"),
            ] {
                let messages = try await Self.messages(client, "/api/v1/walls/ops/stream", send: request)
                #expect(messages.count == 1 && messages.first?.contains(#""code":"\#(code)""#) == true, "\(request): \(messages)")
            }
            let silent = try await Self.messages(client, "/api/v1/walls/ops/stream", send: nil)
            #expect(silent.count == 1 && silent[0].contains("no subscribe message within"), "\(silent)")

            // Anything else on the port stays plain HTTP.
            #expect(try await client.call(.get, "/api/v1/walls/ops/stream", token: "query-secret").errorCode == "not_found")
        }
    }
}
