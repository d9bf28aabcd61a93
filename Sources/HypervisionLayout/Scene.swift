import HypervisionCore

/// Everything a renderer needs to draw a wall at one moment, with no further thought.
///
/// Tiles, units and incidents are keyed by id (JSON objects, not arrays) so that RFC 6902 patches
/// between successive scenes name `/tiles/cam-0042` rather than an index that shifts. The JSON
/// form (``json``) is described by `Schemas/scene.schema.json`; ``encoded()`` prints it
/// canonically, so equal scenes are equal bytes.
public struct Scene: Sendable, Hashable {
    /// The wall's id.
    public var wall: String
    /// Set by the scene hub, which alone knows the sequence; the engine passes through what it is given.
    public var seq: Int64
    /// The clock of the computation that produced the scene.
    public var generatedAt: Timestamp
    public var canvasWidth: Int
    public var canvasHeight: Int
    /// Every display of the wall and where it sits on the canvas, row-major.
    public var displays: [WallLayout.Display]
    public var tiles: [String: SceneTile]
    /// Units shown on map tiles (those inside at least one map viewport), keyed by unit id.
    public var units: [String: SceneUnit]
    /// Active incidents, for map tiles and incident panels, keyed by incident id.
    public var incidents: [String: SceneIncident]
    /// How many tiles present in the previous scene changed place or size in this one.
    public var moved: Int

    public init(
        wall: String, seq: Int64, generatedAt: Timestamp, canvasWidth: Int, canvasHeight: Int,
        displays: [WallLayout.Display], tiles: [String: SceneTile], units: [String: SceneUnit],
        incidents: [String: SceneIncident], moved: Int
    ) {
        self.wall = wall
        self.seq = seq
        self.generatedAt = generatedAt
        self.canvasWidth = canvasWidth
        self.canvasHeight = canvasHeight
        self.displays = displays
        self.tiles = tiles
        self.units = units
        self.incidents = incidents
        self.moved = moved
    }

    /// The canonical bytes of the scene document.
    public func encoded() -> String { json.encoded() }
}

/// One rectangle of the canvas showing one source.
public struct SceneTile: Sendable, Hashable {
    /// The camera id for camera tiles; the region id for map, incident and web tiles.
    public var id: String
    public var region: String
    /// Position in the region's slot order: 0 is its largest, most prominent tile.
    public var slot: Int
    /// Where the tile is on the canvas (bezel gaps included when it spans displays).
    public var rect: PixelRect
    /// The visible part of the tile on each display it touches, in that display's own pixels.
    public var displays: [String: PixelRect]
    public var source: SceneSource
    public var fit: Fit
    /// Why the source is here, for the operators ("covers incident INC-2026-0173 at 180 m").
    public var reason: String
    /// Stacking order. Tiles never overlap, so it only orders overlays; it is the region's index.
    public var z: Int

    public init(
        id: String, region: String, slot: Int, rect: PixelRect, displays: [String: PixelRect], source: SceneSource, fit: Fit,
        reason: String, z: Int
    ) {
        self.id = id
        self.region = region
        self.slot = slot
        self.rect = rect
        self.displays = displays
        self.source = source
        self.fit = fit
        self.reason = reason
        self.z = z
    }
}

/// What a tile shows.
public enum SceneSource: Sendable, Hashable {
    /// A camera stream. `status` is `online`, `degraded`, `offline` (kept in its tile during the
    /// grace period, drawn as offline) or `unknown` (a fixed camera the registry does not know).
    case camera(id: String, title: String, status: String, streams: [Camera.Stream])
    /// A map of the viewport, with the scene's units and incidents drawn on it.
    case map(id: String, viewport: BoundingBox)
    /// A list of the scene's incidents, most urgent first.
    case incidents(id: String, order: [String])
    /// A web page.
    case web(id: String, url: String)

    public var kind: String {
        switch self {
        case .camera: "camera"
        case .map: "map"
        case .incidents: "incidents"
        case .web: "web"
        }
    }

    public var id: String {
        switch self {
        case .camera(let id, _, _, _), .map(let id, _), .incidents(let id, _), .web(let id, _): id
        }
    }
}

/// A unit marker on the map tiles.
public struct SceneUnit: Sendable, Hashable {
    public var id: String
    public var callsign: String?
    public var kind: String?
    public var position: GeoPoint
    public var heading: Double?
    public var status: String?
    /// Device time of the fix.
    public var time: Timestamp
    /// The fix is older than the wall's ``LayoutTuning/unitStaleSeconds``: draw it faded.
    public var stale: Bool

    public init(
        id: String, callsign: String?, kind: String?, position: GeoPoint, heading: Double?, status: String?, time: Timestamp,
        stale: Bool
    ) {
        self.id = id
        self.callsign = callsign
        self.kind = kind
        self.position = position
        self.heading = heading
        self.status = status
        self.time = time
        self.stale = stale
    }
}

/// An incident marker on map tiles and a line of the incident panel.
public struct SceneIncident: Sendable, Hashable {
    public var id: String
    public var category: String
    public var priority: Int
    public var position: GeoPoint
    public var status: String
    public var openedAt: Timestamp
    public var summary: String?

    public init(
        id: String, category: String, priority: Int, position: GeoPoint, status: String, openedAt: Timestamp, summary: String?
    ) {
        self.id = id
        self.category = category
        self.priority = priority
        self.position = position
        self.status = status
        self.openedAt = openedAt
        self.summary = summary
    }
}

// MARK: - JSON

extension Scene {
    /// The scene document, as `Schemas/scene.schema.json` describes it.
    public var json: JSONValue {
        var displayMembers: [String: JSONValue] = [:]
        for display in displays {
            displayMembers[display.id] = display.rect.json
        }
        var tileMembers: [String: JSONValue] = [:]
        for (id, tile) in tiles { tileMembers[id] = tile.json }
        var unitMembers: [String: JSONValue] = [:]
        for (id, unit) in units { unitMembers[id] = unit.json }
        var incidentMembers: [String: JSONValue] = [:]
        for (id, incident) in incidents { incidentMembers[id] = incident.json }
        return .object([
            "wall": .string(wall),
            "seq": .number(Double(seq)),
            "generatedAt": .string(generatedAt.rfc3339),
            "canvas": .object(["width": .number(Double(canvasWidth)), "height": .number(Double(canvasHeight))]),
            "displays": .object(displayMembers),
            "tiles": .object(tileMembers),
            "units": .object(unitMembers),
            "incidents": .object(incidentMembers),
            "moved": .number(Double(moved)),
        ])
    }
}

extension PixelRect {
    /// `{"x":…,"y":…,"width":…,"height":…}`.
    public var json: JSONValue {
        .object([
            "x": .number(Double(x)), "y": .number(Double(y)), "width": .number(Double(width)), "height": .number(Double(height)),
        ])
    }
}

extension Fit {
    /// `{"mode":"contain","aspect":"16:9","content":{…}}`; no aspect for sources without one.
    func json(content: PixelRect) -> JSONValue {
        var members: [String: JSONValue] = ["mode": .string(mode.rawValue), "content": content.json]
        if let aspect { members["aspect"] = .string(aspect.description) }
        return .object(members)
    }
}

extension SceneSource {
    func json(title: String?) -> JSONValue {
        switch self {
        case .camera(let id, let title, let status, let streams):
            return .object([
                "kind": .string("camera"), "id": .string(id), "title": .string(title), "status": .string(status),
                "streams": .array(
                    streams.map {
                        .object(["protocol": .string($0.transport.rawValue), "quality": .string($0.quality), "url": .string($0.url)])
                    }),
            ])
        case .map(let id, let viewport):
            return .object([
                "kind": .string("map"), "id": .string(id), "title": .string(title ?? id), "status": .string("online"),
                "viewport": .object([
                    "west": .number(viewport.west), "south": .number(viewport.south), "east": .number(viewport.east),
                    "north": .number(viewport.north),
                ]),
            ])
        case .incidents(let id, let order):
            return .object([
                "kind": .string("incidents"), "id": .string(id), "title": .string(title ?? id), "status": .string("online"),
                "incidents": .array(order.map(JSONValue.string)),
            ])
        case .web(let id, let url):
            return .object([
                "kind": .string("web"), "id": .string(id), "title": .string(title ?? id), "status": .string("online"),
                "url": .string(url),
            ])
        }
    }
}

extension SceneTile {
    /// The tile in canvas coordinates, with its per-display rectangles.
    var json: JSONValue {
        var perDisplay: [String: JSONValue] = [:]
        for (id, rect) in displays { perDisplay[id] = rect.json }
        return .object([
            "region": .string(region),
            "slot": .number(Double(slot)),
            "rect": rect.json,
            "displays": .object(perDisplay),
            "source": source.json(title: region),
            "fit": fit.json(content: fit.content),
            "reason": .string(reason),
            "z": .number(Double(z)),
        ])
    }
}

extension SceneUnit {
    var json: JSONValue {
        var members: [String: JSONValue] = [
            "lat": .number(position.latitude), "lon": .number(position.longitude), "time": .string(time.rfc3339),
            "stale": .bool(stale),
        ]
        if let callsign { members["callsign"] = .string(callsign) }
        if let kind { members["kind"] = .string(kind) }
        if let heading { members["heading"] = .number(heading) }
        if let status { members["status"] = .string(status) }
        return .object(members)
    }
}

extension SceneIncident {
    var json: JSONValue {
        var members: [String: JSONValue] = [
            "category": .string(category), "priority": .number(Double(priority)), "lat": .number(position.latitude),
            "lon": .number(position.longitude), "status": .string(status), "openedAt": .string(openedAt.rfc3339),
        ]
        if let summary { members["summary"] = .string(summary) }
        return .object(members)
    }
}
