import Configuration
import Foundation
import HypervisionHTTP

/// The settings of the wall pages (preview, renderer, console): the basemap under map tiles, and
/// where the demo's test video comes from. Read here rather than in ``DaemonConfiguration`` so
/// that the wall pages own their section; ``DaemonConfiguration`` holds one of these.
public struct WallPagesConfiguration: Sendable, Hashable {
    public var basemap = BasemapSettings()
    /// The first of the loopback ports `scripts/demo-video` serves the demo cameras' MJPEG on
    /// (0: the demo cameras have RTSP URLs only).
    public var demoVideoPort = 8090
    /// How many consecutive ports, from ``demoVideoPort``: a browser opens at most six
    /// connections to one port, and every camera tile holds one.
    public var demoVideoPorts = 16

    public init() {}

    public static let keys: [String] = [
        "basemap.tiles.url", "basemap.tiles.attribution", "basemap.tiles.minZoom", "basemap.tiles.maxZoom",
        "basemap.tiles.tileSize", "basemap.tiles.subdomains", "basemap.tiles.tileMatrixPrefix", "basemap.offline.file",
        "basemap.zones.layer", "basemap.zones.days", "basemap.tracks.minutes", "demo.video.port", "demo.video.ports",
    ]

    public init(reader: ConfigReader) throws(ConfigurationError) {
        func text(_ key: String) -> String? { reader.string(forKey: ConfigKey(key)) }
        func int(_ key: String, _ value: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            var number = value
            if let raw = text(key) {
                guard let parsed = Int(raw.trimmingCharacters(in: .whitespaces)) else {
                    throw ConfigurationError(key: key, problem: "\"\(raw)\" is not a whole number")
                }
                number = parsed
            } else if let parsed = reader.int(forKey: ConfigKey(key)) {
                number = parsed
            }
            guard range.contains(number) else {
                throw ConfigurationError(key: key, problem: "\(number) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        let url = text("basemap.tiles.url") ?? ""
        if !url.isEmpty {
            if let problem = BasemapSettings.TileSource.problem(url: url) {
                throw ConfigurationError(key: "basemap.tiles.url", problem: problem)
            }
            var tiles = BasemapSettings.TileSource(url: url)
            tiles.attribution = text("basemap.tiles.attribution") ?? ""
            tiles.minimumZoom = try int("basemap.tiles.minZoom", tiles.minimumZoom, in: 0...24)
            tiles.maximumZoom = try int("basemap.tiles.maxZoom", tiles.maximumZoom, in: tiles.minimumZoom...24)
            tiles.tileSize = try int("basemap.tiles.tileSize", tiles.tileSize, in: 64...1_024)
            if let list = reader.stringArray(forKey: ConfigKey("basemap.tiles.subdomains")) {
                tiles.subdomains = list
            } else if let single = text("basemap.tiles.subdomains"), !single.isEmpty {
                tiles.subdomains = single.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            }
            if url.contains("{s}") && tiles.subdomains.isEmpty {
                throw ConfigurationError(key: "basemap.tiles.subdomains", problem: "the URL has {s}: name its subdomains (a, b, c…)")
            }
            tiles.tileMatrixPrefix = text("basemap.tiles.tileMatrixPrefix") ?? ""
            basemap.tiles = tiles
        } else {
            for key in Self.keys where key.hasPrefix("basemap.tiles.") && key != "basemap.tiles.url" && text(key) != nil {
                throw ConfigurationError(key: key, problem: "has no effect without basemap.tiles.url")
            }
        }
        basemap.offlineFile = text("basemap.offline.file") ?? ""
        basemap.zoneLayer = text("basemap.zones.layer") ?? basemap.zoneLayer
        guard ["incidents", "camera_events", "none"].contains(basemap.zoneLayer) else {
            throw ConfigurationError(key: "basemap.zones.layer", problem: "is incidents, camera_events or none")
        }
        basemap.zoneDays = try int("basemap.zones.days", basemap.zoneDays, in: 1...366)
        basemap.trackMinutes = try int("basemap.tracks.minutes", basemap.trackMinutes, in: 0...1_440)
        demoVideoPort = try int("demo.video.port", demoVideoPort, in: 0...65_535)
        demoVideoPorts = try int("demo.video.ports", demoVideoPorts, in: 1...64)
        if demoVideoPort > 0 && demoVideoPort + demoVideoPorts - 1 > 65_535 {
            throw ConfigurationError(key: "demo.video.ports", problem: "the ports from demo.video.port go past 65535")
        }
    }
}
