import Foundation
import Hummingbird
import HypervisionCore
import HypervisionLive
import HypervisionStore
import NIOCore

/// Limits and policy of the camera endpoints.
public struct CameraAPIConfiguration: Sendable, Hashable {
    public var maximumBodyBytes = 64 * 1024
    public var maximumImportBytes = 16 << 20
    public var maximumImportFeatures = 50_000
    /// How long a reported `offline` must last before it counts (see ``StoredCamera``).
    public var offlineGraceSeconds: Double = 30
    public init() {}
}

/// Cameras: `PUT/GET/DELETE /api/v1/cameras/{id}`, `PATCH /api/v1/cameras/{id}/status`,
/// `POST|GET /api/v1/cameras/{id}/events` and `POST /api/v1/cameras/import` (a GeoJSON
/// FeatureCollection, as municipalities publish them).
///
/// Operators define cameras (`admin`) and read them (`query`); video management systems and
/// analytics servers report status and events with a machine credential (`ingest`).
public struct CameraRoutes<Context: RequestContext>: Sendable {
    let store: CameraStore
    let authority: TokenAuthority
    let configuration: CameraAPIConfiguration
    let validator = CameraValidator()
    let eventValidator = CameraEventValidator()
    /// Where an analytics event that asks for an incident opens it; nil refuses such events.
    let incidents: IncidentDesk?
    /// Told of every committed change, so walls and queries see it at once.
    let live: LiveState?
    let now: @Sendable () -> Timestamp

    public init(
        store: CameraStore, authority: TokenAuthority, configuration: CameraAPIConfiguration = .init(),
        incidents: IncidentDesk? = nil, live: LiveState? = nil, now: @escaping @Sendable () -> Timestamp = { .now() }
    ) {
        self.store = store
        self.authority = authority
        self.configuration = configuration
        self.incidents = incidents
        self.live = live
        self.now = now
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let admin = routes.requiring(.scope(.admin), of: authority)
        let query = routes.requiring(.scope(.query), of: authority)
        let ingest = routes.requiring(.scope(.ingest), of: authority)
        admin.put("/api/v1/cameras/:id") { request, context in try await put(request, context) }
        query.get("/api/v1/cameras/:id") { _, context in
            guard let id = pathID(context), let stored = try await store.get(id: id) else {
                throw APIError.notFound("no camera \(describePathID(context))")
            }
            return JSONDocument(feature(stored))
        }
        admin.delete("/api/v1/cameras/:id") { _, context in
            guard let id = pathID(context), try await store.delete(id: id) else {
                throw APIError.notFound("no camera \(describePathID(context))")
            }
            live?.removeCamera(id: id)
            return HTTPResponse.Status.noContent
        }
        ingest.patch("/api/v1/cameras/:id/status") { request, context in
            let body = try await request.decode(StatusChange.self, .standard(limit: 4096))
            guard let id = pathID(context), let stored = try await store.updateStatus(id: id, to: body.status, at: now()) else {
                throw APIError.notFound("no camera \(describePathID(context))")
            }
            live?.upsert(camera: stored.camera, statusSince: stored.statusSince)
            return JSONDocument(feature(stored))
        }
        ingest.post("/api/v1/cameras/:id/events") { request, context in try await addEvent(request, context) }
        query.get("/api/v1/cameras/:id/events") { _, context in
            guard let id = pathID(context), try await store.get(id: id) != nil else {
                throw APIError.notFound("no camera \(describePathID(context))")
            }
            return EventList(events: try await store.activeEvents(at: now(), cameraID: id).map { EventBody($0, now: now()) })
        }
        admin.post("/api/v1/cameras/import") { request, _ in try await importCollection(request) }
        return routes
    }

    public func addRoutes(to router: Router<Context>) {
        router.addRoutes(routes)
    }

    func feature(_ stored: StoredCamera) -> JSONValue {
        CameraJSON.feature(stored, now: now(), grace: configuration.offlineGraceSeconds)
    }

    func put(_ request: Request, _ context: Context) async throws -> JSONDocument {
        let id = try context.parameters.require("id")
        let fields = try await request.jsonObject(.standard(limit: configuration.maximumBodyBytes))
        var raw = try CameraJSON.raw(from: fields)
        if let bodyID = raw.id, bodyID != id {
            throw APIError.badRequest("value_invalid", "the body's id \"\(bodyID.prefix(64))\" differs from the path's \"\(id.prefix(64))\"")
        }
        raw.id = id
        let camera = try validator.validate(raw)
        let created = try await store.upsert(camera, at: now())
        guard let stored = try await store.get(id: camera.id) else { throw HTTPError(.internalServerError) }
        live?.upsert(camera: stored.camera, statusSince: stored.statusSince)
        return JSONDocument(feature(stored), status: created ? .created : .ok)
    }

    func addEvent(_ request: Request, _ context: Context) async throws -> EditedResponse<EventBody> {
        let body = try await request.decode(EventReport.self, .standard(limit: 16 * 1024))
        guard let id = pathID(context) else { throw APIError.notFound("no camera \(describePathID(context))") }
        var event = try eventValidator.validate(
            cameraID: id, kind: body.kind, label: body.label, confidence: body.confidence, time: body.time, ttlSeconds: body.ttl, now: now())
        // Checked before anything is stored: a bad incident must not leave an event behind.
        let incidentRaw = try body.incident()
        if incidentRaw != nil, incidents == nil {
            throw APIError.badRequest("value_invalid", "incidents are not enabled on this daemon")
        }
        guard let camera = try await store.get(id: id) else { throw APIError.notFound("no camera \(id)") }
        // An analytics alarm may open an incident at the camera's position (or where it says).
        if var raw = incidentRaw, let incidents {
            raw.latitude = raw.latitude ?? camera.camera.position.latitude
            raw.longitude = raw.longitude ?? camera.camera.position.longitude
            raw.source = raw.source ?? Incident.Source.cameraAnalytics.rawValue
            raw.summary = raw.summary ?? event.label.map { "\($0) (camera \(id))" }
            let opened = try await incidents.open(try incidents.validator.validate(raw, now: now()))
            event.incidentID = opened.id
        }
        guard let stored = try await store.add(event) else { throw APIError.notFound("no camera \(id)") }
        live?.add(event: stored)
        return EditedResponse(status: .created, response: EventBody(stored, now: now()))
    }

    func importCollection(_ request: Request) async throws -> ImportReport {
        let fields = try await request.jsonObject(.standard(limit: configuration.maximumImportBytes))
        guard (try? fields.string("type")) == "FeatureCollection", let features = try? fields.array("features") else {
            throw APIError.badRequest("not_a_feature_collection", "the body must be a GeoJSON FeatureCollection")
        }
        guard features.count <= configuration.maximumImportFeatures else {
            throw APIError.tooLarge("too_many_items", "more than \(configuration.maximumImportFeatures) features (limit)")
        }
        var cameras: [Camera] = []
        var rejected: [ImportReport.Rejection] = []
        var seen: Set<String> = []
        for (index, feature) in features.enumerated() {
            do throws(ValidationError) {
                let camera = try validator.validate(try CameraJSON.raw(fromFeature: feature))
                guard seen.insert(camera.id).inserted else {
                    throw ValidationError(.valueInvalid, "id \(camera.id) appears more than once in the collection")
                }
                cameras.append(camera)
            } catch {
                let id = feature["properties"]?.objectValue.flatMap { CameraJSON.featureID(JSONFields($0)) } ?? feature["id"].flatMap(CameraJSON.featureLevelID)
                rejected.append(ImportReport.Rejection(index: index, id: id, code: error.code.rawValue, message: error.message))
            }
        }
        let created = cameras.isEmpty ? 0 : try await store.upsert(cameras, at: now())
        for camera in cameras { live?.upsert(camera: camera, now: now()) }
        return ImportReport(imported: created, updated: cameras.count - created, rejected: rejected)
    }

    // MARK: Bodies

    /// `PATCH …/status`: `{"status":"online|offline|degraded"}`.
    struct StatusChange: JSONRequestBody {
        var status: Camera.Status

        init(fields: JSONFields) throws(ValidationError) {
            guard let text = try fields.string("status"), let status = Camera.Status(rawValue: text) else {
                throw ValidationError(.statusInvalid, "status must be online, offline or degraded")
            }
            self.status = status
        }
    }

    /// `POST …/events`: what the analytics saw, and perhaps the incident it asks for.
    struct EventReport: JSONRequestBody {
        var kind: String?
        var label: String?
        var confidence: Double?
        var time: String?
        var ttl: Double?
        /// The rest of the body, read once the event itself is valid.
        private var fields: JSONFields

        init(fields: JSONFields) throws(ValidationError) {
            kind = try fields.string("kind")
            label = try fields.string("label")
            confidence = try fields.number("confidence")
            time = try fields.string("time")
            ttl = try fields.number("ttl")
            self.fields = fields
        }

        /// `incident`: the incident the event asks to open, in the form of `POST /api/v1/incidents`.
        func incident() throws(ValidationError) -> RawIncident? {
            try fields.fields("incident").map(IncidentJSON.raw(from:))
        }
    }

    /// A camera event as the API shows it.
    struct EventBody: JSONResponseBody {
        var id: Int64
        var camera: String
        var kind: String
        var time: String
        var expiresAt: String
        var active: Bool
        var label: String?
        var confidence: Double?
        var incident: String?

        init(_ event: CameraEvent, now: Timestamp) {
            id = event.id
            camera = event.cameraID
            kind = event.kind.rawValue
            time = event.occurredAt.rfc3339
            expiresAt = event.expiresAt.rfc3339
            active = event.isActive(at: now)
            label = event.label
            confidence = event.confidence
            incident = event.incidentID
        }
    }

    /// `GET …/events`: the camera's active events.
    struct EventList: JSONResponseBody {
        var events: [EventBody]
    }

    /// `POST /api/v1/cameras/import`: counts, and each refused feature by index with its code.
    struct ImportReport: JSONResponseBody {
        struct Rejection: Encodable, Sendable {
            var index: Int
            /// The feature's id when it has a usable one; `null` otherwise (always present).
            var id: String?
            var code: String
            var message: String

            enum CodingKeys: String, CodingKey { case index, id, code, message }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(index, forKey: .index)
                try container.encode(id, forKey: .id)
                try container.encode(code, forKey: .code)
                try container.encode(message, forKey: .message)
            }
        }
        var imported: Int
        var updated: Int
        var rejected: [Rejection]
    }
}

/// Cameras in and out of JSON: our own form and the forms municipal GeoJSON datasets use.
enum CameraJSON {
    /// Our own form (`PUT` body, or an imported feature's properties): numbers are JSON numbers.
    static func raw(from fields: JSONFields) throws(ValidationError) -> RawCamera {
        var raw = RawCamera()
        raw.id = try fields.string("id")
        raw.name = try fields.string("name")
        raw.latitude = try fields.number("lat")
        raw.longitude = try fields.number("lon")
        raw.heading = try fields.number("heading")
        raw.fieldOfView = try fields.number("fov")
        raw.range = try fields.number("range")
        raw.status = try fields.string("status")
        raw.tags = try fields.strings("tags") ?? []
        for (index, item) in (try fields.array("streams") ?? []).enumerated() {
            guard let object = item.objectValue else {
                throw ValidationError(.fieldTypeInvalid, "\(fields.path)streams[\(index)] must be an object")
            }
            let stream = JSONFields(object, path: "\(fields.path)streams[\(index)].")
            raw.streams.append((try stream.string("protocol") ?? "", try stream.string("quality") ?? "main", try stream.string("url") ?? ""))
        }
        return raw
    }

    /// A GeoJSON Feature with a Point. Property names follow ours, then common open-data names
    /// (`identifiant`, `nom`, `orientation`/`direction`, `angle`, `portee`). Open-data files
    /// often write numbers as text (`"orientation":"180"`), so those names also take a plain
    /// decimal string; our own names take JSON numbers only.
    static func raw(fromFeature feature: JSONValue) throws(ValidationError) -> RawCamera {
        guard let object = feature.objectValue, feature["type"]?.stringValue == "Feature" else {
            throw ValidationError(.notAnObject, "the item must be a GeoJSON Feature")
        }
        guard let geometry = feature["geometry"], geometry["type"]?.stringValue == "Point",
            let coordinates = geometry["coordinates"]?.arrayValue, coordinates.count >= 2,
            let lon = coordinates[0].doubleValue, let lat = coordinates[1].doubleValue
        else {
            throw ValidationError(.valueInvalid, "geometry must be a Point with [lon, lat] coordinates (numbers)")
        }
        let properties: JSONFields
        switch object["properties"] {
        case .object(let members)?: properties = JSONFields(members, path: "properties.")
        case .null?, nil: properties = JSONFields([:], path: "properties.")
        default: throw ValidationError(.fieldTypeInvalid, "properties must be an object")
        }
        // Our own names, except `id`, which open data writes as a number too (see featureID).
        var raw = try Self.raw(from: JSONFields(properties.object.filter { $0.key != "id" }, path: properties.path))
        raw.id = featureID(properties) ?? feature["id"].flatMap(featureLevelID)
        // Explicit ifs: `??` takes an autoclosure whose errors are untyped.
        if raw.name == nil { raw.name = try properties.string("nom") }
        if raw.heading == nil { raw.heading = try openDataNumber(properties, "orientation") }
        if raw.heading == nil { raw.heading = try openDataNumber(properties, "direction") }
        if raw.fieldOfView == nil { raw.fieldOfView = try openDataNumber(properties, "angle") }
        if raw.range == nil { raw.range = try openDataNumber(properties, "portee") }
        raw.latitude = lat
        raw.longitude = lon
        return raw
    }

    /// An open-data number: a JSON number or a plain decimal string; nothing else.
    static func openDataNumber(_ fields: JSONFields, _ key: String) throws(ValidationError) -> Double? {
        guard let value = fields.object[key], !value.isNull else { return nil }
        if let number = value.doubleValue { return number }
        if let text = value.stringValue, let number = Double(decimalText: text.trimmingCharacters(in: .whitespaces)) { return number }
        throw ValidationError(.fieldTypeInvalid, "\(fields.path)\(key) must be a number (or a decimal number as text)")
    }

    static func featureID(_ properties: JSONFields) -> String? {
        for key in ["id", "identifiant", "ref", "code"] {
            if let value = properties.object[key], let text = idText(value) { return text }
        }
        return nil
    }

    /// An id as open data writes it: text, or a whole number (taken as `cam-<number>`).
    static func idText(_ value: JSONValue) -> String? {
        if let text = value.stringValue { return text }
        if let number = value.intValue { return "cam-\(number)" }
        return nil
    }

    /// The Feature's own `id` (RFC 7946 §3.2): text, or a whole number as its digits.
    static func featureLevelID(_ value: JSONValue) -> String? {
        if let text = value.stringValue { return text }
        return value.intValue.map(String.init)
    }

    static func feature(_ stored: StoredCamera, now: Timestamp, grace: Double) -> JSONValue {
        let camera = stored.camera
        return .object([
            "type": "Feature",
            "id": .string(camera.id),
            "geometry": .object(["type": "Point", "coordinates": .array([.number(camera.position.longitude), .number(camera.position.latitude)])]),
            "properties": .object([
                "name": .string(camera.name),
                "heading": .number(camera.heading),
                "fov": .number(camera.fieldOfView),
                "range": .number(camera.range),
                "streams": .array(
                    camera.streams.map {
                        .object(["protocol": .string($0.transport.rawValue), "quality": .string($0.quality), "url": .string($0.url)])
                    }),
                "status": .string(stored.effectiveStatus(now: now, grace: grace).rawValue),
                "reportedStatus": .string(camera.status.rawValue),
                "statusSince": .string(stored.statusSince.rfc3339),
                "tags": .array(camera.tags.map { .string($0) }),
                "updatedAt": .string(stored.updatedAt.rfc3339),
            ]),
        ])
    }
}
