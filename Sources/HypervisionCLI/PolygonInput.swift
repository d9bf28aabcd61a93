import HypervisionCore

/// The GeoJSON Polygon geometry to send for `units in --polygon FILE`, from the file's text.
///
/// Accepts what QGIS and geojson.io write: a Polygon geometry, a Feature holding one, or a
/// FeatureCollection with exactly one polygon feature; a MultiPolygon of one polygon is unwrapped.
/// Each ring must be closed, with at least four positions in range, so that mistakes are reported
/// here with the file's name rather than as a bare 400 from the daemon.
public func polygonGeometry(fromGeoJSON text: String, path: String) throws(Failure) -> JSONValue {
    func fail(_ reason: String) -> Failure { Failure(exitStatus: Failure.badInput, "\(path): \(reason)") }
    let document: JSONValue
    do { document = try JSONValue(parsing: text) } catch { throw fail("not JSON: \(error)") }
    var geometry = document
    switch document["type"]?.stringValue {
    case "FeatureCollection":
        let features = document["features"]?.arrayValue ?? []
        let polygons = features.filter { ["Polygon", "MultiPolygon"].contains($0["geometry"]?["type"]?.stringValue ?? "") }
        guard polygons.count == 1 else {
            throw fail("a FeatureCollection with exactly one polygon expected, found \(polygons.count)")
        }
        geometry = polygons[0]["geometry"] ?? .null
    case "Feature":
        geometry = document["geometry"] ?? .null
    case "Polygon", "MultiPolygon":
        break
    case let other:
        throw fail("a GeoJSON Polygon, Feature or FeatureCollection expected, found \(other.map { "type \($0)" } ?? "no type")")
    }
    var rings = geometry["coordinates"]
    switch geometry["type"]?.stringValue {
    case "Polygon":
        break
    case "MultiPolygon":
        guard let polygons = rings?.arrayValue, polygons.count == 1 else {
            throw fail("a MultiPolygon of \(rings?.arrayValue?.count ?? 0) polygons: search one polygon at a time")
        }
        rings = polygons[0]
    case let other:
        throw fail("the geometry must be a Polygon, found \(other ?? "none")")
    }
    guard let ringList = rings?.arrayValue, !ringList.isEmpty else { throw fail("the polygon has no rings") }
    var checked: [JSONValue] = []
    for (ringIndex, ring) in ringList.enumerated() {
        let name = ringIndex == 0 ? "the outer ring" : "hole \(ringIndex)"
        guard let positions = ring.arrayValue, positions.count >= 4 else {
            throw fail("\(name) needs at least 4 positions (a closed triangle)")
        }
        var points: [JSONValue] = []
        for (index, position) in positions.enumerated() {
            guard let pair = position.arrayValue, pair.count >= 2, let longitude = pair[0].doubleValue,
                let latitude = pair[1].doubleValue
            else { throw fail("\(name), position \(index + 1): [longitude, latitude] expected") }
            guard (-180.0...180.0).contains(longitude), (-90.0...90.0).contains(latitude) else {
                throw fail(
                    "\(name), position \(index + 1): [\(formatCoordinate(longitude)), \(formatCoordinate(latitude))] is not "
                        + "[longitude, latitude] in degrees (is the file in WGS 84, EPSG:4326?)")
            }
            points.append([.number(longitude), .number(latitude)])
        }
        guard points.first == points.last else { throw fail("\(name) is not closed: its last position must repeat its first") }
        checked.append(.array(points))
    }
    return ["type": "Polygon", "coordinates": .array(checked)]
}
