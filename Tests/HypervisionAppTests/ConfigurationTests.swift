import Foundation
import HypervisionApp
import HypervisionConfiguration
import HypervisionCore
import HypervisionTestSupport
import Logging
import Testing
import HypervisionHTTP
import HypervisionIngestServer
import HypervisionLive
import HypervisionNetwork
import HypervisionStore
import HypervisionStream
import NIOCore

@Suite struct ConfigurationTests {
    func write(_ yaml: String) -> String {
        let path = NSTemporaryDirectory() + "hv-config-\(UUID().uuidString).yaml"
        try! yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func problem(_ yaml: String, environment: [String: String] = [:]) async -> ConfigurationError? {
        do {
            _ = try await ConfigurationLoader.load(filePath: write(yaml), overrides: [:], environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsTheFileThenEnvironmentThenFlags() async throws {
        let path = write(
            """
            http:
              port: 9999
              host: 0.0.0.0
            writer:
              batchSize: 500
              lingerMs: 7
            retention:
              days: 10
            log:
              level: debug
            """)
        let fromFile = try await ConfigurationLoader.load(filePath: path, overrides: [:], environment: [:])
        #expect(fromFile.api.port == 9999 && fromFile.api.host == "0.0.0.0")
        #expect(fromFile.store.writer.maximumBatchSize == 500 && fromFile.store.writer.linger == .milliseconds(7))
        #expect(fromFile.store.retention.retentionDays == 10 && fromFile.logLevel == .debug)
        #expect(fromFile.store.spoolMaximumBytes == 1 << 30)  // default kept

        let environment = ["HYPERVISION_HTTP_PORT": "7000", "HYPERVISION_WRITER_BATCH_SIZE": "800"]
        let withEnvironment = try await ConfigurationLoader.load(filePath: path, overrides: [:], environment: environment)
        #expect(withEnvironment.api.port == 7000 && withEnvironment.store.writer.maximumBatchSize == 800)

        let withFlags = try await ConfigurationLoader.load(filePath: path, overrides: ["http.port": "7100"], environment: environment)
        #expect(withFlags.api.port == 7100)
    }

    @Test func anUnknownKeyIsNamedWithASuggestion() async {
        let error = await problem("htpp:\n  port: 8080\n")
        #expect(error?.key == "htpp.port")
        #expect(error?.description.contains("did you mean http.port?") == true)
    }

    @Test func aWrongTypeNamesTheKeyAndTheValue() async {
        let error = await problem("http:\n  port: eighty\n")
        #expect(error?.key == "http.port")
        #expect(error?.problem.contains("\"eighty\" is not a whole number") == true)
    }

    @Test func outOfRangeAndBadEnumerationsAreRefused() async {
        #expect(await problem("http:\n  port: 70000\n")?.key == "http.port")
        #expect(await problem("retention:\n  days: 0\n")?.key == "retention.days")
        #expect(await problem("log:\n  level: loud\n")?.problem.contains("trace") == true)
        #expect(await problem("database:\n  url: mysql://x\n")?.key == "database.url")
        let fromEnvironment = await problem("log:\n  level: info\n", environment: ["HYPERVISION_WRITER_BATCH_SIZE": "lots"])
        #expect(fromEnvironment?.key == "writer.batchSize", "\(String(describing: fromEnvironment))")
        let empty = await problem("")
        #expect(empty == nil, "an empty file means all defaults: \(String(describing: empty))")
    }

    /// A stop waits for the batches being written, up to one write deadline: a stop timeout
    /// shorter than that would end every slow stop by force.
    @Test func theStopTimeoutMustLeaveRoomForOneWriteDeadline() async {
        let tooShort = await problem("shutdown:\n  timeoutSeconds: 10\nwriter:\n  writeTimeoutMs: 9000\n")
        #expect(tooShort?.key == "shutdown.timeoutSeconds")
        #expect(tooShort?.problem.contains("writer.writeTimeoutMs") == true)
        #expect(await problem("shutdown:\n  timeoutSeconds: 12\nwriter:\n  writeTimeoutMs: 9000\n") == nil)
        #expect(await problem("database:\n  statementTimeoutMs: 50\n")?.key == "database.statementTimeoutMs")
    }

    /// The connection limits and the scene history are read where the README says, and a value
    /// out of range names its key.
    @Test func connectionLimitsAndTheHistoryWindowAreRead() async throws {
        let path = write(
            """
            http:
              maxConnections: 300
              maxConnectionsPerAddress: 20
              headerTimeoutSeconds: 5
              bodyTimeoutSeconds: 30
            ingest:
              tcp:
                maxUnauthenticated: 8
                maxConnectionsPerAddress: 16
                maxUnauthenticatedPerAddress: 2
                authTimeoutSeconds: 3
              osmand:
                maxConnectionsPerAddress: 500
              cot:
                maxConnections: 10
                idleTimeoutSeconds: 60
            subscriptions:
              maxUnsubscribed: 12
              maxUnsubscribedPerAddress: 3
              subscribeTimeoutSeconds: 4
              history:
                maxPatches: 1200
                maxBytes: 8388608
            """)
        let c = try await ConfigurationLoader.load(filePath: path, overrides: [:], environment: [:])
        #expect(c.api.limits.maximumConnections == 300 && c.api.limits.maximumPerAddress == 20)
        #expect(c.api.deadlines.header == .seconds(5) && c.api.deadlines.body == .seconds(30) && c.api.deadlines.idle == .seconds(60))
        #expect(c.ingest.tcp.maximumUnauthenticated == 8 && c.ingest.tcp.maximumConnectionsPerAddress == 16)
        #expect(c.ingest.tcp.authenticationTimeout == .seconds(3) && c.ingest.tcp.maximumUnauthenticatedPerAddress == 2)
        #expect(c.stream.subscriptions.maximumUnsubscribedPerAddress == 3)
        #expect(c.api.osmandLimits.maximumPerAddress == 500 && c.api.osmandLimits.maximumConnections == 1_024)
        #expect(c.ingest.cot.maximumConnections == 10 && c.ingest.cot.idleTimeout == .seconds(60) && c.ingest.cot.maximumConnectionsPerAddress == 64)
        #expect(c.stream.subscriptions.maximumUnsubscribed == 12 && c.stream.subscriptions.subscribeTimeout == .seconds(4))
        #expect(c.stream.hub.history.maximumPatches == 1_200 && c.stream.hub.history.maximumBytes == 8 << 20)
        #expect(await problem("subscriptions:\n  history:\n    maxPatches: 0\n")?.key == "subscriptions.history.maxPatches")
        #expect(await problem("http:\n  headerTimeoutSeconds: 0\n")?.key == "http.headerTimeoutSeconds")
        #expect(await problem("ingest:\n  tcp:\n    maxUnauthenticated: -1\n")?.key == "ingest.tcp.maxUnauthenticated")
    }

    @Test func clusterNodeNamesAreChecked() async throws {
        for bad in ["-a", "a b", String(repeating: "x", count: 64), "cic/a"] {
            let error = await problem("cluster:\n  node: \"\(bad)\"\n")
            #expect(error?.key == "cluster.node" && error?.problem.contains("is not a node name") == true, "\(bad): \(String(describing: error))")
        }
        let named = try await ConfigurationLoader.load(filePath: write("cluster:\n  node: cic-paris.1\n"), overrides: [:], environment: [:])
        #expect(named.cluster.node == "cic-paris.1" && named.cluster.isShared)
        #expect(try await ConfigurationLoader.load(filePath: write("log:\n  level: info\n"), overrides: [:], environment: [:]).cluster.isShared == false)
    }

    @Test func brokenYAMLIsReportedWithTheFile() async {
        let error = await problem("http: [port: 1\n")
        #expect(error?.key == nil)
        #expect(error?.problem.contains("not valid YAML") == true)
    }

    @Test func theShippedExampleConfigurationLoads() async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Deploy/config.example.yaml").path
        let configuration = try await ConfigurationLoader.load(filePath: path, overrides: [:], environment: [:])
        #expect(configuration.stream.wallsDirectory == "/etc/hypervision/walls")
        #expect(configuration.stream.subscriptions.port == 7400 && configuration.units.staleAfter == 300)
    }

    @Test func theShippedRoutingExampleLoadsAndRoutes() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Deploy/routing.example.yaml").path
        let router = try RoutingRulesFile.load(path: path)
        #expect(router.rules.map(\.name) == ["noise-centre-night", "rural-burglary", "most-urgent"])
        #expect(router.timeZoneIdentifier == "Europe/Paris")
        let night = Timestamp(rfc3339: "2026-11-23T23:00:00Z")!
        #expect(router.route(category: "noise", priority: 3, location: GeoPoint(latitude: 48.86, longitude: 2.35), at: night).service
            == "police_municipale")
    }

    @Test func routingFileMistakesNameTheRuleAndTheProblem() async {
        let cases: [(String, String)] = [
            ("rules:\n  - service: x\n    zone: nowhere\n", "rules[0].zone: \"nowhere\" is not one of the zones"),
            ("rules:\n  - name: a\n", "rules[0]: service is required"),
            ("rules:\n  - service: x\n    hours: \"25:00-01:00\"\n", "rules[0].hours"),
            ("zones:\n  z: [[[0, 0], [1, 0], [1, 1], [0, 0.5]]]\n", "zones.z: zone z: ring 0 is not closed"),
            ("timeZone: Mars/Olympus\n", "not a known IANA zone"),
            ("rules:\n  - service: x\n    colour: red\n", "rules[0].colour: unknown key"),
        ]
        for (yaml, expected) in cases {
            let routing = write(yaml)
            let error = await problem("incidents:\n  routingFile: \(routing)\n")
            #expect(error?.key == "incidents.routingFile")
            #expect(error?.problem.contains(expected) == true, "\(error?.problem ?? "accepted") lacks \(expected)")
        }
    }

    @Test func stateDirectoryFollowsSystemdThenRoot() {
        var configuration = DaemonConfiguration()
        #expect(configuration.resolvedStateDirectory(environment: ["STATE_DIRECTORY": "/var/lib/hypervision"]) == "/var/lib/hypervision")
        configuration.stateDirectory = "/srv/hv"
        #expect(configuration.resolvedStateDirectory(environment: ["STATE_DIRECTORY": "/x"]) == "/srv/hv")
    }
}

@Suite struct SystemdNotifierTests {
    @Test func messagesAreKeyValueLines() {
        #expect(SystemdNotifier.message([("READY", "1"), ("STATUS", "two\nlines")]) == "READY=1\nSTATUS=two lines")
    }

    @Test func sendsDatagramsToTheNotifySocket() throws {
        let listener = try NotifySocketListener()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
        notifier.ready(status: "ready")
        let message = listener.receive()
        #expect(message?.hasPrefix("READY=1\nSTATUS=ready\nMAINPID=") == true)
        notifier.watchdog()
        #expect(listener.receive() == "WATCHDOG=1")
    }

    @Test func withoutNotifySocketNothingIsSent() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(!notifier.send([("READY", "1")]))
    }

    @Test func watchdogIntervalIsReadForThisProcessOnly() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"]) == .seconds(30))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:]) == nil)
    }

    @Test func environmentVariablesThatSetNothingAreNamedWithTheNearestOne() {
        #expect(DaemonConfiguration.environmentName(of: "walls.intervalMs") == "HYPERVISION_WALLS_INTERVAL_MS")
        #expect(DaemonConfiguration.environmentName(of: "subscriptions.tls.clientCA") == "HYPERVISION_SUBSCRIPTIONS_TLS_CLIENT_CA")
        let unknown = DaemonConfiguration.unknownEnvironmentVariables(in: [
            "HYPERVISION_WALLS_INTERVALMS": "10", "HYPERVISION_WALLS_INTERVAL_MS": "10", "HYPERVISION_URL": "http://x",
            "HYPERVISION_TOKEN": "t", "HYPERVISION_NOTHING_LIKE_IT_AT_ALL": "1", "PATH": "/bin",
        ])
        #expect(unknown.map(\.name) == ["HYPERVISION_NOTHING_LIKE_IT_AT_ALL", "HYPERVISION_WALLS_INTERVALMS"])
        #expect(unknown.map(\.suggestion) == [nil, "HYPERVISION_WALLS_INTERVAL_MS"])
    }

    /// What the README documents is what the loader reads: a value set through the variable
    /// `environmentName(of:)` gives reaches the configuration.
    @Test func everyKeysEnvironmentNameIsReadByTheLoader() async throws {
        let configuration = try await ConfigurationLoader.load(
            filePath: nil, overrides: [:],
            environment: [DaemonConfiguration.environmentName(of: "walls.intervalMs"): "25",
                          DaemonConfiguration.environmentName(of: "subscriptions.maxMessagesPerSecond"): "40"])
        #expect(configuration.stream.walls.interval == .milliseconds(25))
        #expect(configuration.stream.hub.subscriber.minimumIntervalNanoseconds == 25_000_000)
        let misspelt = try await ConfigurationLoader.load(filePath: nil, overrides: [:], environment: ["HYPERVISION_WALLS_INTERVALMS": "25"])
        #expect(misspelt.stream.walls.interval == .milliseconds(100))
    }
}
