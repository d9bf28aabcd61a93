import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

/// hypervisionctl against the running daemon: tables, JSON, and the errors an operator meets.
@Suite(.serialized) struct CtlTests {
    static var executable: String {
        URL(fileURLWithPath: DaemonProcess.executable).deletingLastPathComponent().appendingPathComponent("hypervisionctl").path
    }

    func run(_ arguments: [String], environment: [String: String]) async throws -> (status: Int32, out: String, err: String) {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HYPERVISION_") }
        env["HOME"] = NSTemporaryDirectory()  // no ~/.config/hypervision/ctl.yaml from the machine
        for (key, value) in environment { env[key] = value }
        let finished = try await runToExit(Self.executable, arguments, environment: env)
        return (finished.status, finished.output, finished.errors)
    }

    @Test func queriesPrintTablesAndJSONAndFailClearly() async throws {
        let daemon = try await APIDaemon("ctl")
        let now = Timestamp.now().rfc3339
        _ = try await daemon.call(
            "POST", "/api/v1/pings",
            #"[{"unit":"PN-75-BAC-1","time":"\#(now)","lat":48.8566,"lon":2.3522,"status":"available"},{"unit":"PN-75-BAC-2","time":"\#(now)","lat":48.8600,"lon":2.3600,"status":"busy"}]"#,
            token: "ingest-secret")
        let env = ["HYPERVISION_URL": "http://127.0.0.1:\(daemon.port)", "HYPERVISION_TOKEN": "query-secret"]

        let table = try await run(["units", "nearest", "48.8566,2.3522", "-k", "2"], environment: env)
        #expect(table.status == 0, "\(table.err)")
        let rows = table.out.split(separator: "\n")
        #expect(rows.count >= 3 && rows[1].hasPrefix("PN-75-BAC-1") && rows[2].hasPrefix("PN-75-BAC-2"), "\(table.out)")

        let json = try await run(["units", "get", "PN-75-BAC-2", "--json"], environment: env)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect((parsed?["properties"] as? [String: Any])?["status"] as? String == "busy", "\(json.out)")

        let missing = try await run(["units", "get", "NOBODY"], environment: env)
        #expect(missing.status == 2 && missing.err.contains("404"))
        let badCoordinates = try await run(["units", "near", "95,2", "--radius", "100"], environment: env)
        #expect(badCoordinates.status == 64 && badCoordinates.err.contains("latitude 95 is outside [-90, 90]"), "\(badCoordinates.err)")
        var wrongToken = env
        wrongToken["HYPERVISION_TOKEN"] = "nope"
        let refused = try await run(["units", "get", "PN-75-BAC-1"], environment: wrongToken)
        #expect(refused.status == 4 && refused.err.contains("401"), "\(refused.err)")
        #expect(await daemon.stop() == 0)

        let down = try await run(["units", "get", "PN-75-BAC-1"], environment: env)
        #expect(down.status == 3 && down.err.contains("cannot reach hypervisiond"), "\(down.err)")
    }
}
