import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

#if canImport(Glibc)
import Glibc
import HypervisionStore
#endif

/// TLS on every TCP port of the running daemon: the API over HTTPS, NDJSON and Cursor-on-Target
/// ingest, OsmAnd; clients are `openssl s_client` and `curl`, independent TLS stacks.
@Suite(.serialized) struct TLSPortsTests {
    /// A self-signed certificate for 127.0.0.1 in `directory` (cert.pem, key.pem).
    static func makeCertificate(in directory: String) async throws {
        let openssl = try await runToExit("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
        ])
        try #require(openssl.status == 0, "\(openssl.errors)")
    }

    /// Sends `text` through `openssl s_client` (verifying the daemon's certificate against
    /// `ca`) and returns the lines received until `done` holds for one, or the timeout.
    static func exchange(port: Int, ca: String, _ text: String, timeout: Duration = .seconds(10), until done: @escaping @Sendable (String) -> Bool)
        async throws -> [String]
    {
        try await offThePool {
            let client = Process()
            client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            client.arguments = ["s_client", "-quiet", "-connect", "127.0.0.1:\(port)", "-CAfile", ca, "-verify_return_error"]
            let input = Pipe(), output = Pipe()
            client.standardInput = input
            client.standardOutput = output
            client.standardError = FileHandle.nullDevice
            try client.run()
            input.fileHandleForWriting.write(Data(text.utf8))
            // poll before each read, so that a silent server cannot outlast the timeout.
            let fd = output.fileHandleForReading.fileDescriptor
            var received: [UInt8] = []
            var lines: [String] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&descriptor, 1, 100) > 0 else { continue }
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { break }
                received += buffer[0..<count]
                lines = String(decoding: received, as: UTF8.self).split(separator: "\n").map(String.init)
                if lines.contains(where: done) { break }
            }
            // SIGKILL: the client inherits a mask that blocks SIGTERM from the thread that spawns it.
            kill(client.processIdentifier, SIGKILL)
            client.waitUntilExit()
            return lines
        }
    }

    @Test func everyTCPPortSpeaksTLSWhenConfigured() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let state = TestPostgres.makeBaseDirectory("tls")
        defer { try? FileManager.default.removeItem(atPath: state) }
        try await Self.makeCertificate(in: state)
        let ca = state + "/cert.pem"
        func tls(_ indent: String) -> String {
            "\(indent)tls:\n\(indent)  certificate: \(state)/cert.pem\n\(indent)  key: \(state)/key.pem\n"
        }
        let configuration = "auth:\n  tokens:\n    - \"gw:\(AccessToken.hash(secret: "gw-secret")):ingest+query\"\n"
            + "http:\n" + tls("  ") + "ingest:\n  tcp:\n" + tls("    ") + "  cot:\n" + tls("    ") + "  osmand:\n" + tls("    ")
        try configuration.write(toFile: state + "/config.yaml", atomically: true, encoding: .utf8)
        let httpPort = DaemonProcess.freePort(), tcpPort = DaemonProcess.freePort()
        let cotPort = DaemonProcess.freePort(), osmandPort = DaemonProcess.freePort()
        let listener = try NotifySocketListener()
        let daemon = try DaemonProcess(
            arguments: [
                "--config", state + "/config.yaml", "--http-port", "\(httpPort)", "--state-dir", state,
                "--database-url", "postgres:///\(endpoint.database)?host=\(endpoint.host)&user=\(endpoint.user)",
            ],
            environment: [
                "HYPERVISION_INGEST_TCP_PORT": "\(tcpPort)", "HYPERVISION_INGEST_COT_PORT": "\(cotPort)",
                "HYPERVISION_INGEST_OSMAND_PORT": "\(osmandPort)", "NOTIFY_SOCKET": listener.path,
            ])
        #expect(await listener.waitFor(timeout: .seconds(60)) { $0.contains("READY=1") }.found != nil, "\(daemon.log)")

        // HTTPS: the health check answers over TLS, and a plain-HTTP client gets no answer.
        let https = try await runToExit("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", ca, "https://127.0.0.1:\(httpPort)/healthz"])
        #expect(https.status == 0 && https.output.contains("ok"), "\(https.output) \(https.errors)")
        let plain = try await runToExit("/usr/bin/curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(httpPort)/healthz"])
        #expect(plain.status != 0 || !plain.output.contains("ok"), "plain HTTP answered on the TLS port: \(plain.output)")

        // NDJSON over TLS: authenticated, then a ping acknowledged once durable.
        let time = Timestamp.now().adding(seconds: -30).rfc3339
        let answers = try await Self.exchange(
            port: tcpPort, ca: ca,
            #"{"type":"auth","token":"gw-secret"}"# + "\n" + #"{"unit":"PN-75-TLS-1","time":"\#(time)","lat":48.85,"lon":2.35}"# + "\n"
        ) { $0.contains(#""type":"ack""#) }
        #expect(answers.first == #"{"type":"auth","ok":true}"#, "\(answers)")
        #expect(answers.contains(#"{"type":"ack","through":1,"accepted":1,"duplicates":0,"rejected":0}"#), "\(answers)")

        // Cursor-on-Target over TLS (TAK's streaming port is TLS too): the event is stored.
        let event = """
            <event version="2.0" uid="ANDROID-PN-75-TLS-2" type="a-f-G-U-C" how="m-g" time="\(time)" start="\(time)" stale="\(time)">\
            <point lat="48.8566" lon="2.3522" hae="35.0" ce="9.0" le="9999999.0"/><detail><contact callsign="TLS 2"/></detail></event>
            """
        _ = try await Self.exchange(port: cotPort, ca: ca, event, timeout: .seconds(2)) { _ in false }

        // OsmAnd over HTTPS.
        let osmand = try await runToExit("/usr/bin/curl", [
            "-sS", "--max-time", "10", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}",
            "https://127.0.0.1:\(osmandPort)/?token=gw-secret&id=PN-75-TLS-3&timestamp=\(Int(Date().timeIntervalSince1970) - 30)&lat=48.85&lon=2.35",
        ])
        #expect(osmand.output == "200", "\(osmand.output) \(osmand.errors)")

        var stored: [Int64] = []
        for _ in 0..<50 {
            stored = try await TestPostgres.integers(
                endpoint, "SELECT count(DISTINCT unit_id) FROM ping_history WHERE unit_id IN ('PN-75-TLS-1', 'ANDROID-PN-75-TLS-2', 'PN-75-TLS-3')")
            if stored == [3] { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(stored == [3], "\(daemon.log.suffix(3_000))")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test func aTLSFileThatCannotBeLoadedStopsTheStartWithTheKey() async throws {
        let state = TestPostgres.makeBaseDirectory("tls-bad")
        defer { try? FileManager.default.removeItem(atPath: state) }
        try "ingest:\n  tcp:\n    tls:\n      certificate: \(state)/missing.pem\n      key: \(state)/missing-key.pem\n"
            .write(toFile: state + "/config.yaml", atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["--config", state + "/config.yaml", "--state-dir", state])
        #expect(await daemon.waitForExit(timeout: .seconds(30)) == 78)
        #expect(daemon.log.contains("ingest.tcp.tls.certificate"), "\(daemon.log)")
        // Before the database: no embedded cluster was started for nothing.
        #expect(!FileManager.default.fileExists(atPath: state + "/postgres"), "\(daemon.log)")

        try "http:\n  tls:\n    certificate: \(state)/cert.pem\n".write(toFile: state + "/config.yaml", atomically: true, encoding: .utf8)
        let halfConfigured = try DaemonProcess(arguments: ["--config", state + "/config.yaml", "--state-dir", state])
        #expect(await halfConfigured.waitForExit(timeout: .seconds(30)) == 78)
        #expect(halfConfigured.log.contains("TLS needs both http.tls.certificate and http.tls.key"), "\(halfConfigured.log)")
    }
}
