import HypervisionCore

/// One call to the daemon's HTTP API, built from validated arguments; the transport only sends it.
public struct APIRequest: Sendable, Hashable {
    public enum Method: String, Sendable { case get = "GET", post = "POST" }

    public var method: Method
    /// The path segments after the base URL, unescaped: `["api", "v1", "units", "PN-12"]`.
    public var segments: [String]
    /// Query parameters in order; nil values are left out.
    public var query: [(name: String, value: String)]
    /// A JSON body for POST.
    public var body: [UInt8]?

    public init(_ method: Method = .get, _ segments: [String], query: [(String, String?)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.segments = segments
        self.query = query.compactMap { name, value in value.map { (name, $0) } }
        self.body = body
    }

    /// The path and query, escaped: `/api/v1/units?near=48.85,2.35&radius=500`.
    public var target: String {
        var text = segments.map { "/" + percentEncoded($0) }.joined()
        if text.isEmpty { text = "/" }
        if !query.isEmpty {
            text += "?" + query.map { percentEncoded($0.name) + "=" + percentEncoded($0.value) }.joined(separator: "&")
        }
        return text
    }

    /// The full URL against a base such as `http://127.0.0.1:8080` (see ``validateBaseURL(_:)``).
    public func url(base: String) -> String { base + target }

    public static func == (lhs: APIRequest, rhs: APIRequest) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.body == rhs.body
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(target)
        hasher.combine(body)
    }
}

/// Filters that every unit search accepts.
public struct UnitFilter: Sendable, Hashable {
    public var statuses: [String]
    public var agency: String?
    public var kind: String?
    public var stale: Bool?
    public var limit: Int?

    public init(statuses: [String] = [], agency: String? = nil, kind: String? = nil, stale: Bool? = nil, limit: Int? = nil) {
        self.statuses = statuses
        self.agency = agency
        self.kind = kind
        self.stale = stale
        self.limit = limit
    }

    var parameters: [(String, String?)] {
        [
            ("status", statuses.isEmpty ? nil : statuses.joined(separator: ",")),
            ("agency", agency), ("kind", kind), ("stale", stale.map { $0 ? "true" : "false" }),
            ("limit", limit.map(String.init)),
        ]
    }
}

/// The API's requests, one function per command.
extension APIRequest {
    static let units = ["api", "v1", "units"]

    public static func unit(_ id: UnitID) -> APIRequest { APIRequest(.get, units + [id.rawValue]) }

    public static func units(near point: GeoPoint, radius: Double, filter: UnitFilter = UnitFilter()) -> APIRequest {
        APIRequest(.get, units, query: [("near", queryText(point)), ("radius", formatCoordinate(radius))] + filter.parameters)
    }

    public static func units(nearest point: GeoPoint, count: Int?, filter: UnitFilter = UnitFilter()) -> APIRequest {
        APIRequest(.get, units, query: [("nearest", queryText(point)), ("k", count.map(String.init))] + filter.parameters)
    }

    public static func units(in box: BoundingBox, filter: UnitFilter = UnitFilter()) -> APIRequest {
        APIRequest(.get, units, query: [("bbox", box.queryValue)] + filter.parameters)
    }

    /// A polygon search; `geometry` is the canonical JSON of a GeoJSON Polygon (see ``polygonGeometry(fromGeoJSON:)``).
    public static func units(inPolygon geometry: JSONValue, filter: UnitFilter = UnitFilter()) -> APIRequest {
        APIRequest(.post, units + ["search"], query: filter.parameters, body: Array(geometry.encoded().utf8))
    }

    public static func track(
        _ id: UnitID, from: Timestamp, to: Timestamp, simplify: Double?, points: Bool
    ) -> APIRequest {
        APIRequest(
            .get, units + [id.rawValue, "track"],
            query: [
                ("from", from.rfc3339), ("to", to.rfc3339), ("simplify", simplify.map(formatCoordinate)),
                ("format", points ? "points" : "line"),
            ])
    }

    public static func cameras(covering point: GeoPoint) -> APIRequest {
        APIRequest(.get, ["api", "v1", "cameras"], query: [("covering", queryText(point))])
    }

    public static func incidents(
        status: String?, category: String?, service: String?, from: Timestamp? = nil, to: Timestamp? = nil,
        box: BoundingBox? = nil, limit: Int?
    ) -> APIRequest {
        APIRequest(
            .get, ["api", "v1", "incidents"],
            query: [
                ("status", status), ("category", category), ("service", service), ("from", from?.rfc3339),
                ("to", to?.rfc3339), ("bbox", box?.queryValue), ("limit", limit.map(String.init)),
            ])
    }

    public static func dossier(incident id: String) -> APIRequest {
        APIRequest(.get, ["api", "v1", "incidents", id, "dossier"])
    }

    public static func zoneStatistics(box: BoundingBox, size: Double, from: Timestamp, to: Timestamp, layer: String) -> APIRequest {
        APIRequest(
            .get, ["api", "v1", "zones", "stats"],
            query: [
                ("cell", "hex"), ("size", formatCoordinate(size)), ("from", from.rfc3339), ("to", to.rfc3339),
                ("layer", layer), ("bbox", box.queryValue),
            ])
    }

    private static func queryText(_ point: GeoPoint) -> String {
        formatCoordinate(point.latitude) + "," + formatCoordinate(point.longitude)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters and the `,` and `:` that make
/// coordinates and times readable in logs. `+` is encoded: many servers read it as a space.
public func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: ","), UInt8(ascii: ":"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            out += "%" + (hex.count == 1 ? "0" : "") + hex
        }
    }
    return out
}
