import Foundation
import HypervisionCore
import HypervisionStore
import HypervisionTestSupport
import PostgresNIO
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Three daemons of one cluster (`cluster.node`) on one database, under NDJSON load on each,
/// while the database's primary, one daemon, or one daemon's database connections fail. Each
/// test counts what was acknowledged and what is stored (every daemon's load), duplicates, and
/// gaps in the scene numbers a renderer on a surviving daemon received; one wall has one owner
/// throughout, and a survivor takes it within 10 s. Part of the fault suite (the same
/// `FaultInjectionTests` name), which CI runs on its own.
extension FaultInjectionTests {
    static let nodes = ["cic-a", "cic-b", "cic-c"]

    /// A walls directory holding the test wall `ops` (a map and a camera region).
    static func wallsDirectory(_ tag: String) throws -> String {
        let directory = TestPostgres.makeBaseDirectory(tag + "-walls")
        try WallAPITests.definition(id: "ops").write(toFile: directory + "/ops.json", atomically: true, encoding: .utf8)
        return directory
    }

    static func clusterSettings(node: String, walls: String) -> [String: String] {
        ["HYPERVISION_CLUSTER_NODE": node, "HYPERVISION_WALLS_DIRECTORY": walls, "HYPERVISION_WALLS_INTERVAL_MS": "50"]
    }

    /// How many walls each rig lays out (nil: no answer, a dead daemon).
    static func wallsOwned(_ rigs: [FaultRig]) async -> [Double?] {
        var owned: [Double?] = []
        for rig in rigs {
            let metrics = await rig.get("/metrics")?.body
            owned.append(metrics.flatMap { prometheusValue($0, "hypervision_cluster_walls_owned") })
        }
        return owned
    }

    /// Waits until exactly one of `rigs` lays the wall out; returns its index and when.
    static func waitForOneOwner(_ rigs: [FaultRig], among candidates: [Int]? = nil, timeout: Duration = .seconds(20)) async -> Int? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let owned = await wallsOwned(rigs)
            let owners = owned.indices.filter { owned[$0] == 1 }
            if owners.count == 1, candidates?.contains(owners[0]) ?? true { return owners[0] }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Everything every load had acknowledged is stored once (read through `rig`).
    static func expectEverythingAcknowledgedStored(_ loads: [NDJSONLoad], rigs: [FaultRig], _ what: String) async throws {
        for rig in rigs { #expect(await rig.waitForEmptySpool(timeout: .seconds(90)), "\(what): a spool was not replayed") }
        let stored = try await rigs[0].storedKeys(like: "%")
        let storedSet = Set(stored)
        let acknowledged = loads.flatMap(\.acknowledged)
        let missing = acknowledged.filter { !storedSet.contains($0) }
        let sent = loads.reduce(0) { $0 + $1.figures.sent }
        let longest = loads.map(\.figures.longestAckGap).max() ?? .zero
        print("fault: cluster: \(what): sent \(sent), acknowledged \(acknowledged.count), stored \(storedSet.count), missing \(missing.count), duplicates \(stored.count - storedSet.count), longest wait for an ack \(longest)")
        #expect(missing.isEmpty, "\(what): \(missing.count) acknowledged pings missing, e.g. \(missing.prefix(3))")
        #expect(stored.count == storedSet.count, "\(what): duplicates")
        #expect(longest < writeTimeout + .seconds(3), "\(what): an acknowledgement waited \(longest)")
    }

    /// Reads a renderer's lines on a task of its own until ``finish()``; counts the patches that
    /// do not start where the previous line ended (a gap in the scene numbers).
    final class Watcher: Sendable {
        let client: LineClient
        private let state = Mutex((stop: false, lines: [String]()))

        init(port: Int, wall: String = "ops", since: UInt64? = nil) throws {
            client = try LineClient(port: port)
            client.send(#"{"type":"subscribe","wall":"\#(wall)"\#(since.map { ",\"since\":\($0)" } ?? "")}"# + "\n")
        }

        func run() async {
            while !state.withLock({ $0.stop }) {
                if let line = await client.readLine(timeout: .milliseconds(300)) { state.withLock { $0.lines.append(line) } }
            }
        }

        func finish() { state.withLock { $0.stop = true } }

        var lines: [String] { state.withLock { $0.lines } }

        /// The numbers of the versions received (scenes and patches), in order.
        var seqs: [UInt64] {
            lines.compactMap { line in
                guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let type = json["type"] as? String, type == "scene" || type == "patch"
                else { return nil }
                return (json["seq"] as? NSNumber)?.uint64Value
            }
        }

        /// (versions received, full scenes among them, patches whose base was not the last seq).
        var figures: (versions: Int, scenes: Int, gaps: Int) {
            var last: UInt64?
            var versions = 0, scenes = 0, gaps = 0
            for line in lines {
                guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let type = json["type"] as? String, let seq = (json["seq"] as? NSNumber)?.uint64Value
                else { continue }
                if type == "scene" {
                    scenes += 1
                } else if type == "patch" {
                    if let base = (json["base"] as? NSNumber)?.uint64Value, let last, base != last { gaps += 1 }
                } else {
                    continue
                }
                versions += 1
                last = seq
            }
            return (versions, scenes, gaps)
        }
    }

    /// The Deploy/patroni setup with three daemons: the primary's machine is lost under load on
    /// every daemon. Patroni promotes the synchronous standby after its leader TTL; every daemon
    /// spools meanwhile, follows the new primary and replays; the daemons hear each other again
    /// (a ping to one is shown by another) and the wall still has exactly one owner.
    @Test(
        .enabled(if: PatroniCluster.isAvailable, "needs patroni and etcd-server (scripts/test installs them)"),
        .timeLimit(.minutes(6)))
    func threeDaemonsLosingTheirPrimaryUnderPatroniLoseNothingAndStayOneCluster() async throws {
        let patroni = try PatroniCluster(tag: "patroni-3")
        defer { patroni.stop() }
        try await patroni.start()
        let first = try #require(await patroni.leader())
        func endpoint(_ node: PatroniCluster.Node) -> DatabaseEndpoint {
            DatabaseEndpoint(host: "127.0.0.1", port: node.port, user: "postgres", password: "postgres", database: "postgres", sslMode: .disable)
        }
        let walls = try Self.wallsDirectory("patroni-3")
        defer { try? FileManager.default.removeItem(atPath: walls) }
        var rigs: [FaultRig] = []
        for node in Self.nodes {
            rigs.append(try await FaultRig.start("p3-\(node)", environment: Self.clusterSettings(node: node, walls: walls), external: (patroni.url, endpoint(first))))
        }
        #expect(await Self.waitForOneOwner(rigs) != nil, "one owner before")
        let loads = rigs.enumerated().map { NDJSONLoad(port: $1.tcpPort, gateways: 2, linesPerSecond: 100, prefix: "P\($0)") }
        for load in loads { load.begin() }
        for load in loads { #expect(await load.waitForAcknowledgements(200, timeout: .seconds(20))) }
        // A renderer on a daemon that relays the wall: with no primary, no daemon can hold it, and
        // each lays it out alone after 2 s rather than leave its renderers frozen for the TTL.
        let owner = await Self.waitForOneOwner(rigs) ?? 0
        let watcher = try Watcher(port: try #require(rigs[(owner + 1) % rigs.count].daemon).subscriptionsPort)
        let reading = Task { await watcher.run() }
        #expect(await Self.eventually { !watcher.seqs.isEmpty }, "the renderer got nothing before the failover")
        let lost = ContinuousClock.now
        patroni.lose(first)
        var seenWhenIslanded: Int?
        while ContinuousClock.now - lost < .seconds(12) {
            if seenWhenIslanded == nil && ContinuousClock.now - lost > .seconds(4) { seenWhenIslanded = watcher.seqs.count }
            try await Task.sleep(for: .milliseconds(100))
        }
        let movedWithoutPrimary = watcher.seqs.count - (seenWhenIslanded ?? .max)
        #expect(movedWithoutPrimary > 0, "the renderer's wall froze while there was no primary")
        let second = try await patroni.waitForNewLeader(other: first, timeout: .seconds(90))
        let failoverTook = ContinuousClock.now - lost
        let during = loads.reduce(0) { $0 + $1.acknowledgements(from: lost, to: .now) }
        for load in loads { #expect(await load.waitForAcknowledgements(200, timeout: .seconds(60)), "acknowledgements after the failover") }
        for load in loads { _ = await load.finish() }
        #expect(during > 500, "the spools took pings while there was no primary (\(during))")
        for rig in rigs { rig.endpoint = endpoint(second) }
        try await Self.expectEverythingAcknowledgedStored(
            loads, rigs: rigs, "three daemons, Patroni lost its primary; \(second.name) led after \(failoverTook); \(during) acked meanwhile")

        // One cluster still: a ping taken by the first daemon is shown by the third.
        let ping = #"{"unit":"AFTER-1","time":"\#(Timestamp.now().adding(seconds: -1).rfc3339)","lat":48.85,"lon":2.35}"#
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(rigs[0].httpPort)/api/v1/pings")!)
        request.httpMethod = "POST"
        request.httpBody = Data(ping.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        _ = try await URLSession.shared.data(for: request)
        var shown = false
        for _ in 0..<100 where !shown {
            shown = await rigs[2].get("/api/v1/units/AFTER-1")?.status == 200
            if !shown { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(shown, "the third daemon never showed a ping taken by the first after the failover")
        let ownerAfter = await Self.waitForOneOwner(rigs)
        let ownedAfter = await Self.wallsOwned(rigs)
        #expect(ownerAfter != nil, "one owner after: \(ownedAfter)")
        watcher.finish()
        await reading.value
        print("fault: cluster: no primary for \(failoverTook): a renderer on a relaying daemon got \(movedWithoutPrimary) versions between 4 and 12 s after the loss")
        for rig in rigs { await rig.tearDown() }
    }

    /// Three daemons on one PostgreSQL under load; the one that lays the wall out is killed
    /// (`kill -9`) while a renderer watches the wall on another. A survivor takes the wall within
    /// 10 s; the renderer sees no gap (a full scene at the takeover); the killed daemon,
    /// started again, does not take the wall back; nothing acknowledged is lost or duplicated.
    @Test(.timeLimit(.minutes(5)))
    func aDaemonOfThreeKilledUnderLoadLosesNothingAndItsWallIsTakenOver() async throws {
        let walls = try Self.wallsDirectory("kill-3")
        defer { try? FileManager.default.removeItem(atPath: walls) }
        let first = try await FaultRig.start("k3-a", environment: Self.clusterSettings(node: "cic-a", walls: walls))
        var rigs = [first]
        for node in Self.nodes.dropFirst() {
            rigs.append(
                try await FaultRig.start("k3-\(node)", environment: Self.clusterSettings(node: node, walls: walls), external: (first.databaseURL, first.endpoint)))
        }
        let owner = try #require(await Self.waitForOneOwner(rigs))
        let survivors = rigs.indices.filter { $0 != owner }
        let watcher = try Watcher(port: try #require(rigs[survivors[0]].daemon).subscriptionsPort)
        let loads = rigs.enumerated().map { NDJSONLoad(port: $1.tcpPort, gateways: 2, linesPerSecond: 100, prefix: "K\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await watcher.run() }
            for load in loads { load.begin() }
            for load in loads { #expect(await load.waitForAcknowledgements(200, timeout: .seconds(20))) }

            rigs[owner].killDaemon()
            let killed = ContinuousClock.now
            let newOwner = await Self.waitForOneOwner(rigs, among: survivors, timeout: .seconds(15))
            let takeover = ContinuousClock.now - killed
            #expect(newOwner != nil && takeover < .seconds(10), "takeover after \(takeover)")
            for index in survivors { #expect(await loads[index].waitForAcknowledgements(200, timeout: .seconds(20))) }

            // Started again, the killed daemon joins as a relay.
            try await rigs[owner].startDaemon()
            #expect(await loads[owner].waitForAcknowledgements(200, timeout: .seconds(30)), "the restarted daemon acknowledges again")
            try await Task.sleep(for: .seconds(2))
            let ownerAfterRestart = await Self.waitForOneOwner(rigs, among: survivors, timeout: .seconds(5))
            let ownedAfterRestart = await Self.wallsOwned(rigs)
            #expect(ownerAfterRestart == newOwner, "\(ownedAfterRestart)")
            for load in loads { _ = await load.finish() }
            watcher.finish()
            try await group.waitForAll()
            let figures = watcher.figures
            print("fault: cluster: the wall's owner killed; taken over after \(takeover); the renderer on a survivor got \(figures.versions) versions, \(figures.scenes) full scenes, \(figures.gaps) gaps")
            // Full scenes are always correct (the subscription, the takeover, a renderer that fell
            // behind on a busy machine); a patch that does not start where the last line ended is not.
            #expect(figures.gaps == 0 && figures.versions > 20, "\(figures)")
        }
        try await Self.expectEverythingAcknowledgedStored(loads, rigs: rigs, "three daemons, the wall's owner killed and restarted")
        for rig in rigs.reversed() { await rig.tearDown() }
    }

    /// A partition: every database connection of one daemon is ended as soon as it is made, for
    /// 8 s, while it takes pings and lays the wall out. It spools and acknowledges meanwhile,
    /// gives the wall up, and another daemon takes it within 10 s; once it can reach the
    /// database again it replays, and nothing acknowledged is lost or duplicated. Its renderer
    /// never freezes: cut off, the daemon lays the wall out itself from what it takes, and once
    /// back it relays the new owner's numbers.
    @Test(.timeLimit(.minutes(5)))
    func aDaemonCutOffFromTheDatabaseSpoolsAndHandsItsWallOver() async throws {
        let walls = try Self.wallsDirectory("cut-3")
        defer { try? FileManager.default.removeItem(atPath: walls) }
        let first = try await FaultRig.start("c3-a", environment: Self.clusterSettings(node: "cic-a", walls: walls))
        _ = await Self.waitForOneOwner([first])
        var rigs = [first]
        for node in Self.nodes.dropFirst() {
            rigs.append(
                try await FaultRig.start("c3-\(node)", environment: Self.clusterSettings(node: node, walls: walls), external: (first.databaseURL, first.endpoint)))
        }
        #expect(await Self.waitForOneOwner(rigs) == 0, "the first daemon lays the wall out")
        let loads = rigs.enumerated().map { NDJSONLoad(port: $1.tcpPort, gateways: 2, linesPerSecond: 100, prefix: "C\($0)") }
        for load in loads { load.begin() }
        for load in loads { #expect(await load.waitForAcknowledgements(200, timeout: .seconds(20))) }

        let watcher = try Watcher(port: try #require(first.daemon).subscriptionsPort)
        let reading = Task { await watcher.run() }
        defer { watcher.finish() }
        #expect(await Self.eventually { !watcher.seqs.isEmpty }, "the renderer on the daemon to be cut off got nothing")
        let cut = ContinuousClock.now
        var ended = 0
        var newOwner: Int?
        var takeover: Duration?
        var seenWhenIslanded: Int?
        while ContinuousClock.now - cut < .seconds(8) {
            // Cut off for 2 s, it lays the wall out itself (WallOwnership.islandAfter).
            if seenWhenIslanded == nil && ContinuousClock.now - cut > .seconds(3) { seenWhenIslanded = watcher.seqs.count }
            ended += try await Int(TestPostgres.integers(
                first.endpoint,
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'hypervisiond cic-a%') t"
            ).first ?? 0)
            if takeover == nil, let owner = await Self.waitForOneOwner(rigs, among: [1, 2], timeout: .milliseconds(1)) {
                newOwner = owner
                takeover = ContinuousClock.now - cut
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let during = loads[0].acknowledgements(from: cut, to: .now)
        let movedWhileCutOff = watcher.seqs.count - (seenWhenIslanded ?? .max)
        #expect(movedWhileCutOff > 0, "the cut-off daemon's renderer got no version while it was cut off")
        #expect(ended > 0, "no connection of the first daemon was ended")
        #expect(newOwner != nil && takeover.map { $0 < .seconds(10) } == true, "takeover after \(String(describing: takeover))")
        #expect(during > 200, "the cut-off daemon acknowledged \(during) pings while cut off")
        for load in loads { #expect(await load.waitForAcknowledgements(200, timeout: .seconds(30))) }
        for load in loads { _ = await load.finish() }
        // Back, it relays the new owner: its renderer gets the owner's numbers.
        if let newOwner {
            let ownerWatcher = try Watcher(port: try #require(rigs[newOwner].daemon).subscriptionsPort)
            let ownerReading = Task { await ownerWatcher.run() }
            #expect(await Self.eventually { !ownerWatcher.seqs.isEmpty }, "no renderer line from the new owner")
            let ownersNumber = ownerWatcher.seqs.first ?? .max
            #expect(
                await Self.eventually(timeout: .seconds(20)) { (watcher.seqs.last ?? 0) >= ownersNumber },
                "the renderer on the daemon that was cut off did not get the owner's number \(ownersNumber): \(watcher.seqs.suffix(3))")
            ownerWatcher.finish()
            await ownerReading.value
        }
        print("fault: cluster: cut off for 8 s (\(ended) connections ended); \(during) acked by it meanwhile; wall taken over after \(takeover ?? .zero); its renderer got \(movedWhileCutOff) versions laid out while it was cut off, then the owner's")

        // Now a daemon that relays the wall is cut off for 5 s: it lays the wall out alone under
        // numbers of its own, above the owner's; back, it starts the stream over at the owner's,
        // and tells its renderer, which subscribes again and gets the owner's numbers.
        if let newOwner {
            let relay = [1, 2].first { $0 != newOwner }!
            let node = Self.nodes[relay]
            let relayWatcher = try Watcher(port: try #require(rigs[relay].daemon).subscriptionsPort)
            let relayReading = Task { await relayWatcher.run() }
            #expect(await Self.eventually { !relayWatcher.seqs.isEmpty }, "the renderer on the relay got nothing")
            let relayCut = ContinuousClock.now
            while ContinuousClock.now - relayCut < .seconds(5) {
                _ = try await TestPostgres.integers(
                    first.endpoint,
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'hypervisiond \(node)%') t")
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(
                await Self.eventually(timeout: .seconds(20)) { relayWatcher.lines.contains { $0.contains(#""code":"renumbered""#) } },
                "the relay's renderer was not told the stream started again: \(relayWatcher.lines.suffix(2))")
            relayWatcher.finish()
            await relayReading.value
            let islandNumber = relayWatcher.seqs.max() ?? 0
            let again = try Watcher(port: try #require(rigs[relay].daemon).subscriptionsPort, since: islandNumber)
            let againReading = Task { await again.run() }
            #expect(await Self.eventually { !again.seqs.isEmpty }, "no scene after subscribing again: \(again.lines.prefix(2))")
            let resumed = again.seqs
            #expect(resumed.allSatisfy { $0 < islandNumber }, "the owner's numbers are below the island's: \(resumed.prefix(3)) vs \(islandNumber)")
            #expect(again.figures.gaps == 0 && again.lines.first { $0.contains(#""type""#) }?.contains(#""type":"scene""#) == true, "\(again.lines.prefix(2))")
            again.finish()
            await againReading.value
            print("fault: cluster: a relay cut off for 5 s laid the wall out alone up to \(islandNumber), then relayed the owner again from \(resumed.first ?? 0)")
        }
        try await Self.expectEverythingAcknowledgedStored(loads, rigs: rigs, "one daemon of three cut off from the database for 8 s")
        let ownerAfter = await Self.waitForOneOwner(rigs)
        let ownedAfter = await Self.wallsOwned(rigs)
        #expect(ownerAfter != nil, "one owner after: \(ownedAfter)")
        watcher.finish()
        await reading.value
        for rig in rigs.reversed() { await rig.tearDown() }
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` passes.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }
}
