import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

/// Every bad input to the HTTP API gets a 4xx with a specific code and the JSON error body:
/// none reaches PostgreSQL as something it refuses (a NUL in text, year 0000), and none is
/// read leniently (`"lat":"48.8"`, hex floats, `nan`).
@Suite(.serialized) struct BadInputAPITests {
    struct Case: CustomStringConvertible {
        var method: String
        var path: String
        var body: String?
        var token = "admin-secret"
        var status: Int
        var code: String
        var description: String { "\(method) \(path) \(body?.prefix(120) ?? "")" }
    }

    /// Requests that must each be refused with exactly this status and code.
    static let cases: [Case] = {
        let camera = "/api/v1/cameras/cam-bad"
        func put(_ body: String, _ code: String, status: Int = 400) -> Case { Case(method: "PUT", path: camera, body: body, status: status, code: code) }
        func incident(_ body: String, _ code: String) -> Case {
            Case(method: "POST", path: "/api/v1/incidents", body: body, token: "ingest-secret", status: 400, code: code)
        }
        func query(_ path: String, _ code: String, status: Int = 400) -> Case {
            Case(method: "GET", path: path, token: "query-secret", status: status, code: code)
        }
        let ok = #""lat":48.86,"lon":2.35"#
        return [
            // Cameras: text PostgreSQL cannot hold, numbers that are not numbers, shapes that are not ours.
            put(#"{"name":"Rivoli\u0000Louvre",\#(ok)}"#, "control_character"),
            put(#"{"name":"\u001b[31mred",\#(ok)}"#, "control_character"),
            put(#"{"tags":["ok","a\u0000"],\#(ok)}"#, "control_character"),
            put(#"{"streams":[{"protocol":"hls","url":"https://vms/\u0000"}],\#(ok)}"#, "control_character"),
            put(#"{"lat":"48.86","lon":2.35}"#, "field_type_invalid"),
            put(#"{"heading":"90",\#(ok)}"#, "field_type_invalid"),
            put(#"{"range":true,\#(ok)}"#, "field_type_invalid"),
            put(#"{"tags":"traffic",\#(ok)}"#, "field_type_invalid"),
            put(#"{"streams":[5],\#(ok)}"#, "field_type_invalid"),
            put(#"{"lat":NaN,"lon":2}"#, "json_invalid"),
            put(#"{"lat":0x1p3,"lon":2}"#, "json_invalid"),
            put(#"{"lat":1e400,"lon":2}"#, "json_invalid"),
            put(#"{"lat":48,"lat":49,"lon":2}"#, "json_invalid"),
            put("\u{FEFF}{}", "json_invalid"),
            put("[1,2]", "not_an_object"),
            put(#"{"name":"\#(String(repeating: "x", count: 70_000))"}"#, "body_too_large", status: 413),
            Case(method: "PUT", path: "/api/v1/cameras/bad%20id", body: "{\(ok)}", status: 400, code: "value_invalid"),
            Case(method: "GET", path: "/api/v1/cameras/%00", status: 404, code: "not_found"),
            Case(method: "DELETE", path: "/api/v1/cameras/%00", status: 404, code: "not_found"),
            Case(method: "PATCH", path: "/api/v1/cameras/cam-1/status", body: #"{"status":5}"#, token: "ingest-secret", status: 400, code: "field_type_invalid"),
            Case(method: "PATCH", path: "/api/v1/cameras/%00/status", body: #"{"status":"online"}"#, token: "ingest-secret", status: 404, code: "not_found"),
            // Camera events, and the incident an alarm may open.
            Case(method: "POST", path: "/api/v1/cameras/cam-1/events", body: #"{"kind":"motion","label":"a\u0000b"}"#, token: "ingest-secret", status: 400, code: "control_character"),
            Case(method: "POST", path: "/api/v1/cameras/cam-1/events", body: #"{"kind":"motion","confidence":"0.9"}"#, token: "ingest-secret", status: 400, code: "field_type_invalid"),
            Case(method: "POST", path: "/api/v1/cameras/cam-1/events", body: #"{"kind":"motion","time":"0000-01-01T00:00:00Z"}"#, token: "ingest-secret", status: 400, code: "time_invalid"),
            Case(method: "POST", path: "/api/v1/cameras/cam-1/events", body: #"{"kind":"analytics","incident":{"category":"intrusion","summary":"\u0000"}}"#, token: "ingest-secret", status: 400, code: "control_character"),
            Case(method: "POST", path: "/api/v1/cameras/cam-1/events", body: #"{"kind":"analytics","incident":"intrusion"}"#, token: "ingest-secret", status: 400, code: "field_type_invalid"),
            Case(method: "POST", path: "/api/v1/cameras/import", body: #"{"type":"FeatureCollection","features":{}}"#, status: 400, code: "not_a_feature_collection"),
            // Incidents.
            incident(#"{"category":"noise",\#(ok),"summary":"loud\u0000party"}"#, "control_character"),
            incident(#"{"category":"noise",\#(ok),"summary":"\u0007"}"#, "control_character"),
            incident(#"{"category":"noise",\#(ok),"openedAt":"0000-01-01T00:00:00Z"}"#, "time_invalid"),
            incident(#"{"category":"noise",\#(ok),"openedAt":"9999-12-31T23:30:00-01:00"}"#, "time_invalid"),
            incident(#"{"category":"noise","lat":"48.86","lon":2.35}"#, "field_type_invalid"),
            incident(#"{"category":"noise","geometry":{"type":"Point","coordinates":["2.35","48.86"]}}"#, "field_type_invalid"),
            incident(#"{"category":"noise","geometry":{"type":"LineString","coordinates":[[2.35,48.86],[2.36,48.86]]}}"#, "value_invalid"),
            incident(#"{"category":"noise",\#(ok),"priority":2.5}"#, "value_invalid"),
            incident(#"{"category":"noise",\#(ok),"id":"a b"}"#, "value_invalid"),
            incident(#"{"category":"no\u0000ise",\#(ok)}"#, "value_invalid"),
            incident(#"{"category":"noise",\#(ok),"source":7}"#, "field_type_invalid"),
            Case(method: "PATCH", path: "/api/v1/incidents/INC-BAD-1", body: #"{"summary":"\u0000"}"#, token: "ingest-secret", status: 400, code: "control_character"),
            Case(method: "PATCH", path: "/api/v1/incidents/INC-BAD-1", body: #"{"priority":"1"}"#, token: "ingest-secret", status: 400, code: "field_type_invalid"),
            Case(method: "PATCH", path: "/api/v1/incidents/%00", body: #"{"priority":1}"#, token: "ingest-secret", status: 404, code: "not_found"),
            query("/api/v1/incidents?category=%00", "value_invalid"),
            query("/api/v1/incidents?service=police%00", "control_character"),
            query("/api/v1/incidents?from=0000-01-01T00:00:00Z", "time_invalid"),
            query("/api/v1/incidents?to=10000-01-01T00:00:00Z", "time_invalid"),
            query("/api/v1/incidents?bbox=0x1p1,0,1,1", "bbox_invalid"),
            query("/api/v1/incidents?limit=5000", "value_invalid"),
            query("/api/v1/incidents/%00", "not_found", status: 404),
            query("/api/v1/incidents/%00/dossier", "not_found", status: 404),
            // Live and history queries.
            query("/api/v1/units?near=48.8,0x1p1&radius=10", "value_invalid"),
            query("/api/v1/units?near=48.8,2&radius=nan", "value_invalid"),
            query("/api/v1/units?near=48.8,2&radius=inf", "value_invalid"),
            query("/api/v1/units?near=48.8,2&radius=1e9", "value_invalid"),
            query("/api/v1/units?nearest=48.8,2&k=100000", "value_invalid"),
            query("/api/v1/units?bbox=-180,-90,180,inf", "not_finite"),
            query("/api/v1/units?bbox=0x1p1,0,1,1", "bbox_invalid"),
            query("/api/v1/units?status=" + Array(repeating: "busy", count: 40).joined(separator: ","), "value_invalid"),
            query("/api/v1/units?kind=" + Array(repeating: "car", count: 40).joined(separator: ","), "value_invalid"),
            query("/api/v1/units/PN-1/track?from=0000-01-01T00:00:00Z&to=0000-01-02T00:00:00Z", "time_invalid"),
            query("/api/v1/units/PN-1/track?to=0001-01-01T00:30:00Z", "time_invalid"),
            query("/api/v1/units/PN-1/track?simplify=0x10", "value_invalid"),
            query("/api/v1/units/PN-1/track?from=2026-01-01T00:00:00Z&to=2026-01-09T00:00:00Z", "value_invalid"),
            query("/api/v1/cameras?near=48.8,2&radius=-1", "value_invalid"),
            query("/api/v1/cameras?near=48.8,2&radius=1e3x", "value_invalid"),
            query("/api/v1/zones/stats?size=0x1p10&bbox=2.3,48.8,2.4,48.9", "value_invalid"),
            query("/api/v1/zones/stats?size=500&bbox=2.3,48.8,2.4,48.9&from=0001-01-10T00:00:00Z&to=0001-06-01T00:00:00Z", "time_invalid"),
            Case(method: "POST", path: "/api/v1/units/search", body: "{", token: "query-secret", status: 400, code: "json_invalid"),
            Case(method: "POST", path: "/api/v1/units/search", body: #"{"type":"Polygon","coordinates":[[["2.3",48.8],[2.4,48.8],[2.4,48.9],[2.3,48.8]]]}"#, token: "query-secret", status: 400, code: "position_invalid"),
            Case(
                method: "POST", path: "/api/v1/units/search",
                body: #"{"type":"Polygon","coordinates":[["# + Array(repeating: "[2.3,48.8]", count: 10_001).joined(separator: ",") + "]]}",
                token: "query-secret", status: 400, code: "polygon_too_many_vertices"),
            // Walls: a definition PostgreSQL's jsonb cannot hold (it was defined, then lost at the
            // next restart, and answered 500), a log time out of range, ids with control characters.
            Case(
                method: "PUT", path: "/api/v1/walls/w-nul",
                body: #"{"title":"salle\u0000 1","displays":{"rows":1,"columns":1,"width":1920,"height":1080},"regions":[]}"#,
                status: 400, code: "control_character"),
            query("/api/v1/walls/w1/scene?at=0000-01-01T00:00:00Z", "time_invalid"),
            Case(method: "POST", path: "/api/v1/walls/w1/pins", body: #"{"camera":"cam\u0000-1"}"#, status: 400, code: "control_character"),
            Case(method: "POST", path: "/api/v1/walls/w1/tours", body: #"{"id":"night","cameras":["cam-1","cam\u0007"]}"#, status: 400, code: "control_character"),
            // No such path: the JSON error body, not an empty 404.
            query("/api/v1/nothing-here", "not_found", status: 404),
        ]
    }()

    @Test func everyBadInputGetsA4xxWithASpecificCode() async throws {
        let daemon = try await APIDaemon("bad-input")
        #expect(try await daemon.exchange("PUT", "/api/v1/cameras/cam-1", #"{"lat":48.86,"lon":2.35}"#).status == 201)
        let opened = try await daemon.exchange(
            "POST", "/api/v1/incidents", #"{"id":"INC-BAD-1","category":"noise","lat":48.86,"lon":2.35}"#, token: "ingest-secret")
        #expect(opened.status == 201, "\(opened)")
        for item in Self.cases {
            let answer = try await daemon.exchange(item.method, item.path, body: item.body.map { Data($0.utf8) }, token: item.token)
            #expect(answer.status == item.status && answer.errorCode == item.code, "\(item) → \(answer)")
            #expect(answer.isErrorBody, "\(item) → \(answer)")
        }
        // The refused wall was not defined, not even in memory.
        #expect(try await daemon.exchange("GET", "/api/v1/walls/w-nul", token: "query-secret").status == 404)
        // Refused alarms left no event behind.
        let events = try await daemon.exchange("GET", "/api/v1/cameras/cam-1/events", token: "query-secret")
        #expect((field(events.json, "events") as? [Any])?.isEmpty == true, "\(events)")

        // What is allowed stays allowed: a summary on several lines, open-data numbers as text.
        let lines = try await daemon.exchange(
            "POST", "/api/v1/incidents", #"{"category":"noise","lat":48.86,"lon":2.35,"summary":"loud party\n3rd floor\tleft"}"#,
            token: "ingest-secret")
        #expect(lines.status == 201 && field(lines.json, "properties", "summary") as? String == "loud party\n3rd floor\tleft", "\(lines)")
        let earliest = try await daemon.exchange(
            "POST", "/api/v1/incidents", #"{"category":"noise","lat":48.86,"lon":2.35,"openedAt":"0001-01-01T00:00:00Z"}"#,
            token: "ingest-secret")
        #expect(earliest.status == 201 && field(earliest.json, "properties", "openedAt") as? String == "0001-01-01T00:00:00Z", "\(earliest)")
        let dossier = try await daemon.exchange("GET", "/api/v1/incidents/\(field(earliest.json, "id") as? String ?? "")/dossier", token: "query-secret")
        #expect(dossier.status == 200, "a dossier whose window would start in year 0 starts in year 1: \(dossier)")

        // An import reports each bad feature by index with its code; the good ones are stored.
        let collection = #"""
            {"type":"FeatureCollection","features":[
              {"type":"Feature","geometry":{"type":"Point","coordinates":["2.35",48.86]},"properties":{"id":"vp-1"}},
              {"type":"Feature","geometry":{"type":"Point","coordinates":[2.35,48.86]},"properties":{"id":"vp-2","nom":"a\u0000b"}},
              {"type":"Feature","geometry":{"type":"Point","coordinates":[2.35,48.86]},"properties":{"id":"vp-3","orientation":"0x1p3"}},
              {"type":"Feature","geometry":{"type":"Point","coordinates":[2.35,48.86]},"properties":{"id":"vp-4","heading":"90"}},
              {"type":"Feature","geometry":{"type":"Point","coordinates":[2.35,48.86]},"properties":{"id":"vp-5","orientation":" 90 ","angle":45}},
              "not a feature"
            ]}
            """#
        let report = try await daemon.exchange("POST", "/api/v1/cameras/import", collection)
        #expect(report.status == 200 && field(report.json, "imported") as? Int == 1, "\(report)")
        let rejected = (field(report.json, "rejected") as? [[String: Any]] ?? []).map { "\($0["index"] ?? "?"):\($0["code"] ?? "?")" }
        #expect(rejected == ["0:value_invalid", "1:control_character", "2:field_type_invalid", "3:field_type_invalid", "5:not_an_object"], "\(report)")
        let imported = try await daemon.exchange("GET", "/api/v1/cameras/vp-5", token: "query-secret")
        #expect(field(imported.json, "properties", "heading") as? Double == 90 && field(imported.json, "properties", "fov") as? Double == 45)
        #expect(await daemon.stop() == 0)
    }

    /// Random bytes and random JSON shapes at every route that takes a body: never a 500, and
    /// every refusal is the JSON error body.
    @Test(.timeLimit(.minutes(5)))
    func randomBodiesNeverGetA500() async throws {
        let daemon = try await APIDaemon("fuzz-bodies")
        #expect(try await daemon.exchange("PUT", "/api/v1/cameras/cam-1", #"{"lat":48.86,"lon":2.35}"#).status == 201)
        #expect(
            try await daemon.exchange(
                "POST", "/api/v1/incidents", #"{"id":"INC-F-1","category":"noise","lat":48.86,"lon":2.35}"#, token: "ingest-secret"
            ).status == 201)
        let wall = #"{"id":"w1","displays":{"rows":1,"columns":1,"width":1920,"height":1080},"regions":[]}"#
        _ = try await daemon.exchange("PUT", "/api/v1/walls/w1", wall)
        // Each route with the member names it reads, so random objects reach its validation.
        let routes: [(method: String, path: String, token: String, keys: [String])] = [
            ("PUT", "/api/v1/cameras/cam-f", "admin-secret", ["id", "name", "lat", "lon", "heading", "fov", "range", "status", "tags", "streams", "protocol", "quality", "url"]),
            ("PATCH", "/api/v1/cameras/cam-1/status", "ingest-secret", ["status"]),
            ("POST", "/api/v1/cameras/cam-1/events", "ingest-secret", ["kind", "label", "confidence", "time", "ttl", "incident", "category", "priority", "summary"]),
            ("POST", "/api/v1/cameras/import", "admin-secret", ["type", "features", "geometry", "coordinates", "properties", "id", "nom", "orientation", "angle", "portee"]),
            ("POST", "/api/v1/incidents", "ingest-secret", ["id", "category", "priority", "lat", "lon", "summary", "source", "openedAt", "geometry", "type", "coordinates"]),
            ("PATCH", "/api/v1/incidents/INC-F-1", "ingest-secret", ["category", "priority", "status", "summary"]),
            ("POST", "/api/v1/units/search", "query-secret", ["type", "coordinates", "features", "geometry"]),
            ("POST", "/api/v1/pings", "ingest-secret", ["unit", "time", "lat", "lon", "speed", "heading", "status", "battery"]),
            ("PUT", "/api/v1/walls/w2", "admin-secret", ["id", "displays", "regions", "rows", "columns", "width", "height"]),
            ("POST", "/api/v1/walls/w1/pins", "admin-secret", ["camera", "region", "until"]),
            ("POST", "/api/v1/walls/w1/tours", "admin-secret", ["id", "cameras", "region", "dwellSeconds"]),
        ]
        var rng = SeededRandom(seed: 0x5eed_b0d1)
        var failures: [String] = []
        for route in routes {
            for round in 0..<80 {
                var fuzz = JSONFuzz(keys: route.keys, rng: rng)
                let body = round % 4 == 0 ? fuzz.bytes() : Data(fuzz.document().utf8)
                rng = fuzz.rng
                let answer = try await daemon.exchange(route.method, route.path, body: body, token: route.token)
                // A refused single ping is answered with the ingest report (its documented
                // contract): a 400 whose `rejected` entry carries the code.
                let isIngestReport = route.path == "/api/v1/pings" && ((field(answer.json, "rejected") as? [[String: Any]])?.first?["code"] is String)
                if answer.status >= 500 || (answer.status >= 400 && !answer.isErrorBody && !isIngestReport) {
                    failures.append("\(route.method) \(route.path) \(String(decoding: body.prefix(200), as: UTF8.self)) → \(answer)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) answers:\n\(failures.prefix(10).joined(separator: "\n"))")
        #expect(!daemon.process.log.contains("request failed"), "\(daemon.process.log.suffix(2_000))")
        #expect(await daemon.stop() == 0)
    }
}

/// Random request bodies: raw bytes, or JSON documents built from a route's own member names
/// with values of every type, including the awkward ones (control characters, huge and tiny
/// numbers, deep nesting, RFC 3339 edge years).
struct JSONFuzz {
    let keys: [String]
    var rng: SeededRandom

    init(keys: [String], rng: SeededRandom) {
        self.keys = keys
        self.rng = rng
    }

    mutating func bytes() -> Data {
        let count = Int.random(in: 0...300, using: &rng)
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    mutating func document() -> String { value(depth: 0, preferObject: true) }

    mutating func value(depth: Int, preferObject: Bool = false) -> String {
        let choice = preferObject ? 0 : Int.random(in: 0..<10, using: &rng)
        switch choice {
        case 0 where depth < 4, 1 where depth < 4:
            let count = Int.random(in: 0...6, using: &rng)
            let members = (0..<count).map { _ in "\(string(key: true)):\(value(depth: depth + 1))" }
            return "{" + members.joined(separator: ",") + "}"
        case 2 where depth < 4:
            let count = Int.random(in: 0...5, using: &rng)
            return "[" + (0..<count).map { _ in value(depth: depth + 1) }.joined(separator: ",") + "]"
        case 3, 4: return string(key: false)
        case 5, 6: return number()
        case 7: return ["true", "false", "null"].randomElement(using: &rng)!
        default: return number()
        }
    }

    mutating func number() -> String {
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: return String(Int.random(in: -1_000...1_000, using: &rng))
        case 1: return String(Double.random(in: -200...200, using: &rng))
        case 2: return ["1e308", "-1e308", "5e-324", "0", "-0", "1e-7", "9007199254740993", "123456789012345678901234567890"].randomElement(using: &rng)!
        case 3: return String(Double.random(in: 0...1, using: &rng))
        default: return String(Double.random(in: -90...90, using: &rng))
        }
    }

    mutating func string(key: Bool) -> String {
        if key, Int.random(in: 0..<5, using: &rng) > 0 { return "\"\(keys.randomElement(using: &rng)!)\"" }
        let pieces = [
            "noise", "online", "motion", "analytics", "Polygon", "Point", "Feature", "FeatureCollection", "hls", "https://vms/x",
            "2026-11-23T10:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:60-12:00", "PN-75-1", "cam-1", "0x1p3", "nan", "48.8",
            "\\u0000", "\\u001b", "\\n", "\\ud800", "é", "\\\"", "", String(repeating: "x", count: 300),
        ]
        let count = Int.random(in: 1...3, using: &rng)
        return "\"" + (0..<count).map { _ in pieces.randomElement(using: &rng)! }.joined() + "\""
    }
}
