import Hummingbird
import HTTPTypes
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import HypervisionCore
import HypervisionLayout
import HypervisionNetwork
import HypervisionStream
import NIOCore
import NIOSSL
import Synchronization

/// Walls: definitions (`PUT/GET/DELETE /api/v1/walls/{id}`), the current or past scene
/// (`GET /api/v1/walls/{id}/scene?display=&at=`), operator pins and guard tours, and the live
/// preview page (`/walls/{id}`).
public struct WallRoutes<Context: RequestContext>: Sendable {
    let walls: WallService
    let authority: TokenAuthority
    public var maximumDefinitionBytes = 256 * 1024

    public init(walls: WallService, authority: TokenAuthority) {
        self.walls = walls
        self.authority = authority
    }

    /// A renderer's token (`subscribe:WALL`) or an operator's (`query`) may read scenes.
    func sceneRefusal(_ request: Request, wall: String) -> Response? {
        let secret = TokenAuthority.bearer(request.headers[.authorization]) ?? request.uri.queryParameters["token"].map(String.init)
        if case .allowed = authority.authorize(secret: secret, for: .subscribe(wall: wall)) { return nil }
        switch authority.authorize(secret: secret, for: .query) {
        case .allowed: return nil
        case .unauthenticated(let reason): return APIError.response(.unauthorized, "unauthorized", reason)
        case .forbidden: return APIError.response(.forbidden, "forbidden", "the token lacks subscribe:\(wall) and query")
        }
    }

    public func addRoutes(to router: Router<Context>) {
        router.get("/api/v1/walls") { request, _ in
            if let refusal = authority.refusal(of: request, for: .query) { return refusal }
            let items: [JSONValue] = walls.wallIDs.map { id in
                var item: [String: JSONValue] = ["id": .string(id)]
                if let (json, origin) = walls.definition(id: id) {
                    item["title"] = json["title"] ?? .null
                    item["origin"] = .string(Self.originText(origin))
                }
                return .object(item)
            }
            return Self.json(.object(["walls": .array(items)]))
        }
        router.put("/api/v1/walls/:id") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumDefinitionBytes)
            } catch {
                return APIError.response(.contentTooLarge, "body_too_large", "a wall definition is at most \(maximumDefinitionBytes) bytes")
            }
            var definition: JSONValue
            do {
                definition = try JSONValue(parsing: body.readableBytesView)
            } catch {
                return APIError.response(.badRequest, "json_invalid", "\(error)")
            }
            guard var object = definition.objectValue else {
                return APIError.response(.badRequest, "not_an_object", "a wall definition is a JSON object")
            }
            if let bodyID = object["id"]?.stringValue, bodyID != id {
                return APIError.response(.badRequest, "value_invalid", "the body's id \"\(bodyID)\" differs from the path's \"\(id)\"")
            }
            object["id"] = .string(id)
            definition = .object(object)
            // PostgreSQL's jsonb holds no NUL, and no wall needs a control character.
            if let (path, text) = Self.firstControlCharacter(in: definition) {
                do throws(ValidationError) {
                    try InputText.check(text, field: "the wall definition at \(path.isEmpty ? "/" : path)")
                } catch {
                    return APIError.response(.badRequest, error.code.rawValue, error.message)
                }
            }
            let previous = walls.definition(id: id)
            if case .file(let path)? = previous?.origin {
                return Self.response(for: .definedByFile(id, path: path))
            }
            do throws(WallDefinitionError) {
                // Checked, then stored, then shown: a wall that could not be stored would
                // vanish at the next restart, so it is not put on the walls before.
                _ = try WallDefinition.compile(json: definition)
            } catch {
                return Self.response(for: .invalid(error))
            }
            try await walls.save(id: id, definition: definition)
            do {
                let layout = try walls.define(json: definition, origin: .api)
                return Self.json(Self.summary(layout), status: previous != nil ? .ok : .created)
            } catch let error as WallServiceError {
                return Self.response(for: error)
            }
        }
        router.get("/api/v1/walls/:id") { request, context in
            if let refusal = authority.refusal(of: request, for: .query) { return refusal }
            let id = try context.parameters.require("id")
            guard let (json, origin) = walls.definition(id: id) else { return APIError.response(.notFound, "not_found", "no wall \(id)") }
            return Self.json(.object(["definition": json, "origin": .string(Self.originText(origin))]))
        }
        router.delete("/api/v1/walls/:id") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            // Forgotten in the database first: a wall removed from the walls but still stored
            // would come back at the next restart.
            switch walls.definition(id: id)?.origin {
            case nil: return Self.response(for: .unknownWall(id))
            case .file(let path)?: return Self.response(for: .definedByFile(id, path: path))
            default: break
            }
            try await walls.forget(id: id)
            do {
                try walls.remove(id: id)
                return Response(status: .noContent)
            } catch let error as WallServiceError {
                return Self.response(for: error)
            }
        }
        router.get("/api/v1/walls/:id/scene") { request, context in
            let id = try context.parameters.require("id")
            if let refusal = sceneRefusal(request, wall: id) { return refusal }
            let display = request.uri.queryParameters["display"].map(String.init)
            if let at = request.uri.queryParameters["at"] {
                let time: Timestamp
                do throws(ValidationError) {
                    time = try Timestamp.parseStorable(at, field: "at")
                } catch {
                    return APIError.response(.badRequest, error.code.rawValue, error.message)
                }
                guard display == nil else {
                    return APIError.response(.badRequest, "value_invalid", "at= answers for the whole wall; per-display history is not kept")
                }
                guard let scene = try await walls.scene(wall: id, at: time) else {
                    return APIError.response(.notFound, "not_found", "the scene log has nothing for wall \(id) at or before \(at)")
                }
                return Self.json(scene)
            }
            guard let current = walls.hub.current(StreamKey(wall: id, display: display)) else {
                if walls.definition(id: id) == nil { return APIError.response(.notFound, "not_found", "no wall \(id)") }
                return APIError.response(.notFound, "not_found", "wall \(id) has no display \(display ?? "")")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: current.encoded)))
        }
        router.post("/api/v1/walls/:id/pins") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            let object: [String: JSONValue]
            switch await Self.object(request) {
            case .success(let value): object = value
            case .failure(let refusal): return refusal.response
            }
            guard let camera = object["camera"]?.stringValue, !camera.isEmpty else {
                return APIError.response(.badRequest, "field_missing", "camera is required")
            }
            let now = Timestamp.now()
            var expires: Timestamp?
            if let seconds = object["expiresIn"]?.doubleValue {
                guard seconds > 0, seconds <= 7 * 86_400 else {
                    return APIError.response(.badRequest, "value_invalid", "expiresIn must be 1 s to 7 days")
                }
                expires = now.adding(seconds: seconds)
            }
            for (field, text) in [("camera", camera), ("region", object["region"]?.stringValue), ("by", object["by"]?.stringValue)] {
                guard let text else { continue }
                do throws(ValidationError) {
                    try InputText.check(text, field: field)
                } catch {
                    return APIError.response(.badRequest, error.code.rawValue, error.message)
                }
            }
            let pin = Pin(camera: camera, region: object["region"]?.stringValue, pinnedAt: now, expiresAt: expires, pinnedBy: object["by"]?.stringValue)
            do {
                try walls.pin(wall: id, pin)
            } catch let error as WallServiceError {
                return Self.response(for: error)
            }
            return Self.json(.object(["pins": .array(walls.pins(wall: id).map(Self.pinJSON))]), status: .created)
        }
        router.delete("/api/v1/walls/:id/pins/:camera") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            let camera = try context.parameters.require("camera")
            do {
                guard try walls.unpin(wall: id, camera: camera) else {
                    return APIError.response(.notFound, "not_found", "camera \(camera) is not pinned on wall \(id)")
                }
            } catch let error as WallServiceError {
                return Self.response(for: error)
            }
            return Response(status: .noContent)
        }
        router.post("/api/v1/walls/:id/tours") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            let object: [String: JSONValue]
            switch await Self.object(request) {
            case .success(let value): object = value
            case .failure(let refusal): return refusal.response
            }
            guard let tourID = object["id"]?.stringValue, !tourID.isEmpty else { return APIError.response(.badRequest, "field_missing", "id is required") }
            guard let cameras = object["cameras"]?.arrayValue?.compactMap(\.stringValue), !cameras.isEmpty, cameras.count <= 1_000 else {
                return APIError.response(.badRequest, "value_invalid", "cameras must be a list of 1 to 1000 camera ids")
            }
            for (field, text) in [("id", tourID), ("region", object["region"]?.stringValue)] + cameras.map({ ("cameras", $0) }) {
                guard let text else { continue }
                do throws(ValidationError) {
                    try InputText.check(text, field: field)
                } catch {
                    return APIError.response(.badRequest, error.code.rawValue, error.message)
                }
            }
            let dwell = object["dwellSeconds"]?.doubleValue ?? 10
            guard dwell >= 1, dwell <= 3_600 else { return APIError.response(.badRequest, "value_invalid", "dwellSeconds must be 1 to 3600") }
            do {
                try walls.startTour(
                    wall: id, GuardTour(id: tourID, cameras: cameras, dwellSeconds: dwell, startedAt: .now(), region: object["region"]?.stringValue))
            } catch let error as WallServiceError {
                return Self.response(for: error)
            }
            return Response(status: .created)
        }
        router.delete("/api/v1/walls/:id/tours/:tour") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            let tour = try context.parameters.require("tour")
            do {
                guard try walls.stopTour(wall: id, tour: tour) else { return APIError.response(.notFound, "not_found", "no tour \(tour) on wall \(id)") }
            } catch let error as WallServiceError {
                return Self.response(for: error)
            }
            return Response(status: .noContent)
        }
        // The live preview: a page served from the binary (a command room has no internet).
        router.get("/walls/:id") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.wall_html)))
        }
        router.get("/walls/assets/wall.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.wall_js)))
        }
        router.get("/walls/assets/wall.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.wall_css)))
        }
    }

    static func originText(_ origin: WallService.Origin) -> String {
        switch origin {
        case .api: return "api"
        case .file(let path): return "file:" + path
        }
    }

    static func pinJSON(_ pin: Pin) -> JSONValue {
        var object: [String: JSONValue] = ["camera": .string(pin.camera), "pinnedAt": .string(pin.pinnedAt.rfc3339)]
        if let region = pin.region { object["region"] = .string(region) }
        if let expires = pin.expiresAt { object["expiresAt"] = .string(expires.rfc3339) }
        if let by = pin.pinnedBy { object["by"] = .string(by) }
        return .object(object)
    }

    static func summary(_ layout: WallLayout) -> JSONValue {
        .object([
            "id": .string(layout.definition.id),
            "canvas": .object(["width": .number(Double(layout.canvasWidth)), "height": .number(Double(layout.canvasHeight))]),
            "displays": .array(layout.displays.map { .string($0.id) }),
            "regions": .object(Dictionary(uniqueKeysWithValues: layout.regions.map { ($0.region.id, JSONValue.object(["slots": .number(Double($0.slots.count))])) })),
        ])
    }

    static func response(for error: WallServiceError) -> Response {
        switch error {
        case .unknownWall: return APIError.response(.notFound, "not_found", error.description)
        case .definedByFile: return APIError.response(.conflict, "defined_by_file", error.description)
        case .invalid(let problems):
            let body = JSONValue.object([
                "error": .object([
                    "code": .string("wall_invalid"),
                    "message": .string(problems.description),
                    "problems": .array(problems.problems.map { .object(["code": .string($0.code.rawValue), "path": .string($0.path), "message": .string($0.message)]) }),
                ])
            ])
            return json(body, status: .badRequest)
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

    static func object(_ request: Request) async -> Result<[String: JSONValue], ResponseError> {
        guard let body = try? await request.body.collect(upTo: 16 * 1024) else {
            return .failure(ResponseError(APIError.response(.contentTooLarge, "body_too_large", "the body is larger than 16384 bytes")))
        }
        guard let value = try? JSONValue(parsing: body.readableBytesView), let object = value.objectValue else {
            return .failure(ResponseError(APIError.response(.badRequest, "json_invalid", "the body must be a JSON object")))
        }
        return .success(object)
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.encoded())))
    }
}

/// The scene stream over WebSocket (`/api/v1/walls/{id}/stream`): the same messages as the TCP
/// port, one per text message. The token may come in the subscribe message, `?token=` or a
/// bearer header (browsers cannot set headers on a WebSocket).
///
/// The subscribe message must arrive within ``subscribeTimeout`` of the upgrade (it carries the
/// token: this is the stream's authentication deadline). Every refusal is sent as an `error`
/// message before the connection closes.
public struct WallStreamRoutes: Sendable {
    let hub: SceneHub
    let authority: TokenAuthority
    /// The HTTP port's admission; its metrics count the streams closed for want of a subscribe.
    let gate: ConnectionGate
    /// Bytes queued for one WebSocket beyond which it counts as not writable (the hub skips it
    /// ahead to a fresh scene once it drains).
    public var highWaterBytes = 256 * 1024
    /// The subscribe message must arrive within this time of the upgrade.
    public var subscribeTimeout: Duration = .seconds(10)
    /// How long the lines already queued (an `error`) may take to go out once the client's
    /// side has ended, before the connection is closed anyway.
    public var drainTimeout: Duration = .seconds(5)

    public init(hub: SceneHub, authority: TokenAuthority, gate: ConnectionGate) {
        self.hub = hub
        self.authority = authority
        self.gate = gate
    }

    /// The HTTP server of the API port: HTTP/1.1 with the WebSocket upgrade for scene streams,
    /// behind the port's admission and per-phase deadlines (see ``GuardedHTTPChannel``), with
    /// TLS when `tls` is set.
    public func serverBuilder(deadlines: HTTPPhaseMachine.Deadlines, tls: TLSConfiguration?) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            // No idle timeout of Hummingbird's: the deadline handler owns every phase.
            let upgrade = HTTP1WebSocketUpgradeChannel(
                responder: responder, configuration: .init(http1: .init(idleTimeout: nil)),
                shouldUpgrade: { head, _, _ in self.shouldUpgrade(head) })
            if let tls {
                return GuardedHTTPChannel(
                    base: try TLSChannel(upgrade, tlsConfiguration: tls), gate: gate, deadlines: deadlines, plainText: false)
            }
            return GuardedHTTPChannel(base: upgrade, gate: gate, deadlines: deadlines, plainText: true)
        }
    }

    /// Upgrades `GET /api/v1/walls/{id}/stream`; anything else stays HTTP.
    func shouldUpgrade(_ head: HTTPRequest) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard head.method == .get, let target = head.path else { return .dontUpgrade }
        let uri = URI(target)
        let parts = uri.path.split(separator: "/")
        guard parts.count == 5, parts[0] == "api", parts[1] == "v1", parts[2] == "walls", parts[4] == "stream" else { return .dontUpgrade }
        let wall = String(parts[3])
        let queryToken = uri.queryParameters["token"].map(String.init)
        let headerToken = TokenAuthority.bearer(head.headerFields[.authorization])
        return .upgrade([:]) { inbound, outbound, _ in
            try await serve(wall: wall, token: queryToken ?? headerToken, inbound: inbound, outbound: outbound)
        }
    }

    /// Set once, read from another task.
    private final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// Which part of a stream's connection ended.
    private enum Ended: Sendable {
        /// Everything the hub queued is sent and the queue is closed (refused, slow, shutting
        /// down), or the client is gone.
        case writer
        /// The client's side ended (it left), or the subscribe message was refused.
        case reader
        case subscribeDeadline
        case drainDeadline
    }

    private func serve(wall: String, token: String?, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let sink = WebSocketSink(highWaterBytes: highWaterBytes)
        let heardFrom = Flag()
        let timeout = subscribeTimeout
        let gate = self.gate
        try await withThrowingTaskGroup(of: Ended.self) { group in
            // Writer: drains the sink's queue into the socket; ends when the queue is closed and
            // empty. Never cancelled while there is a line to send, so a refusal's `error` line
            // always goes out before the close.
            group.addTask {
                for await line in sink.lines {
                    var text = String(decoding: line, as: UTF8.self)
                    if text.hasSuffix("\n") { text.removeLast() }
                    try await outbound.write(.text(text))
                    sink.sent(line.count)
                }
                return .writer
            }
            // Reader: the first message subscribes; later ones are ignored. Ends when the client leaves.
            group.addTask {
                var subscription: SceneHub.SubscriptionID?
                defer {
                    if let subscription { hub.unsubscribe(subscription) }
                    sink.close()
                }
                for try await message in inbound.messages(maxSize: SubscribeRequest.defaultMaximumLineBytes) {
                    guard subscription == nil else { continue }
                    heardFrom.set()
                    guard let request = subscribeRequest(message, wall: wall, token: token, sink: sink) else { return .reader }
                    switch hub.subscribe(request, sink: sink) {
                    case .success(let id):
                        subscription = id
                        sink.onWritabilityChange = { [hub] writable in hub.writabilityChanged(id, writable: writable) }
                    case .failure(let error):
                        sink.refuse(error)
                        return .reader
                    }
                }
                return .reader
            }
            // The subscribe message (with its token) must come in time.
            group.addTask {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled && !heardFrom.isSet {
                    gate.deadlineExpired(.firstMessage)
                    sink.refuse(StreamError(code: .badRequest, message: "no subscribe message within \(timeout.components.seconds) s"))
                }
                return .subscribeDeadline
            }
            while let ended = try await group.next() {
                switch ended {
                case .writer, .drainDeadline:
                    group.cancelAll()
                    return
                case .reader:
                    // Whatever was queued (a refusal) still goes out, for a bounded time.
                    sink.close()
                    let drain = drainTimeout
                    group.addTask {
                        try? await Task.sleep(for: drain)
                        return .drainDeadline
                    }
                case .subscribeDeadline:
                    continue
                }
            }
        }
    }

    /// The subscribe request of a first message, or nil after refusing it on the sink.
    private func subscribeRequest(_ message: WebSocketMessage, wall: String, token: String?, sink: WebSocketSink) -> SubscribeRequest? {
        guard case .text(let text) = message else {
            sink.refuse(StreamError(code: .badRequest, message: "the subscribe message must be a text message"))
            return nil
        }
        var request: SubscribeRequest
        do throws(StreamError) {
            request = try SubscribeRequest(line: Array(text.utf8))
        } catch {
            sink.refuse(error)
            return nil
        }
        guard request.wall == wall else {
            sink.refuse(StreamError(code: .badRequest, message: "this stream is for wall \(wall), not \(request.wall)"))
            return nil
        }
        request.token = request.token ?? token
        switch authority.authorize(secret: request.token, for: .subscribe(wall: wall)) {
        case .allowed:
            return request
        case .unauthenticated(let why):
            sink.refuse(StreamError(code: .unauthorized, message: why))
        case .forbidden(let why):
            sink.refuse(StreamError(code: .forbidden, message: why))
        }
        return nil
    }
}

/// A WebSocket subscriber's queue: the hub appends lines; the connection's writer task sends them.
final class WebSocketSink: SceneSink {
    struct State {
        var pending = 0
        var writable = true
        var closed = false
    }
    let lines: AsyncStream<[UInt8]>
    private let continuation: AsyncStream<[UInt8]>.Continuation
    private let state = Mutex(State())
    private let highWaterBytes: Int
    private let callback = Mutex<(@Sendable (Bool) -> Void)?>(nil)

    init(highWaterBytes: Int) {
        self.highWaterBytes = highWaterBytes
        (lines, continuation) = AsyncStream.makeStream(of: [UInt8].self)
    }

    var onWritabilityChange: (@Sendable (Bool) -> Void)? {
        get { callback.withLock { $0 } }
        set { callback.withLock { $0 = newValue } }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    func send(_ line: [UInt8]) {
        let change: Bool? = state.withLock { state in
            guard !state.closed else { return nil }
            state.pending += line.count
            if state.writable && state.pending > highWaterBytes {
                state.writable = false
                return false
            }
            return nil
        }
        continuation.yield(line)
        if let change { onWritabilityChange?(change) }
    }

    /// The writer sent `bytes` of the queue.
    func sent(_ bytes: Int) {
        let change: Bool? = state.withLock { state in
            state.pending -= bytes
            if !state.writable && state.pending <= highWaterBytes / 4 {
                state.writable = true
                return true
            }
            return nil
        }
        if let change { onWritabilityChange?(change) }
    }

    func refuse(_ error: StreamError) {
        send(WireLine.error(error))
        close()
    }

    func close() {
        state.withLock { $0.closed = true }
        continuation.finish()
    }
}
