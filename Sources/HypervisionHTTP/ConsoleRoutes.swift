import Hummingbird
import HypervisionCore
import HypervisionLayout
import HypervisionStream
import NIOCore

/// What the operators' console reads that the walls API did not answer yet: the pins of a wall
/// (`GET /api/v1/walls/{id}/pins`, `query`), so that a pin whose camera is not on the wall at
/// the moment (more pins than tiles, or an offline camera) can still be seen and removed.
///
/// Everything else the console does goes through the existing endpoints with the operator's
/// token: `GET /api/v1/walls`, `GET|PUT /api/v1/walls/{id}` (a preset is a region's `preset` in
/// the definition), `POST|DELETE …/pins`, `POST|DELETE …/tours`, `GET …/scene?at=`,
/// `GET /api/v1/cameras`.
public struct ConsoleRoutes<Context: RequestContext>: Sendable {
    let walls: WallService
    let authority: TokenAuthority

    public init(walls: WallService, authority: TokenAuthority) {
        self.walls = walls
        self.authority = authority
    }

    public func addRoutes(to router: Router<Context>) {
        router.get("/api/v1/walls/:id/pins") { request, context in
            if let refusal = authority.refusal(of: request, for: .query) { return refusal }
            let id = try context.parameters.require("id")
            guard walls.definition(id: id) != nil else { return APIError.response(.notFound, "not_found", "no wall \(id)") }
            let pins = walls.pins(wall: id).map(WallRoutes<Context>.pinJSON)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(["pins": .array(pins)]).encoded())))
        }
    }
}
