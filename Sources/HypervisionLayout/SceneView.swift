import HypervisionCore

/// The part of a scene one physical display shows, in that display's own pixel coordinates.
///
/// What a renderer subscribed with `display=r0c1` receives. Each tile keeps its full rectangle
/// (`rect`, which may extend past the display's edges when the tile spans displays, so the
/// renderer can place the video exactly and let the display clip it) and its `visible` part.
/// Units and incidents are included only when a map or incident tile is on the display.
public struct SceneView: Sendable, Hashable {
    public var wall: String
    public var display: WallLayout.Display
    public var seq: Int64
    public var generatedAt: Timestamp
    /// Tiles that have at least one pixel on this display, in display coordinates.
    public var tiles: [String: SceneTile]
    public var units: [String: SceneUnit]
    public var incidents: [String: SceneIncident]
    /// Tiles on this display that moved since the previous scene.
    public var moved: Int

    /// The view's document: the scene's shape with `display` and `size` instead of the canvas
    /// and display list, and each tile's `visible` rectangle instead of its per-display map.
    public var json: JSONValue {
        var tileMembers: [String: JSONValue] = [:]
        for (id, tile) in tiles { tileMembers[id] = json(of: tile) }
        var unitMembers: [String: JSONValue] = [:]
        for (id, unit) in units { unitMembers[id] = unit.json }
        var incidentMembers: [String: JSONValue] = [:]
        for (id, incident) in incidents { incidentMembers[id] = incident.json }
        return .object([
            "wall": .string(wall),
            "display": .string(display.id),
            "seq": .number(Double(seq)),
            "generatedAt": .string(generatedAt.rfc3339),
            "size": .object(["width": .number(Double(display.rect.width)), "height": .number(Double(display.rect.height))]),
            "tiles": .object(tileMembers),
            "units": .object(unitMembers),
            "incidents": .object(incidentMembers),
            "moved": .number(Double(moved)),
        ])
    }

    /// One tile of the view's document: `visible` instead of the per-display map.
    func json(of tile: SceneTile) -> JSONValue {
        .object([
            "region": .string(tile.region),
            "slot": .number(Double(tile.slot)),
            "rect": tile.rect.json,
            "visible": (tile.displays[display.id] ?? tile.rect).json,
            "source": tile.source.json(title: tile.region),
            "fit": tile.fit.json(content: tile.fit.content),
            "reason": .string(tile.reason),
            "z": .number(Double(tile.z)),
        ])
    }

    /// The canonical bytes of the view's document.
    public func encoded() -> String { json.encoded() }
}

extension Scene {
    /// The view of one display (`r0c1`), nil when the wall has no such display.
    ///
    /// `previous` (the previous scene) lets the view count its own moved tiles; without it the
    /// view reports the whole scene's count.
    public func view(display id: String, previous: Scene? = nil) -> SceneView? {
        guard let display = displays.first(where: { $0.id == id }) else { return nil }
        let dx = -display.rect.x, dy = -display.rect.y
        var viewTiles: [String: SceneTile] = [:]
        var showsMap = false
        var moved = 0
        for (tileID, tile) in tiles where tile.displays[id] != nil {
            var local = tile
            local.rect = tile.rect.translated(byX: dx, y: dy)
            local.fit.content = tile.fit.content.translated(byX: dx, y: dy)
            viewTiles[tileID] = local
            switch tile.source {
            case .map, .incidents: showsMap = true
            default: break
            }
            if let previous, let before = previous.tiles[tileID], before.rect != tile.rect { moved += 1 }
        }
        return SceneView(
            wall: wall, display: display, seq: seq, generatedAt: generatedAt, tiles: viewTiles, units: showsMap ? units : [:],
            incidents: showsMap ? incidents : [:], moved: previous == nil ? self.moved : moved)
    }
}
