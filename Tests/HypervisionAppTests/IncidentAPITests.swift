import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

/// Incidents, their routing and camera events against the running daemon and a real PostGIS.
@Suite(.serialized) struct IncidentAPITests {
    static let routing = """
        timeZone: Europe/Paris
        defaultService: police_nationale
        zones:
          centre: [[[2.33, 48.85], [2.37, 48.85], [2.37, 48.87], [2.33, 48.87], [2.33, 48.85]]]
        rules:
          - name: noise-centre-night
            categories: [noise]
            zone: centre
            hours: "22:00-06:00"
            service: police_municipale
          - name: rural
            categories: [burglary]
            service: gendarmerie
        """

    @Test func incidentsAreRoutedEditedListedAndClosed() async throws {
        let daemon = try await APIDaemon(
            "incidents", extraConfiguration: "incidents:\n  routingFile: $STATE/routing.yaml\n", files: ["routing.yaml": Self.routing])
        // 23:30 in Paris in winter is 22:30 UTC: night, inside the centre: police municipale.
        let night = try await daemon.call(
            "POST", "/api/v1/incidents",
            #"{"category":"noise","priority":4,"lat":48.86,"lon":2.35,"openedAt":"2026-01-10T22:30:00Z","source":"citizen_line","summary":"party"}"#,
            token: "ingest-secret")
        #expect(night.status == 201, "\(night.text)")
        let nightID = field(night.json, "id") as? String ?? ""
        #expect(nightID == "INC-2026-0001")
        #expect(field(night.json, "properties", "service") as? String == "police_municipale")
        #expect((field(night.json, "properties", "routingReason") as? String ?? "").contains("noise-centre-night"))

        // The same noise at 15:00 goes to the default service, and the reason says so.
        let day = try await daemon.call(
            "POST", "/api/v1/incidents", #"{"category":"noise","lat":48.86,"lon":2.35,"openedAt":"2026-01-10T14:00:00Z"}"#,
            token: "ingest-secret")
        #expect(field(day.json, "properties", "service") as? String == "police_nationale", "\(day.text)")
        #expect(field(day.json, "properties", "priority") as? Int == 3)
        let dayID = field(day.json, "id") as? String ?? ""

        // Refusals are specific.
        let bad = try await daemon.call("POST", "/api/v1/incidents", #"{"category":"noise","lat":91,"lon":2}"#, token: "ingest-secret")
        #expect(bad.status == 400 && field(bad.json, "error", "code") as? String == "lat_out_of_range")
        let badPriority = try await daemon.call(
            "POST", "/api/v1/incidents", #"{"category":"noise","lat":48,"lon":2,"priority":9}"#, token: "ingest-secret")
        #expect(badPriority.status == 400 && (field(badPriority.json, "error", "message") as? String ?? "").contains("1...5"))
        #expect(try await daemon.call("POST", "/api/v1/incidents", #"{"category":"noise","lat":48,"lon":2}"#, token: "query-secret").status == 403)
        #expect(try await daemon.call("POST", "/api/v1/incidents", #"{"category":"noise","lat":48,"lon":2}"#, token: nil).status == 401)
        let duplicate = try await daemon.call(
            "POST", "/api/v1/incidents", #"{"id":"\#(nightID)","category":"noise","lat":48,"lon":2}"#, token: "ingest-secret")
        #expect(duplicate.status == 409)

        // A new category re-routes; the history keeps each change.
        let edited = try await daemon.call("PATCH", "/api/v1/incidents/\(dayID)", #"{"category":"burglary","priority":2}"#, token: "ingest-secret")
        #expect(edited.status == 200, "\(edited.text)")
        #expect(field(edited.json, "properties", "service") as? String == "gendarmerie")
        #expect(field(edited.json, "properties", "priority") as? Int == 2)
        let unknown = try await daemon.call("PATCH", "/api/v1/incidents/\(dayID)", #"{"lat":1}"#, token: "ingest-secret")
        #expect(unknown.status == 400)
        let closed = try await daemon.call("PATCH", "/api/v1/incidents/\(dayID)", #"{"status":"closed"}"#, token: "ingest-secret")
        #expect(field(closed.json, "properties", "status") as? String == "closed" && field(closed.json, "properties", "closedAt") != nil)
        #expect(try await daemon.call("PATCH", "/api/v1/incidents/\(dayID)", #"{"priority":1}"#, token: "ingest-secret").status == 409)
        #expect(try await daemon.call("PATCH", "/api/v1/incidents/INC-1999-9999", #"{"priority":1}"#, token: "ingest-secret").status == 404)
        #expect(
            try await TestPostgres.integers(daemon.endpoint, "SELECT count(*) FROM incident_history WHERE incident_id = '\(dayID)'") == [3])

        // Filters.
        func ids(_ query: String) async throws -> [String] {
            let answer = try await daemon.call("GET", "/api/v1/incidents" + query, token: "query-secret")
            return (field(answer.json, "features") as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
        #expect(try await ids("") == [dayID, nightID])  // priority 2 before priority 4
        #expect(try await ids("?status=active") == [nightID])
        #expect(try await ids("?status=closed&service=gendarmerie") == [dayID])
        #expect(try await ids("?bbox=2.34,48.85,2.36,48.87&status=open") == [nightID])
        #expect(try await ids("?bbox=3,48,4,49") == [])
        #expect(try await ids("?from=2026-01-10T20:00:00Z") == [nightID])
        let badFilter = try await daemon.call("GET", "/api/v1/incidents?status=finished", token: "query-secret")
        #expect(badFilter.status == 400 && field(badFilter.json, "error", "code") as? String == "status_invalid")
        #expect(await daemon.stop() == 0)
    }

    @Test func cameraEventsExpireAndAnalyticsAlarmsOpenIncidents() async throws {
        let daemon = try await APIDaemon("camera-events")
        let put = try await daemon.call("PUT", "/api/v1/cameras/cam-7", #"{"lat":48.8606,"lon":2.3376,"heading":90,"fov":60,"range":150}"#)
        #expect(put.status == 201)
        let motion = try await daemon.call("POST", "/api/v1/cameras/cam-7/events", #"{"kind":"motion","ttl":1}"#, token: "ingest-secret")
        #expect(motion.status == 201, "\(motion.text)")
        #expect(field(motion.json, "active") as? Bool == true)
        let alarm = try await daemon.call(
            "POST", "/api/v1/cameras/cam-7/events",
            #"{"kind":"analytics","label":"person in restricted area","confidence":0.93,"ttl":120,"incident":{"category":"intrusion","priority":2}}"#,
            token: "ingest-secret")
        #expect(alarm.status == 201, "\(alarm.text)")
        let incidentID = field(alarm.json, "incident") as? String ?? ""
        let incident = try await daemon.call("GET", "/api/v1/incidents/\(incidentID)", token: "query-secret")
        #expect(field(incident.json, "properties", "source") as? String == "camera_analytics")
        #expect(field(incident.json, "geometry", "coordinates") as? [Double] == [2.3376, 48.8606])
        #expect((field(incident.json, "properties", "summary") as? String ?? "").contains("person in restricted area"))

        let badKind = try await daemon.call("POST", "/api/v1/cameras/cam-7/events", #"{"kind":"smoke"}"#, token: "ingest-secret")
        #expect(badKind.status == 400 && (field(badKind.json, "error", "message") as? String ?? "").contains("motion, analytics, tamper"))
        let badTTL = try await daemon.call("POST", "/api/v1/cameras/cam-7/events", #"{"kind":"motion","ttl":100000}"#, token: "ingest-secret")
        #expect(badTTL.status == 400)
        #expect(try await daemon.call("POST", "/api/v1/cameras/nope/events", #"{"kind":"motion"}"#, token: "ingest-secret").status == 404)

        // The motion event lives one second; the alarm stays.
        try await Task.sleep(for: .milliseconds(1_200))
        let active = try await daemon.call("GET", "/api/v1/cameras/cam-7/events", token: "query-secret")
        let kinds = (field(active.json, "events") as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds == ["analytics"], "\(active.text)")
        #expect(await daemon.stop() == 0)
    }
}
