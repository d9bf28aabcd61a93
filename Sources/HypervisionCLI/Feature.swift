import HypervisionCore

/// Read access to a GeoJSON Feature as the daemon sends it; every accessor tolerates absence so
/// that a field the daemon adds or drops never breaks a table.
public struct Feature: Sendable, Hashable {
    public var json: JSONValue

    public init(_ json: JSONValue) { self.json = json }

    /// The feature's `id`, as text whether the daemon sent a string or a number.
    public var id: String {
        switch json["id"] ?? .null {
        case .string(let text): text
        case .number(let number): formatCoordinate(number)
        default: properties["id"]?.stringValue ?? ""
        }
    }

    public var properties: JSONValue { json["properties"] ?? .object([:]) }

    public func string(_ key: String) -> String? {
        switch properties[key] {
        case .string(let text)?: text
        case .number(let number)?: formatCoordinate(number)
        case .bool(let flag)?: flag ? "true" : "false"
        default: nil
        }
    }

    public func number(_ key: String) -> Double? { properties[key]?.doubleValue }
    public func time(_ key: String) -> Timestamp? { properties[key]?.stringValue.flatMap { Timestamp(rfc3339: $0) } }

    /// The position of a Point geometry.
    public var point: GeoPoint? { json["geometry"].flatMap(pointPosition(_:)) }
}

/// The `[lon, lat]` of a GeoJSON Point geometry.
func pointPosition(_ geometry: JSONValue) -> GeoPoint? {
    guard geometry["type"]?.stringValue == "Point", let coordinates = geometry["coordinates"] else { return nil }
    return geoPosition(coordinates)
}

/// A GeoJSON position `[lon, lat(, alt)]`.
func geoPosition(_ value: JSONValue) -> GeoPoint? {
    guard let longitude = value[0]?.doubleValue, let latitude = value[1]?.doubleValue else { return nil }
    return GeoPoint(latitude: latitude, longitude: longitude)
}

/// The features of a FeatureCollection (or the one Feature it is).
public func features(of document: JSONValue) -> [Feature] {
    if document["type"]?.stringValue == "Feature" { return [Feature(document)] }
    return (document["features"]?.arrayValue ?? []).map(Feature.init)
}

/// `3 units`, `1 unit`, `no units`.
func counted(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
    count == 0 ? "no \(plural ?? singular + "s")" : "\(count) \(count == 1 ? singular : plural ?? singular + "s")"
}

/// A cell's text cut to `limit` characters with an ellipsis.
func clipped(_ text: String, _ limit: Int) -> String {
    let single = text.split(whereSeparator: \.isNewline).joined(separator: " ")
    return single.count <= limit ? single : String(single.prefix(limit - 1)) + "…"
}
