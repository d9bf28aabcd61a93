import HypervisionCore

/// The table for unit searches (`units near|nearest|in`): one line per unit, nearest first as the
/// daemon sorted them, with DIST when the search had a point and stale units marked.
public func unitsTable(_ document: JSONValue, clock: Clock) -> String {
    let units = features(of: document)
    guard !units.isEmpty else { return "no units found\n" }
    var table = TextTable([
        .init("UNIT"), .init("CALLSIGN"), .init("KIND"), .init("AGENCY"), .init("STATUS"), .init("DIST", .right),
        .init("SPEED", .right), .init("HDG", .right), .init("LAST PING"), .init("STALE"),
    ])
    var staleCount = 0
    for unit in units {
        let stale = unit.properties["stale"]?.boolValue == true
        if stale { staleCount += 1 }
        table.append([
            unit.id,
            unit.string("callsign") ?? "",
            unit.string("kind") ?? "",
            unit.string("agency") ?? "",
            unit.string("status") ?? "",
            unit.number("distance").map(formatDistance) ?? "",
            unit.number("speed").map(formatSpeed) ?? "",
            unit.number("heading").map(formatHeading) ?? "",
            unit.time("time").map(clock.localWithAge) ?? "",
            stale ? "STALE" + (unit.time("staleSince").map { " since " + clock.local($0) } ?? "") : "",
        ])
    }
    let summary = counted(units.count, "unit") + (staleCount > 0 ? ", \(staleCount) stale" : "")
    return table.droppingEmptyColumns().render() + summary + "\n"
}

/// One unit in detail (`units get`).
public func unitDetail(_ document: JSONValue, clock: Clock) -> String {
    guard let unit = features(of: document).first else { return "no unit in the answer\n" }
    let stale = unit.properties["stale"]?.boolValue
    var position = unit.point.map(formatPosition) ?? ""
    if let accuracy = unit.number("accuracy") { position += " (±\(formatDistance(accuracy)))" }
    var motion: [String] = []
    if let speed = unit.number("speed") { motion.append(formatSpeed(speed)) }
    if let heading = unit.number("heading") { motion.append("heading " + formatHeading(heading)) }
    let staleText: String
    switch stale {
    case true?: staleText = "STALE" + (unit.time("staleSince").map { " since " + clock.localWithAge($0) } ?? "")
    case false?: staleText = "no"
    case nil: staleText = ""
    }
    return keyValueLines([
        ("unit", unit.id),
        ("callsign", unit.string("callsign") ?? ""),
        ("kind", unit.string("kind") ?? ""),
        ("agency", unit.string("agency") ?? ""),
        ("status", unit.string("status") ?? ""),
        ("position", position),
        ("last ping", unit.time("time").map { clock.localFull($0) + " (" + clock.age($0) + ")" } ?? ""),
        ("received", unit.time("receivedAt").map(clock.localFull) ?? ""),
        ("motion", motion.joined(separator: ", ")),
        ("altitude", unit.number("altitude").map { "\(Int($0.rounded())) m" } ?? ""),
        ("battery", unit.number("battery").map { "\(Int($0.rounded())) %" } ?? ""),
        ("stale", staleText),
    ])
}

/// A unit's track (`units track`): a LineString Feature with `properties.times`, or a
/// FeatureCollection of Point features with `time`, `speed`, `heading`.
public func trackTable(_ document: JSONValue, clock: Clock) -> String {
    struct Vertex {
        var time: Timestamp?
        var position: GeoPoint
        var speed: Double?
        var heading: Double?
    }
    var vertices: [Vertex] = []
    if document["type"]?.stringValue == "Feature" {
        let line = Feature(document)
        let times = line.properties["times"]?.arrayValue ?? []
        for (index, coordinates) in (document["geometry"]?["coordinates"]?.arrayValue ?? []).enumerated() {
            guard let point = geoPosition(coordinates) else { continue }
            let time = index < times.count ? times[index].stringValue.flatMap { Timestamp(rfc3339: $0) } : nil
            vertices.append(Vertex(time: time, position: point))
        }
    } else {
        for feature in features(of: document) {
            guard let point = feature.point else { continue }
            vertices.append(
                Vertex(
                    time: feature.time("time"), position: point, speed: feature.number("speed"),
                    heading: feature.number("heading")))
        }
    }
    guard !vertices.isEmpty else { return "no positions in this window\n" }
    var table = TextTable([
        .init("TIME"), .init("POSITION"), .init("STEP", .right), .init("SPEED", .right), .init("HDG", .right),
    ])
    var length = 0.0
    var previous: GeoPoint?
    for vertex in vertices {
        let step = previous.map { Geodesy.distance($0, vertex.position) }
        length += step ?? 0
        previous = vertex.position
        table.append([
            vertex.time.map(clock.localFull) ?? "",
            formatPosition(vertex.position),
            step.map(formatDistance) ?? "",
            vertex.speed.map(formatSpeed) ?? "",
            vertex.heading.map(formatHeading) ?? "",
        ])
    }
    var summary = counted(vertices.count, "position") + ", " + formatDistance(length)
    if let first = vertices.first?.time, let last = vertices.last?.time {
        summary += " in " + formatDuration(Double(last.microseconds - first.microseconds) / 1_000_000)
    }
    return table.droppingEmptyColumns().render() + summary + "\n"
}
