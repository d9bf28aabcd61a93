import HypervisionConfiguration
import HypervisionIngestServer
import HypervisionNetwork
import NIOCore

/// The HTTP ports' configuration section: the API port (`http.*`, with `ingest.http.*`,
/// `cameras.*` and the wall pages' `basemap.*`) and the OsmAnd port (`ingest.osmand.*`).
public struct APIConfiguration: ConfigurationSection, Hashable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// HTTPS on the API port (the API, the WebSocket stream, the wall pages).
    public var tls = TLSFiles(prefix: "http.tls")
    /// The per-phase deadlines of both HTTP ports: a request head must be complete `header`
    /// after the connection (or the request's first byte on a kept-alive connection; the TLS
    /// handshake counts), a body `body` after its head; a connection idle `idle` is closed.
    public var deadlines = HTTPPhaseMachine.Deadlines()
    /// Connections of the API port in all, and from one client address (IPv4, or IPv6 /64).
    public var limits = AdmissionLimits(maximumConnections: 1_024, maximumPerAddress: 128)
    public var ingest = HTTPIngestLimits()
    public var cameras = CameraAPIConfiguration()
    public var basemap = BasemapSettings()
    public var osmandEnabled = true
    public var osmand = OsmAndConfiguration()
    public var osmandTLS = TLSFiles(prefix: "ingest.osmand.tls")
    /// Phones behind a carrier's NAT share addresses, hence the larger per-address cap.
    public var osmandLimits = AdmissionLimits(maximumConnections: 1_024, maximumPerAddress: 256)

    public init() {}

    public static let keys = TLSFiles.keys("http.tls") + TLSFiles.keys("ingest.osmand.tls") + [
        "http.host", "http.port", "http.idleTimeoutSeconds", "http.headerTimeoutSeconds", "http.bodyTimeoutSeconds",
        "http.maxConnections", "http.maxConnectionsPerAddress", "ingest.http.maxBodyBytes", "ingest.http.maxItems",
        "cameras.offlineGraceSeconds", "ingest.osmand.enabled", "ingest.osmand.port", "ingest.osmand.allowedNetworks",
        "ingest.osmand.maxConnections", "ingest.osmand.maxConnectionsPerAddress",
    ] + BasemapSettings.keys

    public init(reader r: SectionReader) throws(ConfigurationError) {
        host = r.string("http.host", default: host)
        port = try r.int("http.port", default: port, in: 0...65_535)
        tls = try TLSFiles(r, prefix: tls.prefix)
        deadlines = HTTPPhaseMachine.Deadlines(
            header: .seconds(Int64(try r.int("http.headerTimeoutSeconds", default: 10, in: 1...600))),
            body: .seconds(Int64(try r.int("http.bodyTimeoutSeconds", default: 60, in: 1...3_600))),
            idle: .seconds(Int64(try r.int("http.idleTimeoutSeconds", default: 60, in: 1...3_600))))
        limits = AdmissionLimits(
            maximumConnections: try r.int("http.maxConnections", default: limits.maximumConnections, in: 1...100_000),
            maximumPerAddress: try r.int("http.maxConnectionsPerAddress", default: limits.maximumPerAddress, in: 1...100_000))
        ingest.maximumBodyBytes = try r.int("ingest.http.maxBodyBytes", default: ingest.maximumBodyBytes, in: 1024...(1 << 30))
        ingest.maximumItems = try r.int("ingest.http.maxItems", default: ingest.maximumItems, in: 1...1_000_000)
        cameras.offlineGraceSeconds = Double(try r.int("cameras.offlineGraceSeconds", default: 30, in: 0...3_600))
        basemap = try BasemapSettings(reader: r)
        osmandEnabled = try r.bool("ingest.osmand.enabled", default: osmandEnabled)
        osmand.port = try r.int("ingest.osmand.port", default: osmand.port, in: 0...65_535)
        osmandTLS = try TLSFiles(r, prefix: osmandTLS.prefix)
        osmandLimits = AdmissionLimits(
            maximumConnections: try r.int("ingest.osmand.maxConnections", default: osmandLimits.maximumConnections, in: 1...100_000),
            maximumPerAddress: try r.int(
                "ingest.osmand.maxConnectionsPerAddress", default: osmandLimits.maximumPerAddress, in: 1...100_000))
        if let networks = try AllowedNetworks.read(r, "ingest.osmand.allowedNetworks") { osmand.allowedNetworks = networks }
    }
}

extension BasemapSettings {
    public static let keys: [String] = [
        "basemap.tiles.url", "basemap.tiles.attribution", "basemap.tiles.minZoom", "basemap.tiles.maxZoom",
        "basemap.tiles.tileSize", "basemap.tiles.subdomains", "basemap.tiles.tileMatrixPrefix", "basemap.offline.file",
        "basemap.zones.layer", "basemap.zones.days", "basemap.tracks.minutes",
    ]

    /// Reads `basemap.*`: a tile source only when a URL is configured (no request leaves the
    /// machine otherwise), the offline file, the zone layer and the track length.
    public init(reader r: SectionReader) throws(ConfigurationError) {
        self.init()
        let url = r.string("basemap.tiles.url", default: "")
        if !url.isEmpty {
            if let problem = TileSource.problem(url: url) {
                throw ConfigurationError(key: "basemap.tiles.url", problem: problem)
            }
            var tiles = TileSource(url: url)
            tiles.attribution = r.string("basemap.tiles.attribution", default: "")
            tiles.minimumZoom = try r.int("basemap.tiles.minZoom", default: tiles.minimumZoom, in: 0...24)
            tiles.maximumZoom = try r.int("basemap.tiles.maxZoom", default: tiles.maximumZoom, in: tiles.minimumZoom...24)
            tiles.tileSize = try r.int("basemap.tiles.tileSize", default: tiles.tileSize, in: 64...1_024)
            tiles.subdomains = r.strings("basemap.tiles.subdomains")
            if url.contains("{s}") && tiles.subdomains.isEmpty {
                throw ConfigurationError(key: "basemap.tiles.subdomains", problem: "the URL has {s}: name its subdomains (a, b, c…)")
            }
            tiles.tileMatrixPrefix = r.string("basemap.tiles.tileMatrixPrefix", default: "")
            self.tiles = tiles
        } else {
            for key in Self.keys where key.hasPrefix("basemap.tiles.") && key != "basemap.tiles.url" && r.raw(key) != nil {
                throw ConfigurationError(key: key, problem: "has no effect without basemap.tiles.url")
            }
        }
        offlineFile = r.string("basemap.offline.file", default: "")
        zoneLayer = r.string("basemap.zones.layer", default: zoneLayer)
        guard ["incidents", "camera_events", "none"].contains(zoneLayer) else {
            throw ConfigurationError(key: "basemap.zones.layer", problem: "is incidents, camera_events or none")
        }
        zoneDays = try r.int("basemap.zones.days", default: zoneDays, in: 1...366)
        trackMinutes = try r.int("basemap.tracks.minutes", default: trackMinutes, in: 0...1_440)
    }
}
