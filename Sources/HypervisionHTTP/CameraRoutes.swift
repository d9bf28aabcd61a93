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
            let object: [String: Any]
            switch await readJSONObject(request, limit: configuration.maximumBodyBytes) {
            case .success(let value): object = value
            case .failure(let refusal): return refusal.response
            }
            var raw = CameraJSON.raw(from: object)
            if let bodyID = raw.id, bodyID != id {
                return APIError.response(.badRequest, "value_invalid", "the body's id \"\(bodyID)\" differs from the path's \"\(id)\"")
            }
            raw.id = id
            do {
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
            let id = try context.parameters.require("id")
            guard let stored = try await store.get(id: id) else {
                return APIError.response(.notFound, "not_found", "no camera \(id)")
            }
            return jsonResponse(CameraJSON.feature(stored, now: now(), grace: configuration.offlineGraceSeconds))
        }
        router.delete("/api/v1/cameras/:id") { request, context in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let id = try context.parameters.require("id")
            guard try await store.delete(id: id) else { return APIError.response(.notFound, "not_found", "no camera \(id)") }
            live?.removeCamera(id: id)
            return Response(status: .noContent)
        }
        router.patch("/api/v1/cameras/:id/status") { request, context in
            // Video management systems report status: an ingest-scoped machine credential.
            if let refusal = authority.refusal(of: request, for: .ingest) { return refusal }
            let id = try context.parameters.require("id")
            let object: [String: Any]
            switch await readJSONObject(request, limit: 4096) {
            case .success(let value): object = value
            case .failure(let refusal): return refusal.response
            }
            guard let text = object["status"] as? String, let status = Camera.Status(rawValue: text) else {
                return APIError.response(.badRequest, "status_invalid", "status must be online, offline or degraded")
            }
            guard let stored = try await store.updateStatus(id: id, to: status, at: now()) else {
                return APIError.response(.notFound, "not_found", "no camera \(id)")
            }
            live?.upsert(camera: stored.camera, statusSince: stored.statusSince)
            return jsonResponse(CameraJSON.feature(stored, now: now(), grace: configuration.offlineGraceSeconds))
        }
        router.post("/api/v1/cameras/:id/events") { request, context in
            // Sent by the VMS or analytics servers: a machine credential.
            if let refusal = authority.refusal(of: request, for: .ingest) { return refusal }
            let id = try context.parameters.require("id")
            let object: [String: Any]
            switch await readJSONObject(request, limit: 16 * 1024) {
            case .success(let value): object = value
            case .failure(let refusal): return refusal.response
            }
            do {
                var event = try eventValidator.validate(
                    cameraID: id, kind: object["kind"] as? String, label: object["label"] as? String,
                    confidence: CameraJSON.number(object["confidence"]), time: object["time"] as? String,
                    ttlSeconds: CameraJSON.number(object["ttl"]), now: now())
                guard let camera = try await store.get(id: id) else {
                    return APIError.response(.notFound, "not_found", "no camera \(id)")
                }
                // An analytics alarm may open an incident at the camera's position (or where it says).
                if let incidentObject = object["incident"] as? [String: Any] {
                    guard let incidents else {
                        return APIError.response(.badRequest, "value_invalid", "incidents are not enabled on this daemon")
                    }
                    var raw = try IncidentJSON.raw(from: incidentObject)
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
            let id = try context.parameters.require("id")
            guard try await store.get(id: id) != nil else { return APIError.response(.notFound, "not_found", "no camera \(id)") }
            let events = try await store.activeEvents(at: now(), cameraID: id)
            return jsonResponse(["events": events.map { CameraJSON.event($0, now: now()) }])
        }
        router.post("/api/v1/cameras/import") { request, _ in
            if let refusal = authority.refusal(of: request, for: .admin) { return refusal }
            let object: [String: Any]
            switch await readJSONObject(request, limit: configuration.maximumImportBytes) {
            case .success(let value): object = value
            case .failure(let refusal): return refusal.response
            }
            guard object["type"] as? String == "FeatureCollection", let features = object["features"] as? [Any] else {
                return APIError.response(.badRequest, "not_a_feature_collection", "the body must be a GeoJSON FeatureCollection")
            }
            guard features.count <= configuration.maximumImportFeatures else {
                return APIError.response(
                    .contentTooLarge, "too_many_items", "more than \(configuration.maximumImportFeatures) features (limit)")
            }
            var cameras: [Camera] = []
            var rejected: [[String: Any]] = []
            var seen: Set<String> = []
            for (index, feature) in features.enumerated() {
                do throws(ValidationError) {
                    let camera = try validator.validate(try CameraJSON.raw(fromFeature: feature))
                    guard seen.insert(camera.id).inserted else {
                        throw ValidationError(.valueInvalid, "id \(camera.id) appears more than once in the collection")
                    }
                    cameras.append(camera)
                } catch {
                    let id = ((feature as? [String: Any])?["properties"] as? [String: Any]).flatMap(CameraJSON.featureID)
                    rejected.append(["index": index, "id": id ?? NSNull(), "code": error.code.rawValue, "message": error.message])
                }
            }
            let created = cameras.isEmpty ? 0 : try await store.upsert(cameras, at: now())
            for camera in cameras { live?.upsert(camera: camera, now: now()) }
            return jsonResponse(["imported": created, "updated": cameras.count - created, "rejected": rejected])
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
    static func raw(from object: [String: Any]) -> RawCamera {
        var raw = RawCamera()
        raw.id = object["id"] as? String
        raw.name = object["name"] as? String
        raw.latitude = number(object["lat"])
        raw.longitude = number(object["lon"])
        raw.heading = number(object["heading"])
        raw.fieldOfView = number(object["fov"])
        raw.range = number(object["range"])
        raw.status = object["status"] as? String
        raw.tags = (object["tags"] as? [Any])?.compactMap { $0 as? String } ?? []
        raw.streams = (object["streams"] as? [Any] ?? []).compactMap { item in
            guard let stream = item as? [String: Any] else { return nil }
            return ((stream["protocol"] as? String) ?? "", (stream["quality"] as? String) ?? "main", (stream["url"] as? String) ?? "")
        }
        return raw
    }

    /// A GeoJSON Feature with a Point. Property names follow ours, then common open-data names
    /// (`identifiant`, `nom`, `orientation`/`direction`, `angle`, `portee`).
    static func raw(fromFeature feature: Any) throws(ValidationError) -> RawCamera {
        guard let feature = feature as? [String: Any], feature["type"] as? String == "Feature" else {
            throw ValidationError(.notAnObject, "the item must be a GeoJSON Feature")
        }
        guard let geometry = feature["geometry"] as? [String: Any], geometry["type"] as? String == "Point",
            let coordinates = geometry["coordinates"] as? [Any], coordinates.count >= 2,
            let lon = number(coordinates[0]), let lat = number(coordinates[1])
        else {
            throw ValidationError(.valueInvalid, "geometry must be a Point with [lon, lat] coordinates")
        }
        let properties = feature["properties"] as? [String: Any] ?? [:]
        var raw = Self.raw(from: properties)
        raw.id = raw.id ?? featureID(properties) ?? (feature["id"] as? String) ?? (feature["id"] as? Int).map(String.init)
        raw.name = raw.name ?? (properties["nom"] as? String)
        raw.heading = raw.heading ?? number(properties["orientation"]) ?? number(properties["direction"])
        raw.fieldOfView = raw.fieldOfView ?? number(properties["angle"])
        raw.range = raw.range ?? number(properties["portee"])
        raw.latitude = lat
        raw.longitude = lon
        return raw
    }

    static func featureID(_ properties: [String: Any]) -> String? {
        for key in ["id", "identifiant", "ref", "code"] {
            if let text = properties[key] as? String { return text }
            if let number = properties[key] as? Int { return "cam-\(number)" }
        }
        return nil
    }

    static func number(_ value: Any?) -> Double? {
        if let number = jsonNumber(value) { return number }
        if let text = value as? String { return Double(text) }
        return nil
    }

    static func event(_ event: CameraEvent, now: Timestamp) -> [String: Any] {
        var object: [String: Any] = [
            "id": event.id, "camera": event.cameraID, "kind": event.kind.rawValue, "time": event.occurredAt.rfc3339,
            "expiresAt": event.expiresAt.rfc3339, "active": event.isActive(at: now),
        ]
        if let label = event.label { object["label"] = label }
        if let confidence = event.confidence { object["confidence"] = confidence }
        if let incident = event.incidentID { object["incident"] = incident }
        return object
    }

    static func feature(_ stored: StoredCamera, now: Timestamp, grace: Double) -> [String: Any] {
        let camera = stored.camera
        return [
            "type": "Feature",
            "id": camera.id,
            "geometry": ["type": "Point", "coordinates": [camera.position.longitude, camera.position.latitude]],
            "properties": [
                "name": camera.name,
                "heading": camera.heading,
                "fov": camera.fieldOfView,
                "range": camera.range,
                "streams": camera.streams.map { ["protocol": $0.transport.rawValue, "quality": $0.quality, "url": $0.url] },
                "status": stored.effectiveStatus(now: now, grace: grace).rawValue,
                "reportedStatus": camera.status.rawValue,
                "statusSince": stored.statusSince.rfc3339,
                "tags": camera.tags,
                "updatedAt": stored.updatedAt.rfc3339,
            ] as [String: Any],
        ]
    }
}
