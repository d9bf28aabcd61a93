import HypervisionCore

/// Cameras (`cameras covering`): nearest first as the daemon sorted them.
public func camerasTable(_ document: JSONValue) -> String {
    let cameras = features(of: document)
    guard !cameras.isEmpty else { return "no cameras found\n" }
    var table = TextTable([
        .init("CAMERA"), .init("NAME"), .init("DIST", .right), .init("HEADING", .right), .init("FOV", .right),
        .init("RANGE", .right), .init("STATUS"), .init("STREAMS", .right), .init("TAGS"),
    ])
    for camera in cameras {
        table.append([
            camera.id,
            clipped(camera.string("name") ?? "", 40),
            camera.number("distance").map(formatDistance) ?? "",
            camera.number("heading").map(formatHeading) ?? "",
            camera.number("fov").map { "\(Int($0.rounded()))°" } ?? "",
            camera.number("range").map(formatDistance) ?? "",
            camera.string("status") ?? "",
            camera.properties["streams"]?.arrayValue.map { "\($0.count)" } ?? "",
            (camera.properties["tags"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ","),
        ])
    }
    return table.droppingEmptyColumns().render() + counted(cameras.count, "camera") + "\n"
}

/// Incidents (`incidents list`).
public func incidentsTable(_ document: JSONValue, clock: Clock) -> String {
    let incidents = features(of: document)
    guard !incidents.isEmpty else { return "no incidents found\n" }
    var table = TextTable([
        .init("INCIDENT"), .init("PRI", .right), .init("CATEGORY"), .init("STATUS"), .init("OPENED"), .init("CLOSED"),
        .init("SERVICE"), .init("SOURCE"), .init("SUMMARY"),
    ])
    for incident in incidents {
        table.append([
            incident.id,
            incident.string("priority") ?? "",
            incident.string("category") ?? "",
            incident.string("status") ?? "",
            incident.time("openedAt").map(clock.localWithAge) ?? "",
            incident.time("closedAt").map(clock.local) ?? "",
            incident.string("service") ?? "",
            incident.string("source") ?? "",
            clipped(incident.string("summary") ?? "", 50),
        ])
    }
    return table.droppingEmptyColumns().render() + counted(incidents.count, "incident") + "\n"
}

/// An incident's dossier (`incidents dossier`): the incident, then the units to send, the cameras
/// to watch, who was there, and what happened here before.
public func dossierText(_ document: JSONValue, clock: Clock) -> String {
    let incident = Feature(document["incident"] ?? .null)
    var out = ""
    var headline = ["INCIDENT \(incident.id)"]
    if let category = incident.string("category") { headline.append(category) }
    if let priority = incident.string("priority") { headline.append("priority \(priority)") }
    if let status = incident.string("status") { headline.append(status) }
    out += headline.joined(separator: "  ") + "\n"
    var service = incident.string("service") ?? ""
    if let reason = incident.string("routingReason"), !reason.isEmpty { service += " (\(reason))" }
    out += keyValueLines([
        ("opened", incident.time("openedAt").map { clock.localFull($0) + " (" + clock.age($0) + ")" } ?? ""),
        ("closed", incident.time("closedAt").map(clock.localFull) ?? ""),
        ("where", incident.point.map(formatPosition) ?? ""),
        ("summary", incident.string("summary") ?? ""),
        ("service", service),
        ("source", incident.string("source") ?? ""),
    ]).split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")

    let nearest = document["nearestUnits"]?.arrayValue ?? []
    out += "\nNEAREST UNITS\n"
    if nearest.isEmpty {
        out += "  none\n"
    } else {
        var table = TextTable([.init("UNIT"), .init("CALLSIGN"), .init("STATUS"), .init("DIST", .right), .init("ETA", .right)])
        for unit in nearest {
            table.append([
                text(unit["unit"]), text(unit["callsign"]), text(unit["status"]),
                unit["distance"]?.doubleValue.map(formatDistance) ?? "",
                unit["etaSeconds"]?.doubleValue.map(formatDuration) ?? "",
            ])
        }
        out += indented(table.droppingEmptyColumns().render())
    }

    let cameras = document["cameras"]?.arrayValue ?? []
    out += "\nCAMERAS\n"
    if cameras.isEmpty {
        out += "  none\n"
    } else {
        var table = TextTable([.init("CAMERA"), .init("NAME"), .init("DIST", .right), .init("STATUS")])
        for camera in cameras {
            table.append([
                text(camera["id"]), clipped(text(camera["name"]), 40),
                camera["distance"]?.doubleValue.map(formatDistance) ?? "", text(camera["status"]),
            ])
        }
        out += indented(table.droppingEmptyColumns().render())
    }

    let present = document["unitsPresent"]?.arrayValue ?? []
    out += "\nUNITS PRESENT\n"
    if present.isEmpty {
        out += "  none\n"
    } else {
        var table = TextTable([.init("UNIT"), .init("CLOSEST", .right), .init("AT"), .init("PINGS", .right)])
        for unit in present {
            table.append([
                text(unit["unit"]),
                unit["closestMetres"]?.doubleValue.map(formatDistance) ?? "",
                unit["closestAt"]?.stringValue.flatMap { Timestamp(rfc3339: $0) }.map(clock.local) ?? "",
                text(unit["pings"]),
            ])
        }
        out += indented(table.droppingEmptyColumns().render())
    }

    let earlier = (document["earlierIncidents"]?.arrayValue ?? []).map(Feature.init)
    out += "\nEARLIER INCIDENTS NEARBY\n"
    if earlier.isEmpty {
        out += "  none\n"
    } else {
        var table = TextTable([
            .init("INCIDENT"), .init("CATEGORY"), .init("OPENED"), .init("STATUS"), .init("DIST", .right), .init("SUMMARY"),
        ])
        for other in earlier {
            let distance = other.number("distance")
                ?? incident.point.flatMap { here in other.point.map { Geodesy.distance(here, $0) } }
            table.append([
                other.id, other.string("category") ?? "",
                other.time("openedAt").map(clock.local) ?? "", other.string("status") ?? "",
                distance.map(formatDistance) ?? "", clipped(other.string("summary") ?? "", 50),
            ])
        }
        out += indented(table.droppingEmptyColumns().render())
    }
    return out
}

/// The dossier as one GeoJSON FeatureCollection for a map: the incident and earlier incidents
/// (the unit and camera lists carry no geometry in the answer).
public func dossierGeoJSON(_ document: JSONValue) -> JSONValue {
    var features: [JSONValue] = []
    if let incident = document["incident"] { features.append(incident) }
    features += document["earlierIncidents"]?.arrayValue ?? []
    return ["type": "FeatureCollection", "features": .array(features)]
}

/// Zone statistics (`zones stats`): one line per cell, busiest first.
public func zonesTable(_ document: JSONValue) -> String {
    struct Cell {
        var centre: GeoPoint?
        var count: Int
        var previous: Int?
        var change: Int?
    }
    var cells: [Cell] = []
    for feature in features(of: document) {
        let ring = (feature.json["geometry"]?["coordinates"]?[0]?.arrayValue ?? []).compactMap(geoPosition)
        // The ring is closed: leave out the repeated last vertex from the centre's average.
        let open = ring.count > 1 && ring.first == ring.last ? Array(ring.dropLast()) : ring
        var centre: GeoPoint?
        if !open.isEmpty {
            let latitude: Double = open.map(\.latitude).reduce(0, +) / Double(open.count)
            let longitude: Double = open.map(\.longitude).reduce(0, +) / Double(open.count)
            centre = GeoPoint(latitude: latitude, longitude: longitude)
        }
        let count = feature.number("count").map { Int($0) } ?? 0
        let previous = feature.number("previous").map { Int($0) }
        let change = feature.number("change").map { Int($0) } ?? previous.map { count - $0 }
        cells.append(Cell(centre: centre, count: count, previous: previous, change: change))
    }
    guard !cells.isEmpty else { return "no cells with events in this window\n" }
    cells.sort { ($0.count, $0.change ?? 0) > ($1.count, $1.change ?? 0) }
    var table = TextTable([.init("CELL CENTRE"), .init("COUNT", .right), .init("PREVIOUS", .right), .init("CHANGE", .right)])
    for cell in cells {
        table.append([
            cell.centre.map(formatPosition) ?? "",
            "\(cell.count)",
            cell.previous.map(String.init) ?? "",
            cell.change.map { $0 > 0 ? "+\($0)" : "\($0)" } ?? "",
        ])
    }
    let total = cells.map(\.count).reduce(0, +)
    let previousTotal = cells.compactMap(\.previous).reduce(0, +)
    var summary = counted(cells.count, "cell") + ", \(total) in this window"
    if cells.contains(where: { $0.previous != nil }) { summary += ", \(previousTotal) in the one before" }
    return table.droppingEmptyColumns().render() + summary + "\n"
}

private func text(_ value: JSONValue?) -> String {
    switch value {
    case .string(let text)?: text
    case .number(let number)?: formatCoordinate(number)
    case .bool(let flag)?: flag ? "true" : "false"
    default: ""
    }
}

private func indented(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
}
