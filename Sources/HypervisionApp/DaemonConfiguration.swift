import Configuration
import Foundation
import HypervisionCore
import HypervisionConfiguration
import HypervisionNetwork
import HypervisionDemo
import HypervisionHTTP
import HypervisionIngestServer
import HypervisionLive
import HypervisionStore
import HypervisionStream
import Logging
import Yams

/// Everything hypervisiond reads from its configuration: the YAML file, then `HYPERVISION_*`
/// environment variables, then command-line flags (the first that has a key wins, flags first).
///
/// Each module reads its own section (``ConfigurationSection``); this type holds them and the
/// few keys that belong to the daemon as a whole (the state directory, the stop timeout, the log
/// level, the access tokens every port checks, the incident routing file).
public struct DaemonConfiguration: Sendable {
    /// Empty means "choose" (see ``resolvedStateDirectory(environment:)``).
    public var stateDirectory: String = ""
    /// How long a graceful stop may take before the daemon exits anyway (below systemd's
    /// `TimeoutStopSec`, so the daemon, not SIGKILL, decides what happens to pending pings).
    public var shutdownTimeout: Duration = .seconds(30)
    public var logLevel: Logger.Level = .info
    /// Access tokens as `NAME:SHA256HEX:SCOPE+SCOPE`. None: no authentication, loopback only.
    public var tokens: [AccessToken] = []
    /// Incident routing rules, from `incidents.routingFile` (none: everything to the default service).
    public var incidentRouter: IncidentRouter = try! IncidentRouter()
    public var incidentRoutingFile: String = ""
    /// `http.*`, `ingest.http.*`, `ingest.osmand.*`, `cameras.*`, `basemap.*`.
    public var api = APIConfiguration()
    /// `database.*`, `writer.*`, `spool.*`, `retention.*`.
    public var store = StoreConfiguration()
    /// `ingest.tcp.*`, `ingest.udp.*`, `ingest.cot.*`.
    public var ingest = IngestConfiguration()
    /// `subscriptions.*`, `walls.*`.
    public var stream = StreamConfiguration()
    /// `units.*`: the live picture.
    public var units = LivePictureConfiguration()
    /// `demo.*`.
    public var demo = DemoConfiguration()
    /// `cluster.*`: this daemon's name among those sharing one database.
    public var cluster = ClusterConfiguration()

    public init() {}

    /// The keys of the daemon as a whole; the sections declare theirs.
    static let ownKeys = ["state.dir", "shutdown.timeoutSeconds", "log.level", "auth.tokens", "incidents.routingFile"]

    /// Every key the file may contain. A key outside this list is a typo and is refused.
    public static let knownKeys: [String] = ownKeys + APIConfiguration.keys + StoreConfiguration.keys + IngestConfiguration.keys
        + StreamConfiguration.keys + LivePictureConfiguration.keys + DemoConfiguration.keys + ClusterConfiguration.keys

    /// The TLS settings of every TCP port.
    public var tlsPorts: [TLSFiles] { [api.tls, ingest.tcpTLS, ingest.cotTLS, api.osmandTLS, stream.tls] }

    /// Reads and validates every key. Errors name the key and the problem.
    public init(reader: ConfigReader) throws(ConfigurationError) {
        let r = SectionReader(reader)
        stateDirectory = r.string("state.dir", default: stateDirectory)
        shutdownTimeout = try r.duration("shutdown.timeoutSeconds", default: 30, in: 5...3_600)
        let level = r.string("log.level", default: logLevel.rawValue)
        guard let parsed = Logger.Level(rawValue: level) else {
            throw ConfigurationError(
                key: "log.level",
                problem: "\"\(level)\" is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        logLevel = parsed
        for specification in r.strings("auth.tokens") {
            do {
                tokens.append(try AccessToken(specification: specification))
            } catch {
                throw ConfigurationError(key: "auth.tokens", problem: error.message)
            }
        }
        api = try APIConfiguration(reader: r)
        store = try StoreConfiguration(reader: r)
        ingest = try IngestConfiguration(reader: r)
        stream = try StreamConfiguration(reader: r)
        units = try LivePictureConfiguration(reader: r)
        demo = try DemoConfiguration(reader: r)
        cluster = try ClusterConfiguration(reader: r)
        if shutdownTimeout < store.writer.writeTimeout + .seconds(2) {
            throw ConfigurationError(
                key: "shutdown.timeoutSeconds",
                problem: "must exceed writer.writeTimeoutMs by 2 s or more: a stop waits up to one write deadline for the batches in flight")
        }
        incidentRoutingFile = r.string("incidents.routingFile", default: "")
        if !incidentRoutingFile.isEmpty { incidentRouter = try RoutingRulesFile.load(path: incidentRoutingFile) }
    }

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
