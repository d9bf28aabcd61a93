import Foundation
import Hummingbird
import HummingbirdTesting
import HypervisionCore
import HypervisionHTTP
import HypervisionIngestServer
@testable import HypervisionStore
@testable import HypervisionStream
import Metrics
import NIOCore
import Prometheus
import Synchronization
import Testing

/// The HTTP contract checked in process (`app.test(.router)`): no daemon, no socket. What every
/// route shares (authentication and scopes, the error body, the mapping of errors), and the
/// routes that need no database: health, the OpenAPI document, ping ingest (on storage in
/// memory), walls, scenes, pins and tours, the preview page.
@Suite struct ContractTests {
    // MARK: Shared

    @Test func theOpenAPIDocumentServedIsTheOneInSchemas() async throws {
        let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Schemas/openapi/openapi.yaml")
        let file = try Data(contentsOf: schemas.standardizedFileURL)
        let router = apiRouter { HealthRoutes(registry: PrometheusCollectorRegistry()) { Self.snapshot() }.addRoutes(to: $0) }
        try await Application(router: router).test(.router) { client in
            let answer = try await client.call(.get, "/openapi.yaml", token: nil)
            #expect(answer.status == .ok && answer.headers[.contentType] == "application/yaml")
            #expect(Data(answer.text.utf8) == file, "GET /openapi.yaml differs from Schemas/openapi/openapi.yaml")
        }
    }

    static func snapshot(ready: Bool = true) -> PipelineSnapshot {
        PipelineSnapshot(
            database: ready ? .ready : .unreachable(reason: "connecting: refused"), databaseSummary: ready ? "ready" : "connecting: refused", spoolBytes: ready ? 0 : 10,
            spoolMaximumBytes: 100, queuedPings: 3, liveLoaded: true)
    }

    @Test func healthAndReadinessAnswerTheirDocumentedBodies() async throws {
        let ready = Mutex(true)
        let router = apiRouter { HealthRoutes(registry: PrometheusCollectorRegistry()) { Self.snapshot(ready: ready.withLock { $0 }) }.addRoutes(to: $0) }
        try await Application(router: router).test(.router) { client in
            let health = try await client.call(.get, "/healthz", token: nil)
            #expect(health.status == .ok && health.json == ["status": "ok"] && health.headers[.contentType] == "application/json")
            let answer = try await client.call(.get, "/readyz", token: nil)
            #expect(answer.status == .ok)
            #expect(
                answer.json
                    == ["status": "ready", "database": "ready", "spool": ["state": "empty", "bytes": 0, "maxBytes": 100], "queuedPings": 3, "live": "loaded"])
            ready.withLock { $0 = false }
            let away = try await client.call(.get, "/readyz", token: nil)
            #expect(away.status == .serviceUnavailable && away.json?["status"] == "not_ready" && away.json?["spool"]?["state"] == "spooling", "\(away)")
            #expect(try await client.call(.get, "/metrics", token: nil).headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    /// Every scope, on a route of each kind: 401 without a token or with an unknown one, 403
    /// with a known token that lacks the scope, the documented body each time, and no handler
    /// run (nothing is recorded).
    @Test func authenticationAndScopesAreRefusedWithTheirBodiesBeforeAnyHandler() async throws {
        let walls = makeWalls()
        let storage = MemoryPings()
        let router = apiRouter { router in
            WallRoutes(walls: walls, authority: Tokens.authority).addRoutes(to: router)
            PingIngestRoutes(intake: storage.intake, authority: Tokens.authority).addRoutes(to: router)
        }
        try await Application(router: router).test(.router) { client in
            let cases: [(HTTPRequest.Method, String, String?, String?, HTTPResponse.Status, String)] = [
                (.get, "/api/v1/walls", nil, nil, .unauthorized, "a bearer token is required"),
                (.get, "/api/v1/walls", nil, "wrong-secret", .unauthorized, "unknown token"),
                (.get, "/api/v1/walls", nil, "ingest-secret", .forbidden, "token feeder lacks the query scope"),
                (.put, "/api/v1/walls/lobby", wallDefinition("lobby"), "query-secret", .forbidden, "token viewer lacks the admin scope"),
                (.post, "/api/v1/walls/lobby/pins", #"{"camera":"cam-x"}"#, "renderer-secret", .forbidden, "token renderer lacks the admin scope"),
                (.post, "/api/v1/pings", "{}", "query-secret", .forbidden, "token viewer lacks the ingest scope"),
                (.post, "/api/v1/pings", "{}", nil, .unauthorized, "a bearer token is required"),
                (.get, "/api/v1/walls/ops/scene", nil, "ingest-secret", .forbidden, "the token lacks subscribe:ops and query"),
                (.get, "/api/v1/walls/other/scene", nil, "renderer-secret", .forbidden, "the token lacks subscribe:other and query"),
                (.get, "/api/v1/walls/ops/scene", nil, nil, .unauthorized, "a bearer token is required"),
            ]
            for (method, uri, body, token, status, message) in cases {
                let answer = try await client.call(method, uri, body, token: token)
                #expect(answer.status == status, "\(method) \(uri): \(answer)")
                #expect(answer.json == ["error": ["code": .string(status == .unauthorized ? "unauthorized" : "forbidden"), "message": .string(message)]], "\(answer)")
                #expect(answer.headers[.contentType] == "application/json")
            }
            #expect(walls.wallIDs.isEmpty && storage.count == 0, "no refused request reached its handler")
            // A renderer's token reads its wall's scene, also as ?token= (the preview page's way).
            try walls.define(json: try JSONValue(parsing: wallDefinition("ops")), origin: .api)
            walls.runRound()
            #expect(try await client.call(.get, "/api/v1/walls/ops/scene", token: "renderer-secret").status == .ok)
            #expect(try await client.call(.get, "/api/v1/walls/ops/scene?token=renderer-secret", token: nil).status == .ok)
            #expect(try await client.call(.get, "/api/v1/walls/ops/scene", token: "query-secret").status == .ok)
        }
    }

    /// Errors thrown anywhere become the documented body once, in APIErrorMiddleware.
    @Test func everyErrorIsMappedOnceToItsStatusCodeAndHeaders() async throws {
        let router = apiRouter { router in
            router.get("/validation") { _, _ -> HTTPResponse.Status in throw ValidationError(.latOutOfRange, "lat 91 is outside [-90, 90]") }
            router.get("/wall") { _, _ -> HTTPResponse.Status in throw WallServiceError.definedByFile("ops", path: "/w/ops.json") }
            router.get("/incident") { _, _ -> HTTPResponse.Status in throw IncidentStoreError.closed("INC-1") }
            router.get("/overloaded") { _, _ -> HTTPResponse.Status in throw PingWriterError(.overloaded, "the queue is full") }
            router.get("/refused") { _, _ -> HTTPResponse.Status in throw PingWriterError(.rejectedByDatabase, "refused") }
            router.get("/timeout") { _, _ -> HTTPResponse.Status in throw DatabaseTimeout(limit: .seconds(2)) }
            router.get("/custom") { _, _ -> HTTPResponse.Status in
                throw APIError(.conflict, "custom", "a custom refusal", details: ["extra": [1, 2]], headers: [.retryAfter: "7"])
            }
            router.get("/defect") { _, _ -> HTTPResponse.Status in throw CancellationError() }
        }
        try await Application(router: router).test(.router) { client in
            let expected: [(String, HTTPResponse.Status, String, String?)] = [
                ("/validation", .badRequest, "lat_out_of_range", nil),
                ("/wall", .conflict, "defined_by_file", nil),
                ("/incident", .conflict, "incident_closed", nil),
                ("/overloaded", .serviceUnavailable, "overloaded", "1"),
                ("/refused", .internalServerError, "rejected_by_database", nil),
                ("/timeout", .serviceUnavailable, "database_unavailable", "1"),
                ("/custom", .conflict, "custom", "7"),
                ("/defect", .internalServerError, "internal_error", nil),
                ("/nothing-here", .notFound, "not_found", nil),
            ]
            for (uri, status, code, retryAfter) in expected {
                let answer = try await client.call(.get, uri)
                #expect(answer.status == status && answer.errorCode == code, "\(uri): \(answer)")
                #expect(answer.headers[.retryAfter] == retryAfter, "\(uri): \(answer.headers)")
            }
            let custom = try await client.call(.get, "/custom")
            #expect(custom.json?["error"]?["extra"] == [1, 2], "details are members of the error object: \(custom)")
        }
    }

    // MARK: Ping ingest

    @Test func pingIngestReportsPerItemAndRefusesWithSpecificCodes() async throws {
        let storage = MemoryPings()
        var limits = HTTPIngestLimits()
        limits.maximumBodyBytes = 4_096
        limits.maximumItems = 3
        let router = apiRouter { PingIngestRoutes(intake: storage.intake, authority: Tokens.authority, limits: limits).addRoutes(to: $0) }
        try await Application(router: router).test(.router) { client in
            let time = Timestamp.now().adding(seconds: -5).rfc3339
            let good = #"{"unit":"PN-1","time":"\#(time)","lat":48.85,"lon":2.35}"#
            let bad = #"{"unit":"PN-2","time":"\#(time)","lat":91,"lon":2.35}"#
            let batch = try await client.call(.post, "/api/v1/pings", "[\(good),\(bad)]", token: "ingest-secret")
            #expect(batch.status == .ok, "\(batch)")
            #expect(batch.json?["accepted"] == 1 && batch.json?["duplicates"] == 0, "\(batch)")
            #expect(batch.json?["rejected"]?[0]?["index"] == 1 && batch.json?["rejected"]?[0]?["code"] == "lat_out_of_range", "\(batch)")
            let again = try await client.call(.post, "/api/v1/pings", good, token: "ingest-secret")
            #expect(again.status == .ok && again.json?["duplicates"] == 1, "the same unit and time is stored once: \(again)")
            let single = try await client.call(.post, "/api/v1/pings", bad, token: "ingest-secret")
            #expect(single.status == .badRequest && single.json?["rejected"]?[0]?["code"] == "lat_out_of_range", "\(single)")
            let ndjson = try await client.call(.post, "/api/v1/pings", good.replacingOccurrences(of: "PN-1", with: "PN-3") + "\n", token: "ingest-secret", contentType: "application/x-ndjson")
            #expect(ndjson.status == .ok && ndjson.json?["accepted"] == 1, "\(ndjson)")

            let refusals: [(String, HTTPResponse.Status, String)] = [
                (#"{"unit":"PN-1","lat":NaN}"#, .badRequest, "json_invalid"),
                ("[" + Array(repeating: good, count: 4).joined(separator: ",") + "]", .contentTooLarge, "too_many_items"),
                ("[" + String(repeating: " ", count: 5_000) + "]", .contentTooLarge, "body_too_large"),
            ]
            for (body, status, code) in refusals {
                let answer = try await client.call(.post, "/api/v1/pings", body, token: "ingest-secret")
                #expect(answer.status == status && answer.errorCode == code, "\(body.prefix(60)) → \(answer)")
            }
            // Storage that cannot take the pings: 503 with Retry-After, nothing acknowledged.
            storage.refuse(PingWriterError(.storageUnavailable, "spool full"))
            let unavailable = try await client.call(.post, "/api/v1/pings", good.replacingOccurrences(of: "PN-1", with: "PN-4"), token: "ingest-secret")
            #expect(unavailable.status == .serviceUnavailable && unavailable.errorCode == "storage_unavailable" && unavailable.headers[.retryAfter] == "1", "\(unavailable)")
        }
    }

    // MARK: Walls

    /// Definitions: created, replaced, listed, read, refused with every problem, protected when
    /// they come from a file, and deleted, with the scene following at the next round.
    @Test(.timeLimit(.minutes(1)))
    func wallDefinitionsFollowTheirContract() async throws {
        let walls = makeWalls()
        _ = walls.loadFiles([("/walls/ops.json", try JSONValue(parsing: wallDefinition("ops")))])
        let router = apiRouter { WallRoutes(walls: walls, authority: Tokens.authority).addRoutes(to: $0) }
        try await Application(router: router, services: [walls]).test(.router) { client in
            let created = try await client.call(.put, "/api/v1/walls/lobby", wallDefinition("lobby", title: "Lobby"))
            #expect(created.status == .created, "\(created)")
            #expect(
                created.json
                    == [
                        "id": "lobby", "canvas": ["width": 3_845, "height": 1_080], "displays": ["r0c0", "r0c1"],
                        "regions": ["map": ["slots": 1], "cams": ["slots": 4]],
                    ], "\(created)")
            // A scene right after the definition: the request waits for the round that lays it out.
            let first = try await client.call(.get, "/api/v1/walls/lobby/scene", token: "query-secret")
            #expect(first.status == .ok && first.json?["wall"] == "lobby", "\(first)")
            let replaced = try await client.call(.put, "/api/v1/walls/lobby", wallDefinition("lobby", title: "Lobby", preset: "3x3"))
            #expect(replaced.status == .ok && replaced.json?["regions"]?["cams"]?["slots"] == 9, "\(replaced)")

            let list = try await client.call(.get, "/api/v1/walls", token: "query-secret")
            #expect(
                list.json == ["walls": [["id": "lobby", "title": "Lobby", "origin": "api"], ["id": "ops", "title": "Ops test wall", "origin": "file:/walls/ops.json"]]],
                "\(list)")
            let one = try await client.call(.get, "/api/v1/walls/lobby", token: "query-secret")
            #expect(one.json?["origin"] == "api" && one.json?["definition"]?["title"] == "Lobby" && one.json?["definition"]?["regions"]?[1]?["preset"] == "3x3")

            let invalid = try await client.call(.put, "/api/v1/walls/bad", wallDefinition("bad", preset: "5x5"))
            #expect(invalid.status == .badRequest && invalid.errorCode == "wall_invalid", "\(invalid)")
            let problems = invalid.json?["error"]?["problems"]?.arrayValue ?? []
            #expect(problems.map { "\($0["code"]?.stringValue ?? "?") \($0["path"]?.stringValue ?? "?")" } == ["preset_unknown /regions/1/preset"], "\(invalid)")
            #expect(problems.allSatisfy { $0["message"]?.stringValue?.isEmpty == false })
            let refusals: [(HTTPRequest.Method, String, String?, HTTPResponse.Status, String)] = [
                (.put, "/api/v1/walls/ops", wallDefinition("ops"), .conflict, "defined_by_file"),
                (.delete, "/api/v1/walls/ops", nil, .conflict, "defined_by_file"),
                (.put, "/api/v1/walls/bad", wallDefinition("other"), .badRequest, "value_invalid"),
                (.put, "/api/v1/walls/bad", "[1]", .badRequest, "not_an_object"),
                (.put, "/api/v1/walls/bad", "{", .badRequest, "json_invalid"),
                (.put, "/api/v1/walls/bad", #"{"title":"a\u0000b"}"#, .badRequest, "control_character"),
                (.get, "/api/v1/walls/bad", nil, .notFound, "not_found"),
                (.delete, "/api/v1/walls/bad", nil, .notFound, "not_found"),
                (.get, "/api/v1/walls/bad/scene", nil, .notFound, "not_found"),
                (.get, "/api/v1/walls/lobby/scene?display=r9c9", nil, .notFound, "not_found"),
                (.get, "/api/v1/walls/lobby/scene?at=yesterday", nil, .badRequest, "time_invalid"),
                (.get, "/api/v1/walls/lobby/scene?at=2026-01-01T00:00:00Z&display=r0c0", nil, .badRequest, "value_invalid"),
            ]
            for (method, uri, body, status, code) in refusals {
                let answer = try await client.call(method, uri, body)
                #expect(answer.status == status && answer.errorCode == code, "\(method) \(uri): \(answer)")
            }
            #expect(walls.definition(id: "bad") == nil)

            // Deleted: the scene is gone at once for readers; the streams close at the next round.
            #expect(try await client.call(.delete, "/api/v1/walls/lobby").status == .noContent)
            #expect(try await client.call(.get, "/api/v1/walls/lobby/scene").status == .notFound)
            #expect(await walls.settle())
            #expect(walls.hub.current(StreamKey(wall: "lobby")) == nil)
        }
    }

    /// Pins and tours are recorded and answered at once; the wall shows them from the round
    /// that takes them, which the test awaits rather than sleeps for.
    @Test(.timeLimit(.minutes(1)))
    func pinsAndToursAreRecordedThenLaidOutByTheNextRound() async throws {
        let walls = makeWalls()
        try walls.define(json: try JSONValue(parsing: wallDefinition("ops")), origin: .api)
        let router = apiRouter { WallRoutes(walls: walls, authority: Tokens.authority).addRoutes(to: $0) }
        try await Application(router: router, services: [walls]).test(.router) { client in
            let pinned = try await client.call(.post, "/api/v1/walls/ops/pins", #"{"camera":"cam-x","expiresIn":60,"by":"desk"}"#)
            #expect(pinned.status == .created, "\(pinned)")
            let pins = try #require(pinned.json?["pins"]?.arrayValue)
            #expect(pins.count == 1 && pins[0]["camera"] == "cam-x" && pins[0]["by"] == "desk" && pins[0]["expiresAt"]?.stringValue != nil, "\(pinned)")
            #expect(pins[0]["region"] == nil, "absent members are left out")
            #expect(await walls.settle())
            let scene = try await client.call(.get, "/api/v1/walls/ops/scene", token: "query-secret")
            let pinReason = scene.json?["tiles"]?["cam-x"]?["reason"]?.stringValue ?? ""
            #expect(pinReason.contains("pinned by desk"), "\(scene)")

            #expect(try await client.call(.delete, "/api/v1/walls/ops/pins/cam-x").status == .noContent)
            let notPinned = try await client.call(.delete, "/api/v1/walls/ops/pins/cam-x")
            #expect(notPinned.status == .notFound && notPinned.json?["error"]?["message"] == "camera cam-x is not pinned on wall ops")
            #expect(await walls.settle())
            #expect(try await client.call(.get, "/api/v1/walls/ops/scene").json?["tiles"]?["cam-x"] == nil)

            let tour = try await client.call(.post, "/api/v1/walls/ops/tours", #"{"id":"night","cameras":["cam-x"],"dwellSeconds":5}"#)
            #expect(tour.status == .created && tour.text.isEmpty, "\(tour)")
            #expect(walls.tours(wall: "ops").map(\.id) == ["night"])
            #expect(await walls.settle())
            let touring = try await client.call(.get, "/api/v1/walls/ops/scene")
            let tourReason = touring.json?["tiles"]?["cam-x"]?["reason"]?.stringValue ?? ""
            #expect(tourReason.contains("guard tour"), "\(touring)")
            #expect(try await client.call(.delete, "/api/v1/walls/ops/tours/night").status == .noContent)
            #expect(try await client.call(.delete, "/api/v1/walls/ops/tours/night").status == .notFound)

            let refusals: [(String, String, HTTPResponse.Status, String)] = [
                ("/api/v1/walls/ops/pins", #"{"camera":"cam-x","expiresIn":-1}"#, .badRequest, "value_invalid"),
                ("/api/v1/walls/ops/pins", #"{"camera":5}"#, .badRequest, "field_missing"),
                ("/api/v1/walls/ops/pins", #"{"camera":"cam\u0000"}"#, .badRequest, "control_character"),
                ("/api/v1/walls/ops/pins", "[1]", .badRequest, "json_invalid"),
                ("/api/v1/walls/ops/pins", #"{"camera":"\#(String(repeating: "x", count: 17_000))"}"#, .contentTooLarge, "body_too_large"),
                ("/api/v1/walls/nope/pins", #"{"camera":"cam-x"}"#, .notFound, "not_found"),
                ("/api/v1/walls/ops/tours", #"{"cameras":["cam-x"]}"#, .badRequest, "field_missing"),
                ("/api/v1/walls/ops/tours", #"{"id":"t","cameras":[]}"#, .badRequest, "value_invalid"),
                ("/api/v1/walls/ops/tours", #"{"id":"t","cameras":["cam-x"],"dwellSeconds":0.5}"#, .badRequest, "value_invalid"),
                ("/api/v1/walls/nope/tours", #"{"id":"t","cameras":["cam-x"]}"#, .notFound, "not_found"),
            ]
            for (uri, body, status, code) in refusals {
                let answer = try await client.call(.post, uri, body)
                #expect(answer.status == status && answer.errorCode == code, "\(uri) \(body.prefix(60)): \(answer)")
            }
        }
    }

    @Test func thePreviewPageAndItsAssetsAreServedWithTheirTypes() async throws {
        let router = apiRouter { WallRoutes(walls: makeWalls(), authority: Tokens.authority).addRoutes(to: $0) }
        try await Application(router: router).test(.router) { client in
            for (uri, type) in [
                ("/walls/ops", "text/html; charset=utf-8"), ("/walls/assets/wall.js", "text/javascript; charset=utf-8"),
                ("/walls/assets/wall.css", "text/css; charset=utf-8"),
            ] {
                let answer = try await client.call(.get, uri, token: nil)
                #expect(answer.status == .ok && answer.headers[.contentType] == type && !answer.text.isEmpty, "\(uri)")
            }
        }
    }

    /// The renderer is the preview page in renderer mode: the same markup and script, told
    /// apart by `data-mode` (a change to the page's head or body tag must keep this true).
    @Test func theRendererIsThePreviewPageInRendererMode() async throws {
        let router = apiRouter {
            WallRoutes(walls: makeWalls(), authority: Tokens.authority).addRoutes(to: $0)
            WallPageRoutes().addRoutes(to: $0)
        }
        try await Application(router: router).test(.router) { client in
            let preview = try await client.call(.get, "/walls/ops", token: nil)
            for uri in ["/render/ops/d1", "/render/ops"] {
                let renderer = try await client.call(.get, uri, token: nil)
                #expect(renderer.status == .ok && renderer.headers[.contentType] == "text/html; charset=utf-8", "\(uri)")
                #expect(renderer.text.contains(#"<body data-mode="renderer">"#) && renderer.text.contains("<title>Hypervision renderer</title>"))
                #expect(!preview.text.contains("data-mode=\"renderer\""))
                #expect(renderer.text.replacingOccurrences(of: #" data-mode="renderer""#, with: "")
                    .replacingOccurrences(of: "Hypervision renderer", with: "Hypervision wall preview") == preview.text)
            }
        }
    }
}

/// Ping storage in memory: stores each unit and time once; can be told to refuse.
final class MemoryPings: PingStorage {
    private let state = Mutex<(stored: Set<String>, refusal: PingWriterError?)>(([], nil))

    var count: Int { state.withLock { $0.stored.count } }
    func refuse(_ error: PingWriterError?) { state.withLock { $0.refusal = error } }

    var intake: PingIntake { PingIntake(storage: self, protocol: "http", metricsFactory: NOOPMetricsHandler.instance) }

    var acceptsBeforeDurable: Bool { true }

    func write(_ pings: [Ping]) async throws(PingWriterError) -> WriteReceipt {
        try state.withLock { state throws(PingWriterError) in
            if let refusal = state.refusal { throw refusal }
            return WriteReceipt(results: pings.map { state.stored.insert("\($0.unit)@\($0.time.microseconds)").inserted ? .stored : .duplicate })
        }
    }
}
