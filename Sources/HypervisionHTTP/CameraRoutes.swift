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

/// Cameras: `PUT/GET/DELETE /api/v1/cameras/{id}`, `PATCH /api/v1/cameras/{id}/status` and
/// `POST /api/v1/cameras/import` (a GeoJSON FeatureCollection, as municipalities publish them).
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

    public func addRoutes(to router: Router<Context>) {
        router.put("/api/v1/cameras/:id") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            let fields: JSONFields
            switch await readJSONObject(request, limit: configuration.maximumBodyBytes) {
            case .success(let value): fields = value
            case .failure(let refusal): return refusal.response
            }
            do {
                var raw = try CameraJSON.raw(from: fields)
                if let bodyID = raw.id, bodyID != id {
                    return APIError.response(.badRequest, "value_invalid", "the body's id \"\(bodyID.prefix(64))\" differs from the path's \"\(id.prefix(64))\"")
                }
                raw.id = id
                let camera = try validator.validate(raw)
                let created = try await store.upsert(camera, at: now())
                guard let stored = try await store.get(id: camera.id) else { throw HTTPError(.internalServerError) }
                live?.upsert(camera: stored.camera, statusSince: stored.statusSince)
                return jsonResponse(CameraJSON.feature(stored, now: now(), grace: configuration.offlineGraceSeconds), status: created ? .created : .ok)
            } catch let error as ValidationError {
                return APIError.response(.badRequest, error.code.rawValue, error.message)
            }
        }
        router.get("/api/v1/cameras/:id") { request, context in
            if let refusal = authority.refusal(of: request, for: .query) { return refusal }
            guard let id = pathID(context), let stored = try await store.get(id: id) else {
                return APIError.response(.notFound, "not_found", "no camera \(describePathID(context))")
            }
            return jsonResponse(CameraJSON.feature(stored, now: now(), grace: configuration.offlineGraceSeconds))
        }
        router.delete("/api/v1/cameras/:id") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            guard let id = pathID(context), try await store.delete(id: id) else {
                return APIError.response(.notFound, "not_found", "no camera \(describePathID(context))")
            }
            live?.removeCamera(id: id)
            return Response(status: .noContent)
        }
        router.patch("/api/v1/cameras/:id/status") { request, context in
            // Video management systems report status: an ingest-scoped machine credential.
            if let refusal = authority.refusal(of: request, for: .ingest) { return refusal }
            let fields: JSONFields
            switch await readJSONObject(request, limit: 4096) {
            case .success(let value): fields = value
            case .failure(let refusal): return refusal.response
            }
            do {
                guard let text = try fields.string("status"), let status = Camera.Status(rawValue: text) else {
                    return APIError.response(.badRequest, "status_invalid", "status must be online, offline or degraded")
                }
                guard let id = pathID(context), let stored = try await store.updateStatus(id: id, to: status, at: now()) else {
                    return APIError.response(.notFound, "not_found", "no camera \(describePathID(context))")
                }
                live?.upsert(camera: stored.camera, statusSince: stored.statusSince)
                return jsonResponse(CameraJSON.feature(stored, now: now(), grace: configuration.offlineGraceSeconds))
            } catch let error as ValidationError {
                return APIError.response(.badRequest, error.code.rawValue, error.message)
            }
        }
        router.post("/api/v1/cameras/:id/events") { request, context in
            // Sent by the VMS or analytics servers: a machine credential.
            if let refusal = authority.refusal(of: request, for: .ingest) { return refusal }
            let fields: JSONFields
            switch await readJSONObject(request, limit: 16 * 1024) {
            case .success(let value): fields = value
            case .failure(let refusal): return refusal.response
            }
            do {
                guard let id = pathID(context) else {
                    return APIError.response(.notFound, "not_found", "no camera \(describePathID(context))")
                }
                var event = try eventValidator.validate(
                    cameraID: id, kind: try fields.string("kind"), label: try fields.string("label"),
                    confidence: try fields.number("confidence"), time: try fields.string("time"),
                    ttlSeconds: try fields.number("ttl"), now: now())
                let incidentFields = try fields.fields("incident")
                // Checked before anything is stored: a bad incident must not leave an event behind.
                let incidentRaw = try incidentFields.map(IncidentJSON.raw(from:))
                if incidentRaw != nil, incidents == nil {
                    return APIError.response(.badRequest, "value_invalid", "incidents are not enabled on this daemon")
                }
                guard let camera = try await store.get(id: id) else {
                    return APIError.response(.notFound, "not_found", "no camera \(id)")
                }
                // An analytics alarm may open an incident at the camera's position (or where it says).
                if var raw = incidentRaw, let incidents {
                    raw.latitude = raw.latitude ?? camera.camera.position.latitude
                    raw.longitude = raw.longitude ?? camera.camera.position.longitude
                    raw.source = raw.source ?? Incident.Source.cameraAnalytics.rawValue
                    raw.summary = raw.summary ?? event.label.map { "\($0) (camera \(id))" }
                    let opened = try await incidents.open(try incidents.validator.validate(raw, now: now()))
                    event.incidentID = opened.id
                }
                guard let stored = try await store.add(event) else {
                    return APIError.response(.notFound, "not_found", "no camera \(id)")
                }
                live?.add(event: stored)
                return jsonResponse(CameraJSON.event(stored, now: now()), status: .created)
            } catch let error as ValidationError {
                return APIError.response(.badRequest, error.code.rawValue, error.message)
            } catch let error as IncidentStoreError {
                return IncidentJSON.response(for: error)
            }
        }
        router.get("/api/v1/cameras/:id/events") { request, context in
            if let refusal = authority.refusal(of: request, for: .query) { return refusal }
            guard let id = pathID(context), try await store.get(id: id) != nil else {
                return APIError.response(.notFound, "not_found", "no camera \(describePathID(context))")
            }
            let events = try await store.activeEvents(at: now(), cameraID: id)
            return jsonResponse(.object(["events": .array(events.map { CameraJSON.event($0, now: now()) })]))
        }
        router.post("/api/v1/cameras/import") { request, _ in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let fields: JSONFields
            switch await readJSONObject(request, limit: configuration.maximumImportBytes) {
            case .success(let value): fields = value
            case .failure(let refusal): return refusal.response
            }
            guard (try? fields.string("type")) == "FeatureCollection", let features = try? fields.array("features") else {
                return APIError.response(.badRequest, "not_a_feature_collection", "the body must be a GeoJSON FeatureCollection")
            }
            guard features.count <= configuration.maximumImportFeatures else {
                return APIError.response(
                    .contentTooLarge, "too_many_items", "more than \(configuration.maximumImportFeatures) features (limit)")
            }
            var cameras: [Camera] = []
            var rejected: [JSONValue] = []
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
                    rejected.append(
                        .object([
                            "index": .integer(index), "id": id.map { .string($0) } ?? .null, "code": .string(error.code.rawValue),
                            "message": .string(error.message),
                        ]))
                }
            }
            let created = cameras.isEmpty ? 0 : try await store.upsert(cameras, at: now())
            for camera in cameras { live?.upsert(camera: camera, now: now()) }
            return jsonResponse(.object(["imported": .integer(created), "updated": .integer(cameras.count - created), "rejected": .array(rejected)]))
        }
    }
}

/// A response carried through a `Result` (Response itself is not an Error).
struct ResponseError: Error, @unchecked Sendable {
    // @unchecked: built and consumed within one request handler.
    let response: Response
    init(_ response: Response) { self.response = response }
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

    static func event(_ event: CameraEvent, now: Timestamp) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .integer(event.id), "camera": .string(event.cameraID), "kind": .string(event.kind.rawValue),
            "time": .string(event.occurredAt.rfc3339), "expiresAt": .string(event.expiresAt.rfc3339), "active": .bool(event.isActive(at: now)),
        ]
        if let label = event.label { object["label"] = .string(label) }
        if let confidence = event.confidence { object["confidence"] = .number(confidence) }
        if let incident = event.incidentID { object["incident"] = .string(incident) }
        return .object(object)
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
