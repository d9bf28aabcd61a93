import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

/// The live and history queries against the running daemon and a real PostGIS.
@Suite(.serialized) struct QueryAPITests {
    static func ping(_ unit: String, _ time: Timestamp, _ lat: Double, _ lon: Double, status: String = "available") -> String {
        #"{"unit":"\#(unit)","time":"\#(time.rfc3339)","lat":\#(lat),"lon":\#(lon),"speed":10,"heading":90,"status":"\#(status)","battery":80}"#
    }

    static func ids(_ json: Any?) -> [String] {
        (field(json, "features") as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    @Test func unitsAreFoundLiveAndTheirHistoryFromPostGISAndSurviveARestart() async throws {
        var daemon = try await APIDaemon("queries", extraConfiguration: "units:\n  staleSeconds: 3\n")
        let now = Timestamp.now()
        // Three units around the Hôtel de Ville, one far away; the first with an hour of history.
        var lines: [String] = []
        for minute in 0..<60 {
            let t = now.adding(seconds: Double(minute - 60) * 60)
            // East along a street, with one 200 m detour north at minute 30.
            lines.append(Self.ping("PN-75-BAC-1", t, 48.8566 + (minute == 30 ? 0.0018 : 0), 2.3400 + Double(minute) * 0.0002))
        }
        lines.append(Self.ping("PN-75-BAC-1", now, 48.8566, 2.3522))
        lines.append(Self.ping("PN-75-BAC-2", now, 48.8570, 2.3530, status: "busy"))
        lines.append(Self.ping("GN-64-PSIG-3", now, 48.8600, 2.3600))
        lines.append(Self.ping("GN-13-BR-9", now, 43.2965, 5.3698))
        let ingest = try await daemon.call("POST", "/api/v1/pings", "[" + lines.joined(separator: ",") + "]", token: "ingest-secret")
        #expect(field(ingest.json, "accepted") as? Int == lines.count, "\(ingest.text)")

        let one = try await daemon.call("GET", "/api/v1/units/PN-75-BAC-2", token: "query-secret")
        #expect(field(one.json, "geometry", "coordinates") as? [Double] == [2.3530, 48.8570])
        #expect(field(one.json, "properties", "status") as? String == "busy" && field(one.json, "properties", "stale") as? Bool == false)
        #expect(try await daemon.call("GET", "/api/v1/units/NOBODY", token: "query-secret").status == 404)
        #expect(try await daemon.call("GET", "/api/v1/units/PN-75-BAC-2", token: nil).status == 401)

        let near = try await daemon.call("GET", "/api/v1/units?near=48.8566,2.3522&radius=1000", token: "query-secret")
        #expect(Self.ids(near.json) == ["PN-75-BAC-1", "PN-75-BAC-2", "GN-64-PSIG-3"])
        let distances = (field(near.json, "features") as? [[String: Any]] ?? []).compactMap { ($0["properties"] as? [String: Any])?["distance"] as? Double }
        #expect(distances.first == 0 && abs(distances[1] - Geodesy.distance(GeoPoint(latitude: 48.8566, longitude: 2.3522), GeoPoint(latitude: 48.8570, longitude: 2.3530))) < 0.1)
        let nearest = try await daemon.call("GET", "/api/v1/units?nearest=43.3,5.37&k=2", token: "query-secret")
        #expect(Self.ids(nearest.json) == ["GN-13-BR-9", "PN-75-BAC-1"])  // BAC 1 is a little further south
        let busy = try await daemon.call("GET", "/api/v1/units?near=48.8566,2.3522&radius=1000&status=busy", token: "query-secret")
        #expect(Self.ids(busy.json) == ["PN-75-BAC-2"])
        let box = try await daemon.call("GET", "/api/v1/units?bbox=2.35,48.85,2.36,48.86", token: "query-secret")
        #expect(Self.ids(box.json) == ["GN-64-PSIG-3", "PN-75-BAC-1", "PN-75-BAC-2"])
        // Pages in unit-id order: each says how many matched and where the next one starts.
        let firstPage = try await daemon.call("GET", "/api/v1/units?bbox=2.35,48.85,2.36,48.86&limit=2", token: "query-secret")
        #expect(Self.ids(firstPage.json) == ["GN-64-PSIG-3", "PN-75-BAC-1"])
        #expect(field(firstPage.json, "matched") as? Int == 3 && field(firstPage.json, "next") as? String == "PN-75-BAC-1", "\(firstPage.text)")
        let lastPage = try await daemon.call("GET", "/api/v1/units?bbox=2.35,48.85,2.36,48.86&limit=2&after=PN-75-BAC-1", token: "query-secret")
        #expect(Self.ids(lastPage.json) == ["PN-75-BAC-2"])
        #expect(field(lastPage.json, "matched") as? Int == 3 && field(lastPage.json, "next") == nil, "\(lastPage.text)")
        let everyone = try await daemon.call("GET", "/api/v1/units?limit=1&after=GN-64-PSIG-3", token: "query-secret")
        #expect(Self.ids(everyone.json) == ["PN-75-BAC-1"] && field(everyone.json, "matched") as? Int == 4)
        // Counted without copying a unit.
        let counted = try await daemon.call("GET", "/api/v1/units?bbox=2.35,48.85,2.36,48.86&format=count", token: "query-secret")
        #expect(field(counted.json, "count") as? Int == 3, "\(counted.text)")
        #expect(field(try await daemon.call("GET", "/api/v1/units?format=count&status=busy", token: "query-secret").json, "count") as? Int == 1)
        #expect(field(try await daemon.call("GET", "/api/v1/units?near=48.8566,2.3522&radius=1000&format=count", token: "query-secret").json, "count") as? Int == 3)
        let nearCut = try await daemon.call("GET", "/api/v1/units?near=48.8566,2.3522&radius=1000&limit=1", token: "query-secret")
        #expect(Self.ids(nearCut.json) == ["PN-75-BAC-1"] && field(nearCut.json, "matched") as? Int == 3)
        let nearPaged = try await daemon.call("GET", "/api/v1/units?near=48.8566,2.3522&radius=1000&after=PN-75-BAC-1", token: "query-secret")
        #expect(nearPaged.status == 400 && field(nearPaged.json, "error", "code") as? String == "value_invalid")
        let badAfter = try await daemon.call("GET", "/api/v1/units?after=%20bad", token: "query-secret")
        #expect(badAfter.status == 400 && field(badAfter.json, "error", "code") as? String == "unit_id_invalid", "\(badAfter.text)")
        let badFormat = try await daemon.call("GET", "/api/v1/units?format=csv", token: "query-secret")
        #expect(badFormat.status == 400)
        let polygon = #"{"type":"Polygon","coordinates":[[[2.35,48.855],[2.354,48.855],[2.354,48.858],[2.35,48.858],[2.35,48.855]]]}"#
        let inside = try await daemon.call("POST", "/api/v1/units/search", polygon, token: "query-secret")
        #expect(Self.ids(inside.json) == ["PN-75-BAC-1", "PN-75-BAC-2"], "\(inside.text)")
        let insidePage = try await daemon.call("POST", "/api/v1/units/search?limit=1&after=PN-75-BAC-1", polygon, token: "query-secret")
        #expect(Self.ids(insidePage.json) == ["PN-75-BAC-2"] && field(insidePage.json, "matched") as? Int == 2, "\(insidePage.text)")
        let insideCount = try await daemon.call("POST", "/api/v1/units/search?format=count", polygon, token: "query-secret")
        #expect(field(insideCount.json, "count") as? Int == 2, "\(insideCount.text)")
        let bad = try await daemon.call("GET", "/api/v1/units?near=95,2&radius=10", token: "query-secret")
        #expect(bad.status == 400 && field(bad.json, "error", "code") as? String == "lat_out_of_range")
        let open = try await daemon.call("POST", "/api/v1/units/search", #"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#, token: "query-secret")
        #expect(open.status == 400, "\(open.text)")

        // History from PostGIS: the hour of BAC 1, as a line with per-vertex times, simplified, as points.
        let from = now.adding(seconds: -3_700).rfc3339, to = now.adding(seconds: 1).rfc3339
        let track = try await daemon.call("GET", "/api/v1/units/PN-75-BAC-1/track?from=\(from)&to=\(to)", token: "query-secret")
        #expect(field(track.json, "geometry", "type") as? String == "LineString", "\(track.text.prefix(300))")
        #expect((field(track.json, "properties", "times") as? [String])?.count == 61)
        let simplified = try await daemon.call("GET", "/api/v1/units/PN-75-BAC-1/track?from=\(from)&to=\(to)&simplify=20", token: "query-secret")
        // A straight street keeps its ends; the detour keeps its three vertices.
        #expect((field(simplified.json, "properties", "times") as? [String])?.count == 5, "\(simplified.text.prefix(400))")
        let points = try await daemon.call("GET", "/api/v1/units/PN-75-BAC-1/track?from=\(from)&to=\(to)&format=points", token: "query-secret")
        #expect((field(points.json, "features") as? [Any])?.count == 61)
        let reversed = try await daemon.call("GET", "/api/v1/units/PN-75-BAC-1/track?from=\(to)&to=\(from)", token: "query-secret")
        #expect(reversed.status == 400)

        // Not heard from for 3 s: stale, and it says since when.
        try await Task.sleep(for: .milliseconds(3_300))
        let stale = try await daemon.call("GET", "/api/v1/units/GN-64-PSIG-3", token: "query-secret")
        #expect(field(stale.json, "properties", "stale") as? Bool == true && field(stale.json, "properties", "staleSince") != nil)
        #expect(Self.ids(try await daemon.call("GET", "/api/v1/units?bbox=2.35,48.85,2.36,48.86&stale=false", token: "query-secret").json).isEmpty)

        // A restarted daemon rebuilds the same picture from PostGIS.
        let database = daemon.endpoint
        #expect(await daemon.stop() == 0)
        daemon = try await APIDaemon("queries-restart", database: database)
        let again = try await daemon.call("GET", "/api/v1/units/PN-75-BAC-2", token: "query-secret")
        #expect(field(again.json, "geometry", "coordinates") as? [Double] == [2.3530, 48.8570], "\(again.text)")
        #expect(field(again.json, "properties", "status") as? String == "busy")
        #expect(await daemon.stop() == 0)
    }

    @Test func camerasCoveringAPlaceZoneStatisticsAndTheInterventionDossier() async throws {
        let daemon = try await APIDaemon("dossier")
        // A camera on the square looking east (90°) with a 60° field of view, 150 m range.
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-east", #"{"lat":48.8566,"lon":2.3522,"heading":90,"fov":60,"range":150}"#).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-west", #"{"lat":48.8566,"lon":2.3522,"heading":270,"fov":60,"range":150}"#).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-dome", #"{"lat":48.8570,"lon":2.3540,"range":300}"#).status == 201)
        let covering = try await daemon.call("GET", "/api/v1/cameras?covering=48.8566,2.3535", token: "query-secret")
        // 95 m east of the first two (only the east-looking one sees it), 58 m from the dome.
        #expect(Self.ids(covering.json) == ["cam-dome", "cam-east"], "\(covering.text)")

        let now = Timestamp.now()
        let pings = [
            Self.ping("PN-75-BAC-1", now.adding(seconds: -60), 48.8567, 2.3530),
            Self.ping("PN-75-BAC-1", now, 48.8600, 2.3700),
            Self.ping("PN-75-BAC-2", now, 48.8580, 2.3540),
            Self.ping("PN-75-BAC-3", now, 48.8590, 2.3550, status: "busy"),
        ]
        _ = try await daemon.call("POST", "/api/v1/pings", "[" + pings.joined(separator: ",") + "]", token: "ingest-secret")
        let earlier = try await daemon.call(
            "POST", "/api/v1/incidents", #"{"category":"noise","lat":48.8567,"lon":2.3536,"openedAt":"\#(now.adding(seconds: -86_400 * 3).rfc3339)"}"#,
            token: "ingest-secret")
        let earlierID = field(earlier.json, "id") as? String ?? ""
        let incident = try await daemon.call(
            "POST", "/api/v1/incidents", #"{"category":"assault","priority":1,"lat":48.8566,"lon":2.3535,"openedAt":"\#(now.adding(seconds: -120).rfc3339)"}"#,
            token: "ingest-secret")
        let id = field(incident.json, "id") as? String ?? ""
        let dossier = try await daemon.call("GET", "/api/v1/incidents/\(id)/dossier", token: "query-secret")
        #expect(dossier.status == 200, "\(dossier.text)")
        let nearestUnits = (field(dossier.json, "nearestUnits") as? [[String: Any]] ?? []).compactMap { $0["unit"] as? String }
        // Available units, nearest first; the busy one is not proposed.
        #expect(nearestUnits == ["PN-75-BAC-2", "PN-75-BAC-1"], "\(dossier.text)")
        let eta = (field(dossier.json, "nearestUnits") as? [[String: Any]])?.first?["etaSeconds"] as? Double ?? 0
        #expect(eta > 0)
        #expect((field(dossier.json, "cameras") as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } == ["cam-dome", "cam-east"])
        // BAC 1 passed 40 m away a minute ago: present during the incident's window.
        let present = (field(dossier.json, "unitsPresent") as? [[String: Any]] ?? []).compactMap { $0["unit"] as? String }
        #expect(present.contains("PN-75-BAC-1"), "\(dossier.text)")
        let previous = (field(dossier.json, "earlierIncidents") as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(previous == [earlierID])
        #expect(try await daemon.call("GET", "/api/v1/incidents/NOPE/dossier", token: "query-secret").status == 404)

        let stats = try await daemon.call(
            "GET", "/api/v1/zones/stats?cell=hex&size=500&bbox=2.30,48.83,2.40,48.88&from=\(now.adding(seconds: -86_400).rfc3339)&to=\(now.adding(seconds: 1).rfc3339)&layer=incidents",
            token: "query-secret")
        let cells = field(stats.json, "features") as? [[String: Any]] ?? []
        #expect(cells.count == 1, "\(stats.text.prefix(500))")
        #expect(((cells.first?["properties"] as? [String: Any])?["count"] as? Int) == 1)
        #expect(((cells.first?["properties"] as? [String: Any])?["previous"] as? Int) == 0)
        let tooFine = try await daemon.call("GET", "/api/v1/zones/stats?size=50&bbox=-5,42,8,51", token: "query-secret")
        #expect(tooFine.status == 400 && (field(tooFine.json, "error", "message") as? String ?? "").contains("cells"))
        #expect(await daemon.stop() == 0)
    }
}
