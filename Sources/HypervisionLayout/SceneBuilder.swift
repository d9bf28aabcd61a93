import HypervisionCore

/// Assembles a ``Scene`` from the engine's decisions: tiles with their per-display rectangles,
/// fits and sources, and the units and incidents of the map tiles.
struct SceneBuilder {
    /// Most incidents a scene carries (the most urgent first), to bound its size.
    static let maximumIncidents = 200

    let inputs: LayoutInputs
    private var tiles: [String: SceneTile] = [:]
    private var viewports: [BoundingBox] = []
    private var showsIncidents = false

    init(inputs: LayoutInputs) {
        self.inputs = inputs
        tiles.reserveCapacity(64)
    }

    /// The tiles a region has whatever happens: fixed presets, maps, incident panels, web pages.
    mutating func addRegionTiles(_ placed: WallLayout.PlacedRegion) {
        let region = placed.region
        switch region.content {
        case .preset(_, let sources):
            for (slot, camera) in sources.enumerated() where slot < placed.slots.count {
                addCameraTile(camera, region: placed, slot: slot, rect: placed.slots[slot], reason: Reason.fixed.description)
            }
        case .cameras:
            break
        case .map(let policy):
            let viewport = MapViewport.compute(policy, tile: placed.rect, inputs: inputs)
            viewports.append(viewport)
            showsIncidents = true
            add(
                SceneTile(
                    id: region.id, region: region.id, slot: 0, rect: placed.rect, displays: perDisplay(placed.rect, placed),
                    source: .map(id: region.id, viewport: viewport),
                    fit: Fit(mode: .fill, aspect: nil, content: placed.rect), reason: "map region", z: placed.index))
        case .incidents:
            showsIncidents = true
            add(
                SceneTile(
                    id: region.id, region: region.id, slot: 0, rect: placed.rect, displays: perDisplay(placed.rect, placed),
                    source: .incidents(id: region.id, order: activeIncidents().map(\.id)),
                    fit: Fit(mode: .fill, aspect: nil, content: placed.rect), reason: "incident panel", z: placed.index))
        case .web(let url):
            add(
                SceneTile(
                    id: region.id, region: region.id, slot: 0, rect: placed.rect, displays: perDisplay(placed.rect, placed),
                    source: .web(id: region.id, url: url), fit: Fit(mode: .fill, aspect: nil, content: placed.rect),
                    reason: "web page", z: placed.index))
        }
    }

    mutating func addCameraTile(_ id: String, region: WallLayout.PlacedRegion, slot: Int, rect: PixelRect, reason: String) {
        let source: SceneSource
        if let state = inputs.cameras[id] {
            source = .camera(id: id, title: state.camera.name, status: state.camera.status.rawValue, streams: state.camera.streams)
        } else {
            source = .camera(id: id, title: id, status: "unknown", streams: [])
        }
        add(
            SceneTile(
                id: id, region: region.region.id, slot: slot, rect: rect, displays: perDisplay(rect, region), source: source,
                fit: .place(.widescreen, in: rect, mode: .contain), reason: reason, z: region.index))
    }

    private mutating func add(_ tile: SceneTile) { tiles[tile.id] = tile }

    /// The visible part of `rect` on each display of the region, in that display's pixels.
    private func perDisplay(_ rect: PixelRect, _ placed: WallLayout.PlacedRegion) -> [String: PixelRect] {
        let wall = inputs.wall
        var out: [String: PixelRect] = [:]
        let area = placed.region.area
        for row in area.row...area.lastRow {
            for column in area.column...area.lastColumn {
                let display = wall.displays[row * wall.definition.columns + column]
                guard let visible = rect.intersection(display.rect) else { continue }
                out[display.id] = visible.translated(byX: -display.rect.x, y: -display.rect.y)
            }
        }
        return out
    }

    private func activeIncidents() -> [Incident] {
        let active = inputs.incidents.filter(\.isActive).sorted { a, b in
            if a.priority != b.priority { return a.priority < b.priority }
            if a.openedAt != b.openedAt { return a.openedAt > b.openedAt }
            return a.id < b.id
        }
        return Array(active.prefix(Self.maximumIncidents))
    }

    /// The viewports of the map tiles added so far, in region order.
    var mapViewports: [BoundingBox] { viewports }

    /// The scene, with the unit markers of its map tiles (``MapUnits``).
    func scene(seq: Int64, units: [String: SceneUnit]) -> Scene {
        let wall = inputs.wall
        var incidents: [String: SceneIncident] = [:]
        if showsIncidents {
            for incident in activeIncidents() {
                incidents[incident.id] = SceneIncident(
                    id: incident.id, category: incident.category, priority: incident.priority, position: incident.location,
                    status: incident.status.rawValue, openedAt: incident.openedAt, summary: incident.summary)
            }
        }
        return Scene(
            wall: wall.id, seq: seq, generatedAt: inputs.now, canvasWidth: wall.canvasWidth, canvasHeight: wall.canvasHeight,
            displays: wall.displays, tiles: tiles,
            units: units, incidents: incidents,
            moved: 0)
    }

    /// The units inside at least one map viewport.
    static func units(_ units: [UnitID: LayoutUnit], viewports: [BoundingBox], now: Timestamp, tuning: LayoutTuning) -> [String: SceneUnit] {
        guard !viewports.isEmpty else { return [:] }
        var out: [String: SceneUnit] = [:]
        out.reserveCapacity(units.count)
        for unit in units.values where viewports.contains(where: { $0.contains(unit.position) }) {
            out[unit.id.rawValue] = sceneUnit(unit, now: now, tuning: tuning)
        }
        return out
    }

    static func sceneUnit(_ unit: LayoutUnit, now: Timestamp, tuning: LayoutTuning) -> SceneUnit {
        SceneUnit(
            id: unit.id.rawValue, callsign: unit.callsign, kind: unit.kind?.rawValue, position: unit.position,
            heading: unit.heading, status: unit.status?.rawValue, time: unit.time,
            stale: isStale(fixTime: unit.time, now: now, tuning: tuning))
    }

    /// Whether a marker whose fix is from `fixTime` is drawn stale at `now`; true for every time
    /// before some instant, false for every time after it.
    static func isStale(fixTime: Timestamp, now: Timestamp, tuning: LayoutTuning) -> Bool {
        Double(now.microseconds - fixTime.microseconds) / 1e6 > tuning.unitStaleSeconds
    }
}
