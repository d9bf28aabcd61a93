import Foundation
import HypervisionApp
import HypervisionConfiguration
import HypervisionCore
import HypervisionDemo
import HypervisionTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
import HypervisionHTTP
#endif

/// The wall pages' settings (basemap, demo video), the demo cameras' stream variants, and the
/// routes of the renderer, the console and the basemap against a running daemon.
@Suite struct WallPagesConfigurationTests {
    func load(_ yaml: String, environment: [String: String] = [:]) async throws(ConfigurationError) -> DaemonConfiguration {
        let path = NSTemporaryDirectory() + "hv-pages-\(UUID().uuidString).yaml"
        try! yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try await ConfigurationLoader.load(filePath: path, overrides: [:], environment: environment)
    }

    func problem(_ yaml: String, environment: [String: String] = [:]) async -> ConfigurationError? {
        do {
            _ = try await load(yaml, environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func defaultsLeaveEverythingOnTheMachine() async throws {
        let pages = try await load("log:\n  level: info\n")
        #expect(pages.api.basemap.tiles == nil)
        #expect(pages.api.basemap.offlineFile == "")
        #expect(pages.api.basemap.zoneLayer == "incidents" && pages.api.basemap.zoneDays == 7 && pages.api.basemap.trackMinutes == 10)
        #expect(pages.demo.video.port == 8090 && pages.demo.video.ports == 16)
    }

    @Test func aTileSourceFromTheFileAndTheEnvironment() async throws {
        let pages = try await load(
            """
            basemap:
              tiles:
                url: "https://{s}.tiles.cic.local/{z}/{x}/{y}.png"
                subdomains: [a, b]
                attribution: "CIC tiles"
                maxZoom: 18
              offline:
                file: /usr/share/hypervision/basemap.json
            """
        )
        #expect(pages.api.basemap.tiles?.url == "https://{s}.tiles.cic.local/{z}/{x}/{y}.png")
        #expect(pages.api.basemap.tiles?.subdomains == ["a", "b"] && pages.api.basemap.tiles?.maximumZoom == 18)
        #expect(pages.api.basemap.tiles?.attribution == "CIC tiles")
        #expect(pages.api.basemap.offlineFile == "/usr/share/hypervision/basemap.json")

        let wmts = "https://wmts.cic.local/wmts?SERVICE=WMTS&REQUEST=GetTile&TILEMATRIX={TileMatrix}&TILEROW={TileRow}&TILECOL={TileCol}"
        let environment = [
            "HYPERVISION_BASEMAP_TILES_URL": wmts, "HYPERVISION_BASEMAP_TILES_TILE_MATRIX_PREFIX": "EPSG:3857:",
            "HYPERVISION_DEMO_VIDEO_PORT": "9100",
        ]
        let fromEnvironment = try await load("log:\n  level: info\n", environment: environment)
        #expect(fromEnvironment.api.basemap.tiles?.url == wmts && fromEnvironment.api.basemap.tiles?.tileMatrixPrefix == "EPSG:3857:")
        #expect(fromEnvironment.demo.video.port == 9100)
        #expect(DaemonConfiguration.unknownEnvironmentVariables(in: environment).isEmpty)
    }

    @Test func mistakesNameTheKey() async {
        let cases: [(String, String)] = [
            ("basemap:\n  tiles:\n    url: ftp://tiles/{z}/{x}/{y}\n", "basemap.tiles.url"),
            ("basemap:\n  tiles:\n    url: https://tiles.local/tile.png\n", "basemap.tiles.url"),
            ("basemap:\n  tiles:\n    url: https://{s}.tiles.local/{z}/{x}/{y}.png\n", "basemap.tiles.subdomains"),
            ("basemap:\n  tiles:\n    url: https://t/{z}/{x}/{y}\n    maxZoom: 30\n", "basemap.tiles.maxZoom"),
            ("basemap:\n  tiles:\n    attribution: x\n", "basemap.tiles.attribution"),
            ("basemap:\n  zones:\n    layer: pings\n", "basemap.zones.layer"),
            ("basemap:\n  tracks:\n    minutes: lots\n", "basemap.tracks.minutes"),
            ("demo:\n  video:\n    port: 65530\n    ports: 8\n", "demo.video.ports"),
            ("basemap:\n  offlin:\n    file: x\n", "basemap.offlin.file"),
        ]
        for (yaml, key) in cases {
            let error = await problem(yaml)
            #expect(error?.key == key, "\(yaml): \(error.map { "\($0)" } ?? "accepted")")
        }
    }

    @Test func demoCamerasGainBrowserVariantsAndKeepRTSP() {
        let camera = Camera(
            id: "cam-0042", name: "Rivoli × Louvre & co", position: GeoPoint(latitude: 48.86, longitude: 2.34), heading: 0,
            fieldOfView: 90, range: 100,
            streams: [
                Camera.Stream(transport: .hls, quality: "main", url: "http://127.0.0.1/demo/hls/cam-0042/index.m3u8"),
                Camera.Stream(transport: .rtsp, quality: "main", url: "rtsp://127.0.0.1/demo/cam-0042/main"),
            ])
        let video = DemoVideo(port: 8090, ports: 8)
        let streams = video.applied(to: camera).streams
        #expect(streams.map(\.transport) == [.mjpeg, .mjpeg, .rtsp])
        #expect(streams.map(\.quality) == ["sub", "preview", "main"])
        // 42 modulo 8 ports: the third port from 8090.
        #expect(streams[0].url.hasPrefix("http://127.0.0.1:8092/cam-0042/sub.mjpg?name="), "\(streams[0].url)")
        #expect(streams[1].url.hasPrefix("http://127.0.0.1:8092/cam-0042/preview.mjpg?name="))
        // The name is one query value: no raw &, space or non-ASCII.
        let name = String(streams[0].url.split(separator: "=", maxSplits: 1)[1])
        #expect(!name.contains("&") && !name.contains(" ") && name.allSatisfy(\.isASCII), "\(name)")
        #expect(name.removingPercentEncoding == "Rivoli × Louvre & co")
        #expect(DemoVideo(port: 0, ports: 8).applied(to: camera) == camera)
        let spread = Set((1...16).map { n in
            DemoVideo(port: 8090, ports: 8).applied(to: Camera(
                id: "cam-\(n)", name: "c", position: GeoPoint(latitude: 0, longitude: 0), heading: 0, fieldOfView: 90, range: 1)
            ).streams[0].url.split(separator: "/")[1]
        })
        #expect(spread.count == 8, "16 cameras over \(spread.count) ports")
    }
}

@Suite(.serialized) struct WallPagesAPITests {
    @Test func rendererConsoleAndBasemapAreServedAndPinsListed() async throws {
        let basemap = NSTemporaryDirectory() + "hv-basemap-\(UUID().uuidString).json"
        let topology = #"{"type":"Topology","transform":{"scale":[0.0001,0.0001],"translate":[-180,-90]},"objects":{"land":{"type":"MultiPolygon","arcs":[[[0]]]}},"arcs":[[[1823000,1388000],[10,0],[0,10],[-10,-10]]]}"#
        try topology.write(toFile: basemap, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: basemap) }
        let daemon = try await APIDaemon(
            "pages",
            extraConfiguration: """
                walls:
                  directory: $STATE/walls
                basemap:
                  tiles:
                    url: "https://tiles.cic.local/{z}/{x}/{y}.png"
                    attribution: CIC
                  offline:
                    file: \(basemap)
                """,
            files: ["walls/ops.json": WallAPITests.definition(id: "ops")])

        // The pages and their scripts need no token: what they show comes from the API.
        for path in ["/render/ops/r0c1", "/render/ops", "/console", "/console/ops"] {
            let page = try await daemon.call("GET", path, token: nil)
            #expect(page.status == 200 && page.text.contains("<!DOCTYPE html>"), "\(path): \(page.status)")
        }
        let renderer = try await daemon.call("GET", "/render/ops/r0c1", token: nil)
        #expect(renderer.text.contains("data-mode=\"renderer\"") && renderer.text.contains("/walls/assets/basemap.js"))
        for asset in ["basemap.js", "console.js", "console.css", "wall.js", "wall.css"] {
            let answer = try await daemon.call("GET", "/walls/assets/\(asset)", token: nil)
            #expect(answer.status == 200 && answer.text.count > 500, "\(asset): \(answer.status)")
        }

        // The basemap's configuration, the offline file (with a tag) and no overlay outside the demo.
        let config = try await daemon.call("GET", "/basemap/config.json", token: nil)
        #expect(config.status == 200, "\(config.text)")
        #expect(field(config.json, "tiles", "url") as? String == "https://tiles.cic.local/{z}/{x}/{y}.png")
        #expect(field(config.json, "tiles", "attribution") as? String == "CIC")
        #expect(field(config.json, "offline", "url") as? String == "/basemap/offline.json")
        #expect((field(config.json, "overlays") as? [Any])?.isEmpty == true)
        let offline = try await daemon.call("GET", "/basemap/offline.json", token: nil)
        #expect(offline.status == 200 && offline.text == topology)
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(daemon.port)/basemap/offline.json")!)
        let (_, first) = try await URLSession.shared.data(for: request)
        let tag = (first as! HTTPURLResponse).value(forHTTPHeaderField: "ETag") ?? ""
        #expect(tag.hasPrefix("\""), "ETag \(tag)")
        request.setValue(tag, forHTTPHeaderField: "If-None-Match")
        let (_, again) = try await URLSession.shared.data(for: request)
        #expect((again as! HTTPURLResponse).statusCode == 304)
        #expect(try await daemon.call("GET", "/basemap/overlays/demo-streets.json", token: nil).status == 404)

        // The pins of a wall, for the console: query scope, shown or not.
        #expect(try await daemon.call("GET", "/api/v1/walls/ops/pins", token: nil).status == 401)
        #expect(try await daemon.call("GET", "/api/v1/walls/nowhere/pins", token: "query-secret").status == 404)
        let none = try await daemon.call("GET", "/api/v1/walls/ops/pins", token: "query-secret")
        #expect(none.status == 200 && (field(none.json, "pins") as? [Any])?.isEmpty == true, "\(none.text)")
        let pinned = try await daemon.call("POST", "/api/v1/walls/ops/pins", #"{"camera":"cam-z9","expiresIn":600,"by":"Dupont"}"#)
        #expect(pinned.status == 201, "\(pinned.text)")
        let listed = try await daemon.call("GET", "/api/v1/walls/ops/pins", token: "query-secret")
        let pins = field(listed.json, "pins") as? [[String: Any]] ?? []
        #expect(pins.count == 1 && pins.first?["camera"] as? String == "cam-z9" && pins.first?["by"] as? String == "Dupont", "\(listed.text)")
        #expect(pins.first?["expiresAt"] is String)
        _ = await daemon.stop()
    }
}
