import Foundation
import HypervisionCore
import HypervisionStore
import HypervisionTestSupport
import PostgresNIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A daemon under NDJSON load while its process, its PostgreSQL or its spool's room fail, as on
/// a bad day in a command room. Each test counts what the gateways sent, what was acknowledged
/// and what is stored, and fails on any acknowledged ping missing, any duplicate, any hang (no
/// acknowledgement for longer than a write deadline and a margin) and any stop slower than the
/// stop timeout. The figures are printed for the README ("fault:" lines).
///
/// Serialized: each test runs a PostgreSQL cluster, a daemon and four gateways of its own, and
/// the machines that run CI have two cores.
@Suite(.serialized) struct FaultInjectionTests {
    /// The daemon's write deadline in these tests: a frozen database costs this much per batch.
    static let writeTimeout = Duration.milliseconds(1_500)
    static let shutdownTimeout = Duration.seconds(15)
    /// How hard to push: `scripts/soak` sets HYPERVISION_FAULT_SCALE to kill more often and keep
    /// PostgreSQL down or frozen longer (scale 3: ten kills, a 15 s outage, a 30 s freeze).
    static let scale = max(1, Int(ProcessInfo.processInfo.environment["HYPERVISION_FAULT_SCALE"] ?? "") ?? 1)

    @Test(.timeLimit(.minutes(10)))
    func killNineUnderLoadLosesNothingAcknowledged() async throws {
        let rig = try await FaultRig.start("kill9")
        let load = NDJSONLoad(port: rig.tcpPort, gateways: 4, linesPerSecond: 200)
        load.begin()
        // Gateways that vanish mid-window (a reset, no goodbye), beside the others.
        let resets = ResettingClients(port: rig.tcpPort)
        resets.begin()
        let kills = Self.scale == 1 ? 3 : 3 * Self.scale + 1
        for _ in 0..<kills {
            #expect(await load.waitForAcknowledgements(300, timeout: .seconds(20)), "acknowledgements resume after a restart")
            rig.killDaemon()
            try await rig.startDaemon()
        }
        #expect(await load.waitForAcknowledgements(300, timeout: .seconds(20)))
        resets.finish()
        let figures = await load.finish()
        try await rig.expectEverythingAcknowledgedStored(load, "kill -9 x\(kills), \(resets.count) resets")
        #expect(figures.longestAckGap < .seconds(20))
        await rig.tearDown()
    }

    @Test(.timeLimit(.minutes(5)))
    func postgresStoppedAndRestartedUnderLoad() async throws {
        let rig = try await FaultRig.start("pgstop")
        let load = NDJSONLoad(port: rig.tcpPort, gateways: 4, linesPerSecond: 200)
        load.begin()
        #expect(await load.waitForAcknowledgements(300, timeout: .seconds(20)))
        try rig.cluster.kill()  // immediate: as a crash
        let down = ContinuousClock.now
        try await Task.sleep(for: .seconds(5 * Self.scale))
        let duringOutage = load.acknowledgements(from: down + .seconds(1), to: .now)
        #expect(duringOutage > 100, "the spool takes pings while PostgreSQL is down (\(duringOutage))")
        _ = try await rig.cluster.start()
        #expect(await load.waitForAcknowledgements(300, timeout: .seconds(20)))
        let figures = await load.finish()
        #expect(figures.longestAckGap < Self.writeTimeout + .seconds(3), "\(figures)")
        try await rig.expectEverythingAcknowledgedStored(load, "PostgreSQL stopped \(5 * Self.scale) s; \(duringOutage) acked meanwhile")
        await rig.tearDown()
    }

    /// The defect: a frozen PostgreSQL (processes stopped, sockets open) got zero
    /// acknowledgements for its whole duration, and the writer never switched to the spool.
    @Test(.timeLimit(.minutes(5)))
    func postgresFrozenUnderLoad() async throws {
        let rig = try await FaultRig.start("pgfreeze")
        let load = NDJSONLoad(port: rig.tcpPort, gateways: 4, linesPerSecond: 200)
        load.begin()
        #expect(await load.waitForAcknowledgements(300, timeout: .seconds(20)))
        rig.cluster.freeze()
        let frozen = ContinuousClock.now
        try await Task.sleep(for: .seconds(10 * Self.scale))
        let duringFreeze = load.acknowledgements(from: frozen + Self.writeTimeout + .seconds(1), to: .now)
        rig.cluster.thaw()
        #expect(duringFreeze > 500, "the spool takes pings while PostgreSQL is frozen (\(duringFreeze))")
        #expect(await load.waitForAcknowledgements(300, timeout: .seconds(30)))
        let figures = await load.finish()
        #expect(figures.longestAckGap < Self.writeTimeout + .seconds(3), "\(figures)")
        try await rig.expectEverythingAcknowledgedStored(load, "PostgreSQL frozen \(10 * Self.scale) s; \(duringFreeze) acked meanwhile")
        await rig.tearDown()
    }

    /// With PostgreSQL away and the spool full, pings are refused (`storage_unavailable`), and
    /// the live picture never shows a refused ping: it shows what is durable.
    @Test(.timeLimit(.minutes(3)))
    func aFullSpoolRefusesAndTheLivePictureShowsOnlyDurablePings() async throws {
        let rig = try await FaultRig.start("spoolfull", environment: ["HYPERVISION_SPOOL_MAX_BYTES": "65536"])
        try rig.cluster.kill()
        let gateway = try LineClient(port: rig.tcpPort)
        let now = Timestamp.now()
        func ping(_ unit: String, _ lat: Double, _ secondsAgo: Double) -> String {
            #"{"unit":"\#(unit)","time":"\#(now.adding(seconds: -secondsAgo).rfc3339)","lat":\#(lat),"lon":2.35}"# + "\n"
        }
        gateway.send(ping("FULL-A", 48.80, 60))
        #expect(await gateway.readLine()?.contains(#""type":"ack""#) == true)
        // Fill the spool: one gateway streams until the daemon refuses.
        let load = NDJSONLoad(port: rig.tcpPort, gateways: 1, linesPerSecond: 5_000, window: 100)
        load.begin()
        let deadline = ContinuousClock.now + .seconds(60)
        while load.figures.closingErrors["storage_unavailable"] == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let figures = await load.finish()
        #expect(figures.closingErrors["storage_unavailable"] != nil, "\(figures)")
        // Now single pings for A, each newer than the last, until one is refused: the spool
        // has less room left than one more. Neither that one nor a first ping of B is shown.
        var acknowledgedA = [Ping.Key(unit: UnitID(trusted: "FULL-A"), time: now.adding(seconds: -60))]
        var shownLatitude = 48.80
        var refusedLatitude: Double?
        var client = gateway
        for step in 1...200 where refusedLatitude == nil {
            let latitude = (48_800 + Double(step)) / 1_000
            client.send(ping("FULL-A", latitude, 60 - Double(step) * 0.1))
            let answer = await client.readLine() ?? ""
            if answer.contains(#""type":"ack""#) {
                shownLatitude = latitude
                acknowledgedA.append(Ping.Key(unit: UnitID(trusted: "FULL-A"), time: now.adding(seconds: -(60 - Double(step) * 0.1))))
            } else {
                #expect(answer.contains(#""code":"storage_unavailable""#), "\(answer)")
                refusedLatitude = latitude
                client = try LineClient(port: rig.tcpPort)
            }
        }
        #expect(refusedLatitude != nil, "the spool never filled")
        client.send(ping("FULL-B", 48.85, 30))
        let refusal = await client.readLine()
        #expect(refusal?.contains(#""code":"storage_unavailable""#) == true, "\(refusal ?? "nothing")")
        let a = await rig.get("/api/v1/units/FULL-A")
        let shown = "\(shownLatitude)"
        #expect(a?.status == 200 && a?.body.contains("\(shown)]") == true, "A shows \(shown), not the refused one: \(a?.body ?? "no answer")")
        #expect(await rig.get("/api/v1/units/FULL-B")?.status == 404)
        // PostgreSQL back: everything that was acknowledged reaches it.
        _ = try await rig.cluster.start()
        try await rig.expectEverythingAcknowledgedStored(load, "spool of 64 KiB filled, then refusals", extra: acknowledgedA)
        await rig.tearDown()
    }

    /// The defect: after a restart with pings in the spool, the units API showed an older
    /// position, or 404, until the database came back and the spool was replayed.
    @Test(.timeLimit(.minutes(3)))
    func aRestartShowsSpooledPingsAtOnce() async throws {
        let rig = try await FaultRig.start("restartspool")
        let gateway = try LineClient(port: rig.tcpPort)
        let now = Timestamp.now()
        gateway.send(#"{"unit":"SPOOL-A","time":"\#(now.adding(seconds: -120).rfc3339)","lat":48.80,"lon":2.35}"# + "\n")
        #expect(await gateway.readLine()?.contains(#""accepted":1"#) == true)
        try rig.cluster.kill()
        gateway.send(#"{"unit":"SPOOL-A","time":"\#(now.adding(seconds: -60).rfc3339)","lat":48.81,"lon":2.35}"# + "\n")
        gateway.send(#"{"unit":"SPOOL-B","time":"\#(now.adding(seconds: -60).rfc3339)","lat":48.82,"lon":2.35}"# + "\n")
        var acknowledged = 0
        while let line = await gateway.readLine(timeout: .seconds(10)), acknowledged < 2 {
            if line.contains(#""type":"ack""#) { acknowledged = Int(NDJSONLoad.integer(line, after: #""through":"#) ?? 0) - 1 }
        }
        #expect(acknowledged == 2)
        let stop = await rig.stopDaemon()
        #expect(stop.status == 0 && stop.took < Self.shutdownTimeout, "stop while spooling: \(stop)")
        // Restarted with PostgreSQL still down: the spool's pings are shown at once.
        try await rig.startDaemon(waitForDatabase: false)
        let a = await rig.get("/api/v1/units/SPOOL-A")
        #expect(a?.status == 200 && a?.body.contains("48.81]") == true, "\(a?.body ?? "no answer")")
        #expect(await rig.get("/api/v1/units/SPOOL-B")?.status == 200)
        // Stopped again before it ever reached its database: a clean stop all the same (the
        // supervisor's wait used to end in an error, and the daemon with a failure status).
        let neverReady = await rig.stopDaemon()
        #expect(neverReady.status == 0 && neverReady.took < Self.shutdownTimeout, "stop before the database was reached: \(neverReady)")
        _ = try await rig.cluster.start()
        try await rig.startDaemon()
        #expect(await rig.waitForEmptySpool(timeout: .seconds(60)))
        let stored = try await rig.storedKeys(like: "SPOOL-%")
        #expect(stored.count == 3)
        print("fault: restart with 2 spooled pings and PostgreSQL down: both shown at once, then stored")
        await rig.tearDown()
    }

    /// Connection strings that no retry mends stop hypervisiond at start-up with exit 78 and the
    /// reason, instead of retrying forever: a standby named as the database (one server, no
    /// `target_session_attrs=read-write` to look further; hypervisiond must write), a user
    /// that every server refuses, and servers that all answer as standbys for longer than a
    /// failover takes.
    @Test(.timeLimit(.minutes(3)))
    func aStandbyNamedAsTheDatabaseStopsTheDaemonWithTheReason() async throws {
        let pair = try await ReplicatedPostgres.start("standby-named")
        defer {
            try? pair.standby.stop()
            try? pair.primary.stop()
        }
        let standby = pair.standby.configuration
        let state = TestPostgres.makeBaseDirectory("standby-named-daemon")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let daemon = try DaemonProcess(arguments: [
            "--database-url", "postgres:///\(standby.databaseName)?host=\(standby.socketDirectory)&user=\(standby.superuser)",
            "--http-port", "\(DaemonProcess.freePort())", "--state-dir", state,
        ])
        #expect(await daemon.waitForExit(timeout: .seconds(60)) == 78, "\(daemon.log.suffix(3_000))")
        #expect(daemon.log.contains("is a standby (pg_is_in_recovery() is true)"), "\(daemon.log.suffix(3_000))")
        let primary = pair.primary.configuration
        let stranger = try DaemonProcess(arguments: [
            "--database-url", "postgres:///\(primary.databaseName)?host=\(primary.socketDirectory),\(standby.socketDirectory)&user=no_such_role",
            "--http-port", "\(DaemonProcess.freePort())", "--state-dir", state,
        ])
        #expect(await stranger.waitForExit(timeout: .seconds(60)) == 78, "\(stranger.log.suffix(3_000))")
        #expect(stranger.log.contains("every server refused the user"), "\(stranger.log.suffix(3_000))")
        // Only the standby named, read-write: it answers, never as a primary. Past the start-up
        // wait (3 s here, 120 s by default: longer than a failover) that is a configuration
        // mistake too.
        let noPrimary = try DaemonProcess(
            arguments: [
                "--database-url",
                "postgres:///\(standby.databaseName)?host=\(standby.socketDirectory)&user=\(standby.superuser)&target_session_attrs=read-write",
                "--http-port", "\(DaemonProcess.freePort())", "--state-dir", state,
            ],
            environment: ["HYPERVISION_DATABASE_STARTUP_PRIMARY_WAIT_SECONDS": "3"])
        #expect(await noPrimary.waitForExit(timeout: .seconds(60)) == 78, "\(noPrimary.log.suffix(3_000))")
        #expect(
            noPrimary.log.contains("every server named answers as a standby, and none became the primary within 3 s"),
            "\(noPrimary.log.suffix(3_000))")
        // Both servers named, read-write: the same standby is passed over for the primary.
        let both = try DaemonProcess(arguments: [
            "--database-url", pair.url, "--http-port", "\(DaemonProcess.freePort())", "--state-dir", state,
        ])
        var ready = false
        for _ in 0..<600 where !ready {
            ready = both.log.contains("database ready")
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "\(both.log.suffix(3_000))")
        both.signal(SIGTERM)
        #expect(await both.waitForExit(timeout: .seconds(30)) == 0, "\(both.log.suffix(3_000))")
    }

    /// A primary and its synchronous standby, named together in the URL (standby first): the
    /// daemon finds the primary; when it dies and the standby is promoted, the daemon spools,
    /// finds the new primary itself and replays. Nothing acknowledged is lost, because every
    /// commit was on the standby too.
    @Test(.timeLimit(.minutes(5)))
    func aFailoverToTheSynchronousStandbyLosesNothingAcknowledged() async throws {
        let pair = try await ReplicatedPostgres.start("failover")
        let rig = try await FaultRig.start("failover", replicated: pair)
        let load = NDJSONLoad(port: rig.tcpPort, gateways: 4, linesPerSecond: 200)
        load.begin()
        #expect(await load.waitForAcknowledgements(400, timeout: .seconds(20)))
        try pair.primary.kill()
        let failed = ContinuousClock.now
        // A failover manager takes some seconds to decide (Patroni: its leader TTL).
        try await Task.sleep(for: .seconds(3))
        try await pair.promoteStandby()
        #expect(await load.waitForAcknowledgements(400, timeout: .seconds(30)))
        let duringFailover = load.acknowledgements(from: failed, to: failed + .seconds(3))
        let figures = await load.finish()
        #expect(duringFailover > 100, "acknowledgements go on while there is no primary (\(duringFailover))")
        #expect(figures.longestAckGap < Self.writeTimeout + .seconds(3), "\(figures)")
        rig.endpoint = pair.standby.endpoint
        try await rig.expectEverythingAcknowledgedStored(load, "failover to the standby after 3 s; \(duringFailover) acked meanwhile")
        #expect(rig.log.contains("now using"), "the daemon moved to the new primary")
        await rig.tearDown()
        try? pair.standby.stop()
    }

    /// The availability setup of Deploy/patroni/: three PostgreSQL servers under Patroni and
    /// etcd, synchronous and strict. The primary's machine is lost (Patroni and PostgreSQL killed)
    /// under load; Patroni promotes the synchronous standby after its leader TTL (20 s), and the
    /// daemon, which names all three servers, spools meanwhile, follows the new primary and
    /// replays. Every acknowledged ping is on the new primary.
    @Test(
        .enabled(if: PatroniCluster.isAvailable, "needs patroni and etcd-server (scripts/test installs them)"),
        .timeLimit(.minutes(6)))
    func losingThePrimaryMachineUnderPatroniLosesNothingAcknowledged() async throws {
        let patroni = try PatroniCluster(tag: "patroni")
        defer { patroni.stop() }
        try await patroni.start()
        let first = try #require(await patroni.leader())
        let rig = try await FaultRig.start(
            "patroni-daemon",
            external: (patroni.url, DatabaseEndpoint(host: "127.0.0.1", port: first.port, user: "postgres", password: "postgres", database: "postgres", sslMode: .disable)))
        let load = NDJSONLoad(port: rig.tcpPort, gateways: 4, linesPerSecond: 200)
        load.begin()
        #expect(await load.waitForAcknowledgements(400, timeout: .seconds(20)))
        let lost = ContinuousClock.now
        patroni.lose(first)
        let second = try await patroni.waitForNewLeader(other: first, timeout: .seconds(90))
        let failoverTook = ContinuousClock.now - lost
        let duringFailover = load.acknowledgements(from: lost, to: .now)
        #expect(await load.waitForAcknowledgements(400, timeout: .seconds(60)), "acknowledgements after the failover")
        let figures = await load.finish()
        #expect(duringFailover > 500, "the spool took pings while there was no primary (\(duringFailover))")
        #expect(figures.longestAckGap < Self.writeTimeout + .seconds(3), "\(figures)")
        rig.endpoint = DatabaseEndpoint(host: "127.0.0.1", port: second.port, user: "postgres", password: "postgres", database: "postgres", sslMode: .disable)
        try await rig.expectEverythingAcknowledgedStored(
            load, "Patroni lost its primary; \(second.name) led after \(failoverTook); \(duringFailover) acked meanwhile")
        await rig.tearDown()
    }

    enum StopState: String, CaseIterable, Sendable {
        case underLoad, databaseDown, replaying, databaseFrozen
    }

    /// SIGTERM in every state the writer can be in: the daemon exits 0 within its stop timeout
    /// and loses nothing it acknowledged.
    @Test(.timeLimit(.minutes(4)), arguments: StopState.allCases)
    func sigtermInEveryStateStopsInTimeAndLosesNothing(state: StopState) async throws {
        // Small batches make the replay long enough to be caught in the act.
        let rig = try await FaultRig.start("sigterm-\(state.rawValue)", environment: ["HYPERVISION_WRITER_BATCH_SIZE": "500"])
        let load = NDJSONLoad(port: rig.tcpPort, gateways: 4, linesPerSecond: state == .replaying ? 2_000 : 200)
        load.begin()
        #expect(await load.waitForAcknowledgements(300, timeout: .seconds(20)))
        switch state {
        case .underLoad:
            break
        case .databaseDown:
            try rig.cluster.kill()
            try await Task.sleep(for: .seconds(2))
        case .replaying:
            try rig.cluster.kill()
            #expect(await load.waitForAcknowledgements(20_000, timeout: .seconds(60)))
            _ = try await rig.cluster.start()
            let deadline = ContinuousClock.now + .seconds(30)
            while await rig.spoolState() != "replaying" && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await rig.spoolState() == "replaying")
        case .databaseFrozen:
            rig.cluster.freeze()
            try await Task.sleep(for: .milliseconds(500))
        }
        let stop = await rig.stopDaemon()
        #expect(stop.status == 0, "\(state): exit status \(String(describing: stop.status))\n\(rig.log.suffix(3_000))")
        #expect(stop.took < Self.shutdownTimeout, "\(state): the stop took \(stop.took)")
        print("fault: SIGTERM \(state.rawValue): stopped in \(stop.took)")
        let figures = await load.finish()
        rig.cluster.thaw()
        _ = try await rig.cluster.start()
        try await rig.startDaemon()
        try await rig.expectEverythingAcknowledgedStored(load, "SIGTERM \(state.rawValue), \(figures.acknowledged) acked")
        await rig.tearDown()
    }
}

/// A daemon on a PostgreSQL cluster of its own (so a test can stop, freeze and restart it), with
/// the same ports and state directory across restarts of the daemon.
final class FaultRig: @unchecked Sendable {
    // @unchecked: driven by one test at a time.
    private let embedded: EmbeddedPostgres?
    /// The test's own PostgreSQL (a rig on Patroni has none of its own).
    var cluster: EmbeddedPostgres { embedded! }
    /// Where the tests read what is stored (the new primary after a failover).
    var endpoint: DatabaseEndpoint
    let databaseURL: String
    let state: String
    let httpPort = DaemonProcess.freePort()
    let tcpPort = DaemonProcess.freePort()
    let environment: [String: String]
    private(set) var daemon: DaemonProcess?
    private var logs: [String] = []

    var log: String { (logs + [daemon?.log ?? ""]).joined(separator: "\n--- restart ---\n") }

    private init(cluster: EmbeddedPostgres?, endpoint: DatabaseEndpoint, databaseURL: String, state: String, environment: [String: String]) {
        self.embedded = cluster
        self.endpoint = endpoint
        self.databaseURL = databaseURL
        self.state = state
        self.environment = environment
    }

    /// `replicated`: the daemon gets a URL naming a primary and its standby instead of one
    /// cluster. `external`: a URL and where to read what is stored, for servers the test runs
    /// otherwise (Patroni).
    static func start(
        _ tag: String, environment: [String: String] = [:], replicated: ReplicatedPostgres? = nil,
        external: (url: String, endpoint: DatabaseEndpoint)? = nil
    ) async throws -> FaultRig {
        var cluster: EmbeddedPostgres?
        if let replicated {
            cluster = replicated.primary
        } else if external == nil {
            let own = TestPostgres.makeCluster(tag, durable: true)
            registerStopAtExit(own)
            _ = try await own.start()
            cluster = own
        }
        let endpoint = external?.endpoint ?? cluster!.endpoint
        let url = external?.url ?? replicated?.url ?? "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)"
        var settings = [
            "HYPERVISION_WRITER_WRITE_TIMEOUT_MS": "\(FaultInjectionTests.writeTimeout.components.seconds * 1000 + FaultInjectionTests.writeTimeout.components.attoseconds / 1_000_000_000_000_000)",
            "HYPERVISION_WRITER_RETRY_INTERVAL_MS": "300",
            "HYPERVISION_SHUTDOWN_TIMEOUT_SECONDS": "\(FaultInjectionTests.shutdownTimeout.components.seconds)",
            "HYPERVISION_INGEST_UDP_ENABLED": "false",
            "HYPERVISION_INGEST_COT_ENABLED": "false",
            "HYPERVISION_INGEST_OSMAND_ENABLED": "false",
        ]
        for (key, value) in environment { settings[key] = value }
        let rig = FaultRig(
            cluster: cluster, endpoint: endpoint, databaseURL: url, state: TestPostgres.makeBaseDirectory(tag + "-state"), environment: settings)
        try await rig.startDaemon()
        return rig
    }

    /// Starts the daemon and waits until it is ready (or, with `waitForDatabase` false, until
    /// its listeners answer: a daemon whose database is down is never ready).
    func startDaemon(waitForDatabase: Bool = true) async throws {
        if let daemon { logs.append(daemon.log) }
        var environment = self.environment
        environment["HYPERVISION_INGEST_TCP_PORT"] = "\(tcpPort)"
        daemon = try DaemonProcess(
            arguments: [
                "--database-url", databaseURL, "--http-port", "\(httpPort)", "--state-dir", state,
            ],
            environment: environment)
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let probe = await DaemonProcess.get("http://127.0.0.1:\(httpPort)/\(waitForDatabase ? "readyz" : "healthz")")
            if probe?.status == 200, (try? await LineClientProbe.connects(port: tcpPort)) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("the daemon did not come up (its log: \(daemon?.logPath ?? "?")):\n\(log.prefix(3_000))\n…\n\(log.suffix(2_000))")
    }

    func killDaemon() {
        guard let daemon else { return }
        daemon.signal(SIGKILL)
        while daemon.process.isRunning { usleep(10_000) }
    }

    /// SIGTERM; the exit status and how long the stop took.
    func stopDaemon() async -> (status: Int32?, took: Duration) {
        guard let daemon else { return (nil, .zero) }
        let start = ContinuousClock.now
        daemon.signal(SIGTERM)
        let status = await daemon.waitForExit(timeout: .seconds(60))
        return (status, ContinuousClock.now - start)
    }

    func get(_ path: String) async -> (status: Int, body: String)? {
        await DaemonProcess.get("http://127.0.0.1:\(httpPort)\(path)")
    }

    func spoolState() async -> String? {
        guard let body = await get("/readyz")?.body else { return nil }
        return NDJSONLoad.string(body, after: #""state":""#)
    }

    func waitForEmptySpool(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let body = await get("/readyz")?.body, body.contains(#""state":"empty""#), body.contains(#""queuedPings":0"#) { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func storedKeys(like pattern: String) async throws -> [Ping.Key] {
        try await TestPostgres.withConnection(endpoint) { connection in
            let rows = try await connection.query(
                "SELECT unit_id, (extract(epoch FROM time) * 1000000)::int8 FROM ping_history WHERE unit_id LIKE \(pattern)",
                logger: TestPostgres.logger)
            var keys: [Ping.Key] = []
            for try await (unit, micros) in rows.decode((String, Int64).self) {
                keys.append(Ping.Key(unit: UnitID(trusted: unit), time: Timestamp(microseconds: micros)))
            }
            return keys
        }
    }

    /// Waits until the spool is replayed, then checks that every acknowledged ping is stored,
    /// once; prints the figures.
    func expectEverythingAcknowledgedStored(_ load: NDJSONLoad, _ what: String, extra: [Ping.Key] = []) async throws {
        #expect(await waitForEmptySpool(timeout: .seconds(90)), "\(what): the spool was not replayed\n\(log.suffix(3_000))")
        let stored = try await storedKeys(like: "%")
        let storedSet = Set(stored)
        let acknowledged = load.acknowledged + extra
        let missing = acknowledged.filter { !storedSet.contains($0) }
        let figures = load.figures
        print("fault: \(what): sent \(figures.sent), acknowledged \(acknowledged.count), stored \(storedSet.count), missing \(missing.count), duplicates \(stored.count - storedSet.count), longest wait for an ack \(figures.longestAckGap), reconnects \(figures.reconnects)")
        #expect(missing.isEmpty, "\(what): \(missing.count) acknowledged pings missing, e.g. \(missing.prefix(3))")
        #expect(stored.count == storedSet.count, "\(what): duplicates")
        #expect(!acknowledged.isEmpty)
    }

    func tearDown() async {
        if let daemon, daemon.process.isRunning { _ = await stopDaemon() }
        embedded?.thaw()
        try? embedded?.stop()
        try? FileManager.default.removeItem(atPath: state)
    }
}

/// Whether a TCP port accepts connections.
enum LineClientProbe {
    static func connects(port: Int) async throws -> Bool {
        await offThePool { NDJSONLoad.Connection(port: port) != nil }
    }
}

/// Clients that connect, send a window of lines and reset the connection (SO_LINGER 0) without
/// reading an answer, over and over, until finished.
final class ResettingClients: Sendable {
    private let port: Int
    private let state = Mutex((stopping: false, count: 0, running: false))

    init(port: Int) { self.port = port }

    var count: Int { state.withLock { $0.count } }

    func begin() {
        state.withLock { $0.running = true }
        let thread = Thread { [self] in
            var n = 0
            while !state.withLock({ $0.stopping }) {
                n += 1
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                address.sin_port = UInt16(port).bigEndian
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                if connected == 0 {
                    var lines = ""
                    for i in 0..<50 {
                        lines += #"{"unit":"RESET-\#(n % 10)","time":"\#(Timestamp.now().adding(seconds: -Double(i)).rfc3339)","lat":48.8,"lon":2.35}"# + "\n"
                    }
                    _ = lines.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                    state.withLock { $0.count += 1 }
                }
                close(fd)
                Thread.sleep(forTimeInterval: 0.05)
            }
            state.withLock { $0.running = false }
        }
        thread.start()
    }

    func finish() {
        state.withLock { $0.stopping = true }
        while state.withLock({ $0.running }) { usleep(10_000) }
    }
}
