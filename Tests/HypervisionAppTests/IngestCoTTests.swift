import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

#if canImport(Glibc)
import Glibc
import HypervisionStore
#endif

/// Cursor-on-Target over TCP and UDP against the running daemon and a real PostGIS.
@Suite(.serialized) struct IngestCoTTests {
    func event(_ uid: String, secondsAgo: Double = 60, lat: Double = 48.8566, speed: String = "12.5") -> String {
        let time = Timestamp.now().adding(seconds: -secondsAgo).rfc3339
        return """
            <?xml version="1.0" standalone="yes"?><event version="2.0" uid="\(uid)" type="a-f-G-U-C" how="m-g" time="\(time)" \
            start="\(time)" stale="\(time)"><point lat="\(lat)" lon="2.3522" hae="35.0" ce="9999999.0" le="9999999.0"/>\
            <detail><contact callsign="BAC 12"/><track speed="\(speed)" course="270.0"/></detail></event>
            """
    }

    @Test func takClientsStreamEventsBackToBackAndByDatagram() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let state = TestPostgres.makeBaseDirectory("cot")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let port = DaemonProcess.freePort()
        let listener = try NotifySocketListener()
        let daemon = try DaemonProcess(
            arguments: [
                "--http-port", "\(DaemonProcess.freePort())", "--state-dir", state,
                "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
            ],
            environment: ["HYPERVISION_INGEST_COT_PORT": "\(port)", "NOTIFY_SOCKET": listener.path])
        #expect(await listener.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }.found != nil, "\(daemon.log)")

        // Three events back to back, split mid-tag across two writes; the middle one is refused.
        let tcp = try LineClient(port: port)
        let stream = event("ANDROID-PN-75-BAC-12") + event("ANDROID-PN-75-BAC-13", lat: 95) + event("ANDROID-PN-75-BAC-14")
        let cut = stream.index(stream.startIndex, offsetBy: 100)
        tcp.send(String(stream[..<cut]))
        try await Task.sleep(for: .milliseconds(100))
        tcp.send(String(stream[cut...]))

        sendDatagram(event("ITAK-GN-64-PSIG-3", speed: "9999999.0"), port: port)
        var stored: [Int64] = []
        for _ in 0..<50 {
            stored = try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings")
            if stored == [3] { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(stored == [3], "\(daemon.log)")
        // The sentinel 9999999.0 means unknown: no speed stored.
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings WHERE speed IS NULL") == [1])
        #expect(daemon.log.contains("CoT event refused"))
        // contact@callsign is the unit's callsign, in the registry (units) for later restarts.
        var callsigns: [Int64] = []
        for _ in 0..<50 {
            callsigns = try await TestPostgres.integers(
                endpoint, "SELECT count(*) FROM units WHERE callsign = 'BAC 12' AND id IN ('ANDROID-PN-75-BAC-12', 'ITAK-GN-64-PSIG-3')")
            if callsigns == [2] { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(callsigns == [2])

        // A DOCTYPE (entity expansion, XXE) closes the stream.
        let attacker = try LineClient(port: port)
        attacker.send(#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><event uid="x"/>"#)
        #expect(await attacker.isClosed())

        // Garbage right after a complete event: the event is stored and the stream is closed at
        // once, not whenever the client next writes (the framer keeps such a fault for its next
        // call, which used to come only with more bytes).
        let sloppy = try LineClient(port: port)
        sloppy.send(event("ANDROID-PN-75-BAC-20") + "garbage")
        #expect(await sloppy.isClosed(within: .seconds(2)))
        // A client that sends an event and shuts its side down: stored, then closed.
        let brief = try LineClient(port: port)
        brief.send(event("ANDROID-PN-75-BAC-21"))
        brief.shutdownOutput()
        #expect(await brief.isClosed())
        for _ in 0..<50 {
            stored = try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings")
            if stored == [5] { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(stored == [5], "the events framed before the garbage and before the end are stored")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
    }
}
