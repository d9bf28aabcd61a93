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

/// The OsmAnd / Traccar Client port against the running daemon and a real PostGIS.
@Suite(.serialized) struct IngestOsmAndTests {
    func request(_ method: String, _ url: String, body: String? = nil, contentType: String? = nil) async throws
        -> (status: Int, body: String)
    {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let body { request.httpBody = Data(body.utf8) }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    func nmeaChecksum(_ body: String) -> String {
        String(format: "%02X", body.utf8.reduce(UInt8(0), ^))
    }

    @Test func phonesReportByQueryFormJSONAndNMEA() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let state = TestPostgres.makeBaseDirectory("osmand")
        defer { try? FileManager.default.removeItem(atPath: state) }
        // Loopback is deliberately not allowed here: the token= path must carry the requests.
        try """
            auth:
              tokens:
                - "phones:\(AccessToken.hash(secret: "phone-secret")):ingest"
            ingest:
              osmand:
                allowedNetworks: ["10.99.0.0/16"]
            """.write(toFile: state + "/config.yaml", atomically: true, encoding: .utf8)
        let httpPort = DaemonProcess.freePort(), osmandPort = DaemonProcess.freePort()
        let listener = try NotifySocketListener()
        let daemon = try DaemonProcess(
            arguments: [
                "--config", state + "/config.yaml", "--http-port", "\(httpPort)", "--state-dir", state,
                "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
            ],
            environment: ["HYPERVISION_INGEST_OSMAND_PORT": "\(osmandPort)", "NOTIFY_SOCKET": listener.path])
        #expect(await listener.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }.found != nil, "\(daemon.log)")
        let base = "http://127.0.0.1:\(osmandPort)/"
        let unix = Timestamp.now().seconds - 120

        let refused = try await request("GET", base + "?id=123456789012345&timestamp=\(unix)&lat=48.85&lon=2.35")
        #expect(refused.status == 403 && refused.body.contains("allowedNetworks"))

        let query = "?token=phone-secret&id=123456789012345&timestamp=\(unix)&lat=48.8566&lon=2.3522&speed=10&bearing=90&altitude=35&accuracy=8&batt=81.5"
        let get = try await request("GET", base + query)
        #expect(get.status == 200, "\(get)")
        #expect(try await request("GET", base + query).status == 200)  // a repeat is stored once, still 200

        let form = try await request(
            "POST", base + "?token=phone-secret", body: "deviceid=PM-75-VTT-9&timestamp=\(unix + 1)&location=48.86%2C2.36",
            contentType: "application/x-www-form-urlencoded")
        #expect(form.status == 200, "\(form)")

        let bad = try await request("GET", base + "?token=phone-secret&id=123&timestamp=\(unix)&lat=95&lon=2.35")
        #expect(bad.status == 400 && bad.body.contains("lat_out_of_range"), "\(bad)")

        // gprmc: date and time come from the sentence.
        let date = Timestamp.now().adding(seconds: -180).civilDate
        let clock = Timestamp.now().adding(seconds: -180).rfc3339.dropFirst(11).prefix(8).replacingOccurrences(of: ":", with: "")
        let yy = String(format: "%02d", Int(date.year % 100)), mm = String(format: "%02d", Int(date.month)), dd = String(format: "%02d", Int(date.day))
        let sentence = "GPRMC,\(clock).000,A,4851.3960,N,00221.1320,E,10.0,90.0,\(dd)\(mm)\(yy),,,A"
        let gprmc = "$" + sentence + "*" + nmeaChecksum(sentence)
        let nmea = try await request(
            "GET", base + "?token=phone-secret&id=NMEA-1&gprmc=" + gprmc.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(nmea.status == 200, "\(nmea)")

        let json = #"{"location":{"timestamp":"\#(Timestamp.now().adding(seconds: -30).rfc3339)","coords":{"latitude":48.87,"longitude":2.37,"speed":3.2,"heading":90,"accuracy":5,"altitude":35},"battery":{"level":0.81,"is_charging":false},"is_moving":true},"device_id":"123456789012346"}"#
        let traccar = try await request("POST", base + "?token=phone-secret", body: json, contentType: "application/json")
        #expect(traccar.status == 200, "\(traccar)")

        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings") == [4])
        let speed = try await TestPostgres.integers(
            endpoint, "SELECT round(speed * 1000)::int8 FROM ping_history WHERE unit_id = '123456789012345'")
        #expect(speed == [5144])  // 10 knots in mm/s
        #expect(try await TestPostgres.integers(endpoint, "SELECT battery::int8 FROM ping_history WHERE unit_id = '123456789012346'") == [81])
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
    }
}
