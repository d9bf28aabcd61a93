import Foundation
import HypervisionCore
import HypervisionStore
import HypervisionTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Several daemons on one database: each shows the pings the others take (`cluster.node`,
/// LISTEN/NOTIFY), catches up after losing its listening connection, and refuses a node name
/// another daemon holds.
@Suite(.serialized) struct ClusterTests {
    static func configuration(node: String) -> String { WallAPITests.configuration + "cluster:\n  node: \(node)\n" }
    static let walls = ["walls/ops.json": WallAPITests.definition(id: "ops")]

    static func ping(_ unit: String, latitude: Double, secondsAgo: Double) -> String {
        #"{"unit":"\#(unit)","time":"\#(Timestamp.now().adding(seconds: -secondsAgo).rfc3339)","lat":\#(latitude),"lon":2.3301}"#
    }

    /// The latitude `daemon` shows for `unit`, once it is `expected` (nil if not within `timeout`).
    static func latitude(of unit: String, on daemon: APIDaemon, becomes expected: Double, timeout: Duration = .seconds(5)) async throws
        -> Double?
    {
        let deadline = ContinuousClock.now + timeout
        var last: Double?
        while ContinuousClock.now < deadline {
            let answer = try await daemon.call("GET", "/api/v1/units/\(unit)", token: "query-secret")
            last = (field(answer.json, "geometry", "coordinates") as? [Double])?.last
            if last == expected { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        return last
    }

    static func waitUntilListening(_ daemon: APIDaemon) async throws -> Bool {
        for _ in 0..<100 {
            if try await daemon.metric("hypervision_cluster_listening") == 1 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test(.timeLimit(.minutes(3))) func aPingTakenByOneDaemonMovesTheUnitOnTheOthers() async throws {
        let a = try await APIDaemon("cluster-a", extraConfiguration: Self.configuration(node: "cic-a"), files: Self.walls)
        let b = try await APIDaemon(
            "cluster-b", extraConfiguration: Self.configuration(node: "cic-b"), files: Self.walls, database: a.endpoint)
        #expect(try await Self.waitUntilListening(a), "\(a.process.log)")
        #expect(try await Self.waitUntilListening(b), "\(b.process.log)")

        // A renderer subscribed to B sees a unit that only A was told about.
        let renderer = try LineClient(port: b.subscriptionsPort)
        renderer.send(#"{"type":"subscribe","wall":"ops","token":"admin-secret"}"# + "\n")
        let first = await renderer.readLine()
        #expect(first?.contains(#""type":"scene""#) == true, "\(first ?? "nothing")")
        #expect(try await a.call("POST", "/api/v1/pings", Self.ping("CL-1", latitude: 48.8601, secondsAgo: 3), token: "ingest-secret").status == 200)
        var seen = false
        let deadline = ContinuousClock.now + .seconds(5)
        while !seen, ContinuousClock.now < deadline, let line = await renderer.readLine(timeout: .seconds(5)) {
            seen = line.contains("CL-1")
        }
        #expect(seen, "the renderer on B never showed CL-1; B's log:\n\(b.process.log.suffix(3_000))")

        // Queries on B answer as on A, and the other way round.
        #expect(try await Self.latitude(of: "CL-1", on: b, becomes: 48.8601) == 48.8601)
        #expect(try await b.call("POST", "/api/v1/pings", Self.ping("CL-1", latitude: 48.8702, secondsAgo: 1), token: "ingest-secret").status == 200)
        #expect(try await Self.latitude(of: "CL-1", on: a, becomes: 48.8702) == 48.8702)
        let box = "/api/v1/units?bbox=2.25,48.81,2.42,48.91"
        let onA = try await a.call("GET", box, token: "query-secret"), onB = try await b.call("GET", box, token: "query-secret")
        #expect(onA.status == 200 && field(onA.json, "matched") as? Int == 1 && field(onB.json, "matched") as? Int == 1, "\(onA.text) / \(onB.text)")

        // Each counted what it sent and heard; neither heard its own pings back.
        #expect(try await a.metric("hypervision_cluster_pings_total", ["direction": "published"]) == 1)
        #expect(try await b.metric("hypervision_cluster_pings_total", ["direction": "received"]) == 1)
        #expect(try await a.metric("hypervision_cluster_pings_total", ["direction": "received"]) == 1)
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }

    @Test(.timeLimit(.minutes(3))) func aDaemonThatLostItsListeningConnectionCatchesUpFromTheStoredPositions() async throws {
        let a = try await APIDaemon("cluster-catch-a", extraConfiguration: Self.configuration(node: "cic-a"))
        let b = try await APIDaemon("cluster-catch-b", extraConfiguration: Self.configuration(node: "cic-b"), database: a.endpoint)
        #expect(try await Self.waitUntilListening(b), "\(b.process.log)")

        // B's listening connection is ended by the server (as a failover or a network cut would):
        // what A publishes meanwhile never reaches B as a notification.
        let ended = try await TestPostgres.integers(
            a.endpoint, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hypervisiond cic-b live feed') t")
        #expect(ended == [1])
        #expect(try await a.call("POST", "/api/v1/pings", Self.ping("CL-2", latitude: 48.8555, secondsAgo: 2), token: "ingest-secret").status == 200)
        // It joins again, reloads the stored positions, and shows the ping it never heard.
        #expect(try await Self.latitude(of: "CL-2", on: b, becomes: 48.8555, timeout: .seconds(10)) == 48.8555, "\(b.process.log.suffix(3_000))")
        #expect(b.process.log.contains("live feed: not listening"))
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }

    @Test(.timeLimit(.minutes(3))) func aSecondDaemonWithTheSameNodeNameStopsWithTheReason() async throws {
        let a = try await APIDaemon("cluster-dup-a", extraConfiguration: Self.configuration(node: "cic-a"))
        #expect(try await Self.waitUntilListening(a), "\(a.process.log)")
        let state = TestPostgres.makeBaseDirectory("cluster-dup-b")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let twin = try DaemonProcess(
            arguments: [
                "--database-url", "postgres:///\(a.endpoint.database)?host=\(a.endpoint.host)&user=\(a.endpoint.user)",
                "--http-port", "\(DaemonProcess.freePort())", "--state-dir", state,
            ],
            environment: ["HYPERVISION_CLUSTER_NODE": "cic-a"])
        #expect(await twin.waitForExit(timeout: .seconds(60)) == 78, "\(twin.log.suffix(3_000))")
        #expect(twin.log.contains(#"already runs as node "cic-a""#), "\(twin.log.suffix(3_000))")
        // The first daemon is not disturbed.
        #expect(try await a.metric("hypervision_cluster_listening") == 1)
        #expect(await a.stop() == 0)
    }
}
