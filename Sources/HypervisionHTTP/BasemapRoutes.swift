import Foundation
import Hummingbird
import HTTPTypes
import HypervisionCore
import Logging
import NIOCore
import Synchronization

/// What the wall pages draw under map tiles: a raster tile source when a command room has its own
/// tile server, else (and always offline) vector data the daemon serves itself.
public struct BasemapSettings: Sendable, Hashable {
    /// A raster tile source (XYZ, TMS or WMTS in Web Mercator), requested by the browsers directly.
    public struct TileSource: Sendable, Hashable {
        /// A URL template: `{z}`, `{x}`, `{y}` (XYZ), `{-y}` (TMS), `{TileMatrix}`, `{TileRow}`,
        /// `{TileCol}` (WMTS KVP or REST, a GoogleMapsCompatible matrix set), `{s}` (a subdomain).
        public var url: String
        public var attribution = ""
        public var minimumZoom = 0
        public var maximumZoom = 19
        public var tileSize = 256
        public var subdomains: [String] = []
        /// Put before the zoom level in `{TileMatrix}` (`EPSG:3857:` for matrices named so).
        public var tileMatrixPrefix = ""

        public init(url: String) { self.url = url }

        /// Nil when `url` can serve as a template; else why not.
        public static func problem(url: String) -> String? {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("/") else {
                return "must be an http(s) URL (or a path on this daemon)"
            }
            let xyz = url.contains("{z}") && url.contains("{x}") && (url.contains("{y}") || url.contains("{-y}"))
            let wmts = url.contains("{TileMatrix}") && url.contains("{TileRow}") && url.contains("{TileCol}")
            guard xyz || wmts else {
                return "must hold {z}, {x} and {y} (or {-y}), or WMTS's {TileMatrix}, {TileRow} and {TileCol}"
            }
            return nil
        }
    }

    /// None: no request leaves the machine, the offline basemap is all there is.
    public var tiles: TileSource?
    /// A TopoJSON or GeoJSON file (made by `scripts/basemap-data`); empty: none.
    public var offlineFile = ""
    /// The zone hex grid under the markers: which layer it counts, over how many days.
    public var zoneLayer = "incidents"
    public var zoneDays = 7
    /// Unit tracks drawn on maps (units in emergency or busy): how far back.
    public var trackMinutes = 10

    public init() {}
}

/// Vector layers registered while the daemon runs (the demo registers its street network), served
/// beside the offline basemap. Bounded: a few layers of a few MB at most.
public final class BasemapOverlays: Sendable {
    public struct Overlay: Sendable {
        public var title: String
        public var body: [UInt8]
    }
    private let overlays = Mutex<[String: Overlay]>([:])
    public static let maximumBytes = 8 << 20
    public static let maximumCount = 8

    public init() {}

    /// Adds or replaces the overlay `id`; false when it is too large or there are too many.
    @discardableResult
    public func set(id: String, title: String, geoJSON: JSONValue) -> Bool {
        let body = Array(geoJSON.encoded().utf8)
        guard body.count <= Self.maximumBytes else { return false }
        return overlays.withLock { overlays in
            guard overlays[id] != nil || overlays.count < Self.maximumCount else { return false }
            overlays[id] = Overlay(title: title, body: body)
            return true
        }
    }

    public var all: [(id: String, overlay: Overlay)] {
        overlays.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    public func overlay(id: String) -> Overlay? { overlays.withLock { $0[id] } }
}

/// `GET /basemap/config.json` (what to draw under maps), `/basemap/offline.json` (the offline
/// vector basemap) and `/basemap/overlays/{id}.json`. Public like the wall pages themselves:
/// coastlines and a tile server's address are no secret (put no key in a tile URL).
public struct BasemapRoutes<Context: RequestContext>: Sendable {
    let settings: BasemapSettings
    let overlays: BasemapOverlays
    let offline: [UInt8]?
    let offlineTag: String
    /// The offline file is read once, at start-up; larger ones are refused (pages download it).
    public static var maximumOfflineBytes: Int { 32 << 20 }

    public init(settings: BasemapSettings, overlays: BasemapOverlays, logger: Logger) {
        self.settings = settings
        self.overlays = overlays
        var bytes: [UInt8]?
        if !settings.offlineFile.isEmpty {
            let size = (try? FileManager.default.attributesOfItem(atPath: settings.offlineFile)[.size] as? Int) ?? nil
            if let size, size > Self.maximumOfflineBytes {
                logger.error(
                    "the offline basemap is too large; maps draw without it",
                    metadata: ["file": "\(settings.offlineFile)", "bytes": "\(size)", "maximum": "\(Self.maximumOfflineBytes)"])
            } else if let data = FileManager.default.contents(atPath: settings.offlineFile) {
                bytes = Array(data)
                logger.info("offline basemap loaded", metadata: ["file": "\(settings.offlineFile)", "bytes": "\(data.count)"])
            } else {
                logger.warning(
                    "the offline basemap cannot be read; maps draw without it (make one with scripts/basemap-data)",
                    metadata: ["file": "\(settings.offlineFile)"])
            }
        }
        offline = bytes
        offlineTag = bytes.map { "\"\(Self.fnv1a($0))\"" } ?? ""
    }

    /// The configuration the pages read.
    public var configuration: JSONValue {
        var object: [String: JSONValue] = [
            "offline": .object([
                "url": bytesOrNull(offline, "/basemap/offline.json"),
                "bytes": .number(Double(offline?.count ?? 0)),
            ]),
            "overlays": .array(overlays.all.map { entry in
                .object([
                    "id": .string(entry.id), "title": .string(entry.overlay.title),
                    "url": .string("/basemap/overlays/\(entry.id).json"),
                ])
            }),
            "zones": .object(["layer": .string(settings.zoneLayer), "days": .number(Double(settings.zoneDays))]),
            "tracks": .object(["minutes": .number(Double(settings.trackMinutes))]),
        ]
        if let tiles = settings.tiles {
            object["tiles"] = .object([
                "url": .string(tiles.url), "attribution": .string(tiles.attribution),
                "minZoom": .number(Double(tiles.minimumZoom)), "maxZoom": .number(Double(tiles.maximumZoom)),
                "tileSize": .number(Double(tiles.tileSize)), "subdomains": .array(tiles.subdomains.map { .string($0) }),
                "tileMatrixPrefix": .string(tiles.tileMatrixPrefix),
            ])
        } else {
            object["tiles"] = .null
        }
        return .object(object)
    }

    private func bytesOrNull(_ bytes: [UInt8]?, _ url: String) -> JSONValue { bytes == nil ? .null : .string(url) }

    public func addRoutes(to router: Router<Context>) {
        router.get("/basemap/config.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: configuration.encoded())))
        }
        router.get("/basemap/offline.json") { request, _ in
            guard let offline else {
                return APIError.response(
                    .notFound, "not_found", "no offline basemap: set basemap.offline.file (make one with scripts/basemap-data)")
            }
            if request.headers[.ifNoneMatch] == offlineTag {
                return Response(status: .notModified, headers: [.eTag: offlineTag, .cacheControl: "no-cache"])
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .eTag: offlineTag, .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(bytes: offline)))
        }
        router.get("/basemap/overlays/:file") { _, context in
            let file = try context.parameters.require("file")
            guard file.hasSuffix(".json"), let overlay = overlays.overlay(id: String(file.dropLast(5))) else {
                return APIError.response(.notFound, "not_found", "no overlay \(file)")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(bytes: overlay.body)))
        }
    }

    /// A content tag for ETag: FNV-1a, 64 bits.
    static func fnv1a(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
