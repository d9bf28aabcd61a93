import Foundation
import HypervisionCore
import HypervisionTestSupport
import Testing

/// Walls against the running daemon: definitions from files and from the API, scenes and their
/// per-display views, what puts a camera on the wall, the scene log, and TCP subscriptions.
@Suite(.serialized) struct WallAPITests {
    /// A 2x2 wall of full-HD displays: a map on the left column, an automatic 2x2 camera region
    /// on the right column (one tile row per display).
    static func definition(id: String, title: String = "Ops test wall", cameras: String = "2x2", extraRegions: String = "") -> String {
        """
        {"id": "\(id)", "title": "\(title)",
         "displays": {"rows": 2, "columns": 2,
                      "default": {"width": 1920, "height": 1080, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.5}},
         "regions": [
           {"id": "map", "area": {"row": 0, "column": 0, "rows": 2}, "kind": "map",
            "viewport": {"west": 2.25, "south": 48.81, "east": 2.42, "north": 48.91}},
           {"id": "cams", "area": {"row": 0, "column": 1, "rows": 2}, "kind": "cameras", "preset": "\(cameras)",
            "sources": ["cam-n1"]}\(extraRegions)
         ],
         "tuning": {"minimumDwellSeconds": 0}}
        """
    }

    static let configuration = "walls:\n  directory: $STATE/walls\n  intervalMs: 50\n"

    static func tiles(_ scene: Any?) -> [String: [String: Any]] {
        field(scene, "tiles") as? [String: [String: Any]] ?? [:]
    }

    static func rect(_ value: Any?) -> (x: Int, y: Int, width: Int, height: Int)? {
        guard let object = value as? [String: Any], let x = object["x"] as? Int, let y = object["y"] as? Int,
            let width = object["width"] as? Int, let height = object["height"] as? Int
        else { return nil }
        return (x, y, width, height)
    }

    static func parse(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    /// Fetches the scene until `condition` holds (the layout loop runs every 50 ms).
    static func scene(
        _ daemon: APIDaemon, _ wall: String, query: String = "", timeout: Duration = .seconds(10),
        until condition: ([String: [String: Any]]) -> Bool
    ) async throws -> (json: Any?, text: String) {
        let deadline = ContinuousClock.now + timeout
        var last: (status: Int, json: Any?, text: String) = (0, nil, "")
        while ContinuousClock.now < deadline {
            last = try await daemon.call("GET", "/api/v1/walls/\(wall)/scene" + query, token: "query-secret")
            if last.status == 200, condition(tiles(last.json)) { return (last.json, last.text) }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the scene of \(wall) never met the condition; last answer \(last.status): \(last.text.prefix(2_000))")
        return (last.json, last.text)
    }

    static func camera(_ lat: Double, _ lon: Double, heading: Double, range: Double = 200) -> String {
        #"{"lat":\#(lat),"lon":\#(lon),"heading":\#(heading),"fov":60,"range":\#(range),"name":"test camera","streams":[{"protocol":"hls","quality":"main","url":"http://vms.local/x.m3u8"}]}"#
    }

    // MARK: Definitions and scenes

    @Test func fileWallIsServedWithPerDisplayViewsAndAPIWallsAreValidatedStoredAndRemoved() async throws {
        var daemon = try await APIDaemon(
            "walls", extraConfiguration: Self.configuration, files: ["walls/ops.json": Self.definition(id: "ops")])

        // Listed, with its origin.
        let list = try await daemon.call("GET", "/api/v1/walls", token: "query-secret")
        #expect(list.status == 200, "\(list.text)")
        let walls = field(list.json, "walls") as? [[String: Any]] ?? []
        #expect(walls.compactMap { $0["id"] as? String } == ["ops"], "\(list.text)")
        let origin = walls.first?["origin"] as? String ?? ""
        #expect(origin.hasPrefix("file:"), "\(list.text)")
        #expect(walls.first?["title"] as? String == "Ops test wall")
        #expect(try await daemon.call("GET", "/api/v1/walls", token: nil).status == 401)

        // A known camera fills the camera region's first slot as normal content.
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-n1", Self.camera(48.85, 2.30, heading: 0)).status == 201)
        let found = try await Self.scene(daemon, "ops") { $0["cam-n1"] != nil }
        let scene = found.json
        // Canvas: two 1920 px columns with a 1.5 + 1.5 mm bezel gap (1.5873 px/mm → 5 px) between them.
        #expect(field(scene, "wall") as? String == "ops")
        #expect(field(scene, "canvas", "width") as? Int == 3_845, "\(found.text.prefix(500))")
        #expect(field(scene, "canvas", "height") as? Int == 2_165)
        let displays = field(scene, "displays") as? [String: Any] ?? [:]
        #expect(Set(displays.keys) == ["r0c0", "r0c1", "r1c0", "r1c1"], "\(found.text.prefix(500))")
        let tiles = Self.tiles(scene)
        #expect(tiles["map"] != nil && tiles["cam-n1"] != nil, "\(found.text)")
        #expect(field(tiles["map"], "source", "kind") as? String == "map")
        #expect(field(tiles["cam-n1"], "source", "kind") as? String == "camera")
        #expect(field(tiles["cam-n1"], "region") as? String == "cams")
        #expect(field(tiles["cam-n1"], "reason") as? String == "normal content")
        // The map spans the left column, bezel gap included; the camera tile is a quarter of the right column.
        if let map = Self.rect(field(tiles["map"], "rect")) {
            #expect(map.x == 0 && map.y == 0 && map.width == 1_920 && map.height == 2_165, "\(map)")
        } else {
            Issue.record("no map rect: \(found.text)")
        }
        if let cam = Self.rect(field(tiles["cam-n1"], "rect")) {
            #expect(cam.x >= 1_925 && cam.x + cam.width <= 3_845 && cam.width == 960 && cam.height == 1_080, "\(cam)")
        } else {
            Issue.record("no camera rect: \(found.text)")
        }
        let unknown = try await daemon.call("GET", "/api/v1/walls/nope/scene", token: "query-secret")
        #expect(unknown.status == 404)
        #expect(try await daemon.call("GET", "/api/v1/walls/ops/scene", token: nil).status == 401)

        // The view of r0c1 holds only the tiles on that display, in its own pixels.
        let view = try await daemon.call("GET", "/api/v1/walls/ops/scene?display=r0c1", token: "query-secret")
        #expect(view.status == 200, "\(view.text)")
        #expect(field(view.json, "display") as? String == "r0c1")
        #expect(field(view.json, "size", "width") as? Int == 1_920 && field(view.json, "size", "height") as? Int == 1_080)
        let viewTiles = Self.tiles(view.json)
        let onDisplay = tiles.filter { ($0.value["displays"] as? [String: Any])?["r0c1"] != nil }.map(\.key)
        #expect(Set(viewTiles.keys) == Set(onDisplay), "\(view.text)")
        #expect(viewTiles["cam-n1"] != nil && viewTiles["map"] == nil, "\(view.text)")
        for (id, tile) in viewTiles {
            guard let visible = Self.rect(tile["visible"]), let rect = Self.rect(tile["rect"]) else {
                Issue.record("tile \(id) has no rectangles: \(tile)")
                continue
            }
            #expect(visible.x >= 0 && visible.y >= 0 && visible.x + visible.width <= 1_920 && visible.y + visible.height <= 1_080, "\(id): \(visible)")
            #expect(rect.x >= 0 && rect.x + rect.width <= 1_920 && rect.y >= 0 && rect.y + rect.height <= 1_080, "\(id): \(rect)")
        }
        let other = try await daemon.call("GET", "/api/v1/walls/ops/scene?display=r0c0", token: "query-secret")
        #expect(Set(Self.tiles(other.json).keys) == ["map"], "\(other.text)")
        #expect(try await daemon.call("GET", "/api/v1/walls/ops/scene?display=r5c5", token: "query-secret").status == 404)

        // Invalid definitions: every semantic problem is named, with its code and its path.
        let overlapping = Self.definition(
            id: "bad", cameras: "3x3",
            extraRegions: #", {"id": "extra", "area": {"row": 1, "column": 1}, "kind": "incidents"}, {"id": "away", "area": {"row": 2, "column": 0}, "kind": "incidents"}"#)
        let refused = try await daemon.call("PUT", "/api/v1/walls/bad", overlapping)
        #expect(refused.status == 400, "\(refused.text)")
        #expect(field(refused.json, "error", "code") as? String == "wall_invalid")
        let problems = (field(refused.json, "error", "problems") as? [[String: Any]] ?? []).map {
            "\($0["code"] as? String ?? "?") \($0["path"] as? String ?? "?")"
        }
        #expect(
            Set(problems) == ["preset_does_not_fit /regions/1/preset", "regions_overlap /regions/2/area", "region_off_canvas /regions/3/area"],
            "\(refused.text)")
        let badPreset = try await daemon.call("PUT", "/api/v1/walls/bad", Self.definition(id: "bad", cameras: "5x5"))
        #expect(badPreset.status == 400 && field(badPreset.json, "error", "code") as? String == "wall_invalid", "\(badPreset.text)")
        let presetProblems = (field(badPreset.json, "error", "problems") as? [[String: Any]] ?? []).map {
            "\($0["code"] as? String ?? "?") \($0["path"] as? String ?? "?")"
        }
        #expect(presetProblems == ["preset_unknown /regions/1/preset"], "\(badPreset.text)")
        #expect(try await daemon.call("GET", "/api/v1/walls/bad", token: "query-secret").status == 404)
        #expect(try await daemon.call("PUT", "/api/v1/walls/bad", Self.definition(id: "bad"), token: "query-secret").status == 403)
        let mismatched = try await daemon.call("PUT", "/api/v1/walls/bad", Self.definition(id: "other"))
        #expect(mismatched.status == 400, "\(mismatched.text)")

        // A valid PUT creates (201), a second replaces (200) and is what the scene then shows.
        let created = try await daemon.call("PUT", "/api/v1/walls/lobby", Self.definition(id: "lobby", title: "Lobby"))
        #expect(created.status == 201, "\(created.text)")
        #expect(field(created.json, "canvas", "width") as? Int == 3_845)
        let replaced = try await daemon.call("PUT", "/api/v1/walls/lobby", Self.definition(id: "lobby", title: "Lobby", cameras: "4x4"))
        #expect(replaced.status == 200, "\(replaced.text)")
        #expect(field(replaced.json, "regions", "cams", "slots") as? Int == 16, "\(replaced.text)")
        // The replacement is on the wall from the next round on (the scene before it showed the
        // 2x2 definition): wait for a 4x4 tile, then check it.
        let lobby = try await Self.scene(daemon, "lobby") { Self.rect(field($0["cam-n1"], "rect"))?.width == 480 }
        if let cam = Self.rect(field(Self.tiles(lobby.json)["cam-n1"], "rect")) {
            #expect(cam.width == 480 && cam.height == 540, "a 4x4 tile, not a 2x2 one: \(cam)")
        }
        let stored = try await daemon.call("GET", "/api/v1/walls/lobby", token: "query-secret")
        #expect(field(stored.json, "origin") as? String == "api" && field(stored.json, "definition", "title") as? String == "Lobby")

        // The file's wall cannot be changed or removed through the API.
        let conflict = try await daemon.call("PUT", "/api/v1/walls/ops", Self.definition(id: "ops"))
        #expect(conflict.status == 409 && field(conflict.json, "error", "code") as? String == "defined_by_file", "\(conflict.text)")
        let undeletable = try await daemon.call("DELETE", "/api/v1/walls/ops")
        #expect(undeletable.status == 409 && field(undeletable.json, "error", "code") as? String == "defined_by_file")

        // DELETE removes the wall and its scene.
        #expect(try await daemon.call("DELETE", "/api/v1/walls/lobby").status == 204)
        #expect(try await daemon.call("GET", "/api/v1/walls/lobby/scene", token: "query-secret").status == 404)
        #expect(try await daemon.call("DELETE", "/api/v1/walls/lobby").status == 404)

        // A PUT wall survives a restart; a deleted one does not come back.
        #expect(try await daemon.call("PUT", "/api/v1/walls/kept", Self.definition(id: "kept", title: "Kept")).status == 201)
        #expect(await daemon.stop() == 0)
        daemon = try await APIDaemon(
            "walls-restart", extraConfiguration: Self.configuration, files: ["walls/ops.json": Self.definition(id: "ops")],
            database: daemon.endpoint)
        let again = try await daemon.call("GET", "/api/v1/walls", token: "query-secret")
        let ids = (field(again.json, "walls") as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ids == ["kept", "ops"], "\(again.text)")
        let keptDefinition = try await daemon.call("GET", "/api/v1/walls/kept", token: "query-secret")
        #expect(field(keptDefinition.json, "origin") as? String == "api" && field(keptDefinition.json, "definition", "title") as? String == "Kept")
        // Cameras are reloaded from PostGIS too, so the restarted wall shows the same camera.
        _ = try await Self.scene(daemon, "kept") { $0["cam-n1"] != nil && $0["map"] != nil }
        #expect(await daemon.stop() == 0)
    }

    // MARK: What goes on the wall

    @Test func incidentsAndPinsPutCamerasOnTheWallAndTheSceneLogRemembers() async throws {
        let started = Timestamp.now()
        let daemon = try await APIDaemon(
            "wall-sources", extraConfiguration: Self.configuration, files: ["walls/ops.json": Self.definition(id: "ops")])
        // Two cameras look at the incident's place, one looks away from it, one is far away.
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-n1", Self.camera(48.85, 2.30, heading: 0)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-a", Self.camera(48.8600, 2.3490, heading: 90)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-b", Self.camera(48.8610, 2.3500, heading: 180)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-c", Self.camera(48.8600, 2.3510, heading: 90)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-x", Self.camera(48.95, 2.10, heading: 0)).status == 201)
        let quiet = try await Self.scene(daemon, "ops") { $0["cam-n1"] != nil }
        #expect(Set(Self.tiles(quiet.json).keys) == ["map", "cam-n1"], "\(quiet.text)")

        // An incident: the cameras covering it come on, each with a reason naming it.
        let opened = try await daemon.call(
            "POST", "/api/v1/incidents", #"{"category":"assault","priority":1,"lat":48.8600,"lon":2.3500}"#, token: "ingest-secret")
        #expect(opened.status == 201, "\(opened.text)")
        let incident = field(opened.json, "id") as? String ?? "?"
        let busy = try await Self.scene(daemon, "ops") { $0["cam-a"] != nil && $0["cam-b"] != nil }
        let busyTiles = Self.tiles(busy.json)
        for camera in ["cam-a", "cam-b"] {
            let reason = busyTiles[camera]?["reason"] as? String ?? ""
            #expect(reason.contains(incident) && reason.contains("incident"), "\(camera): \(reason)")
        }
        let busyReason = busyTiles["cam-a"]?["reason"] as? String ?? ""
        #expect(busyReason.contains("73 m"), "\(busyTiles["cam-a"] ?? [:])")
        #expect(busyTiles["cam-c"] == nil && busyTiles["cam-x"] == nil, "cam-c looks away, cam-x is far: \(busy.text)")
        #expect(busyTiles["cam-n1"] != nil, "a free slot still shows the normal content")
        #expect(field(busy.json, "incidents", incident) != nil, "the map shows the incident: \(busy.text.prefix(1_000))")
        let busySeq = field(busy.json, "seq") as? Int ?? 0

        // A moment in the quiet time between two changes, for the scene log.
        try await Task.sleep(for: .milliseconds(1_200))
        let between = Timestamp.now()
        try await Task.sleep(for: .milliseconds(300))

        // A pin puts the far camera on the wall; removing it takes it off.
        let pinned = try await daemon.call("POST", "/api/v1/walls/ops/pins", #"{"camera":"cam-x","expiresIn":60}"#)
        #expect(pinned.status == 201, "\(pinned.text)")
        #expect((field(pinned.json, "pins") as? [[String: Any]])?.first?["camera"] as? String == "cam-x", "\(pinned.text)")
        #expect(try await daemon.call("POST", "/api/v1/walls/ops/pins", #"{"camera":"cam-x"}"#, token: "query-secret").status == 403)
        #expect(try await daemon.call("POST", "/api/v1/walls/nope/pins", #"{"camera":"cam-x"}"#).status == 404)
        #expect(try await daemon.call("POST", "/api/v1/walls/ops/pins", #"{"camera":"cam-x","expiresIn":-1}"#).status == 400)
        let withPin = try await Self.scene(daemon, "ops") { $0["cam-x"] != nil }
        let pinReason = Self.tiles(withPin.json)["cam-x"]?["reason"] as? String ?? ""
        #expect(pinReason.contains("pinned"), "\(pinReason)")
        // Pinned outranks the incident: it takes the first (largest, here equal) slot of the region.
        #expect(Self.tiles(withPin.json)["cam-a"] != nil && Self.tiles(withPin.json)["cam-b"] != nil)
        #expect(try await daemon.call("DELETE", "/api/v1/walls/ops/pins/cam-x").status == 204)
        #expect(try await daemon.call("DELETE", "/api/v1/walls/ops/pins/cam-x").status == 404)
        let unpinned = try await Self.scene(daemon, "ops") { $0["cam-x"] == nil }
        #expect(Self.tiles(unpinned.json)["cam-a"] != nil)

        // The scene log: at `between` the wall showed exactly the busy scene (written within ~1 s).
        var past: (status: Int, json: Any?, text: String) = (0, nil, "")
        for _ in 0..<60 {
            past = try await daemon.call("GET", "/api/v1/walls/ops/scene?at=\(between.rfc3339)", token: "query-secret")
            if past.status == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(past.status == 200, "\(past.text)")
        #expect(field(past.json, "seq") as? Int == busySeq, "\(past.text.prefix(300))")
        #expect(try Self.parse(past.text) == Self.parse(busy.text), "the logged scene differs from the one served then")
        // And later, with the pin: a moment after the pinned scene shows the pin.
        if let pinnedAt = (field(withPin.json, "generatedAt") as? String).flatMap(Timestamp.init(rfc3339:)) {
            var later: (status: Int, json: Any?, text: String) = (0, nil, "")
            for _ in 0..<60 {
                later = try await daemon.call("GET", "/api/v1/walls/ops/scene?at=\(pinnedAt.rfc3339)", token: "query-secret")
                if later.status == 200, Self.tiles(later.json)["cam-x"] != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(Self.tiles(later.json)["cam-x"] != nil, "\(later.text.prefix(500))")
            #expect(try Self.parse(later.text) == Self.parse(withPin.text))
        }
        // Before the wall existed, the log has nothing.
        let before = try await daemon.call("GET", "/api/v1/walls/ops/scene?at=\(started.adding(seconds: -3_600).rfc3339)", token: "query-secret")
        #expect(before.status == 404, "\(before.text.prefix(300))")
        let badTime = try await daemon.call("GET", "/api/v1/walls/ops/scene?at=yesterday", token: "query-secret")
        #expect(badTime.status == 400)
        #expect(await daemon.stop() == 0)
    }

    @Test func replacingAWallKeepsTheSceneLogTrue() async throws {
        let daemon = try await APIDaemon("wall-replace", extraConfiguration: Self.configuration)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-n1", Self.camera(48.85, 2.30, heading: 0)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/walls/lobby", Self.definition(id: "lobby")).status == 201)
        let first = try await Self.scene(daemon, "lobby") { $0["cam-n1"] != nil }
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(try await daemon.call("PUT", "/api/v1/walls/lobby", Self.definition(id: "lobby", cameras: "4x4")).status == 200)
        let second = try await Self.scene(daemon, "lobby") { tiles in
            Self.rect(tiles["cam-n1"]?["rect"]).map { $0.width == 480 } ?? false
        }
        #expect(try Self.parse(first.text) != Self.parse(second.text))
        let secondSeq = field(second.json, "seq") as? Int ?? 0
        #expect(secondSeq != field(first.json, "seq") as? Int, "a replaced wall's scene needs a new sequence number")
        // After the log is written, "now" is the replaced wall's scene, not the first one's.
        try await Task.sleep(for: .milliseconds(1_500))
        let now = Timestamp.now()
        var logged: (status: Int, json: Any?, text: String) = (0, nil, "")
        for _ in 0..<30 {
            logged = try await daemon.call("GET", "/api/v1/walls/lobby/scene?at=\(now.rfc3339)", token: "query-secret")
            if logged.status == 200, field(logged.json, "seq") as? Int == secondSeq { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(logged.status == 200 && field(logged.json, "seq") as? Int == secondSeq, "\(logged.text.prefix(300))")
        #expect(try Self.parse(logged.text) == Self.parse(second.text), "the log shows \(logged.text.prefix(400))")
        #expect(await daemon.stop() == 0)
    }

    /// The last change before a graceful stop is in the scene log: the log's writer is not
    /// cancelled mid-write, and what is pending is written before the database goes.
    @Test func aGracefulStopKeepsTheLastSceneInTheLog() async throws {
        let daemon = try await APIDaemon("wall-stop", extraConfiguration: Self.configuration)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-n1", Self.camera(48.85, 2.30, heading: 0)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-x", Self.camera(48.70, 2.10, heading: 0)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/walls/dock", Self.definition(id: "dock")).status == 201)
        _ = try await Self.scene(daemon, "dock") { $0["cam-n1"] != nil }
        // Changes in quick succession, the last one just before the stop, so that the log has
        // entries pending (it is written once a second) when the stop comes.
        var last: (json: Any?, text: String) = (nil, "")
        for _ in 0..<3 {
            #expect(try await daemon.call("POST", "/api/v1/walls/dock/pins", #"{"camera":"cam-x"}"#).status == 201)
            _ = try await Self.scene(daemon, "dock") { $0["cam-x"] != nil }
            #expect(try await daemon.call("DELETE", "/api/v1/walls/dock/pins/cam-x").status == 204)
            last = try await Self.scene(daemon, "dock") { $0["cam-x"] == nil }
        }
        let lastSeq = try #require(field(last.json, "seq") as? Int)
        #expect(await daemon.stop() == 0)
        let logged = try await TestPostgres.integers(daemon.endpoint, "SELECT coalesce(max(seq), -1) FROM scene_log WHERE wall_id = 'dock'")
        #expect(logged == [Int64(lastSeq)], "the scene log ends at \(logged), the wall was at \(lastSeq)")
        #expect(!daemon.process.log.contains("scene log write failed"), "\(daemon.process.log.suffix(2_000))")
    }

    // MARK: Subscriptions

    /// Reads lines until one parses as a message of `type` (skipping heartbeats).
    static func next(_ client: LineClient, timeout: Duration = .seconds(10)) async -> JSONValue? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let line = await client.readLine(timeout: deadline - ContinuousClock.now) else { return nil }
            guard let message = try? JSONValue(parsing: Array(line.utf8)) else {
                Issue.record("not JSON: \(line.prefix(200))")
                return nil
            }
            if message["type"]?.stringValue == "heartbeat" { continue }
            return message
        }
        return nil
    }

    static func connect(_ daemon: APIDaemon) async throws -> LineClient {
        for _ in 0..<50 {
            if let client = try? LineClient(port: daemon.subscriptionsPort) { return client }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("nothing listens on the subscription port \(daemon.subscriptionsPort)")
    }

    @Test func subscribersGetTheSceneThenPatchesThatRebuildIt() async throws {
        let daemon = try await APIDaemon(
            "wall-subscribe", extraConfiguration: Self.configuration, files: ["walls/ops.json": Self.definition(id: "ops")])
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-n1", Self.camera(48.85, 2.30, heading: 0)).status == 201)
        #expect(try await daemon.call("PUT", "/api/v1/cameras/cam-a", Self.camera(48.8600, 2.3490, heading: 90)).status == 201)
        _ = try await Self.scene(daemon, "ops") { $0["cam-n1"] != nil }

        let client = try await Self.connect(daemon)
        client.send(#"{"type":"subscribe","wall":"ops","token":"admin-secret"}"# + "\n")
        guard let first = await Self.next(client), first["type"]?.stringValue == "scene", var replica = first["scene"] else {
            Issue.record("no scene first")
            return
        }
        var seq = first["seq"]?.doubleValue ?? -1
        #expect(replica["seq"]?.doubleValue == seq)
        let now = try await daemon.call("GET", "/api/v1/walls/ops/scene", token: "query-secret")
        #expect(try Self.parse(now.text) == replica, "the first scene is the current one")

        // A change (an incident that cam-a covers) arrives as a patch on the held scene.
        let opened = try await daemon.call(
            "POST", "/api/v1/incidents", #"{"category":"assault","priority":1,"lat":48.8600,"lon":2.3500}"#, token: "ingest-secret")
        #expect(opened.status == 201)
        var patches = 0
        var matched = false
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, !matched {
            guard let message = await Self.next(client, timeout: .seconds(5)) else { break }
            guard message["type"]?.stringValue == "patch" else {
                Issue.record("expected a patch: \(message.encoded().prefix(300))")
                break
            }
            #expect(message["base"]?.doubleValue == seq, "a patch names the held scene as its base")
            replica = try JSONPatch(json: message["patch"] ?? .null).applied(to: replica)
            seq = message["seq"]?.doubleValue ?? -1
            patches += 1
            #expect(replica["seq"]?.doubleValue == seq)
            let current = try await daemon.call("GET", "/api/v1/walls/ops/scene", token: "query-secret")
            let served = try Self.parse(current.text)
            if served["seq"]?.doubleValue == seq {
                #expect(served == replica, "patched replica differs from GET …/scene at seq \(seq)")
                matched = served["tiles"]?["cam-a"] != nil
            }
        }
        #expect(patches >= 1 && matched, "after \(patches) patches the replica has cam-a: \(replica["tiles"]?["cam-a"] != nil)")

        // A display subscription gets that display's view.
        let display = try await Self.connect(daemon)
        display.send(#"{"type":"subscribe","wall":"ops","display":"r0c1","token":"admin-secret"}"# + "\n")
        let view = await Self.next(display)
        #expect(view?["type"]?.stringValue == "scene", "\(view?.encoded().prefix(300) ?? "nothing")")
        #expect(view?["scene"]?["display"]?.stringValue == "r0c1")
        let servedView = try await daemon.call("GET", "/api/v1/walls/ops/scene?display=r0c1", token: "query-secret")
        #expect(try Self.parse(servedView.text) == view?["scene"], "the display stream starts with GET …/scene?display=r0c1")
        #expect(view?["scene"]?["tiles"]?["map"] == nil && view?["scene"]?["canvas"] == nil)

        // A wrong token, a token without the wall's scope, an unknown wall: an error line, then a close.
        for (request, code) in [
            (#"{"type":"subscribe","wall":"ops","token":"wrong-secret"}"#, "unauthorized"),
            (#"{"type":"subscribe","wall":"ops"}"#, "unauthorized"),
            (#"{"type":"subscribe","wall":"ops","token":"ingest-secret"}"#, "forbidden"),
            (#"{"type":"subscribe","wall":"nope","token":"admin-secret"}"#, "not_found"),
            (#"{"type":"subscribe","wall":"ops","display":"r9c9","token":"admin-secret"}"#, "not_found"),
        ] {
            let refused = try await Self.connect(daemon)
            refused.send(request + "\n")
            let error = await Self.next(refused, timeout: .seconds(5))
            #expect(error?["type"]?.stringValue == "error" && error?["code"]?.stringValue == code, "\(request): \(error?.encoded() ?? "nothing")")
            #expect(await refused.isClosed(), "\(request): the connection stays open")
        }
        // The refused ones did not disturb the subscriber: the next change still arrives.
        #expect(try await daemon.call("POST", "/api/v1/walls/ops/pins", #"{"camera":"cam-n1","expiresIn":60,"by":"test"}"#).status == 201)
        var sawPin = false
        while !sawPin, let message = await Self.next(client, timeout: .seconds(5)), message["type"]?.stringValue == "patch" {
            #expect(message["base"]?.doubleValue == seq)
            replica = try JSONPatch(json: message["patch"] ?? .null).applied(to: replica)
            seq = message["seq"]?.doubleValue ?? -1
            sawPin = (replica["tiles"]?["cam-n1"]?["reason"]?.stringValue ?? "").contains("pinned by test")
        }
        #expect(sawPin, "\(replica["tiles"]?["cam-n1"]?.encoded() ?? "no tile")")
        #expect(await daemon.stop() == 0)
    }
}
