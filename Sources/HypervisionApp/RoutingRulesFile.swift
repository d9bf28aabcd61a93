import Foundation
import HypervisionConfiguration
import HypervisionCore
import Yams

/// Reads incident routing rules from their YAML file (`incidents.routingFile`):
///
/// ```yaml
/// timeZone: Europe/Paris
/// defaultService: police_nationale
/// zones:
///   centre-ville: [[[2.330, 48.850], [2.370, 48.850], [2.370, 48.870], [2.330, 48.870], [2.330, 48.850]]]
/// rules:
///   - name: noise-centre-night
///     categories: [noise]
///     zone: centre-ville
///     hours: "22:00-06:00"
///     service: police_municipale
/// ```
///
/// Zones are GeoJSON Polygon coordinates (rings of `[lon, lat]`). A separate file, not keys in
/// the main configuration, because rules are an ordered list of structured items.
public enum RoutingRulesFile {
    public static func load(path: String) throws(ConfigurationError) -> IncidentRouter {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(key: "incidents.routingFile", problem: "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> IncidentRouter {
        func fail(_ where_: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(key: "incidents.routingFile", problem: "\(source): \(where_): \(problem)")
        }
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw fail("syntax", "not valid YAML: \(error)")
        }
        guard let root = (document ?? [String: Any]()) as? [String: Any] else {
            throw fail("top level", "must be a mapping with timeZone, defaultService, zones and rules")
        }
        for key in root.keys.sorted() where !["timeZone", "defaultService", "zones", "rules"].contains(key) {
            throw fail(key, "unknown key (expected timeZone, defaultService, zones, rules)")
        }
        var zones: [String: RoutingZone] = [:]
        if let zoneMap = root["zones"] {
            guard let zoneMap = zoneMap as? [String: Any] else { throw fail("zones", "must map zone names to polygon coordinates") }
            for (name, value) in zoneMap {
                guard let rings = value as? [Any] else { throw fail("zones.\(name)", "must be a list of rings of [lon, lat]") }
                var parsed: [[GeoPoint]] = []
                for (r, ring) in rings.enumerated() {
                    guard let points = ring as? [Any] else { throw fail("zones.\(name)[\(r)]", "a ring must be a list of [lon, lat]") }
                    var ringPoints: [GeoPoint] = []
                    for (p, point) in points.enumerated() {
                        guard let pair = point as? [Any], pair.count == 2, let lon = number(pair[0]), let lat = number(pair[1]) else {
                            throw fail("zones.\(name)[\(r)][\(p)]", "must be [lon, lat]")
                        }
                        do {
                            ringPoints.append(try GeoPoint.validated(latitude: lat, longitude: lon))
                        } catch {
                            throw fail("zones.\(name)[\(r)][\(p)]", error.message)
                        }
                    }
                    parsed.append(ringPoints)
                }
                do {
                    zones[name] = try RoutingZone(name: name, rings: parsed)
                } catch {
                    throw fail("zones.\(name)", error.message)
                }
            }
        }
        var rules: [RoutingRule] = []
        if let list = root["rules"] {
            guard let list = list as? [Any] else { throw fail("rules", "must be a list") }
            for (index, item) in list.enumerated() {
                let place = "rules[\(index)]"
                guard let rule = item as? [String: Any] else { throw fail(place, "must be a mapping") }
                for key in rule.keys.sorted() where !["name", "categories", "zone", "hours", "maxPriority", "service"].contains(key) {
                    throw fail("\(place).\(key)", "unknown key (expected name, categories, zone, hours, maxPriority, service)")
                }
                guard let service = rule["service"] as? String, !service.isEmpty else { throw fail(place, "service is required") }
                var parsed = RoutingRule(name: (rule["name"] as? String) ?? "rule-\(index + 1)", service: service)
                if let categories = rule["categories"] {
                    guard let names = categories as? [Any], names.allSatisfy({ $0 is String }) else {
                        throw fail("\(place).categories", "must be a list of category names")
                    }
                    parsed.categories = Set(names.compactMap { $0 as? String })
                }
                if let zone = rule["zone"] {
                    guard let name = zone as? String, let found = zones[name] else {
                        throw fail("\(place).zone", "\"\(zone)\" is not one of the zones (\(zones.keys.sorted().joined(separator: ", ")))")
                    }
                    parsed.zone = found
                }
                if let hours = rule["hours"] {
                    do {
                        parsed.hours = try DailyWindow(parsing: "\(hours)")
                    } catch {
                        throw fail("\(place).hours", error.message)
                    }
                }
                if let maximum = rule["maxPriority"] {
                    guard let value = maximum as? Int, (1...5).contains(value) else { throw fail("\(place).maxPriority", "must be 1 to 5") }
                    parsed.maximumPriority = value
                }
                rules.append(parsed)
            }
        }
        do {
            return try IncidentRouter(
                rules: rules, defaultService: (root["defaultService"] as? String) ?? "police_nationale",
                timeZoneIdentifier: (root["timeZone"] as? String) ?? "UTC")
        } catch {
            throw fail("timeZone", error.message)
        }
    }

    private static func number(_ value: Any) -> Double? {
        if let double = value as? Double { return double }
        if let int = value as? Int { return Double(int) }
        return nil
    }
}
