import Foundation
import HypervisionCore
import HypervisionStore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A daemon on its own test database with tokens for every scope, for tests of the HTTP API.
/// Secrets: `admin-secret` (admin), `query-secret` (query), `ingest-secret` (ingest).
public final class APIDaemon: @unchecked Sendable {
    // @unchecked: used by one test at a time.
    public private(set) var process: DaemonProcess
    public let endpoint: DatabaseEndpoint
    public let state: String
    public private(set) var port: Int
    /// The TCP port of the scene subscriptions (newline-delimited JSON).
    public var subscriptionsPort: Int { process.subscriptionsPort }

    /// Starts with `extraConfiguration` (YAML, appended to the tokens) and waits until ready.
    /// `database`: an existing test database (a restart); nil creates a fresh one.
    public init(
        _ name: String, extraConfiguration: String = "", files: [String: String] = [:], environment: [String: String] = [:],
        database: DatabaseEndpoint? = nil
    ) async throws {
        if let database {
            endpoint = database
        } else {
            endpoint = try await TestPostgres.shared.makeDatabase()
        }
        state = TestPostgres.makeBaseDirectory(name)
        for (file, content) in files {
            let path = state + "/" + file
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let configuration = """
            auth:
              tokens:
                - "ops:\(AccessToken.hash(secret: "admin-secret")):admin"
                - "viewer:\(AccessToken.hash(secret: "query-secret")):query"
                - "feeder:\(AccessToken.hash(secret: "ingest-secret")):ingest"

            """ + extraConfiguration.replacingOccurrences(of: "$STATE", with: state)
        try configuration.write(toFile: state + "/config.yaml", atomically: true, encoding: .utf8)
        // The ports were free a moment ago; another test may take one meanwhile. A daemon that
        // stops at once on "Address already in use" is started again on other ports.
        var attempt = 0
        while true {
            attempt += 1
            let port = DaemonProcess.freePort()
            let process = try DaemonProcess(arguments: [
                "--config", state + "/config.yaml", "--http-port", "\(port)", "--state-dir", state,
                "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
            ], environment: environment)
            for _ in 0..<300 {
                if await DaemonProcess.get("http://127.0.0.1:\(port)/readyz")?.status == 200 {
                    self.port = port
                    self.process = process
                    return
                }
                if !process.process.isRunning { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            if !process.process.isRunning && process.log.contains("Address already in use") && attempt < 3 { continue }
            throw TestFailure("the daemon did not become ready:\n\(process.log)")
        }
    }

    /// One HTTP call to `path` (e.g. `/api/v1/incidents`). `json` is the parsed answer (or nil).
    public func call(_ method: String, _ path: String, _ body: String? = nil, token: String? = "admin-secret") async throws
        -> (status: Int, json: Any?, text: String)
    {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let body { request.httpBody = Data(body.utf8) }
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, try? JSONSerialization.jsonObject(with: data), String(decoding: data, as: UTF8.self))
    }

    /// Stops the daemon with SIGTERM and returns its exit status.
    public func stop() async -> Int32? {
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: .seconds(30))
        try? FileManager.default.removeItem(atPath: state)
        return status
    }
}

/// The value of one series in a Prometheus text exposition: the line of metric `name` whose
/// labels include every one of `labels` (whatever their order); nil when there is none.
public func prometheusValue(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
        let rest = line.dropFirst(name.count)
        guard rest.first == "{" || rest.first == " " else { continue }
        guard labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
        return line.split(separator: " ").last.flatMap { Double($0) }
    }
    return nil
}

extension APIDaemon {
    /// One series of `GET /metrics` (see ``prometheusValue(_:_:_:)``).
    public func metric(_ name: String, _ labels: [String: String] = [:]) async throws -> Double? {
        prometheusValue(try await call("GET", "/metrics", token: nil).text, name, labels)
    }
}

/// A failure in test set-up, with the reason.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Walks a parsed JSON answer by object keys: `field(json, "properties", "service")`.
public func field(_ json: Any?, _ path: String...) -> Any? {
    var current = json
    for key in path { current = (current as? [String: Any])?[key] }
    return current
}
