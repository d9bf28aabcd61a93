import Hummingbird
import HummingbirdTesting
import HypervisionCore
import HypervisionHTTP
import HypervisionLayout
import HypervisionStore
import HypervisionStream
import HypervisionTestSupport
import Logging
import NIOCore
import Synchronization
import Testing

/// Tokens for every scope. Secrets: `admin-secret`, `query-secret`, `ingest-secret`, and
/// `renderer-secret` (`subscribe:ops` only).
enum Tokens {
    static let authority = TokenAuthority(tokens: [
        token("ops", "admin-secret", "admin"), token("viewer", "query-secret", "query"), token("feeder", "ingest-secret", "ingest"),
        token("renderer", "renderer-secret", "subscribe:ops"),
    ])

    static func token(_ name: String, _ secret: String, _ scopes: String) -> AccessToken {
        try! AccessToken(specification: "\(name):\(AccessToken.hash(secret: secret)):\(scopes)")
    }
}

/// One answer, with what contract checks look at.
struct Answer: CustomStringConvertible {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String
    var json: JSONValue? { try? JSONValue(parsing: Array(text.utf8)) }
    /// `error.code` of the documented error body, nil when the body is not one.
    var errorCode: String? {
        guard let error = json?["error"], error["message"]?.stringValue != nil, json?.objectValue?.count == 1 else { return nil }
        return error["code"]?.stringValue
    }
    var description: String { "\(status.code) \(text.prefix(400))" }
}

extension TestClientProtocol {
    /// One request; `token` goes as a bearer header.
    func call(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil, token: String? = "admin-secret", contentType: String = "application/json")
        async throws -> Answer
    {
        var headers: HTTPFields = [.contentType: contentType]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Answer(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }
}

/// The API's router as the daemon builds it: the error middleware first, then the routes.
func apiRouter(_ add: (Router<BasicRequestContext>) -> Void) -> Router<BasicRequestContext> {
    let router = Router()
    router.add(middleware: APIErrorMiddleware())
    add(router)
    return router
}

/// A 2-display wall: a map on r0c0, a 2x2 camera region on r0c1.
func wallDefinition(_ id: String, title: String = "Ops test wall", preset: String = "2x2") -> String {
    """
    {"id": "\(id)", "title": "\(title)",
     "displays": {"rows": 1, "columns": 2,
                  "default": {"width": 1920, "height": 1080, "widthMm": 1209.6, "heightMm": 680.4, "bezelMm": 1.5}},
     "regions": [
       {"id": "map", "area": {"row": 0, "column": 0}, "kind": "map", "viewport": {"west": 2.25, "south": 48.81, "east": 2.42, "north": 48.91}},
       {"id": "cams", "area": {"row": 0, "column": 1}, "kind": "cameras", "preset": "\(preset)", "sources": ["cam-n1"]}
     ],
     "tuning": {"minimumDwellSeconds": 0}}
    """
}

/// A wall service on an in-memory log, laying out from a fixed live picture with one camera.
func makeWalls(interval: Duration = .milliseconds(20)) -> WallService {
    var configuration = WallService.Configuration()
    configuration.interval = interval
    let camera = CameraState(
        camera: Camera(
            id: "cam-x", name: "Far camera", position: GeoPoint(latitude: 48.95, longitude: 2.10), heading: 0, fieldOfView: 60, range: 200,
            streams: [Camera.Stream(transport: .hls, quality: "main", url: "http://vms.local/x.m3u8")], status: .online),
        statusSince: .now().adding(seconds: -3_600))
    return WallService(
        configuration: configuration, hub: SceneHub(), log: MemorySceneLog(), logger: Logger(label: "http-tests"),
        inputs: { _ in LiveInputs(cameras: ["cam-x": camera], camerasRevision: 1) })
}
