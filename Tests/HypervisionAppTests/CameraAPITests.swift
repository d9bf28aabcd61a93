import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
import HypervisionStore
#endif

/// The camera endpoints against the running daemon and a real PostGIS.
@Suite(.serialized) struct CameraAPITests {
    func call(_ method: String, _ url: String, _ body: String? = nil, token: String? = "admin-secret") async throws
        -> (status: Int, json: [String: Any])
    {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let body { request.httpBody = Data(body.utf8) }
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as! HTTPURLResponse).statusCode, json)
    }

    func properties(_ json: [String: Any]) -> [String: Any] { json["properties"] as? [String: Any] ?? [:] }

    @Test func camerasAreStoredReadImportedAndTheirStatusHasAGracePeriod() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let state = TestPostgres.makeBaseDirectory("cameras")
        defer { try? FileManager.default.removeItem(atPath: state) }
        try """
            auth:
              tokens:
                - "ops:\(AccessToken.hash(secret: "admin-secret")):admin"
                - "viewer:\(AccessToken.hash(secret: "query-secret")):query"
                - "vms:\(AccessToken.hash(secret: "vms-secret")):ingest"
            cameras:
              offlineGraceSeconds: 1
            """.write(toFile: state + "/config.yaml", atomically: true, encoding: .utf8)
        let port = DaemonProcess.freePort()
        let daemon = try DaemonProcess(arguments: [
            "--config", state + "/config.yaml", "--http-port", "\(port)", "--state-dir", state,
            "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
        ])
        let base = "http://127.0.0.1:\(port)/api/v1/cameras"
        var ready = false
        for _ in 0..<200 where !ready {
            ready = await DaemonProcess.get("http://127.0.0.1:\(port)/readyz")?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "\(daemon.log)")

        let body = #"{"name":"Rivoli x Louvre","lat":48.8606,"lon":2.3376,"heading":90,"fov":60,"range":150,"streams":[{"protocol":"hls","quality":"main","url":"https://vms.local/cam-0042/index.m3u8"},{"protocol":"rtsp","quality":"sub","url":"rtsp://vms.local/cam-0042/sub"}],"tags":["traffic","louvre"]}"#
        #expect(try await call("PUT", base + "/cam-0042", body, token: "query-secret").status == 403)
        let created = try await call("PUT", base + "/cam-0042", body)
        #expect(created.status == 201, "\(created)")
        #expect(try await call("PUT", base + "/cam-0042", body).status == 200)
        let read = try await call("GET", base + "/cam-0042", token: "query-secret")
        #expect(read.status == 200)
        #expect((read.json["geometry"] as? [String: Any])?["coordinates"] as? [Double] == [2.3376, 48.8606])
        let props = properties(read.json)
        #expect(props["name"] as? String == "Rivoli x Louvre" && props["fov"] as? Double == 60 && props["status"] as? String == "online")
        let streams = props["streams"] as? [[String: String]]
        #expect(streams?.map { $0["url"] ?? "" } == ["https://vms.local/cam-0042/index.m3u8", "rtsp://vms.local/cam-0042/sub"])
        #expect(props["tags"] as? [String] == ["traffic", "louvre"])

        let bad = try await call("PUT", base + "/cam-0043", #"{"lat":48.86,"lon":2.33,"heading":400}"#)
        #expect(bad.status == 400 && (bad.json["error"] as? [String: Any])?["code"] as? String == "heading_out_of_range")

        // Offline counts only after the grace period.
        let offline = try await call("PATCH", base + "/cam-0042/status", #"{"status":"offline"}"#, token: "vms-secret")
        #expect(properties(offline.json)["status"] as? String == "online")
        #expect(properties(offline.json)["reportedStatus"] as? String == "offline")
        try await Task.sleep(for: .milliseconds(1_300))
        #expect(properties(try await call("GET", base + "/cam-0042").json)["status"] as? String == "offline")
        _ = try await call("PATCH", base + "/cam-0042/status", #"{"status":"online"}"#, token: "vms-secret")
        #expect(
            try await TestPostgres.integers(endpoint, "SELECT count(*) FROM camera_status_history WHERE camera_id = 'cam-0042'") == [3])

        // A municipal open-data GeoJSON file: French property names, one bad feature.
        let collection = #"""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","geometry":{"type":"Point","coordinates":[2.3522,48.8566]},"properties":{"identifiant":"vp-001","nom":"Hotel de Ville","orientation":"180","angle":90}},
              {"type":"Feature","geometry":{"type":"Point","coordinates":[2.35,95]},"properties":{"identifiant":"vp-002"}},
              {"type":"Feature","id":"vp-003","geometry":{"type":"Point","coordinates":[2.36,48.86]},"properties":{}}
            ]}
            """#
        let report = try await call("POST", base + "/import", collection)
        #expect(report.json["imported"] as? Int == 2 && report.json["updated"] as? Int == 0, "\(report)")
        let rejected = report.json["rejected"] as? [[String: Any]]
        #expect(rejected?.count == 1 && rejected?.first?["index"] as? Int == 1 && rejected?.first?["code"] as? String == "lat_out_of_range")
        let imported = properties(try await call("GET", base + "/vp-001").json)
        #expect(imported["name"] as? String == "Hotel de Ville" && imported["heading"] as? Double == 180 && imported["range"] as? Double == 100)

        #expect(try await call("DELETE", base + "/vp-003").status == 204)
        #expect(try await call("GET", base + "/vp-003").status == 404)
        #expect(try await call("DELETE", base + "/vp-003").status == 404)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
    }
}
