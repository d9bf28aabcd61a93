import Hummingbird
import HypervisionCore
import HypervisionLayout
import HypervisionStream
import NIOCore
import Foundation

/// Every HTTP route of the walls, by concern: definitions (``WallDefinitionRoutes``), scenes now
/// and from the log (``SceneRoutes``), operator pins and tours (``OperatorRoutes``) and the live
/// preview page (``WallPreviewRoutes``). The WebSocket stream is ``WallStreamRoutes``.
///
/// No handler computes a layout: definitions and operator actions are recorded with the
/// ``WallService``, and its round loop puts them on the walls at its next round.
public struct WallRoutes<Context: RequestContext>: Sendable {
    let walls: WallService
    let authority: TokenAuthority
    public var maximumDefinitionBytes = 256 * 1024

    public init(walls: WallService, authority: TokenAuthority) {
        self.walls = walls
        self.authority = authority
    }

    public func addRoutes(to router: Router<Context>) {
        var definitions = WallDefinitionRoutes<Context>(walls: walls, authority: authority)
        definitions.maximumDefinitionBytes = maximumDefinitionBytes
        router.addRoutes(definitions.routes)
        router.addRoutes(SceneRoutes<Context>(walls: walls, authority: authority).routes)
        router.addRoutes(OperatorRoutes<Context>(walls: walls, authority: authority).routes)
        router.addRoutes(WallPreviewRoutes<Context>().routes)
    }
}

/// Wall definitions: `GET /api/v1/walls` and `GET /api/v1/walls/{id}` (`query`),
/// `PUT` and `DELETE /api/v1/walls/{id}` (`admin`). A definition is checked, then stored, then
/// recorded: a wall that could not be stored would vanish at the next restart, so it is not put
/// on the walls before.
public struct WallDefinitionRoutes<Context: RequestContext>: Sendable {
    let walls: WallService
    let authority: TokenAuthority
    public var maximumDefinitionBytes = 256 * 1024

    public init(walls: WallService, authority: TokenAuthority) {
        self.walls = walls
        self.authority = authority
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let query = routes.requiring(.scope(.query), of: authority)
        let admin = routes.requiring(.scope(.admin), of: authority)
        query.get("/api/v1/walls") { _, _ in
            WallList(walls: walls.wallIDs.compactMap { id in
                walls.definition(id: id).map { WallList.Item(id: id, title: AnyJSON($0.json["title"] ?? .null), origin: Self.originText($0.origin)) }
            })
        }
        admin.put("/api/v1/walls/:id") { request, context in try await put(request, context) }
        query.get("/api/v1/walls/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let (json, origin) = walls.definition(id: id) else { throw WallServiceError.unknownWall(id) }
            return DefinitionBody(definition: AnyJSON(json), origin: Self.originText(origin))
        }
        admin.delete("/api/v1/walls/:id") { _, context in
            let id = try context.parameters.require("id")
            // Forgotten in the database first: a wall removed from the walls but still stored
            // would come back at the next restart.
            switch walls.definition(id: id)?.origin {
            case nil: throw WallServiceError.unknownWall(id)
            case .file(let path)?: throw WallServiceError.definedByFile(id, path: path)
            default: break
            }
            try await walls.forget(id: id)
            try walls.remove(id: id)
            return HTTPResponse.Status.noContent
        }
        return routes
    }

    func put(_ request: Request, _ context: Context) async throws -> EditedResponse<Summary> {
        let id = try context.parameters.require("id")
        let rules = JSONBodyRules(
            limit: maximumDefinitionBytes, tooLarge: "a wall definition is at most \(maximumDefinitionBytes) bytes", invalid: { $0 },
            notAnObject: ("not_an_object", "a wall definition is a JSON object"))
        var object = try await request.jsonObject(rules).object
        if let bodyID = object["id"]?.stringValue, bodyID != id {
            throw APIError.badRequest("value_invalid", "the body's id \"\(bodyID)\" differs from the path's \"\(id)\"")
        }
        object["id"] = .string(id)
        let definition = JSONValue.object(object)
        // PostgreSQL's jsonb holds no NUL, and no wall needs a control character.
        if let (path, text) = Self.firstControlCharacter(in: definition) {
            try InputText.check(text, field: "the wall definition at \(path.isEmpty ? "/" : path)")
        }
        try walls.checkChangeable(id: id)
        do throws(WallDefinitionError) {
            _ = try WallDefinition.compile(json: definition)
        } catch {
            throw WallServiceError.invalid(error)
        }
        let existed = walls.definition(id: id) != nil
        try await walls.save(id: id, definition: definition)
        let layout = try walls.define(json: definition, origin: .api)
        return EditedResponse(status: existed ? .ok : .created, response: Summary(layout))
    }

    static func originText(_ origin: WallOrigin) -> String {
        switch origin {
        case .api: return "api"
        case .file(let path): return "file:" + path
        }
    }

    /// The first string (key or value) of `value` holding a control character, with its JSON
    /// pointer; nil when there is none.
    static func firstControlCharacter(in value: JSONValue, path: String = "") -> (String, String)? {
        switch value {
        case .string(let text):
            return InputText.isClean(text) ? nil : (path, text)
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = firstControlCharacter(in: item, path: path + "/\(index)") { return found }
            }
            return nil
        case .object(let members):
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                let here = path + "/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                if !InputText.isClean(key) { return (here, key) }
                if let found = firstControlCharacter(in: member, path: here) { return found }
            }
            return nil
        default:
            return nil
        }
    }

    // MARK: Bodies

    /// `GET /api/v1/walls`: every wall with its title and origin (`api`, or `file:PATH`).
    struct WallList: JSONResponseBody {
        struct Item: Encodable, Sendable {
            var id: String
            /// As the definition gives it; `null` when it has none.
            var title: AnyJSON
            var origin: String
        }
        var walls: [Item]
    }

    /// `GET /api/v1/walls/{id}`: the definition as given, and its origin.
    struct DefinitionBody: JSONResponseBody {
        var definition: AnyJSON
        var origin: String
    }

    /// The answer to `PUT`: the compiled wall's canvas, displays and regions.
    struct Summary: JSONResponseBody {
        struct Size: Encodable, Sendable {
            var width: Int
            var height: Int
        }
        struct Region: Encodable, Sendable {
            var slots: Int
        }
        var id: String
        var canvas: Size
        var displays: [String]
        var regions: [String: Region]

        init(_ layout: WallLayout) {
            id = layout.definition.id
            canvas = Size(width: Int(layout.canvasWidth), height: Int(layout.canvasHeight))
            displays = layout.displays.map(\.id)
            regions = Dictionary(uniqueKeysWithValues: layout.regions.map { ($0.region.id, Region(slots: $0.slots.count)) })
        }
    }
}

/// The live preview: a page served from the binary (a command room has no internet), with its
/// script and style. No token: the page asks for one (`?token=`) when it subscribes.
public struct WallPreviewRoutes<Context: RequestContext>: Sendable {
    public init() {}

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("/walls/:id") { _, _ in Self.asset(PackageResources.wall_html, type: "text/html; charset=utf-8") }
        routes.get("/walls/assets/wall.js") { _, _ in Self.asset(PackageResources.wall_js, type: "text/javascript; charset=utf-8") }
        routes.get("/walls/assets/wall.css") { _, _ in Self.asset(PackageResources.wall_css, type: "text/css; charset=utf-8") }
        return routes
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
