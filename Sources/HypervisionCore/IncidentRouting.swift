import Foundation

/// A named area of the map that routing rules refer to ("centre-ville", "secteur nord").
///
/// Rings are read as GeoJSON polygons are: planar in longitude/latitude, the first ring the
/// outer boundary and the others holes. A point on the boundary counts as inside (like PostGIS
/// `ST_Covers`), so an incident on the street that forms a border is never routed by accident
/// to the neighbouring service.
public struct RoutingZone: Sendable, Hashable {
    public var name: String
    public var polygon: GeoPolygon

    /// Zones can follow municipal boundaries, which have many more vertices than a query polygon.
    public static let maximumVertices = 200_000

    public init(name: String, rings: [[GeoPoint]]) throws(ValidationError) {
        do {
            polygon = try GeoPolygon(rings: rings, maximumVertices: Self.maximumVertices)
        } catch {
            throw ValidationError(error.code, "zone \(name): \(error.message)")
        }
        self.name = name
    }

    public var rings: [[GeoPoint]] { polygon.rings }

    public func contains(_ point: GeoPoint) -> Bool { polygon.covers(point) }
}

/// A daily window of local wall-clock time, such as `22:00-06:00` (which wraps midnight).
public struct DailyWindow: Sendable, Hashable, CustomStringConvertible {
    /// Minutes after local midnight; `start == end` means the whole day.
    public var startMinute: Int
    public var endMinute: Int

    public init(parsing text: String) throws(ValidationError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let start = Self.minute(parts[0]), let end = Self.minute(parts[1]) else {
            throw ValidationError(.valueInvalid, "hours \"\(text)\" must look like 22:00-06:00")
        }
        startMinute = start
        endMinute = end
    }

    private static func minute(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1_440
        else { return nil }
        return h * 60 + m
    }

    public func contains(minuteOfDay minute: Int) -> Bool {
        if startMinute == endMinute { return true }
        if startMinute < endMinute { return minute >= startMinute && minute < endMinute }
        return minute >= startMinute || minute < endMinute
    }

    public var description: String { Self.format(startMinute) + "-" + Self.format(endMinute) }

    static func format(_ minute: Int) -> String {
        let h = minute / 60, m = minute % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
    }
}

/// One routing rule: incidents of these categories, inside this zone, at these hours (each
/// optional), from this priority up, go to `service`.
public struct RoutingRule: Sendable, Hashable {
    public var name: String
    /// Empty matches every category.
    public var categories: Set<String>
    public var zone: RoutingZone?
    public var hours: DailyWindow?
    /// Matches incidents at least this urgent (1 is the most urgent); nil matches all.
    public var maximumPriority: Int?
    public var service: String

    public init(
        name: String, categories: Set<String> = [], zone: RoutingZone? = nil, hours: DailyWindow? = nil,
        maximumPriority: Int? = nil, service: String
    ) {
        self.name = name
        self.categories = categories
        self.zone = zone
        self.hours = hours
        self.maximumPriority = maximumPriority
        self.service = service
    }
}

/// Which service an incident was given and why, in words an operator can check.
public struct RoutingDecision: Sendable, Hashable {
    public var service: String
    public var reason: String
    public init(service: String, reason: String) {
        self.service = service
        self.reason = reason
    }
}

/// Assigns each incident to a responsible service by the first rule that matches, else the
/// default service. Pure apart from the time-zone table, which is read-only.
///
/// Hours are local wall-clock time of `timeZone` (night in Paris is night whatever UTC says,
/// including across daylight-saving changes).
public struct IncidentRouter: Sendable, Hashable {
    public var rules: [RoutingRule]
    public var defaultService: String
    public var timeZoneIdentifier: String

    public init(rules: [RoutingRule] = [], defaultService: String = "police_nationale", timeZoneIdentifier: String = "UTC")
        throws(ValidationError)
    {
        guard TimeZone(identifier: timeZoneIdentifier) != nil else {
            throw ValidationError(.valueInvalid, "time zone \"\(timeZoneIdentifier)\" is not a known IANA zone (e.g. Europe/Paris)")
        }
        self.rules = rules
        self.defaultService = defaultService
        self.timeZoneIdentifier = timeZoneIdentifier
    }

    /// The local minute of the day at `time` in the router's zone.
    public func localMinute(at time: Timestamp) -> Int {
        let zone = TimeZone(identifier: timeZoneIdentifier) ?? TimeZone(secondsFromGMT: 0)!
        let date = Date(timeIntervalSince1970: Double(time.seconds))
        let local = time.seconds + Int64(zone.secondsFromGMT(for: date))
        let secondOfDay = ((local % 86_400) + 86_400) % 86_400
        return Int(secondOfDay / 60)
    }

    public func route(category: String, priority: Int, location: GeoPoint, at time: Timestamp) -> RoutingDecision {
        let minute = localMinute(at: time)
        for (index, rule) in rules.enumerated() {
            if !rule.categories.isEmpty && !rule.categories.contains(category) { continue }
            if let maximum = rule.maximumPriority, priority > maximum { continue }
            if let hours = rule.hours, !hours.contains(minuteOfDay: minute) { continue }
            if let zone = rule.zone, !zone.contains(location) { continue }
            var why: [String] = []
            if !rule.categories.isEmpty { why.append("category \(category)") }
            if let maximum = rule.maximumPriority { why.append("priority \(priority) <= \(maximum)") }
            if let zone = rule.zone { why.append("inside zone \(zone.name)") }
            if let hours = rule.hours {
                why.append("\(DailyWindow.format(minute)) \(timeZoneIdentifier) within \(hours)")
            }
            let conditions = why.isEmpty ? "matches every incident" : why.joined(separator: ", ")
            return RoutingDecision(service: rule.service, reason: "rule \(index + 1) (\(rule.name)): \(conditions)")
        }
        return RoutingDecision(service: defaultService, reason: "no rule matched; default service")
    }
}
