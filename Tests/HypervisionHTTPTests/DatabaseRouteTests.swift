import Hummingbird
import HummingbirdTesting
import HypervisionCore
import HypervisionHTTP
import HypervisionLive
import HypervisionStore
import HypervisionTestSupport
import Testing

/// The routes that read and write PostGIS, in process on a real PostgreSQL (`TestPostgres`, a
/// database of their own): cameras, incidents and queries, each with its scopes, its answers
/// and the specific codes of bad input.
@Suite struct DatabaseRouteTests {
    /// Runs `body` against the camera, incident and query routes on a fresh migrated database.
    static func withRoutes(_ body: @escaping @Sendable (any TestClientProtocol, LiveState) async throws -> Void) async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await TestPostgres.withClient(endpoint) { client in
            let database = client.database
            try await Migrator(logger: TestPostgres.logger).migrate(database)
            let live = LiveState(picture: LivePicture())
            let cameras = CameraStore(database: database)
            let incidentStore = IncidentStore(database: database)
            let desk = IncidentDesk(store: incidentStore, router: try IncidentRouter(), onChange: { live.picture.upsert(incident: $0) })
            let router = apiRouter { router in
                CameraRoutes(store: cameras, authority: Tokens.authority, incidents: desk, live: live).addRoutes(to: router)
                IncidentRoutes(desk: desk, authority: Tokens.authority).addRoutes(to: router)
                QueryRoutes(live: live, history: HistoryStore(database: database), incidents: incidentStore, authority: Tokens.authority)
                    .addRoutes(to: router)
            }
            try await Application(router: router).test(.router) { client in try await body(client, live) }
        }
    }

    static let camera = #"{"lat":48.8600,"lon":2.3490,"heading":90,"fov":60,"range":200,"name":"Rivoli","streams":[{"protocol":"hls","quality":"main","url":"http://vms.local/x.m3u8"}]}"#

    @Test(.timeLimit(.minutes(2)))
    func camerasIncidentsAndQueriesFollowTheirContract() async throws {
        try await Self.withRoutes { client, live in
            // Scopes: admin defines, query reads, ingest reports.
            let forbidden = try await client.call(.put, "/api/v1/cameras/cam-a", Self.camera, token: "query-secret")
            #expect(forbidden.status == .forbidden && forbidden.errorCode == "forbidden", "\(forbidden)")
            #expect(try await client.call(.get, "/api/v1/cameras/cam-a", token: nil).errorCode == "unauthorized")
            #expect(try await client.call(.post, "/api/v1/incidents", "{}", token: "query-secret").status == .forbidden)
            #expect(try await client.call(.get, "/api/v1/units", token: "ingest-secret").status == .forbidden)

            let created = try await client.call(.put, "/api/v1/cameras/cam-a", Self.camera)
            #expect(created.status == .created && created.headers[.contentType] == "application/geo+json", "\(created)")
            #expect(created.json?["type"] == "Feature" && created.json?["properties"]?["name"] == "Rivoli")
            #expect(try await client.call(.put, "/api/v1/cameras/cam-a", Self.camera).status == .ok)
            #expect(live.cameras().count == 1, "the live picture is told of the change")
            let read = try await client.call(.get, "/api/v1/cameras/cam-a", token: "query-secret")
            #expect(read.status == .ok && read.json?["id"] == "cam-a", "\(read)")
            let status = try await client.call(.patch, "/api/v1/cameras/cam-a/status", #"{"status":"degraded"}"#, token: "ingest-secret")
            #expect(status.status == .ok && status.json?["properties"]?["reportedStatus"] == "degraded", "\(status)")

            // An analytics alarm that opens an incident at the camera.
            let event = try await client.call(
                .post, "/api/v1/cameras/cam-a/events", #"{"kind":"analytics","label":"fight","confidence":0.9,"incident":{"category":"assault","priority":1}}"#,
                token: "ingest-secret")
            #expect(event.status == .created && event.json?["kind"] == "analytics" && event.json?["active"] == true, "\(event)")
            let incident = try #require(event.json?["incident"]?.stringValue)
            let events = try await client.call(.get, "/api/v1/cameras/cam-a/events", token: "query-secret")
            #expect(events.json?["events"]?[0]?["incident"]?.stringValue == incident, "\(events)")
            let opened = try await client.call(.get, "/api/v1/incidents/\(incident)", token: "query-secret")
            #expect(opened.status == .ok && opened.json?["properties"]?["category"] == "assault", "\(opened)")
            let closed = try await client.call(.patch, "/api/v1/incidents/\(incident)", #"{"status":"closed"}"#, token: "ingest-secret")
            #expect(closed.status == .ok && closed.json?["properties"]?["status"] == "closed", "\(closed)")
            let again = try await client.call(.patch, "/api/v1/incidents/\(incident)", #"{"summary":"more"}"#, token: "ingest-secret")
            #expect(again.status == .conflict && again.errorCode == "incident_closed", "\(again)")
            let duplicate = #"{"id":"INC-T-1","category":"noise","lat":48.86,"lon":2.35}"#
            #expect(try await client.call(.post, "/api/v1/incidents", duplicate, token: "ingest-secret").status == .created)
            #expect(try await client.call(.post, "/api/v1/incidents", duplicate, token: "ingest-secret").errorCode == "duplicate_id")

            // An import: good features stored, bad ones reported by index, with `id` null when unknown.
            let report = try await client.call(
                .post, "/api/v1/cameras/import",
                #"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[2.35,48.86]},"properties":{"id":"vp-1","orientation":"90"}},"x"]}"#)
            #expect(report.json == ["imported": 1, "updated": 0, "rejected": [["index": 1, "id": nil, "code": "not_an_object", "message": "the item must be a GeoJSON Feature"]]], "\(report)")

            // Queries answer GeoJSON from the live picture.
            let covering = try await client.call(.get, "/api/v1/cameras?covering=48.8600,2.3500", token: "query-secret")
            let ids = covering.json?["features"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
            #expect(covering.headers[.contentType] == "application/geo+json" && ids == ["vp-1", "cam-a"], "nearest first: \(covering)")
            #expect(try await client.call(.get, "/api/v1/units/PN-NONE", token: "query-secret").errorCode == "not_found")

            // Bad input: the specific codes, never a guess.
            let refusals: [(HTTPRequest.Method, String, String?, String, HTTPResponse.Status, String)] = [
                (.put, "/api/v1/cameras/cam-b", #"{"lat":"48.86","lon":2.35}"#, "admin-secret", .badRequest, "field_type_invalid"),
                (.put, "/api/v1/cameras/cam-b", #"{"lat":48,"lat":49,"lon":2}"#, "admin-secret", .badRequest, "json_invalid"),
                (.put, "/api/v1/cameras/cam-b", #"{"name":"a\u0000b","lat":48.86,"lon":2.35}"#, "admin-secret", .badRequest, "control_character"),
                (.put, "/api/v1/cameras/cam-b", "[1]", "admin-secret", .badRequest, "not_an_object"),
                (.put, "/api/v1/cameras/cam-b", #"{"id":"cam-c","lat":48.86,"lon":2.35}"#, "admin-secret", .badRequest, "value_invalid"),
                (.get, "/api/v1/cameras/%00", nil, "query-secret", .notFound, "not_found"),
                (.patch, "/api/v1/cameras/cam-a/status", #"{"status":"gone"}"#, "ingest-secret", .badRequest, "status_invalid"),
                (.post, "/api/v1/incidents", #"{"category":"noise","lat":48.86,"lon":2.35,"priority":2.5}"#, "ingest-secret", .badRequest, "value_invalid"),
                (.get, "/api/v1/incidents?limit=5000", nil, "query-secret", .badRequest, "value_invalid"),
                (.get, "/api/v1/units?bbox=-180,-90,180,inf", nil, "query-secret", .badRequest, "not_finite"),
                (.post, "/api/v1/units/search", "{", "query-secret", .badRequest, "json_invalid"),
                (.get, "/api/v1/zones/stats?size=500&bbox=2.3,48.8,2.4,48.9&from=0001-01-10T00:00:00Z&to=0001-06-01T00:00:00Z", nil, "query-secret", .badRequest, "time_invalid"),
            ]
            for (method, uri, body, token, status, code) in refusals {
                let answer = try await client.call(method, uri, body, token: token)
                #expect(answer.status == status && answer.errorCode == code, "\(method) \(uri): \(answer)")
            }
        }
    }
}
