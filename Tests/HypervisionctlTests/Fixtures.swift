import HypervisionCore

/// Answers in the shape the daemon's HTTP API documents, for rendering tests.
enum Fixtures {
    static func parse(_ text: String) -> JSONValue {
        // swift-format-ignore: NeverUseForceTry
        try! JSONValue(parsing: text)
    }

    /// 2026-11-23T10:00:00Z; the tables are rendered in UTC unless a test says otherwise.
    static let now = Timestamp(rfc3339: "2026-11-23T10:00:00Z")!

    static let unitsNear = parse(
        """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","id":"PN-75-BAC-12","geometry":{"type":"Point","coordinates":[2.3522,48.8566]},
           "properties":{"callsign":"Alpha 12","kind":"car","agency":"PN","status":"patrol",
             "time":"2026-11-23T09:59:48Z","receivedAt":"2026-11-23T09:59:49Z","speed":15,"heading":270,
             "accuracy":5,"battery":80,"stale":false,"distance":180.4}},
          {"type":"Feature","id":"PM-7","geometry":{"type":"Point","coordinates":[2.36,48.86]},
           "properties":{"callsign":"Moto 7","kind":"motorbike","agency":"PM","status":"available",
             "time":"2026-11-23T09:50:00Z","receivedAt":"2026-11-23T09:50:01Z","stale":true,
             "staleSince":"2026-11-23T09:55:00Z","distance":1234}}
        ]}
        """)

    static let unit = parse(
        """
        {"type":"Feature","id":"PN-75-BAC-12","geometry":{"type":"Point","coordinates":[2.3522,48.8566]},
         "properties":{"callsign":"Alpha 12","kind":"car","agency":"PN","status":"patrol",
           "time":"2026-11-23T09:59:48Z","receivedAt":"2026-11-23T09:59:49Z","speed":15,"heading":270,
           "altitude":35.4,"accuracy":5,"battery":80,"stale":false}}
        """)

    static let trackLine = parse(
        """
        {"type":"Feature","id":"PN-75-BAC-12","geometry":{"type":"LineString","coordinates":[[2.35,48.85],[2.36,48.85],[2.36,48.86]]},
         "properties":{"times":["2026-11-23T09:00:00Z","2026-11-23T09:01:00Z","2026-11-23T09:03:00Z"]}}
        """)

    static let trackPoints = parse(
        """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"Point","coordinates":[2.35,48.85]},"properties":{"time":"2026-11-23T09:00:00Z","speed":10,"heading":90}},
          {"type":"Feature","geometry":{"type":"Point","coordinates":[2.36,48.85]},"properties":{"time":"2026-11-23T09:01:00Z","speed":12.5,"heading":0}}
        ]}
        """)

    static let cameras = parse(
        """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","id":"cam-rivoli-3","geometry":{"type":"Point","coordinates":[2.35,48.86]},
           "properties":{"name":"Rivoli / Louvre","heading":135,"fov":60,"range":120,"status":"online",
             "streams":[{"url":"rtsp://10.0.0.3/main"},{"url":"rtsp://10.0.0.3/sub"}],"tags":["ptz","traffic"],"distance":42}}
        ]}
        """)

    static let incidents = parse(
        """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","id":"INC-42","geometry":{"type":"Point","coordinates":[2.35,48.85]},
           "properties":{"category":"burglary","priority":2,"status":"open","openedAt":"2026-11-23T09:48:00Z",
             "closedAt":null,"summary":"Shop window broken, two people seen running toward the river",
             "source":"citizen_line","service":"police","routingReason":"category burglary"}}
        ]}
        """)

    static let dossier = parse(
        """
        {"incident":{"type":"Feature","id":"INC-42","geometry":{"type":"Point","coordinates":[2.35,48.85]},
           "properties":{"category":"burglary","priority":2,"status":"open","openedAt":"2026-11-23T09:48:00Z",
             "summary":"Shop window broken","source":"citizen_line","service":"police","routingReason":"category burglary"}},
         "nearestUnits":[{"unit":"PN-75-BAC-12","callsign":"Alpha 12","status":"patrol","distance":850,"etaSeconds":95}],
         "cameras":[{"id":"cam-rivoli-3","name":"Rivoli / Louvre","distance":42,"status":"online"}],
         "unitsPresent":[{"unit":"PM-7","closestMetres":12.2,"closestAt":"2026-11-23T09:47:10Z","pings":14}],
         "earlierIncidents":[{"type":"Feature","id":"INC-7","geometry":{"type":"Point","coordinates":[2.351,48.85]},
           "properties":{"category":"burglary","priority":3,"status":"closed","openedAt":"2026-11-02T22:10:00Z","summary":"Same shop"}}]}
        """)

    static let zones = parse(
        """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[2.0,48.0],[2.2,48.0],[2.2,48.2],[2.0,48.2],[2.0,48.0]]]},
           "properties":{"count":3,"previous":5,"change":-2}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[2.2,48.0],[2.4,48.0],[2.4,48.2],[2.2,48.2],[2.2,48.0]]]},
           "properties":{"count":7,"previous":1,"change":6}}
        ]}
        """)
}
