import Hummingbird
import HypervisionCore
import HypervisionLayout
import HypervisionStream

/// What operators ask of a wall (`admin`): pins (`POST /api/v1/walls/{id}/pins`,
/// `DELETE …/pins/{camera}`) and guard tours (`POST /api/v1/walls/{id}/tours`,
/// `DELETE …/tours/{tour}`). Each is recorded and answered at once; the wall shows it from its
/// next round (see ``RoundSchedule``).
public struct OperatorRoutes<Context: RequestContext>: Sendable {
    let walls: WallService
    let authority: TokenAuthority
    let now: @Sendable () -> Timestamp

    public init(walls: WallService, authority: TokenAuthority, now: @escaping @Sendable () -> Timestamp = { .now() }) {
        self.walls = walls
        self.authority = authority
        self.now = now
    }

    /// Bodies of at most 16 KiB; anything but a JSON object is `json_invalid`.
    static var bodyRules: JSONBodyRules {
        JSONBodyRules(
            limit: 16 * 1024, tooLarge: "the body is larger than 16384 bytes", invalid: { _ in "the body must be a JSON object" },
            notAnObject: ("json_invalid", "the body must be a JSON object"))
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let admin = routes.requiring(.scope(.admin), of: authority)
        admin.post("/api/v1/walls/:id/pins") { request, context in
            let id = try context.parameters.require("id")
            let body = try await request.decode(PinRequest.self, Self.bodyRules)
            let time = now()
            try walls.pin(
                wall: id,
                Pin(camera: body.camera, region: body.region, pinnedAt: time, expiresAt: body.expiresIn.map { time.adding(seconds: $0) }, pinnedBy: body.by))
            return EditedResponse(status: .created, response: PinList(walls.pins(wall: id)))
        }
        admin.delete("/api/v1/walls/:id/pins/:camera") { _, context in
            let id = try context.parameters.require("id")
            let camera = try context.parameters.require("camera")
            guard try walls.unpin(wall: id, camera: camera) else { throw APIError.notFound("camera \(camera) is not pinned on wall \(id)") }
            return HTTPResponse.Status.noContent
        }
        admin.post("/api/v1/walls/:id/tours") { request, context in
            let id = try context.parameters.require("id")
            let body = try await request.decode(TourRequest.self, Self.bodyRules)
            try walls.startTour(wall: id, GuardTour(id: body.id, cameras: body.cameras, dwellSeconds: body.dwellSeconds, startedAt: now(), region: body.region))
            return HTTPResponse.Status.created
        }
        // What the operators' console reads besides the scene: pins whose camera is not on the
        // wall at the moment (more pins than tiles, an offline camera) and tours started from
        // anywhere, so that they can be seen and removed.
        let readers = routes.requiring(.scope(.query), of: authority)
        readers.get("/api/v1/walls/:id/pins") { _, context in
            let id = try context.parameters.require("id")
            guard walls.definition(id: id) != nil else { throw APIError.notFound("no wall \(id)") }
            return PinList(walls.pins(wall: id))
        }
        readers.get("/api/v1/walls/:id/tours") { _, context in
            let id = try context.parameters.require("id")
            guard walls.definition(id: id) != nil else { throw APIError.notFound("no wall \(id)") }
            return TourList(walls.tours(wall: id))
        }
        admin.delete("/api/v1/walls/:id/tours/:tour") { _, context in
            let id = try context.parameters.require("id")
            let tour = try context.parameters.require("tour")
            guard try walls.stopTour(wall: id, tour: tour) else { throw APIError.notFound("no tour \(tour) on wall \(id)") }
            return HTTPResponse.Status.noContent
        }
        return routes
    }

    // MARK: Bodies

    /// `{"camera":"cam-0042","region":"cams","expiresIn":900,"by":"night desk"}`. Members of
    /// another type than documented are taken as absent, as they always were (a `camera` that is
    /// not a string is `field_missing`).
    struct PinRequest: JSONRequestBody {
        var camera: String
        var region: String?
        /// Seconds, 1 s to 7 days; nil for a pin that lasts until removed.
        var expiresIn: Double?
        var by: String?

        init(fields: JSONFields) throws(ValidationError) {
            let object = fields.object
            guard let camera = object["camera"]?.stringValue, !camera.isEmpty else { throw ValidationError(.fieldMissing, "camera is required") }
            let region = object["region"]?.stringValue
            let by = object["by"]?.stringValue
            let expiresIn = object["expiresIn"]?.doubleValue
            if let seconds = expiresIn, !(seconds > 0 && seconds <= 7 * 86_400) {
                throw ValidationError(.valueInvalid, "expiresIn must be 1 s to 7 days")
            }
            for (field, text) in [("camera", camera), ("region", region), ("by", by)] {
                guard let text else { continue }
                try InputText.check(text, field: field)
            }
            self.camera = camera
            self.region = region
            self.by = by
            self.expiresIn = expiresIn
        }
    }

    /// `{"id":"night","cameras":["cam-1",…],"dwellSeconds":10,"region":"cams"}`. Lenient about
    /// types as ``PinRequest`` is.
    struct TourRequest: JSONRequestBody {
        var id: String
        var cameras: [String]
        var dwellSeconds: Double
        var region: String?

        init(fields: JSONFields) throws(ValidationError) {
            let object = fields.object
            guard let id = object["id"]?.stringValue, !id.isEmpty else { throw ValidationError(.fieldMissing, "id is required") }
            guard let cameras = object["cameras"]?.arrayValue?.compactMap(\.stringValue), !cameras.isEmpty, cameras.count <= 1_000 else {
                throw ValidationError(.valueInvalid, "cameras must be a list of 1 to 1000 camera ids")
            }
            let region = object["region"]?.stringValue
            for (field, text) in [("id", id), ("region", region)] + cameras.map({ ("cameras", $0) }) {
                guard let text else { continue }
                try InputText.check(text, field: field)
            }
            let dwell = object["dwellSeconds"]?.doubleValue ?? 10
            guard dwell >= 1, dwell <= 3_600 else { throw ValidationError(.valueInvalid, "dwellSeconds must be 1 to 3600") }
            self.id = id
            self.cameras = cameras
            self.region = region
            dwellSeconds = dwell
        }
    }

    /// The wall's guard tours: `{"tours":[{"id":…,"cameras":[…],"dwellSeconds":…,"startedAt":…,"region":…}]}`.
    struct TourList: JSONResponseBody {
        struct Item: Encodable, Sendable {
            var id: String
            var cameras: [String]
            var dwellSeconds: Double
            var startedAt: String
            var region: String?
        }
        var tours: [Item]

        init(_ tours: [GuardTour]) {
            self.tours = tours.map {
                Item(id: $0.id, cameras: $0.cameras, dwellSeconds: $0.dwellSeconds, startedAt: $0.startedAt.rfc3339, region: $0.region)
            }
        }
    }

    /// The wall's pins, after a pin: `{"pins":[{"camera":…,"pinnedAt":…,"expiresAt":…,"by":…,"region":…}]}`.
    struct PinList: JSONResponseBody {
        struct Item: Encodable, Sendable {
            var camera: String
            var pinnedAt: String
            var region: String?
            var expiresAt: String?
            var by: String?
        }
        var pins: [Item]

        init(_ pins: [Pin]) {
            self.pins = pins.map {
                Item(camera: $0.camera, pinnedAt: $0.pinnedAt.rfc3339, region: $0.region, expiresAt: $0.expiresAt?.rfc3339, by: $0.pinnedBy)
            }
        }
    }
}
