import Foundation
import HypervisionCore
import HypervisionStore
import HypervisionTestSupport
import Logging
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One JSON ping per UDP datagram, against the running daemon and a real PostGIS.
@Suite(.serialized) struct IngestUDPTests {
    /// The pings stored, once there are `count` of them or after 5 s (UDP has no acknowledgement).
    static func storedPings(_ endpoint: DatabaseEndpoint, reaching count: Int64) async throws -> Int64 {
        var stored: Int64 = 0
        for _ in 0..<50 {
            stored = try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings").first ?? 0
            if stored == count { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return stored
    }

    @Test func datagramsAreStoredAndBadOnesCountedByCode() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let state = TestPostgres.makeBaseDirectory("udp")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let httpPort = DaemonProcess.freePort(), udpPort = DaemonProcess.freePort()
        let listener = try NotifySocketListener()
        let daemon = try DaemonProcess(
            arguments: [
                "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
                "--http-port", "\(httpPort)", "--state-dir", state,
            ],
            environment: ["HYPERVISION_INGEST_UDP_PORT": "\(udpPort)", "NOTIFY_SOCKET": listener.path])
        #expect(await listener.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }.found != nil, "\(daemon.log)")

        let time = Timestamp.now().adding(seconds: -30).rfc3339
        // A ping larger than NIO's default 2 KiB datagram buffer: padding in an unknown field.
        let padding = String(repeating: "p", count: 3_000)
        sendDatagram(#"{"unit":"PN-75-UDP-1","time":"\#(time)","lat":48.85,"lon":2.35,"note":"\#(padding)"}"# + "\n", port: udpPort)
        sendDatagram(#"{"unit":"PN-75-UDP-2","time":"\#(time)","lat":48.86,"lon":2.36}"#, port: udpPort)
        sendDatagram(#"{"unit":"PN-75-UDP-3","time":"\#(time)","lat":-91,"lon":2.36}"#, port: udpPort)
        sendDatagram("not json", port: udpPort)

        #expect(try await Self.storedPings(endpoint, reaching: 2) == 2)
        try await Task.sleep(for: .milliseconds(200))
        let metrics = await DaemonProcess.get("http://127.0.0.1:\(httpPort)/metrics")?.body ?? ""
        #expect(metrics.contains(#"hypervision_ingest_rejected_total{protocol="udp",code="lat_out_of_range"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"hypervision_ingest_rejected_total{protocol="udp",code="json_invalid"} 1"#))
        #expect(daemon.log.contains("UDP ping refused"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    /// A datagram read while an earlier one waits for the database (the pings table locked) is
    /// on the live picture at once, and both are stored once the database is free again.
    @Test func laterDatagramsReachTheLivePictureWhileEarlierOnesAreStillBeingStored() async throws {
        let udpPort = DaemonProcess.freePort()
        let daemon = try await ReadyDaemon.start("udp-pipeline", environment: ["HYPERVISION_INGEST_UDP_PORT": "\(udpPort)"])
        #expect(daemon.becameReady, "\(daemon.log)")
        let (endpoint, httpPort) = (daemon.endpoint, daemon.httpPort)
        let time = Timestamp.now().adding(seconds: -30).rfc3339
        func ping(_ unit: String) -> String { #"{"unit":"\#(unit)","time":"\#(time)","lat":48.85,"lon":2.35}"# }

        let logger = Logger(label: "lock-holder")
        try await TestPostgres.withConnection(endpoint) { locker in
            _ = try await locker.query("BEGIN", logger: logger)
            _ = try await locker.query("LOCK TABLE pings IN ACCESS EXCLUSIVE MODE", logger: logger)
            sendDatagram(ping("PN-75-UDP-HELD"), port: udpPort)
            try await Task.sleep(for: .milliseconds(300))
            sendDatagram(ping("PN-75-UDP-NEXT"), port: udpPort)
            var status = 0
            for _ in 0..<30 where status != 200 {
                status = await DaemonProcess.get("http://127.0.0.1:\(httpPort)/api/v1/units/PN-75-UDP-NEXT")?.status ?? 0
                if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == 200, "the second datagram must be on the live picture while the first waits for the database")
            _ = try await locker.query("COMMIT", logger: logger)
        }
        #expect(try await Self.storedPings(endpoint, reaching: 2) == 2)
        #expect(await daemon.stop() == 0)
    }
}
