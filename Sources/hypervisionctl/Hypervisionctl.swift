import ArgumentParser
import HypervisionCLI
import HypervisionCore
import Foundation

/// The operators' command line for a running hypervisiond.
@main
struct Hypervisionctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hypervisionctl",
        abstract: "Ask a running hypervisiond how it is doing, and query its units, cameras, incidents and zones.",
        discussion: """
            The daemon's address and token come from --url/--token, else HYPERVISION_URL/HYPERVISION_TOKEN, \
            else ~/.config/hypervision/ctl.yaml or /etc/hypervision/ctl.yaml (lines `url: …` and `token: …`).

            Exit status: 0 success, 1 the daemon answered with an error, 2 not found, 3 the daemon cannot be \
            reached, 4 the token was missing or refused, 64 wrong arguments, 65 unusable input file, \
            78 unusable configuration file.
            """,
        subcommands: [
            Health.self, Ready.self, Metrics.self, Token.self, Units.self, Cameras.self, Incidents.self, Zones.self,
        ])

    /// Parses with negative numbers protected (`units near -33.86,151.2`, `--from -30m`).
    static func main() async {
        await main(protectingNegativeValues(Array(CommandLine.arguments.dropFirst())))
    }
}

/// Where the daemon is, and how to authenticate: options every subcommand that calls it shares.
struct DaemonAddress: ParsableArguments {
    @Option(
        name: .long, help: "Base URL of the daemon's HTTP port (else HYPERVISION_URL, ctl.yaml, http://127.0.0.1:8080).")
    var url: String?

    @Option(name: .long, help: "Bearer token (else HYPERVISION_TOKEN, ctl.yaml). Prefer those: flags show in ps.")
    var token: String?

    @Option(name: .long, help: "Seconds to wait for an answer.")
    var timeout: Double = 5

    func validate() throws {
        guard timeout > 0, timeout.isFinite else {
            throw ArgumentParser.ValidationError("--timeout must be a positive number of seconds")
        }
        if let url { _ = try checked { () throws(Failure) in try validateBaseURL(url) } }
    }

    func client() throws(Failure) -> DaemonClient {
        let settings = try ConnectionSettings.resolve(
            url: url, token: token, environment: ProcessInfo.processInfo.environment,
            home: ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory(),
            readFile: { path in
                guard FileManager.default.fileExists(atPath: path) else { return nil }
                return try String(contentsOfFile: path, encoding: .utf8)
            })
        return DaemonClient(settings: settings, timeout: timeout)
    }
}

/// `--json` or `--geojson` instead of the table.
struct OutputFormat: ParsableArguments {
    @Flag(name: .long, help: "Print the daemon's JSON answer, indented.") var json = false
    @Flag(name: .long, help: "Print the GeoJSON as the daemon sent it (for QGIS, geojson.io, jq).") var geojson = false

    func validate() throws {
        if json && geojson { throw ArgumentParser.ValidationError("--json and --geojson exclude each other") }
    }

    /// Prints the answer in the chosen form; `table` renders the human form.
    func print(_ answer: (document: JSONValue, body: [UInt8]), geoJSON: ((JSONValue) -> JSONValue)? = nil, table: () -> String) {
        if json {
            write(prettyJSON(answer.document))
        } else if geojson {
            if let geoJSON {
                write(geoJSON(answer.document).encoded() + "\n")
            } else {
                var body = answer.body
                if body.last != UInt8(ascii: "\n") { body.append(UInt8(ascii: "\n")) }
                FileHandle.standardOutput.write(Data(body))
            }
        } else {
            write(table())
        }
    }
}

func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

/// The clock for tables: now, in the operator's time zone (TZ).
func localClock() -> Clock { Clock(now: .now(), timeZone: .current) }

/// Now to the second: relative times (`-30m`) then read as whole seconds in requests and messages.
func currentSecond() -> Timestamp { Timestamp(seconds: Timestamp.now().seconds) }

/// Turns a ``Failure`` into ArgumentParser's validation error, for checks in `validate()`.
func checked<T>(_ body: () throws(Failure) -> T) throws -> T {
    do { return try body() } catch { throw ArgumentParser.ValidationError(error.message) }
}

/// Runs a command's work, printing a failure to standard error and exiting with its status.
func reportingFailures(_ work: () async throws(Failure) -> Void) async throws {
    do {
        try await work()
    } catch {
        FileHandle.standardError.write(Data("hypervisionctl: \(error.message)\n".utf8))
        throw ExitCode(error.exitStatus)
    }
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Is the daemon answering? (/healthz)")
    @OptionGroup var address: DaemonAddress

    func run() async throws {
        try await reportingFailures { () throws(Failure) in
            let (status, body) = try await address.client().send(APIRequest(.get, ["healthz"]))
            print(String(decoding: body, as: UTF8.self))
            if status != 200 { throw Failure(exitStatus: Failure.daemonError, "not healthy (\(status))") }
        }
    }
}

struct Ready: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Is the database usable, and what holds the spool? (/readyz; exit status 0 when ready)")
    @OptionGroup var address: DaemonAddress
    @Flag(name: .long, help: "Print the raw JSON.") var json = false

    func run() async throws {
        try await reportingFailures { () throws(Failure) in
            let (status, body) = try await address.client().send(APIRequest(.get, ["readyz"]))
            if json {
                print(String(decoding: body, as: UTF8.self))
            } else if let object = try? JSONValue(parsing: body), object.objectValue != nil {
                let spool = object["spool"] ?? .object([:])
                func text(_ value: JSONValue?, _ fallback: String) -> String {
                    guard let value, !value.isNull else { return fallback }
                    return value.stringValue ?? value.encoded()
                }
                print("status     \(text(object["status"], "?"))")
                print("database   \(text(object["database"], "?"))")
                let (bytes, maxBytes) = (text(spool["bytes"], "0"), text(spool["maxBytes"], "0"))
                print("spool      \(text(spool["state"], "?")) (\(bytes) of \(maxBytes) bytes)")
                print("queue      \(text(object["queuedPings"], "0")) pings")
            } else {
                print(String(decoding: body, as: UTF8.self))
            }
            if status != 200 { throw Failure(exitStatus: Failure.daemonError, "not ready (\(status))") }
        }
    }
}

struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the Prometheus metrics, optionally filtered.")
    @OptionGroup var address: DaemonAddress
    @Argument(help: "Only lines containing this text.") var filter: String?

    func run() async throws {
        try await reportingFailures { () throws(Failure) in
            let client = try address.client()
            let (status, body) = try await client.send(APIRequest(.get, ["metrics"]))
            if let failure = failure(status: status, body: body, settings: client.settings) { throw failure }
            let text = String(decoding: body, as: UTF8.self)
            for line in text.split(separator: "\n") where filter.map({ line.contains($0) }) ?? true { print(line) }
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new access token: prints the secret (give it to the client) and the line for auth.tokens.")
    @Option(name: .long, help: "A name for logs, e.g. avl-gateway.") var name: String
    @Option(name: .long, help: "Scopes joined with +: ingest, query, admin, subscribe:WALL.") var scopes: String = "ingest"

    func run() async throws {
        guard !name.isEmpty, !name.contains(":") else {
            throw ArgumentParser.ValidationError("--name must be non-empty and without ':'")
        }
        var generator = SystemRandomNumberGenerator()
        let secret = "hv_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let hash = AccessToken.hash(secret: secret)
        print("secret (shown once; the daemon keeps only its hash):")
        print("  \(secret)")
        print("add to the configuration under auth.tokens:")
        print("  - \"\(name):\(hash):\(scopes)\"")
    }
}
