import Foundation
import HypervisionStore
import HypervisionTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The daemon as its users meet it: a process with flags, a configuration file, systemd's
/// notify socket, and signals.
@Suite(.serialized) struct DaemonTests {
    func url(_ endpoint: DatabaseEndpoint) -> String {
        "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)"
    }

    @Test func aBadConfigurationFileExitsWith78AndNamesTheKey() async throws {
        let path = NSTemporaryDirectory() + "hv-bad-\(UUID().uuidString).yaml"
        try "http:\n  port: not-a-port\n".write(toFile: path, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", path])
        let status = await daemon.waitForExit(timeout: .seconds(20))
        #expect(status == 78)
        #expect(daemon.log.contains("configuration key http.port: \"not-a-port\" is not a whole number"))

        try "writer:\n  batchsize: 10\n".write(toFile: path, atomically: true, encoding: .utf8)
        let typo = try DaemonProcess(arguments: ["--config", path])
        #expect(await typo.waitForExit(timeout: .seconds(20)) == 78)
        #expect(typo.log.contains("writer.batchsize") && typo.log.contains("did you mean writer.batchSize?"))

        // An empty network used to trap (SIGILL) instead of being a configuration error.
        for section in ["ingest.udp", "ingest.osmand", "ingest.cot"] {
            let parts = section.split(separator: ".")
            try "\(parts[0]):\n  \(parts[1]):\n    allowedNetworks: [\"\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
            let empty = try DaemonProcess(arguments: ["--config", path])
            #expect(await empty.waitForExit(timeout: .seconds(20)) == 78, "\(section): \(empty.log)")
            #expect(empty.log.contains("configuration key \(section).allowedNetworks: an empty entry is not a network"), "\(empty.log)")
        }
    }

    /// A connection string whose every host does not exist is a mistake no retry mends: exit 78
    /// with the names, not a daemon that waits as if the database were merely down.
    @Test func aDatabaseURLNamingOnlyHostsThatDoNotExistExitsWith78() async throws {
        let state = TestPostgres.makeBaseDirectory("nohost")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let daemon = try DaemonProcess(arguments: [
            "--database-url", "postgresql://hv@db-a.hypervision.invalid,db-b.hypervision.invalid:6432/hv?target_session_attrs=read-write",
            "--state-dir", state, "--http-port", "\(DaemonProcess.freePort())",
        ])
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 78, "\(daemon.log.suffix(2_000))")
        #expect(
            daemon.log.contains("configuration key database.url: no server named exists: db-a.hypervision.invalid:5432: unknown host"),
            "\(daemon.log.suffix(2_000))")
        #expect(daemon.log.contains("db-b.hypervision.invalid:6432: unknown host"), "\(daemon.log.suffix(2_000))")
    }

    @Test func missingPostgreSQLSaysWhichPackageToInstall() async throws {
        let state = TestPostgres.makeBaseDirectory("nobin")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let daemon = try DaemonProcess(
            arguments: ["--state-dir", state, "--http-port", "\(DaemonProcess.freePort())"],
            environment: ["HYPERVISION_DATABASE_EMBEDDED_BIN_DIR": "/nonexistent/bin"])
        #expect(await daemon.waitForExit(timeout: .seconds(20)) == 69)
        #expect(daemon.log.contains("apt-get install postgresql-15 postgresql-15-postgis-3"))
    }

    @Test func notifiesSystemdOnlyOnceMigratedAndBoundThenWatchdogAndStopping() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let listener = try NotifySocketListener()
        let port = DaemonProcess.freePort()
        let state = TestPostgres.makeBaseDirectory("notify")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let daemon = try DaemonProcess(
            arguments: ["--database-url", url(endpoint), "--http-port", "\(port)", "--state-dir", state],
            environment: [
                "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000", "HYPERVISION_HTTP_HOST": "0.0.0.0",
                "HYPERVISION_HTTP_IDLE_TIMEOUT_SECONDS": "1",
            ])
        let ready = await listener.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }
        #expect(ready.found != nil, "no READY=1; saw \(ready.seen); log: \(daemon.log)")
        // READY=1 came after the migrations and with the HTTP port already answering.
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM hypervision_schema") == [Int64(Migration.all.count)])
        let readyz = await DaemonProcess.get("http://127.0.0.1:\(port)/readyz")
        #expect(readyz?.status == 200)
        #expect(readyz?.body.contains("\"database\":\"ready\"") == true)
        let metrics = await DaemonProcess.get("http://127.0.0.1:\(port)/metrics")
        #expect(metrics?.body.contains("hypervision_spool_bytes") == true)
        // Durations have buckets below a millisecond: a wall round's target is under 1 ms.
        #expect(metrics?.body.contains(#"hypervision_wall_round_duration_seconds_bucket{le="0.001"}"#) == true, "\(metrics?.body.prefix(2_000) ?? "")")
        #expect(metrics?.body.contains(#"hypervision_wall_round_cpu_seconds_bucket{le="0.001"}"#) == true)
        #expect(await DaemonProcess.get("http://127.0.0.1:\(port)/healthz")?.status == 200)
        let openapi = await DaemonProcess.get("http://127.0.0.1:\(port)/openapi.yaml")
        let onDisk = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Schemas/openapi/openapi.yaml"),
            encoding: .utf8)
        #expect(openapi?.body == onDisk)

        // No tokens configured: asked for 0.0.0.0, it listens on loopback only and says why.
        #expect(daemon.log.contains("authentication is off, so listening on loopback only"))
        #expect(daemon.log.contains("Server started and listening on 127.0.0.1:\(port)"))

        // A client that connects and says nothing is dropped after http.idleTimeoutSeconds.
        let silent = try LineClient(port: port)
        #expect(await silent.isClosed(within: .seconds(5)))

        let watchdog = await listener.waitFor(timeout: .seconds(5)) { $0 == "WATCHDOG=1" }
        #expect(watchdog.found != nil)

        // Connections that never said anything do not hold the shutdown (HTTP, subscriptions,
        // ingest): each would otherwise wait for its own idle timeout.
        let idle = try [port, daemon.subscriptionsPort].map { try LineClient(port: $0) }
        let stopAsked = ContinuousClock.now
        daemon.signal(SIGTERM)
        let stopping = await listener.waitFor(timeout: .seconds(20)) { $0.contains("STOPPING=1") }
        #expect(stopping.found != nil)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
        #expect(ContinuousClock.now - stopAsked < .seconds(8), "shutdown waited for idle connections (the subscribe timeout is 10 s)")
        _ = idle
    }

    @Test func sighupReloadsTheLogLevelAndRetentionAndRefusesABrokenFile() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let listener = try NotifySocketListener()
        let state = TestPostgres.makeBaseDirectory("reload")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let config = state + "/config.yaml"
        try "log:\n  level: info\nretention:\n  days: 30\n".write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(
            arguments: ["--config", config, "--database-url", url(endpoint), "--http-port", "\(DaemonProcess.freePort())",
                        "--state-dir", state],
            environment: ["NOTIFY_SOCKET": listener.path])
        #expect(await listener.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }.found != nil)

        try "log:\n  level: debug\nretention:\n  days: 7\nwriter:\n  batchSize: 500\n".write(toFile: config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        let reloading = await listener.waitFor(timeout: .seconds(10)) { $0.hasPrefix("RELOADING=1") }
        #expect(reloading.found != nil, "saw \(reloading.seen)")
        #expect(await listener.waitFor(timeout: .seconds(10)) { $0.contains("READY=1") }.found != nil)
        #expect(daemon.log.contains("log level changed"))
        #expect(daemon.log.contains("retention.days=7"))
        #expect(daemon.log.contains("needs_restart=[\"writer\"]"))

        try "log:\n  levle: debug\n".write(toFile: config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try await Task.sleep(for: .seconds(1))
        #expect(daemon.log.contains("configuration reload refused; keeping the running configuration"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test func aDatabaseDownAtStartIsRetriedWhileReadyzSaysWhy() async throws {
        let listener = try NotifySocketListener()
        let port = DaemonProcess.freePort()
        let nowhere = TestPostgres.makeBaseDirectory("nodb")
        defer { try? FileManager.default.removeItem(atPath: nowhere) }
        let daemon = try DaemonProcess(
            arguments: ["--database-url", "postgres:///hv?host=\(nowhere)&user=hv", "--http-port", "\(port)",
                        "--state-dir", nowhere],
            environment: ["NOTIFY_SOCKET": listener.path])
        var readyz: (status: Int, body: String)?
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            readyz = await DaemonProcess.get("http://127.0.0.1:\(port)/readyz")
            if readyz != nil { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(readyz?.status == 503)
        #expect(readyz?.body.contains("connecting") == true, "\(String(describing: readyz))")
        let status = await listener.waitFor(timeout: .seconds(5)) { $0.hasPrefix("STATUS=database connecting") }
        #expect(status.found != nil, "saw \(status.seen)")
        #expect(!status.seen.contains { $0.contains("READY=1") })
        #expect(daemon.log.contains("database not reachable yet; retrying"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) != nil)
    }

    /// The README's first command: no database configured, so the daemon runs its own
    /// PostgreSQL + PostGIS, and the demo fleet's pings land in it.
    @Test(.timeLimit(.minutes(3)))
    func theEmbeddedDefaultRunsItsOwnPostGISAndStopsIt() async throws {
        let state = TestPostgres.makeBaseDirectory("embedded")
        let port = DaemonProcess.freePort()
        let daemon = try DaemonProcess(arguments: ["--state-dir", state, "--http-port", "\(port)", "--demo"])
        var ready = false
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, !ready {
            ready = await DaemonProcess.get("http://127.0.0.1:\(port)/readyz")?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(ready, "daemon log: \(daemon.log)")
        var endpoint = DatabaseEndpoint(host: state + "/run", user: "hypervision", database: "hypervision", sslMode: .disable)
        endpoint.port = 5432
        // The demo's first pings come a moment after readiness; on a machine busy with the
        // other suites, some seconds.
        var stored: Int64 = 0, heard: Int64 = 0
        let storedBy = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < storedBy, stored < 200 || heard < 200 {
            try await Task.sleep(for: .milliseconds(500))
            stored = try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings").first ?? 0
            // Every demo unit was heard today (or yesterday, at midnight), so start-up finds its latest position.
            heard = try await TestPostgres.integers(
                endpoint, "SELECT count(*) FROM units WHERE heard_on >= (now() AT TIME ZONE 'UTC')::date - 1").first ?? 0
        }
        #expect(stored >= 200, "demo pings should be stored; daemon log: \(daemon.log.suffix(3_000))")
        #expect(heard == 200)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(60)) == 0)
        // The embedded cluster was stopped with the daemon.
        #expect(!FileManager.default.fileExists(atPath: state + "/postgres/postmaster.pid"))
        try? FileManager.default.removeItem(atPath: state)
    }
}
