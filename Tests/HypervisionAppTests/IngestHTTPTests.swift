import Foundation
import HypervisionCore
import HypervisionHTTP
import HypervisionStore
import HypervisionTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `POST /api/v1/pings` against the running daemon and a real PostGIS.
@Suite(.serialized) struct IngestHTTPTests {
    static let ingestSecret = "hv_test_ingest_secret"
    static let querySecret = "hv_test_query_secret"

    func post(_ url: String, _ body: String, contentType: String = "application/json", token: String? = ingestSecret)
        async throws -> (status: Int, body: String)
    {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    func ping(_ unit: String, secondsAgo: Double = 60, lat: Double = 48.8566) -> String {
        let time = Date().addingTimeInterval(-secondsAgo)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return #"{"unit":"\#(unit)","time":"\#(formatter.string(from: time))","lat":\#(lat),"lon":2.3522,"speed":12.5,"heading":270,"status":"available","battery":81}"#
    }

    @Test func pingsAreAuthenticatedValidatedStoredAndAnsweredPerItem() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let state = TestPostgres.makeBaseDirectory("ingest")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let config = state + "/config.yaml"
        try """
            auth:
              tokens:
                - "gateway:\(AccessToken.hash(secret: Self.ingestSecret)):ingest"
                - "viewer:\(AccessToken.hash(secret: Self.querySecret)):query"
            ingest:
              http:
                maxBodyBytes: 4096
                maxItems: 20
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let port = DaemonProcess.freePort()
        let daemon = try DaemonProcess(arguments: [
            "--config", config, "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
            "--http-port", "\(port)", "--state-dir", state,
        ])
        let base = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<200 where !ready {
            ready = await DaemonProcess.get(base + "/readyz")?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "\(daemon.log)")
        let url = base + "/api/v1/pings"

        // Authentication: none, wrong, and a token without the ingest scope.
        #expect(try await post(url, ping("PN-75-BAC-12"), token: nil).status == 401)
        #expect(try await post(url, ping("PN-75-BAC-12"), token: "nope").status == 401)
        let forbidden = try await post(url, ping("PN-75-BAC-12"), token: Self.querySecret)
        #expect(forbidden.status == 403 && forbidden.body.contains("lacks the ingest scope"))

        // One ping, then the same again: stored once.
        let single = ping("PN-75-BAC-12")
        let first = try await post(url, single)
        #expect(first.status == 200 && first.body == #"{"accepted":1,"duplicates":0,"rejected":[]}"#, "\(first)")
        let again = try await post(url, single)
        #expect(again.body == #"{"accepted":0,"duplicates":1,"rejected":[]}"#)

        // A batch with one bad item: the others are stored, the bad one is named.
        let batch = "[\(ping("GN-64-PSIG-3", secondsAgo: 30)),\(ping("GN-64-PSIG-4", lat: 91)),\(ping("GN-64-PSIG-5")),42]"
        let report = try await post(url, batch)
        #expect(report.status == 200)
        #expect(report.body.hasPrefix(#"{"accepted":2,"duplicates":0,"rejected":[{"index":1,"code":"lat_out_of_range","#), "\(report)")
        #expect(report.body.contains(#"{"index":3,"code":"not_an_object""#), "\(report)")

        // NDJSON, with a malformed line in the middle.
        let ndjson = ping("PM-75-VTT-1", secondsAgo: 20) + "\n{\"unit\":\n" + ping("PM-75-VTT-2", secondsAgo: 20) + "\n"
        let lines = try await post(url, ndjson, contentType: "application/x-ndjson")
        #expect(lines.body.hasPrefix(#"{"accepted":2,"duplicates":0,"rejected":[{"index":1,"code":"json_invalid""#), "\(lines)")

        // A single refused ping is a 400 with the reason; malformed JSON too.
        let refused = try await post(url, ping("bad id"))
        #expect(refused.status == 400 && refused.body.contains("unit_id_invalid"))
        let malformed = try await post(url, "{\"unit\": ")
        #expect(malformed.status == 400 && malformed.body.contains("json_invalid"))

        // Bounds: body size and item count answer 413 with the limit.
        let big = try await post(url, "[" + Array(repeating: ping("PN-75-BAC-12"), count: 40).joined(separator: ",") + "]")
        #expect(big.status == 413 && big.body.contains("4096"), "\(big)")
        let many = try await post(url, "[" + Array(repeating: "{}", count: 21).joined(separator: ",") + "]")
        #expect(many.status == 413 && many.body.contains("20"), "\(many)")

        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings") == [5])
        let metrics = await DaemonProcess.get(base + "/metrics")?.body ?? ""
        #expect(metrics.contains(#"hypervision_ingest_rejected_total{protocol="http",code="lat_out_of_range"} 1"#), "\(metrics)")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test func tokenSpecificationsAreCheckedAndHashesCompared() throws {
        let hash = AccessToken.hash(secret: "s3cret")
        #expect(hash.count == 64)
        let token = try AccessToken(specification: "gw:\(hash):ingest+subscribe:cic-paris")
        #expect(token.scopes == [.ingest, .subscribe(wall: "cic-paris")])
        let authority = TokenAuthority(tokens: [token])
        #expect(authority.authorize(secret: "s3cret", for: .ingest) == .allowed(tokenName: "gw"))
        #expect(authority.authorize(secret: "s3cret", for: .query) == .forbidden("token gw lacks the query scope"))
        #expect(authority.authorize(secret: "S3cret", for: .ingest) == .unauthenticated("unknown token"))
        #expect(TokenAuthority(tokens: []).authorize(secret: nil, for: .admin) == .allowed(tokenName: nil))
        #expect(throws: TokenSpecificationError.self) { try AccessToken(specification: "gw:1234:ingest") }
        #expect(throws: TokenSpecificationError.self) { try AccessToken(specification: "gw:\(hash):root") }
        #expect(TokenAuthority.bearer("Bearer abc ") == "abc")
        #expect(TokenAuthority.bearer("Basic abc") == nil)
    }
}
