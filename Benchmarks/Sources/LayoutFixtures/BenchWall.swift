import HypervisionCore
import HypervisionLayout

/// The layout engine's benchmark world, shared by the `LayoutBenchmarks` micro-benchmarks and the
/// `layout-rounds` tool (which a profiler such as valgrind or perf can run on its own): a 6x4
/// wall of 4K displays (24 displays) with 500 candidate cameras (every camera has an active
/// event), 1,000 units and 20 incidents over central Paris.
public struct BenchWall {
    /// Everything the engine decides from, at `start`.
    public let inputs: LayoutInputs
    /// The units that may move: those not in emergency, in id order.
    public let movers: [LayoutUnit]
    /// The scene and state after 200 rounds of 0.1 s from a cold start, at `steadyNow`.
    public let steadyScene: Scene
    public let steadyState: LayoutState
    public let steadyNow: Timestamp

    public init() {
        // A map over 2x2 displays, an incident list, a dashboard, and an automatic camera region
        // of 4x4 displays in 2x2 per display.
        let wallJSON = """
            {"id": "bench", "title": "Bench",
             "displays": {"rows": 4, "columns": 6, "default": {"width": 3840, "height": 2160, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.75}},
             "regions": [
               {"id": "map", "area": {"row": 0, "column": 0, "rows": 2, "columns": 2}, "kind": "map",
                "viewport": {"west": 2.25, "south": 48.81, "east": 2.42, "north": 48.91},
                "fit": {"include": ["incidents", "emergencies"]}},
               {"id": "incidents", "area": {"row": 2, "column": 0, "rows": 2}, "kind": "incidents"},
               {"id": "dash", "area": {"row": 2, "column": 1, "rows": 2}, "kind": "web", "url": "https://grafana.local/d/cic"},
               {"id": "cams", "area": {"row": 0, "column": 2, "rows": 4, "columns": 4}, "kind": "cameras", "preset": "2x2", "perDisplay": true,
                "sources": ["cam-0001", "cam-0002", "cam-0003", "cam-0004", "cam-0005", "cam-0006"]}
             ]}
            """
        let wall: WallLayout
        do { wall = try WallDefinition.compile(json: try JSONValue(parsing: wallJSON)) } catch { fatalError("\(error)") }

        var random = SeededRandom(seed: 42)
        let t0 = Timestamp(seconds: 1_795_000_000)
        var cameras: [String: CameraState] = [:]
        for i in 0..<500 {
            let camera = Camera(
                id: Self.cameraID(i), name: "Camera \(i)",
                position: Self.offset(Double.random(in: -4000...4000, using: &random), Double.random(in: -4000...4000, using: &random)),
                heading: Double(Int.random(in: 0..<360, using: &random)), fieldOfView: 90, range: 200,
                streams: [Camera.Stream(transport: .rtsp, quality: "main", url: "rtsp://vms.local/\(Self.cameraID(i))/main")])
            cameras[camera.id] = CameraState(camera: camera, statusSince: t0.adding(seconds: -3600))
        }
        var units: [UnitID: LayoutUnit] = [:]
        for i in 0..<1000 {
            let id = UnitID(trusted: "PN-75-U\(i)")
            units[id] = LayoutUnit(
                id: id, callsign: "U\(i)",
                position: Self.offset(Double.random(in: -4000...4000, using: &random), Double.random(in: -4000...4000, using: &random)),
                heading: 90, status: i % 200 == 0 ? .emergency : .available, time: t0)
        }
        let incidents = (0..<20).map { i in
            Incident(
                id: "INC-2026-\(1000 + i)", category: "rixe", priority: 1 + i % 5,
                location: Self.offset(Double.random(in: -3000...3000, using: &random), Double.random(in: -3000...3000, using: &random)),
                openedAt: t0.adding(seconds: -600))
        }
        // Every camera has an active event, so all 500 are candidates.
        let events = (0..<500).map { i in
            CameraEvent(
                cameraID: Self.cameraID(i), kind: .motion, confidence: Double.random(in: 0.1...1, using: &random),
                occurredAt: t0.adding(seconds: -Double(i % 100)), expiresAt: t0.adding(seconds: 3600))
        }
        inputs = LayoutInputs(
            wall: wall, cameras: cameras, units: units, incidents: incidents, events: events,
            pins: (0..<4).map { Pin(camera: Self.cameraID(400 + $0), pinnedAt: t0) },
            tours: [GuardTour(id: "t", cameras: (300..<312).map(Self.cameraID), dwellSeconds: 10, startedAt: t0)], now: t0,
            // The cameras do not change from round to round, and the daemon says so, as here.
            camerasRevision: 1)
        precondition(PriorityRules.candidates(inputs).count == 500, "expected 500 candidates")
        movers = units.values.filter { $0.status != .emergency }.sorted { $0.id < $1.id }

        var (scene, state) = LayoutEngine.compute(inputs, previous: nil)
        var warm = inputs
        for i in 0..<200 {
            warm.now = t0.adding(seconds: Double(i) * 0.1)
            (scene, state) = LayoutEngine.compute(warm, previous: state)
        }
        steadyScene = scene
        steadyState = state
        steadyNow = warm.now
    }

    public static func cameraID(_ i: Int) -> String { "cam-" + String(repeating: "0", count: max(0, 4 - String(i).count)) + String(i) }

    static let origin = GeoPoint(latitude: 48.8566, longitude: 2.3522)

    /// The point `north` and `east` metres from the centre of Paris.
    static func offset(_ north: Double, _ east: Double) -> GeoPoint {
        GeoPoint(latitude: origin.latitude + north / 111_133, longitude: origin.longitude + east / (111_319 * 0.658))
    }
}
