import HypervisionCore
import HypervisionLayout


enum Fixtures {
    static let t0 = Timestamp(rfc3339: "2026-11-23T10:00:00Z") ?? Timestamp(seconds: 0)
    static let paris = GeoPoint(latitude: 48.8566, longitude: 2.3522)

    static func at(_ seconds: Double) -> Timestamp { t0.adding(seconds: seconds) }

    /// A point `north` and `east` metres from Paris centre.
    static func offset(north: Double, east: Double, from origin: GeoPoint = paris) -> GeoPoint {
        GeoPoint(
            latitude: origin.latitude + north / 111_132.954,
            longitude: origin.longitude + east / (111_319.49 * 0.658_059))
    }

    static func camera(
        _ id: String, north: Double = 0, east: Double = 0, range: Double = 300, status: Camera.Status = .online
    ) -> CameraState {
        CameraState(
            camera: Camera(
                id: id, name: "Camera \(id)", position: offset(north: north, east: east), heading: 0, fieldOfView: 360,
                range: range, streams: [Camera.Stream(transport: .rtsp, quality: "main", url: "rtsp://vms.local/\(id)/main")],
                status: status),
            statusSince: t0.adding(seconds: -3600))
    }

    static func cameras(_ list: [CameraState]) -> [String: CameraState] {
        Dictionary(uniqueKeysWithValues: list.map { ($0.camera.id, $0) })
    }

    /// The README wall: 2x3 55-inch 4K displays; a map on the left column, a 2+8 camera region on
    /// the right 2x2 block.
    static let readmeWallJSON = """
        {"id": "cic-paris", "title": "CIC Paris",
         "displays": {"rows": 2, "columns": 3,
                      "default": {"width": 3840, "height": 2160, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.75}},
         "regions": [
           {"id": "map", "area": {"row": 0, "column": 0, "rows": 2}, "kind": "map",
            "viewport": {"west": 2.25, "south": 48.81, "east": 2.42, "north": 48.91},
            "fit": {"include": ["incidents", "emergencies"], "paddingMetres": 200, "minimumSpanMetres": 1000}},
           {"id": "cams", "area": {"row": 0, "column": 1, "rows": 2, "columns": 2}, "kind": "cameras",
            "preset": "2+8", "sources": ["cam-0001", "cam-0002", "cam-0003"]}
         ],
         "tuning": {"minimumDwellSeconds": 20, "replacementMargin": 50}}
        """

    static func wall(_ json: String) throws -> WallLayout {
        try WallDefinition.compile(json: JSONValue(parsing: json))
    }

    /// A wall of `rows` x `columns` 4K displays with one camera region on all of them.
    static func cameraWall(
        rows: Int = 1, columns: Int = 1, preset: Preset, perDisplay: Bool = false, defaults: [String] = [],
        tuning: LayoutTuning = LayoutTuning()
    ) throws -> WallLayout {
        try WallDefinition(
            id: "test", title: "Test", rows: rows, columns: columns, display: .uhd55,
            regions: [
                Region(
                    id: "cams", area: CellRange(row: 0, column: 0, rows: rows, columns: columns),
                    content: .cameras(PresetPlacement(preset, perDisplay: perDisplay), defaults: defaults))
            ], tuning: tuning
        ).compile()
    }
}
