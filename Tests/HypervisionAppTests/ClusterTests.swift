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

    /// The `seq` of a subscription line (0 when it has none).
    static func seq(_ line: String) -> UInt64 {
        guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return 0 }
        return (json["seq"] as? NSNumber)?.uint64Value ?? 0
    }

    /// Lines from `client` until `condition` holds for one (or `timeout`); returns them all.
    static func lines(_ client: LineClient, timeout: Duration = .seconds(10), until condition: (String) -> Bool) async -> [String] {
        var seen: [String] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, let line = await client.readLine(timeout: .seconds(2)) {
            seen.append(line)
            if condition(line) { break }
        }
        return seen
    }

    @Test(.timeLimit(.minutes(3))) func eachWallIsLaidOutByOneDaemonRelayedByTheOthersAndTakenOverWhenItsOwnerDies() async throws {
        let a = try await APIDaemon("cluster-own-a", extraConfiguration: Self.configuration(node: "cic-a"), files: Self.walls)
        let b = try await APIDaemon(
            "cluster-own-b", extraConfiguration: Self.configuration(node: "cic-b"), files: Self.walls, database: a.endpoint)
        defer {
            a.process.signal(SIGKILL)
            b.process.signal(SIGKILL)
        }
        let aListens = try await Self.waitUntilListening(a)
        let bListens = try await Self.waitUntilListening(b)
        #expect(aListens && bListens)
        // Exactly one of them lays the wall out.
        var owned: [Double] = []
        for _ in 0..<50 {
            owned = [try await a.metric("hypervision_cluster_walls_owned") ?? -1, try await b.metric("hypervision_cluster_walls_owned") ?? -1]
            if owned.reduce(0, +) == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(owned.sorted() == [0, 1], "walls owned: \(owned)")
        let (owner, relay) = owned[0] == 1 ? (a, b) : (b, a)

        // Each daemon lists both, with where they are reached and who lays out the wall.
        let ownerName = owner === a ? "cic-a" : "cic-b"
        let listing = try await Self.eventually(relay, "/api/v1/cluster") { $0.contains("cic-a") && $0.contains("cic-b") }
        let members = field(try? JSONSerialization.jsonObject(with: Data(listing.text.utf8)), "members") as? [[String: Any]] ?? []
        #expect(members.map { $0["node"] as? String } == ["cic-a", "cic-b"], "\(listing.text)")
        #expect(members.first { $0["node"] as? String == ownerName }?["walls"] as? [String] == ["ops"], "\(listing.text)")
        #expect(members.allSatisfy { ($0["subscriptions"] as? String)?.hasSuffix(":\(($0["node"] as? String) == "cic-a" ? a.subscriptionsPort : b.subscriptionsPort)") == true }, "\(listing.text)")
        #expect(try await a.call("GET", "/api/v1/cluster", token: nil).status == 401)

        // Renderers on both see the same versions, numbered by the owner, with the ping sent to
        // the relay daemon on both.
        let onOwner = try LineClient(port: owner.subscriptionsPort), onRelay = try LineClient(port: relay.subscriptionsPort)
        for client in [onOwner, onRelay] { client.send(#"{"type":"subscribe","wall":"ops","token":"admin-secret"}"# + "\n") }
        let firstOwner = await onOwner.readLine()
        let firstRelay = await onRelay.readLine()
        #expect(firstOwner?.contains(#""type":"scene""#) == true && firstRelay?.contains(#""type":"scene""#) == true, "\(firstRelay ?? "nothing")")
        #expect(try await relay.call("POST", "/api/v1/pings", Self.ping("CL-3", latitude: 48.8611, secondsAgo: 2), token: "ingest-secret").status == 200)
        let ownerLines = await Self.lines(onOwner) { $0.contains("CL-3") }
        let relayLines = await Self.lines(onRelay) { $0.contains("CL-3") }
        let shownByOwner = ownerLines.last { $0.contains("CL-3") }.map(Self.seq), shownByRelay = relayLines.last { $0.contains("CL-3") }.map(Self.seq)
        #expect(shownByOwner != nil && shownByOwner == shownByRelay, "owner: \(ownerLines.suffix(2)); relay: \(relayLines.suffix(2))")
        // The same document with the same number on both, as the scene API answers it.
        try await Task.sleep(for: .milliseconds(300))
        let sceneOnOwner = try await owner.call("GET", "/api/v1/walls/ops/scene", token: "query-secret")
        let sceneOnRelay = try await relay.call("GET", "/api/v1/walls/ops/scene", token: "query-secret")
        #expect(field(sceneOnOwner.json, "seq") as? Int != nil && field(sceneOnOwner.json, "seq") as? Int == field(sceneOnRelay.json, "seq") as? Int)
        #expect((sceneOnOwner.json as? NSDictionary) == (sceneOnRelay.json as? NSDictionary), "\(sceneOnOwner.text.prefix(500)) / \(sceneOnRelay.text.prefix(500))")
        let lastSeq = [ownerLines, relayLines].flatMap { $0 }.map(Self.seq).max() ?? 0

        // The owner dies: the other daemon takes the wall within 10 s and goes on numbering
        // beyond every version seen; its renderer stays connected and sees a new ping.
        owner.process.signal(SIGKILL)
        let killed = ContinuousClock.now
        var takenOver = false
        while !takenOver, ContinuousClock.now - killed < .seconds(15) {
            takenOver = try await relay.metric("hypervision_cluster_walls_owned") == 1
            if !takenOver { try await Task.sleep(for: .milliseconds(100)) }
        }
        let takeover = ContinuousClock.now - killed
        #expect(takenOver && takeover < .seconds(10), "takeover after \(takeover)")
        #expect(try await relay.call("POST", "/api/v1/pings", Self.ping("CL-4", latitude: 48.8622, secondsAgo: 1), token: "ingest-secret").status == 200)
        let after = await Self.lines(onRelay) { $0.contains("CL-4") }
        let shown = after.last { $0.contains("CL-4") }
        #expect(shown != nil && Self.seq(shown!) > lastSeq, "\(after.suffix(3))")

        // A renderer of the dead owner resumes on the survivor with `since`: it gets the scene
        // (its version was numbered by the old owner), then patches.
        let resumed = try LineClient(port: relay.subscriptionsPort)
        resumed.send(#"{"type":"subscribe","wall":"ops","token":"admin-secret","since":\#(lastSeq)}"# + "\n")
        let resumedFirst = await resumed.readLine()
        let resumedSeq = resumedFirst.map(Self.seq) ?? 0
        #expect(resumedSeq > lastSeq, "\(resumedFirst ?? "nothing")")
        #expect(relay.process.log.contains("laying out walls here"))
        #expect(await relay.stop() == 0)
    }

    /// Polls `path` on `daemon` until its answer has `status` and satisfies `condition`.
    static func eventually(
        _ daemon: APIDaemon, _ path: String, status: Int = 200, timeout: Duration = .seconds(5), _ condition: (String) -> Bool = { _ in true }
    ) async throws -> (status: Int, text: String) {
        let deadline = ContinuousClock.now + timeout
        var last = (status: 0, text: "")
        while ContinuousClock.now < deadline {
            let answer = try await daemon.call("GET", path, token: "query-secret")
            last = (answer.status, answer.text)
            if last.status == status && condition(last.text) { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        return last
    }

    @Test(.timeLimit(.minutes(3))) func operatorChangesMadeOnAnyDaemonReachTheOthers() async throws {
        let a = try await APIDaemon("cluster-ops-a", extraConfiguration: Self.configuration(node: "cic-a"), files: Self.walls)
        let b = try await APIDaemon(
            "cluster-ops-b", extraConfiguration: Self.configuration(node: "cic-b"), files: Self.walls, database: a.endpoint)
        let aListens = try await Self.waitUntilListening(a)
        let bListens = try await Self.waitUntilListening(b)
        #expect(aListens && bListens)

        // A pin made on B is on A's wall; a tour started on A is on B's.
        #expect(try await b.call("POST", "/api/v1/walls/ops/pins", #"{"camera":"cam-x","expiresIn":600,"by":"night desk"}"#).status == 201)
        let pins = try await Self.eventually(a, "/api/v1/walls/ops/pins") { $0.contains("cam-x") }
        #expect(pins.text.contains("cam-x") && pins.text.contains("night desk"), "\(pins)")
        #expect(try await a.call("POST", "/api/v1/walls/ops/tours", #"{"id":"night","cameras":["cam-n1","cam-x"],"dwellSeconds":20}"#).status == 201)
        let tours = try await Self.eventually(b, "/api/v1/walls/ops/tours") { $0.contains("night") }
        #expect(tours.text.contains("cam-n1"), "\(tours)")
        #expect(try await a.call("DELETE", "/api/v1/walls/ops/pins/cam-x").status == 204)
        let unpinned = try await Self.eventually(b, "/api/v1/walls/ops/pins") { !$0.contains("cam-x") }
        #expect(!unpinned.text.contains("cam-x"), "\(unpinned)")

        // A wall defined through A's API is defined on B, and removed there when A removes it.
        #expect(try await a.call("PUT", "/api/v1/walls/ops2", WallAPITests.definition(id: "ops2")).status == 201)
        #expect(try await Self.eventually(b, "/api/v1/walls/ops2").status == 200)
        #expect(try await a.call("DELETE", "/api/v1/walls/ops2").status == 204)
        #expect(try await Self.eventually(b, "/api/v1/walls/ops2", status: 404).status == 404)
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }

    @Test(.timeLimit(.minutes(3))) func camerasAndIncidentsChangedThroughOneDaemonReachTheOthers() async throws {
        // B starts first and lays the wall out: what it shows comes from its own live state.
        let b = try await APIDaemon("cluster-state-b", extraConfiguration: Self.configuration(node: "cic-b"), files: Self.walls)
        let bListens = try await Self.waitUntilListening(b)
        for _ in 0..<50 where try await b.metric("hypervision_cluster_walls_owned") != 1 { try await Task.sleep(for: .milliseconds(100)) }
        let a = try await APIDaemon("cluster-state-a", extraConfiguration: Self.configuration(node: "cic-a"), database: b.endpoint)
        let aListens = try await Self.waitUntilListening(a)
        #expect(aListens && bListens)

        // A camera created, then changed, then removed through A.
        #expect(try await a.call("PUT", "/api/v1/cameras/cam-cl", #"{"name":"Quai","lat":48.86,"lon":2.35,"heading":90,"fov":60,"range":150}"#).status == 201)
        let created = try await Self.eventually(b, "/api/v1/cameras?near=48.86,2.35&radius=100") { $0.contains("cam-cl") }
        #expect(created.text.contains("Quai"), "\(created)")
        #expect(try await a.call("PUT", "/api/v1/cameras/cam-cl", #"{"name":"Quai nord","lat":48.86,"lon":2.35,"heading":90,"fov":60,"range":150}"#).status == 200)
        let renamed = try await Self.eventually(b, "/api/v1/cameras?near=48.86,2.35&radius=100") { $0.contains("Quai nord") }
        #expect(renamed.text.contains("Quai nord"), "\(renamed)")
        #expect(try await a.call("DELETE", "/api/v1/cameras/cam-cl").status == 204)
        let removed = try await Self.eventually(b, "/api/v1/cameras?near=48.86,2.35&radius=100") { !$0.contains("cam-cl") }
        #expect(!removed.text.contains("cam-cl"), "\(removed)")

        // An incident opened through A is on the wall B lays out, and leaves it when A closes it.
        let opened = try await a.call(
            "POST", "/api/v1/incidents", #"{"id":"INC-CL-1","category":"fire","priority":1,"lat":48.86,"lon":2.35}"#, token: "ingest-secret")
        #expect(opened.status == 201, "\(opened.text)")
        let shown = try await Self.eventually(b, "/api/v1/walls/ops/scene") { $0.contains("INC-CL-1") }
        #expect(shown.text.contains("INC-CL-1"), "\(shown.text.prefix(300))")
        #expect(try await a.call("PATCH", "/api/v1/incidents/INC-CL-1", #"{"status":"closed"}"#, token: "ingest-secret").status == 200)
        let gone = try await Self.eventually(b, "/api/v1/walls/ops/scene") { !$0.contains("INC-CL-1") }
        #expect(!gone.text.contains("INC-CL-1"))
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }
}

