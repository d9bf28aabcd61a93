import Configuration
import Foundation
import HypervisionCore
import HypervisionHTTP
import HypervisionIngestServer
import HypervisionNetwork
import HypervisionLive
import HypervisionStore
import Logging
import NIOSSL
import Yams

/// PEM files that put TLS on a TCP port (`<port>.tls.certificate` and `.key`), with client
/// certificates checked against `.clientCA` when presented, or always with
/// `.requireClientCertificate`.
public struct TLSFiles: Sendable, Hashable {
    /// Where these settings live (`ingest.tcp.tls`, say); errors name the keys under it.
    public let prefix: String
    public var certificate = ""
    public var key = ""
    public var clientCA = ""
    public var requireClientCertificate = false

    public init(prefix: String) { self.prefix = prefix }

    public var isEnabled: Bool { !certificate.isEmpty }

    /// The configuration keys under `prefix` (`subscriptions.tls`, say).
    static func keys(_ prefix: String) -> [String] {
        ["certificate", "key", "clientCA", "requireClientCertificate"].map { "\(prefix).\($0)" }
    }

    fileprivate init(_ r: KeyReader, prefix: String) throws(ConfigurationError) {
        self.prefix = prefix
        certificate = try r.string(prefix + ".certificate", default: "")
        key = try r.string(prefix + ".key", default: "")
        clientCA = try r.string(prefix + ".clientCA", default: "")
        requireClientCertificate = try r.bool(prefix + ".requireClientCertificate", default: false)
        if certificate.isEmpty != key.isEmpty {
            throw ConfigurationError(key: prefix + ".key", problem: "TLS needs both \(prefix).certificate and \(prefix).key")
        }
        if certificate.isEmpty && (!clientCA.isEmpty || requireClientCertificate) {
            throw ConfigurationError(key: prefix + ".clientCA", problem: "client certificates need TLS (\(prefix).certificate and key)")
        }
        if requireClientCertificate && clientCA.isEmpty {
            throw ConfigurationError(key: prefix + ".requireClientCertificate", problem: "requiring client certificates needs \(prefix).clientCA")
        }
    }

    /// The server side of TLS from these files (TLS 1.2 or later), nil when TLS is off. A file
    /// that cannot be read or does not hold what it should is an error naming the key.
    public func serverConfiguration() throws(ConfigurationError) -> TLSConfiguration? {
        guard isEnabled else { return nil }
        do {
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            tls.minimumTLSVersion = .tlsv12
            if !clientCA.isEmpty {
                tls.trustRoots = .file(clientCA)
                tls.certificateVerification = requireClientCertificate ? .noHostnameVerification : .optionalVerification
            }
            // A CA file that is missing or not PEM fails here rather than at the first handshake.
            _ = try NIOSSLContext(configuration: tls)
            return tls
        } catch {
            throw ConfigurationError(key: prefix + ".certificate", problem: "cannot load the TLS certificate, key or client CA: \(error)")
        }
    }
}

/// Everything hypervisiond reads from its configuration: the YAML file, then `HYPERVISION_*`
/// environment variables, then command-line flags (the first that has a key wins, flags first).
public struct DaemonConfiguration: Sendable {
    public var httpHost: String = "127.0.0.1"
    public var httpPort: Int = 8080
    /// HTTPS on the HTTP port (the API, the WebSocket stream, the wall preview).
    public var httpTLS = TLSFiles(prefix: "http.tls")
    /// HTTP connections idle between requests this long are closed (API and OsmAnd ports).
    public var httpIdleTimeoutSeconds: Int = 60
    /// A request head must be complete this long after the connection (or the request's first
    /// byte on a kept-alive connection); the TLS handshake counts.
    public var httpHeaderTimeoutSeconds: Int = 10
    /// A request body must be complete this long after its head.
    public var httpBodyTimeoutSeconds: Int = 60
    /// Connections of the API port in all, and from one client address (IPv4, or IPv6 /64).
    public var httpMaximumConnections: Int = 1_024
    public var httpMaximumConnectionsPerAddress: Int = 128
    /// Empty means "choose" (see ``resolvedStateDirectory(environment:)``).
    public var stateDirectory: String = ""
    public var databaseURL: String = ""
    public var databasePoolSize: Int = 8
    /// The server ends any statement running longer (`statement_timeout` of every connection);
    /// the daemon closes a connection whose answer is this late (plus a margin), so a frozen
    /// server never holds a request or a pooled connection.
    public var databaseStatementTimeout: Duration = .seconds(15)
    /// How long a graceful stop may take before the daemon exits anyway (below systemd's
    /// `TimeoutStopSec`, so the daemon, not SIGKILL, decides what happens to pending pings).
    public var shutdownTimeout: Duration = .seconds(30)
    public var embeddedUser: String = "postgres"
    public var embeddedBinDirectory: String = "/usr/lib/postgresql/15/bin"
    public var writer = PingWriterConfiguration()
    public var spoolMaximumBytes: Int = 1 << 30
    public var retentionDays: Int = 30
    public var partitionsAhead: Int = 3
    public var logLevel: Logger.Level = .info
    public var demo: Bool = false
    /// Access tokens as `NAME:SHA256HEX:SCOPE+SCOPE`. None: no authentication, loopback only.
    public var tokens: [AccessToken] = []
    public var httpIngest = HTTPIngestLimits()
    public var tcpIngestEnabled = true
    public var tcpIngest = NDJSONIngestConfiguration()
    public var tcpIngestTLS = TLSFiles(prefix: "ingest.tcp.tls")
    public var udpIngestEnabled = true
    public var udpIngest = UDPIngestConfiguration()
    public var cameras = CameraAPIConfiguration()
    public var osmandEnabled = true
    public var cotEnabled = true
    public var cot = CoTIngestConfiguration()
    public var cotTLS = TLSFiles(prefix: "ingest.cot.tls")
    public var osmand = OsmAndConfiguration()
    public var osmandTLS = TLSFiles(prefix: "ingest.osmand.tls")
    /// Connections of the OsmAnd port in all, and from one address: phones behind a carrier's
    /// NAT share addresses, hence the larger per-address cap.
    public var osmandMaximumConnections: Int = 1_024
    public var osmandMaximumConnectionsPerAddress: Int = 256
    /// Incident routing rules, from `incidents.routingFile` (none: everything to the default service).
    public var incidentRouter: IncidentRouter = try! IncidentRouter()
    public var incidentRoutingFile: String = ""
    /// Scene subscriptions (TCP, optionally TLS).
    public var subscriptionsEnabled = true
    public var subscriptionPort = 7400
    public var subscriptionTLS = TLSFiles(prefix: "subscriptions.tls")
    public var subscriptionMaximumConnections = 2_000
    /// Connections that have not subscribed yet (their token comes with the subscribe line).
    public var subscriptionMaximumUnsubscribed = 128
    public var subscriptionMaximumConnectionsPerAddress = 256
    public var subscriptionMaximumUnsubscribedPerAddress = 16
    /// The subscribe line (TCP) or message (WebSocket) must arrive within this time.
    public var subscriptionSubscribeTimeoutSeconds = 10
    /// The patches each stream keeps for renderers resuming with `since`: at most this many,
    /// and at most this many bytes.
    public var subscriptionHistoryMaximumPatches = 600
    public var subscriptionHistoryMaximumBytes = 4 << 20
    /// Updates per second at most to one subscriber (coalesced in between).
    public var subscriptionMaximumRate: Double = 10
    public var subscriptionHeartbeatSeconds: Double = 2
    /// Wall definitions: every `*.json`, `*.yaml` or `*.yml` file in this directory.
    public var wallsDirectory = ""
    public var wallsIntervalMilliseconds = 100
    public var wallsKeyframeSeconds = 60
    /// A unit not heard from for this long is stale.
    public var unitStaleSeconds = 300
    /// Most units in the live picture; beyond it the longest-unheard are forgotten first.
    public var unitsMaximumLive = 200_000
    /// Units not heard from for this many hours are forgotten (0: never on silence alone).
    public var unitsForgetAfterHours = 24
    /// The wall pages' own section (`basemap.*`, `demo.video.*`), read by ``WallPagesConfiguration``.
    public var wallPages = WallPagesConfiguration()

    public init() {}

    /// Every key the file may contain. A key outside this list is a typo and is refused.
    public static let knownKeys: [String] = tlsPrefixes.flatMap(TLSFiles.keys) + [
        "http.host", "http.port", "http.idleTimeoutSeconds", "http.headerTimeoutSeconds", "http.bodyTimeoutSeconds",
        "http.maxConnections", "http.maxConnectionsPerAddress", "state.dir", "database.url", "database.poolSize",
        "database.statementTimeoutMs", "database.embedded.user", "shutdown.timeoutSeconds",
        "database.embedded.binDir", "writer.batchSize", "writer.lingerMs", "writer.queueCapacity",
        "writer.writeTimeoutMs", "writer.retryIntervalMs", "writer.concurrency", "spool.maxBytes", "retention.days",
        "retention.partitionsAhead", "log.level", "demo.enabled", "auth.tokens", "ingest.http.maxBodyBytes",
        "ingest.http.maxItems", "ingest.tcp.enabled", "ingest.tcp.port", "ingest.tcp.maxLineBytes",
        "ingest.tcp.idleTimeoutSeconds", "ingest.tcp.maxConnections", "ingest.tcp.maxUnauthenticated",
        "ingest.tcp.maxConnectionsPerAddress", "ingest.tcp.maxUnauthenticatedPerAddress", "ingest.tcp.authTimeoutSeconds", "ingest.udp.enabled", "ingest.udp.port",
        "ingest.udp.allowedNetworks", "cameras.offlineGraceSeconds", "ingest.osmand.enabled", "ingest.osmand.port",
        "ingest.osmand.allowedNetworks", "ingest.osmand.maxConnections", "ingest.osmand.maxConnectionsPerAddress",
        "ingest.cot.enabled", "ingest.cot.port", "ingest.cot.allowedNetworks", "ingest.cot.maxConnections",
        "ingest.cot.maxConnectionsPerAddress", "ingest.cot.idleTimeoutSeconds",
        "incidents.routingFile", "subscriptions.enabled", "subscriptions.port", "subscriptions.maxConnections",
        "subscriptions.maxUnsubscribed", "subscriptions.maxUnsubscribedPerAddress", "subscriptions.maxConnectionsPerAddress", "subscriptions.subscribeTimeoutSeconds",
        "subscriptions.history.maxPatches", "subscriptions.history.maxBytes",
        "subscriptions.maxMessagesPerSecond", "subscriptions.heartbeatSeconds",
        "walls.directory", "walls.intervalMs", "walls.keyframeSeconds", "units.staleSeconds",
        "units.maxLive", "units.forgetAfterHours",
    ] + WallPagesConfiguration.keys

    /// The per-phase deadlines of the HTTP ports (API and OsmAnd).
    public var httpDeadlines: HTTPPhaseMachine.Deadlines {
        HTTPPhaseMachine.Deadlines(
            header: .seconds(Int64(httpHeaderTimeoutSeconds)), body: .seconds(Int64(httpBodyTimeoutSeconds)),
            idle: .seconds(Int64(httpIdleTimeoutSeconds)))
    }

    /// The TLS settings of every TCP port.
    public var tlsPorts: [TLSFiles] { [httpTLS, tcpIngestTLS, cotTLS, osmandTLS, subscriptionTLS] }

    /// Where each port's TLS settings live: `<prefix>.certificate`, `.key`, `.clientCA`, `.requireClientCertificate`.
    public static let tlsPrefixes = DaemonConfiguration().tlsPorts.map(\.prefix)

    /// The environment variable that sets `key`: `HYPERVISION_` and the key in upper snake case
    /// (`walls.intervalMs` → `HYPERVISION_WALLS_INTERVAL_MS`).
    public static func environmentName(of key: String) -> String {
        var name = "HYPERVISION_"
        var previous: Character = "_"
        for character in key {
            if character == "." {
                name.append("_")
            } else {
                if character.isUppercase && previous.isLowercase { name.append("_") }
                name.append(contentsOf: character.uppercased())
            }
            previous = character
        }
        return name
    }

    /// `HYPERVISION_*` variables that set nothing (a typo, or `INTERVALMS` for `INTERVAL_MS`),
    /// each with the nearest variable that would. The daemon warns rather than refuses: other
    /// tools share the prefix (`HYPERVISION_URL` and `HYPERVISION_TOKEN` of hypervisionctl).
    public static func unknownEnvironmentVariables(in environment: [String: String]) -> [(name: String, suggestion: String?)] {
        let known = Set(knownKeys.map(environmentName(of:)))
        let otherTools: Set<String> = ["HYPERVISION_URL", "HYPERVISION_TOKEN"]
        return environment.keys.filter { $0.hasPrefix("HYPERVISION_") && !known.contains($0) && !otherTools.contains($0) }.sorted().map { name in
            let nearest = known.min { editDistance($0, name) < editDistance($1, name) }
            return (name, nearest.flatMap { editDistance($0, name) <= 3 ? $0 : nil })
        }
    }

    /// Reads and validates every key. Errors name the key and the problem.
    public init(reader: ConfigReader) throws(ConfigurationError) {
        let r = KeyReader(reader: reader)
        httpHost = try r.string("http.host", default: httpHost)
        httpPort = try r.int("http.port", default: httpPort, in: 0...65_535)
        httpIdleTimeoutSeconds = try r.int("http.idleTimeoutSeconds", default: httpIdleTimeoutSeconds, in: 1...3_600)
        httpHeaderTimeoutSeconds = try r.int("http.headerTimeoutSeconds", default: httpHeaderTimeoutSeconds, in: 1...600)
        httpBodyTimeoutSeconds = try r.int("http.bodyTimeoutSeconds", default: httpBodyTimeoutSeconds, in: 1...3_600)
        httpMaximumConnections = try r.int("http.maxConnections", default: httpMaximumConnections, in: 1...100_000)
        httpMaximumConnectionsPerAddress = try r.int(
            "http.maxConnectionsPerAddress", default: httpMaximumConnectionsPerAddress, in: 1...100_000)
        httpTLS = try TLSFiles(r, prefix: httpTLS.prefix)
        stateDirectory = try r.string("state.dir", default: stateDirectory)
        databaseURL = try r.string("database.url", default: databaseURL)
        databasePoolSize = try r.int("database.poolSize", default: databasePoolSize, in: 1...200)
        databaseStatementTimeout = .milliseconds(try r.int("database.statementTimeoutMs", default: 15_000, in: 100...3_600_000))
        shutdownTimeout = .seconds(try r.int("shutdown.timeoutSeconds", default: 30, in: 5...3_600))
        embeddedUser = try r.string("database.embedded.user", default: embeddedUser)
        embeddedBinDirectory = try r.string("database.embedded.binDir", default: embeddedBinDirectory)
        writer.maximumBatchSize = try r.int("writer.batchSize", default: writer.maximumBatchSize, in: 1...1_000_000)
        writer.linger = .milliseconds(try r.int("writer.lingerMs", default: 2, in: 0...10_000))
        writer.queueCapacity = try r.int("writer.queueCapacity", default: writer.queueCapacity, in: 1...100_000_000)
        writer.concurrency = try r.int("writer.concurrency", default: writer.concurrency, in: 1...16)
        writer.writeTimeout = .milliseconds(try r.int("writer.writeTimeoutMs", default: 10_000, in: 100...600_000))
        writer.retryInterval = .milliseconds(try r.int("writer.retryIntervalMs", default: 2_000, in: 10...600_000))
        spoolMaximumBytes = try r.int("spool.maxBytes", default: spoolMaximumBytes, in: 1 << 16...1 << 50)
        retentionDays = try r.int("retention.days", default: retentionDays, in: 1...36_500)
        partitionsAhead = try r.int("retention.partitionsAhead", default: partitionsAhead, in: 1...366)
        let level = try r.string("log.level", default: logLevel.rawValue)
        guard let parsed = Logger.Level(rawValue: level) else {
            throw ConfigurationError(
                key: "log.level",
                problem: "\"\(level)\" is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        logLevel = parsed
        demo = try r.bool("demo.enabled", default: demo)
        for specification in r.strings("auth.tokens") {
            do {
                tokens.append(try AccessToken(specification: specification))
            } catch {
                throw ConfigurationError(key: "auth.tokens", problem: error.message)
            }
        }
        httpIngest.maximumBodyBytes = try r.int("ingest.http.maxBodyBytes", default: httpIngest.maximumBodyBytes, in: 1024...(1 << 30))
        httpIngest.maximumItems = try r.int("ingest.http.maxItems", default: httpIngest.maximumItems, in: 1...1_000_000)
        tcpIngestEnabled = try r.bool("ingest.tcp.enabled", default: tcpIngestEnabled)
        tcpIngest.port = try r.int("ingest.tcp.port", default: tcpIngest.port, in: 0...65_535)
        tcpIngest.maximumLineBytes = try r.int("ingest.tcp.maxLineBytes", default: tcpIngest.maximumLineBytes, in: 256...(16 << 20))
        tcpIngest.idleTimeout = .seconds(Int64(try r.int("ingest.tcp.idleTimeoutSeconds", default: 300, in: 1...86_400)))
        tcpIngest.maximumConnections = try r.int("ingest.tcp.maxConnections", default: tcpIngest.maximumConnections, in: 1...100_000)
        tcpIngest.maximumUnauthenticated = try r.int(
            "ingest.tcp.maxUnauthenticated", default: tcpIngest.maximumUnauthenticated, in: 1...100_000)
        tcpIngest.maximumConnectionsPerAddress = try r.int(
            "ingest.tcp.maxConnectionsPerAddress", default: tcpIngest.maximumConnectionsPerAddress, in: 1...100_000)
        tcpIngest.maximumUnauthenticatedPerAddress = try r.int(
            "ingest.tcp.maxUnauthenticatedPerAddress", default: tcpIngest.maximumUnauthenticatedPerAddress, in: 1...100_000)
        tcpIngest.authenticationTimeout = .seconds(Int64(try r.int("ingest.tcp.authTimeoutSeconds", default: 10, in: 1...600)))
        tcpIngestTLS = try TLSFiles(r, prefix: tcpIngestTLS.prefix)
        osmandEnabled = try r.bool("ingest.osmand.enabled", default: osmandEnabled)
        osmand.port = try r.int("ingest.osmand.port", default: osmand.port, in: 0...65_535)
        osmandTLS = try TLSFiles(r, prefix: osmandTLS.prefix)
        osmandMaximumConnections = try r.int("ingest.osmand.maxConnections", default: osmandMaximumConnections, in: 1...100_000)
        osmandMaximumConnectionsPerAddress = try r.int(
            "ingest.osmand.maxConnectionsPerAddress", default: osmandMaximumConnectionsPerAddress, in: 1...100_000)
        let osmandNetworks = r.strings("ingest.osmand.allowedNetworks")
        if !osmandNetworks.isEmpty {
            do {
                osmand.allowedNetworks = try AllowedNetworks(osmandNetworks)
            } catch {
                throw ConfigurationError(key: "ingest.osmand.allowedNetworks", problem: error.message)
            }
        }
        cotEnabled = try r.bool("ingest.cot.enabled", default: cotEnabled)
        cot.port = try r.int("ingest.cot.port", default: cot.port, in: 0...65_535)
        cotTLS = try TLSFiles(r, prefix: cotTLS.prefix)
        cot.maximumConnections = try r.int("ingest.cot.maxConnections", default: cot.maximumConnections, in: 1...100_000)
        cot.maximumConnectionsPerAddress = try r.int(
            "ingest.cot.maxConnectionsPerAddress", default: cot.maximumConnectionsPerAddress, in: 1...100_000)
        cot.idleTimeout = .seconds(Int64(try r.int("ingest.cot.idleTimeoutSeconds", default: 300, in: 1...86_400)))
        let cotNetworks = r.strings("ingest.cot.allowedNetworks")
        if !cotNetworks.isEmpty {
            do {
                cot.allowedNetworks = try AllowedNetworks(cotNetworks)
            } catch {
                throw ConfigurationError(key: "ingest.cot.allowedNetworks", problem: error.message)
            }
        }
        cameras.offlineGraceSeconds = Double(try r.int("cameras.offlineGraceSeconds", default: 30, in: 0...3_600))
        udpIngestEnabled = try r.bool("ingest.udp.enabled", default: udpIngestEnabled)
        udpIngest.port = try r.int("ingest.udp.port", default: udpIngest.port, in: 0...65_535)
        let networks = r.strings("ingest.udp.allowedNetworks")
        if !networks.isEmpty {
            do {
                udpIngest.allowedNetworks = try AllowedNetworks(networks)
            } catch {
                throw ConfigurationError(key: "ingest.udp.allowedNetworks", problem: error.message)
            }
        }
        subscriptionsEnabled = try r.bool("subscriptions.enabled", default: subscriptionsEnabled)
        subscriptionPort = try r.int("subscriptions.port", default: subscriptionPort, in: 0...65_535)
        subscriptionTLS = try TLSFiles(r, prefix: subscriptionTLS.prefix)
        subscriptionMaximumConnections = try r.int("subscriptions.maxConnections", default: subscriptionMaximumConnections, in: 1...100_000)
        subscriptionMaximumUnsubscribed = try r.int(
            "subscriptions.maxUnsubscribed", default: subscriptionMaximumUnsubscribed, in: 1...100_000)
        subscriptionMaximumConnectionsPerAddress = try r.int(
            "subscriptions.maxConnectionsPerAddress", default: subscriptionMaximumConnectionsPerAddress, in: 1...100_000)
        subscriptionMaximumUnsubscribedPerAddress = try r.int(
            "subscriptions.maxUnsubscribedPerAddress", default: subscriptionMaximumUnsubscribedPerAddress, in: 1...100_000)
        subscriptionSubscribeTimeoutSeconds = try r.int(
            "subscriptions.subscribeTimeoutSeconds", default: subscriptionSubscribeTimeoutSeconds, in: 1...600)
        subscriptionHistoryMaximumPatches = try r.int(
            "subscriptions.history.maxPatches", default: subscriptionHistoryMaximumPatches, in: 1...1_000_000)
        subscriptionHistoryMaximumBytes = try r.int(
            "subscriptions.history.maxBytes", default: subscriptionHistoryMaximumBytes, in: 1_024...(1 << 34))
        subscriptionMaximumRate = Double(try r.int("subscriptions.maxMessagesPerSecond", default: 10, in: 1...1_000))
        subscriptionHeartbeatSeconds = Double(try r.int("subscriptions.heartbeatSeconds", default: 2, in: 1...60))
        wallsDirectory = try r.string("walls.directory", default: "")
        wallsIntervalMilliseconds = try r.int("walls.intervalMs", default: wallsIntervalMilliseconds, in: 10...60_000)
        wallsKeyframeSeconds = try r.int("walls.keyframeSeconds", default: wallsKeyframeSeconds, in: 1...86_400)
        unitStaleSeconds = try r.int("units.staleSeconds", default: unitStaleSeconds, in: 1...86_400 * 7)
        if shutdownTimeout < writer.writeTimeout + .seconds(2) {
            throw ConfigurationError(
                key: "shutdown.timeoutSeconds",
                problem: "must exceed writer.writeTimeoutMs by 2 s or more: a stop waits up to one write deadline for the batches in flight")
        }
        unitsMaximumLive = try r.int("units.maxLive", default: unitsMaximumLive, in: 1...10_000_000)
        unitsForgetAfterHours = try r.int("units.forgetAfterHours", default: unitsForgetAfterHours, in: 0...24 * 366)
        wallPages = try WallPagesConfiguration(reader: reader)
        incidentRoutingFile = try r.string("incidents.routingFile", default: "")
        if !incidentRoutingFile.isEmpty { incidentRouter = try RoutingRulesFile.load(path: incidentRoutingFile) }
        if !databaseURL.isEmpty {
            do {
                _ = try DatabaseEndpoint.resolve(url: databaseURL, environment: [:], currentUser: "hypervision")
            } catch {
                throw ConfigurationError(key: "database.url", problem: error.message)
            }
        }
    }

    /// The live picture's settings: staleness, and how many units it keeps and for how long.
    public var livePicture: LivePictureConfiguration {
        LivePictureConfiguration(
            staleAfter: Double(unitStaleSeconds), maximumUnits: unitsMaximumLive,
            forgetAfter: unitsForgetAfterHours == 0 ? nil : Double(unitsForgetAfterHours) * 3_600)
    }

    /// The state directory: configured, else `$STATE_DIRECTORY` (systemd), else
    /// `/var/lib/hypervision` for root, else `$XDG_STATE_HOME/hypervision` or `~/.local/state/hypervision`.
    public func resolvedStateDirectory(environment: [String: String]) -> String {
        if !stateDirectory.isEmpty { return stateDirectory }
        if let systemd = environment["STATE_DIRECTORY"], !systemd.isEmpty {
            return String(systemd.split(separator: ":").first ?? Substring(systemd))
        }
        if geteuid() == 0 { return "/var/lib/hypervision" }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/hypervision" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/hypervision"
    }

    /// Checks a YAML configuration file for syntax and for keys this version does not know.
    /// Returns false when the file holds no settings at all (empty, or comments only).
    @discardableResult
    public static func validateFile(at path: String) throws(ConfigurationError) -> Bool {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(key: nil, problem: "cannot read configuration file \(path): \(error.localizedDescription)")
        }
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw ConfigurationError(key: nil, problem: "\(path) is not valid YAML: \(error)")
        }
        guard let document else { return false }
        guard let root = document as? [String: Any] else {
            throw ConfigurationError(key: nil, problem: "\(path) must be a mapping of sections (http:, database:, …)")
        }
        var leaves: [String] = []
        func walk(_ node: [String: Any], prefix: String) {
            for (key, value) in node {
                let path = prefix.isEmpty ? key : prefix + "." + key
                if let child = value as? [String: Any] {
                    walk(child, prefix: path)
                } else if value is NSNull, knownKeys.contains(where: { $0.hasPrefix(path + ".") }) {
                    continue  // a section whose settings are all commented out
                } else {
                    leaves.append(path)
                }
            }
        }
        walk(root, prefix: "")
        for key in leaves.sorted() where !knownKeys.contains(key) {
            let suggestion = knownKeys.min { editDistance($0, key) < editDistance($1, key) }
            var problem = "unknown key in \(path)"
            if let suggestion, editDistance(suggestion, key) <= 3 { problem += " (did you mean \(suggestion)?)" }
            throw ConfigurationError(key: key, problem: problem)
        }
        return true
    }
}

/// A configuration value that cannot be used. hypervisiond prints it and exits with status 78
/// (`EX_CONFIG`), which systemd shows as a configuration error.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var key: String?
    public var problem: String
    public init(key: String?, problem: String) {
        self.key = key
        self.problem = problem
    }
    public var description: String {
        if let key { return "configuration key \(key): \(problem)" }
        return "configuration: \(problem)"
    }
}

/// Reads values as text and converts them here, so a wrong type is an error that names the
/// key instead of silently falling back to the default.
private struct KeyReader {
    let reader: ConfigReader

    func raw(_ key: String) -> String? {
        reader.string(forKey: ConfigKey(key))
    }

    func string(_ key: String, default value: String) throws(ConfigurationError) -> String {
        raw(key) ?? value
    }

    func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = raw(key) else {
            if let number = reader.int(forKey: ConfigKey(key)) { return try check(key, number, range) }
            return value
        }
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(key: key, problem: "\"\(text)\" is not a whole number")
        }
        return try check(key, number, range)
    }

    func check(_ key: String, _ number: Int, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard range.contains(number) else {
            throw ConfigurationError(key: key, problem: "\(number) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func strings(_ key: String) -> [String] {
        if let list = reader.stringArray(forKey: ConfigKey(key)) { return list }
        // A single value (one token in an environment variable) is a list of one.
        guard let single = raw(key), !single.isEmpty else { return [] }
        return single.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    func bool(_ key: String, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let text = raw(key) else { return reader.bool(forKey: ConfigKey(key)) ?? value }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw ConfigurationError(key: key, problem: "\"\(text)\" is not true or false")
        }
    }
}

private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
