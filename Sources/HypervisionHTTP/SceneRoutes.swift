import Hummingbird
import HypervisionCore
import HypervisionStream
import NIOCore

/// `GET /api/v1/walls/{id}/scene`: the current scene (`?display=` for one display's view, in its
/// own pixels), or what the wall showed at a past time (`?at=`, rebuilt from the scene log). A
/// renderer's token (`subscribe:WALL`) or an operator's (`query`) may read it, also as `?token=`.
public struct SceneRoutes<Context: RequestContext>: Sendable {
    let walls: WallService
    let authority: TokenAuthority

    public init(walls: WallService, authority: TokenAuthority) {
        self.walls = walls
        self.authority = authority
    }

    /// How long the first `GET …/scene` of a wall defined a moment ago waits for the round that
    /// lays it out (one interval, normally) before it answers 404.
    var firstRoundWait: Duration { walls.configuration.interval * 2 + .seconds(1) }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.requiring(.wallReader(parameter: "id"), of: authority).get("/api/v1/walls/:id/scene") { request, context in
            let id = try context.parameters.require("id")
            let display = request.uri.queryParameters["display"].map(String.init)
            if let at = request.uri.queryParameters["at"] {
                return try await logged(wall: id, at: String(at), display: display)
            }
            return try await current(wall: id, display: display)
        }
        return routes
    }

    /// The scene now, as the hub holds it (the bytes subscribers were sent).
    func current(wall id: String, display: String?) async throws -> Response {
        guard walls.definition(id: id) != nil else { throw WallServiceError.unknownWall(id) }
        let key = StreamKey(wall: id, display: display)
        if walls.hub.current(StreamKey(wall: id)) == nil {
            // Defined a moment ago: laid out at the next round.
            _ = await walls.settle(within: firstRoundWait)
        }
        guard let current = walls.hub.current(key) else {
            if walls.definition(id: id) == nil { throw WallServiceError.unknownWall(id) }
            throw APIError.notFound("wall \(id) has no display \(display ?? "")")
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: current.encoded)))
    }

    /// What the wall showed at `at`, from the scene log.
    func logged(wall id: String, at: String, display: String?) async throws -> Response {
        let time = try Timestamp.parseStorable(at, field: "at")
        guard display == nil else {
            throw APIError.badRequest("value_invalid", "at= answers for the whole wall; per-display history is not kept")
        }
        guard let scene = try await walls.scene(wall: id, at: time) else {
            throw APIError.notFound("the scene log has nothing for wall \(id) at or before \(at)")
        }
        return JSONDocument(scene).response
    }
}
