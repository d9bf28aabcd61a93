import HypervisionCore

/// The `demo` wall that `hypervisiond --demo` serves: 2 rows x 3 columns of full-HD displays.
///
/// The left column (two displays high) is a map fitted to the active incidents and emergencies,
/// falling back to the whole demo city when there are none. The other four displays form an
/// automatic camera region, a 2x2 grid on each display (16 tiles, no bezel crossing a video),
/// where cameras covering incidents, emergencies and recent events replace the default cameras.
///
/// The value is the JSON form read by `WallDefinition(json:)` in HypervisionLayout, so the
/// daemon loads it exactly like a wall file from the configuration.
public enum DemoWall {
    /// The wall's id, as in `/walls/demo` and `subscribe:demo`.
    public static let id = "demo"

    /// The wall for a city around ``DemoCity/defaultCentre``.
    public static let definition: JSONValue = definition(centre: DemoCity.defaultCentre)

    /// The wall for a demo city built around `centre`.
    public static func definition(centre: GeoPoint) -> JSONValue {
        let projection = DemoProjection(centre: centre)
        // The map tile is one display wide and two high (about 1920 x 2166 px with the bezels),
        // so the fallback view is a little taller than wide to fill it without distortion; it
        // covers the ring road and a margin beyond it.
        let halfWidth = 2_700.0, halfHeight = 2_700.0 * 2_166 / 1_920
        let southWest = projection.geo(DemoPoint(x: -halfWidth, y: -halfHeight))
        let northEast = projection.geo(DemoPoint(x: halfWidth, y: halfHeight))
        func degrees(_ value: Double) -> JSONValue { .number(demoRounded(value, 1e6)) }
        let defaults: [JSONValue] = (1...16).map { .string("cam-" + (($0 < 10) ? "000" : "00") + String($0)) }
        return [
            "id": .string(id),
            "title": "Demo city",
            "displays": [
                "rows": 2,
                "columns": 3,
                // A 55-inch full-HD panel: 1209.6 x 680.4 mm active area, 1.8 mm bezels.
                "default": ["width": 1920, "height": 1080, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.8],
            ],
            "regions": [
                [
                    "id": "map",
                    "area": ["row": 0, "column": 0, "rows": 2],
                    "kind": "map",
                    "viewport": [
                        "west": degrees(southWest.longitude), "south": degrees(southWest.latitude),
                        "east": degrees(northEast.longitude), "north": degrees(northEast.latitude),
                    ],
                    "fit": ["include": ["incidents", "emergencies"], "paddingMetres": 250, "minimumSpanMetres": 1200],
                ],
                [
                    "id": "cams",
                    "area": ["row": 0, "column": 1, "rows": 2, "columns": 2],
                    "kind": "cameras",
                    "preset": "2x2",
                    "perDisplay": true,
                    "sources": .array(defaults),
                ],
            ],
            // Livelier than a real room: events come and go within a minute in the demo.
            "tuning": ["minimumDwellSeconds": 15, "offlineGraceSeconds": 20, "eventHalfLifeSeconds": 30, "unitStaleSeconds": 30],
        ]
    }
}
