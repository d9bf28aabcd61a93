import Foundation
import HypervisionStore

#if canImport(Glibc)
import Glibc
#endif

/// A daemon on a database and state directory of its own, started and seen ready (`READY=1`),
/// for the tests that talk to it over its ports.
public struct ReadyDaemon: Sendable {
    public let process: DaemonProcess
    public let endpoint: DatabaseEndpoint
    public let httpPort: Int
    public let stateDirectory: String
    /// Whether `READY=1` came within a minute (a test expects it, with ``log`` to say why not).
    public let becameReady: Bool

    public var log: String { process.log }

    /// Starts `hypervisiond` with `environment` added to what the tests set.
    public static func start(_ tag: String, environment: [String: String] = [:]) async throws -> ReadyDaemon {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let state = TestPostgres.makeBaseDirectory(tag)
        let httpPort = DaemonProcess.freePort()
        let listener = try NotifySocketListener()
        var environment = environment
        environment["NOTIFY_SOCKET"] = listener.path
        let process = try DaemonProcess(
            arguments: [
                "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
                "--http-port", "\(httpPort)", "--state-dir", state,
            ],
            environment: environment)
        let ready = await listener.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }.found != nil
        return ReadyDaemon(process: process, endpoint: endpoint, httpPort: httpPort, stateDirectory: state, becameReady: ready)
    }

    /// Stops the daemon with SIGTERM and removes its state directory; returns its exit status.
    public func stop() async -> Int32? {
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: .seconds(30))
        try? FileManager.default.removeItem(atPath: stateDirectory)
        return status
    }
}
