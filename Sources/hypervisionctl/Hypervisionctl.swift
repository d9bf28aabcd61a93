import ArgumentParser
import HypervisionCore
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The operators' command line for a running hypervisiond.
@main
struct Hypervisionctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hypervisionctl",
        abstract: "Ask a running hypervisiond how it is doing.",
        subcommands: [Health.self, Ready.self, Metrics.self, Token.self])
}

/// Options every subcommand shares.
struct DaemonAddress: ParsableArguments {
    @Option(name: .long, help: "Base URL of the daemon's HTTP port (or HYPERVISION_URL).")
    var url: String = ProcessInfo.processInfo.environment["HYPERVISION_URL"] ?? "http://127.0.0.1:8080"

    @Option(name: .long, help: "Seconds to wait for an answer.")
    var timeout: Double = 5

    func get(_ path: String) async throws -> (Int, Data) {
        guard let target = URL(string: url.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path) else {
            throw ValidationError("\(url) is not a URL")
        }
        var request = URLRequest(url: target)
        request.timeoutInterval = timeout
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
        } catch {
            throw CleanExit.message("hypervisionctl: cannot reach hypervisiond at \(url): \(error.localizedDescription)")
        }
    }
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Is the daemon answering? (/healthz)")
    @OptionGroup var address: DaemonAddress

    func run() async throws {
        let (status, body) = try await address.get("/healthz")
        print(String(decoding: body, as: UTF8.self))
        if status != 200 { throw ExitCode(1) }
    }
}

struct Ready: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Is the database usable, and what holds the spool? (/readyz; exit status 0 when ready)")
    @OptionGroup var address: DaemonAddress
    @Flag(name: .long, help: "Print the raw JSON.") var json = false

    func run() async throws {
        let (status, body) = try await address.get("/readyz")
        if json {
            print(String(decoding: body, as: UTF8.self))
        } else if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            let spool = object["spool"] as? [String: Any] ?? [:]
            print("status     \(object["status"] ?? "?")")
            print("database   \(object["database"] ?? "?")")
            print("spool      \(spool["state"] ?? "?") (\(spool["bytes"] ?? 0) of \(spool["maxBytes"] ?? 0) bytes)")
            print("queue      \(object["queuedPings"] ?? 0) pings")
        } else {
            print(String(decoding: body, as: UTF8.self))
        }
        if status != 200 { throw ExitCode(1) }
    }
}

struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the Prometheus metrics, optionally filtered.")
    @OptionGroup var address: DaemonAddress
    @Argument(help: "Only lines containing this text.") var filter: String?

    func run() async throws {
        let (status, body) = try await address.get("/metrics")
        let text = String(decoding: body, as: UTF8.self)
        for line in text.split(separator: "\n") where filter.map({ line.contains($0) }) ?? true { print(line) }
        if status != 200 { throw ExitCode(1) }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new access token: prints the secret (give it to the client) and the line for auth.tokens.")
    @Option(name: .long, help: "A name for logs, e.g. avl-gateway.") var name: String
    @Option(name: .long, help: "Scopes joined with +: ingest, query, admin, subscribe:WALL.") var scopes: String = "ingest"

    func run() async throws {
        guard !name.isEmpty, !name.contains(":") else { throw ValidationError("--name must be non-empty and without ':'") }
        var generator = SystemRandomNumberGenerator()
        let secret = "hv_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let hash = AccessToken.hash(secret: secret)
        print("secret (shown once; the daemon keeps only its hash):")
        print("  \(secret)")
        print("add to the configuration under auth.tokens:")
        print("  - \"\(name):\(hash):\(scopes)\"")
    }
}
