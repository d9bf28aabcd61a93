import Hummingbird
import HypervisionCore
import HypervisionLive
import HypervisionStore
import NIOCore
import Foundation

extension ValidationError.Code {
    /// A zone analysis box crosses the antimeridian (west > east); send two boxes instead.
    public static let bboxCrossesAntimeridian = ValidationError.Code(rawValue: "bbox_crosses_antimeridian")
    /// A zone analysis grid would have more cells than a query may ask for.
    public static let tooManyCells = ValidationError.Code(rawValue: "too_many_cells")
}

/// Limits of the query endpoints: every input that sizes the work of a query is bounded here,
/// so that no request, however written, makes the daemon or PostgreSQL work without end.
public struct QueryLimits: Sendable, Hashable {
    public var maximumResults = 10_000
    public var maximumK = 1_000
    public var maximumRadiusMetres = 1_000_000.0
    public var maximumTrackPoints = 100_000
    public var maximumTrackSeconds = 7 * 86_400.0
    public var maximumPolygonBytes = 1 << 20
    /// Cells of a zone analysis grid, counted exactly as PostGIS generates them (``ZoneGrid``).
    public var maximumZoneCells = 20_000
    /// The longest zone analysis period (the period before it, compared with, is as long).
    public var maximumZoneSeconds = 366 * 86_400.0
    /// The longest window the dossier searches for units present (from 15 minutes before the
    /// incident to its close): an incident left open for months would otherwise scan months.
    public var maximumPresenceSeconds = 7 * 86_400.0
    /// Values in one list filter (`status=a,b,…`, `agency=`, `kind=`).
    public var maximumFilterValues = 32
    public init() {}
}

/// Where the units are, which cameras see a place, what a zone looks like, and the dossier of an
/// incident. Live questions are answered from memory, history from PostGIS, all as GeoJSON.
public struct QueryRoutes<Context: RequestContext>: Sendable {
    let live: LiveState
    let history: HistoryStore
    let incidents: IncidentStore
    let authority: TokenAuthority
    let limits: QueryLimits
    let now: @Sendable () -> Timestamp

    public init(
        live: LiveState, history: HistoryStore, incidents: IncidentStore, authority: TokenAuthority, limits: QueryLimits = .init(),
        now: @escaping @Sendable () -> Timestamp = { .now() }
    ) {
        self.live = live
        self.history = history
        self.incidents = incidents
        self.authority = authority
        self.limits = limits
        self.now = now
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let query = routes.requiring(.scope(.query), of: authority)
        query.get("/api/v1/units/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let unitID = try? UnitID(id), let unit = live.picture.unit(unitID) else {
                throw APIError.notFound("no unit \(id) with a known position")
            }
            return JSONDocument(GeoJSON.unit(unit, distance: nil))
        }
        query.get("/api/v1/units") { request, _ in
            let query = request.uri.queryParameters
            let listing = try UnitListing(query, limits: limits)
            let results: [LiveUnitResult]
            if let text = query["nearest"] {
                let point = try Self.point(text, name: "nearest")
                let k = try Self.integer(query, "k", default: 10, in: 1...limits.maximumK)
                try listing.refuseCursor(for: "nearest")
                results = live.picture.nearest(to: point, k: k, filter: listing.filter)
            } else if let text = query["near"] {
                let point = try Self.point(text, name: "near")
                guard let radiusText = query["radius"], let radius = Double(decimalText: radiusText), radius >= 0,
                    radius <= limits.maximumRadiusMetres
                else {
                    throw ValidationError(.valueInvalid, "near needs radius, in metres, from 0 to \(Int(limits.maximumRadiusMetres))")
                }
                try listing.refuseCursor(for: "near")
                results = live.picture.units(near: point, radius: radius, filter: listing.filter)
            } else {
                let area = try query["bbox"].map { text throws(ValidationError) in LiveUnitArea.box(try BoundingBox(parsing: text)) }
                return listing.answer(in: area, from: live.picture)
            }
            // By distance: no cursor, but the answer says how many matched when the limit cut it.
            if listing.countOnly { return JSONDocument(GeoJSON.count(results.count)) }
            return JSONDocument(GeoJSON.collection(
                results.prefix(listing.limit).map { GeoJSON.unit($0.unit, distance: $0.distance) }, matched: results.count))
        }
        query.post("/api/v1/units/search") { request, _ in
            let listing = try UnitListing(request.uri.queryParameters, limits: limits)
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limits.maximumPolygonBytes)
            } catch is NIOTooManyBytesError {
                throw APIError.tooLarge("the polygon is larger than \(limits.maximumPolygonBytes) bytes")
            }
            return listing.answer(in: .polygon(try Self.polygon(body)), from: live.picture)
        }
        query.get("/api/v1/units/:id/track") { request, context in
            let unit = try UnitID(try context.parameters.require("id"))
            let query = request.uri.queryParameters
            let to = try query["to"].map { try Self.time($0, name: "to") } ?? now()
            let from = try query["from"].map { try Self.time($0, name: "from") } ?? to.adding(seconds: -3_600)
            guard from.isStorable else { throw ValidationError(.timeInvalid, "from (to less an hour) is before year 0001") }
            guard from < to else { throw ValidationError(.valueInvalid, "from must be before to") }
            guard Double(to.microseconds - from.microseconds) / 1e6 <= limits.maximumTrackSeconds else {
                throw ValidationError(.valueInvalid, "a track covers at most \(Int(limits.maximumTrackSeconds / 86_400)) days")
            }
            var points = try await history.track(unit: unit.rawValue, from: from, to: to, limit: limits.maximumTrackPoints)
            guard points.count <= limits.maximumTrackPoints else {
                throw APIError.tooLarge("too_many_points", "more than \(limits.maximumTrackPoints) pings in the window; narrow from/to")
            }
            if let text = query["simplify"] {
                guard let tolerance = Double(decimalText: text), tolerance >= 0, tolerance <= 100_000 else {
                    throw ValidationError(.valueInvalid, "simplify is a tolerance in metres, 0 to 100000")
                }
                let kept = TrackSimplifier.keep(points.map(\.position), toleranceMetres: tolerance)
                points = kept.map { points[$0] }
            }
            switch query["format"] ?? "line" {
            case "points":
                return JSONDocument(GeoJSON.collection(points.map { GeoJSON.trackPoint($0, unit: unit.rawValue) }))
            case "line":
                return JSONDocument(GeoJSON.track(points, unit: unit.rawValue, from: from, to: to))
            default:
                throw ValidationError(.valueInvalid, "format is line or points")
            }
        }
        query.get("/api/v1/cameras") { request, _ in
            let query = request.uri.queryParameters
            var results: [LiveCameraResult]
            if let text = query["covering"] {
                results = live.picture.cameras(covering: try Self.point(text, name: "covering"))
            } else if let text = query["near"] {
                let point = try Self.point(text, name: "near")
                let radius = Double(decimalText: query["radius"] ?? "500") ?? -1
                guard radius >= 0, radius <= limits.maximumRadiusMetres else {
                    throw ValidationError(.valueInvalid, "radius is in metres, 0 to \(Int(limits.maximumRadiusMetres))")
                }
                results = live.picture.cameras(near: point, radius: radius)
            } else if let text = query["bbox"] {
                results = live.picture.cameras(in: try BoundingBox(parsing: text)).sorted { $0.camera.id < $1.camera.id }
            } else {
                results = live.picture.allCameras().sorted { $0.id < $1.id }.map { LiveCameraResult(camera: $0) }
            }
            return JSONDocument(GeoJSON.collection(results.prefix(limits.maximumResults).map { GeoJSON.camera($0.camera, distance: $0.distance) }))
        }
        query.get("/api/v1/zones/stats") { request, _ in
            let query = request.uri.queryParameters
            guard (query["cell"] ?? "hex") == "hex" else { throw ValidationError(.valueInvalid, "cell must be hex (hexagonal cells)") }
            guard let layerText = query["layer"].map(String.init) ?? Optional("incidents"), let layer = ZoneLayer(rawValue: layerText) else {
                throw ValidationError(.valueInvalid, "layer is one of \(ZoneLayer.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let sizeText = query["size"], let size = Double(decimalText: sizeText), size >= 50, size <= 50_000 else {
                throw ValidationError(.valueInvalid, "size is the cell edge in metres, 50 to 50000")
            }
            guard let bboxText = query["bbox"] else { throw ValidationError(.fieldMissing, "bbox=west,south,east,north is required") }
            let grid = try Self.zoneGrid(size: size, box: try BoundingBox(parsing: bboxText), maximumCells: limits.maximumZoneCells)
            let to = try query["to"].map { try Self.time($0, name: "to") } ?? now()
            let from = try query["from"].map { try Self.time($0, name: "from") } ?? to.adding(seconds: -7 * 86_400)
            guard from < to else { throw ValidationError(.valueInvalid, "from must be before to") }
            guard Double(to.microseconds - from.microseconds) / 1e6 <= limits.maximumZoneSeconds else {
                throw ValidationError(.valueInvalid, "a zone analysis covers at most \(Int(limits.maximumZoneSeconds / 86_400)) days")
            }
            // The period compared with starts as far before `from` as `to` is after it.
            guard Timestamp(microseconds: from.microseconds - (to.microseconds - from.microseconds)).isStorable else {
                throw ValidationError(.timeInvalid, "the period before from (compared with) would start before year 0001")
            }
            let result = try await history.zoneStatistics(layer: layer, grid: grid, from: from, to: to, limit: limits.maximumZoneCells)
            return JSONDocument(GeoJSON.collection(result.map(GeoJSON.zoneCell)))
        }
        query.get("/api/v1/incidents/:id/dossier") { _, context in
            guard let id = pathID(context), let incident = try await incidents.get(id: id) else {
                throw APIError.notFound("no incident \(describePathID(context))")
            }
            return JSONDocument(try await dossier(incident))
        }
        return routes
    }

    public func addRoutes(to router: Router<Context>) {
        router.addRoutes(routes)
    }

    /// The grid of a zone analysis, refused with a specific code before anything is asked of
    /// PostGIS: outside Web Mercator (`lat_out_of_range`), across the antimeridian
    /// (`bbox_crosses_antimeridian`), or with more cells than `maximumCells` (`too_many_cells`).
    static func zoneGrid(size: Double, box: BoundingBox, maximumCells: Int) throws(ValidationError) -> ZoneGrid {
        let grid: ZoneGrid
        do {
            grid = try ZoneGrid(cellMetres: size, west: box.west, south: box.south, east: box.east, north: box.north)
        } catch {
            switch error {
            case .outsideProjection: throw ValidationError(.latOutOfRange, error.description)
            case .crossesAntimeridian: throw ValidationError(.bboxCrossesAntimeridian, error.description + "; send two boxes")
            case .cellSizeInvalid: throw ValidationError(.valueInvalid, error.description)
            }
        }
        guard grid.cellCount <= Int64(maximumCells) else {
            throw ValidationError(
                .tooManyCells, "the grid has \(grid.cellCount) cells of \(Int(size)) m; at most \(maximumCells): enlarge size or shrink bbox")
        }
        return grid
    }

    /// The prefilled record for the officers sent to an incident.
    func dossier(_ incident: Incident) async throws -> JSONValue {
        let place = incident.location
        let available = live.picture.nearest(to: place, k: 5, filter: LiveUnitFilter(statuses: [.available], stale: false))
        let nearest: [JSONValue] = available.map { result in
            let unit = result.unit
            let distance = result.distance ?? Geodesy.distance(unit.position, place)
            var object: [String: JSONValue] = [
                "unit": .string(unit.id.rawValue), "distance": .number(distance.rounded()),
                // Straight-line distance over a typical urban speed for the unit's kind: an
                // order of magnitude for the dispatcher, not a route.
                "etaSeconds": .number((distance / Self.typicalSpeed(unit.kind)).rounded()),
            ]
            if let callsign = unit.callsign { object["callsign"] = .string(callsign) }
            if let status = unit.status { object["status"] = .string(status.rawValue) }
            if let kind = unit.kind { object["kind"] = .string(kind.rawValue) }
            return .object(object)
        }
        let cameras: [JSONValue] = live.picture.cameras(covering: place).map { result in
            .object([
                "id": .string(result.camera.id), "name": .string(result.camera.name), "status": .string(result.camera.status.rawValue),
                "distance": .number((result.distance ?? 0).rounded()),
            ])
        }
        // Never before year 0001 (PostgreSQL has no year 0), never longer than the limit.
        let windowStart = max(incident.openedAt.adding(seconds: -900), Timestamp.storableRange.lowerBound)
        let windowEnd = max(windowStart, min(incident.closedAt ?? now(), windowStart.adding(seconds: limits.maximumPresenceSeconds)))
        let present = try await history.unitsPassing(near: place, radius: 300, from: windowStart, to: windowEnd, limit: 100).map { unit in
            JSONValue.object([
                "unit": .string(unit.unit), "closestMetres": .number(unit.closestMetres.rounded()),
                "closestAt": .string(unit.closestAt.rfc3339), "pings": .number(Double(unit.pings)),
            ])
        }
        let earlier = try await history.earlierIncidents(near: place, radius: 250, before: incident.openedAt, excluding: incident.id, limit: 20)
        return .object([
            "incident": GeoJSON.incident(incident),
            "nearestUnits": .array(nearest),
            "cameras": .array(cameras),
            "unitsPresent": .array(present),
            "unitsPresentWindow": .object([
                "from": .string(windowStart.rfc3339), "to": .string(windowEnd.rfc3339), "radiusMetres": .number(300),
            ]),
            "earlierIncidents": .array(earlier.map(GeoJSON.incident)),
            "earlierIncidentsRadiusMetres": .number(250),
        ])
    }

    static func typicalSpeed(_ kind: HypervisionCore.Unit.Kind?) -> Double {
        switch kind {
        case .foot?: return 1.4
        case .motorbike?: return 12
        case .helicopter?: return 50
        case .boat?: return 8
        default: return 10
        }
    }

    // MARK: Parameters

    static func point(_ text: some StringProtocol, name: String) throws(ValidationError) -> GeoPoint {
        let parts = text.prefix(200).split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2, let lat = Double(decimalText: parts[0].trimmingCharacters(in: .whitespaces)),
            let lon = Double(decimalText: parts[1].trimmingCharacters(in: .whitespaces))
        else {
            throw ValidationError(.valueInvalid, "\(name) must be lat,lon in degrees (got \"\(text.prefix(40))\")")
        }
        return try GeoPoint.validated(latitude: lat, longitude: lon)
    }

    static func time(_ text: some StringProtocol, name: String) throws(ValidationError) -> Timestamp {
        try Timestamp.parseStorable(text, field: name)
    }

    static func integer(_ query: Parameters, _ name: String, default value: Int, in range: ClosedRange<Int>) throws(ValidationError) -> Int {
        guard let text = query[Substring(name)] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ValidationError(.valueInvalid, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    static func unitFilter(_ query: Parameters, maximumValues: Int = 32) throws(ValidationError) -> LiveUnitFilter {
        func list(_ name: String) throws(ValidationError) -> [String]? {
            guard let text = query[Substring(name)] else { return nil }
            let values = text.split(separator: ",", maxSplits: maximumValues).map(String.init)
            guard values.count <= maximumValues else {
                throw ValidationError(.valueInvalid, "\(name) lists at most \(maximumValues) values")
            }
            return values
        }
        var statuses: Set<UnitStatus>?
        if let names = try list("status") {
            statuses = []
            for name in names {
                guard let status = UnitStatus(rawValue: name) else { throw ValidationError(.statusInvalid, "status \"\(name.prefix(32))\" is not a status") }
                statuses!.insert(status)
            }
        }
        var stale: Bool?
        if let text = query["stale"] {
            switch text {
            case "true": stale = true
            case "false": stale = false
            default: throw ValidationError(.valueInvalid, "stale is true or false")
            }
        }
        return LiveUnitFilter(
            statuses: statuses, agencies: try list("agency").map { Set($0.map(HypervisionCore.Unit.Agency.init(rawValue:))) },
            kinds: try list("kind").map { Set($0.map(HypervisionCore.Unit.Kind.init(rawValue:))) }, stale: stale)
    }

    /// A GeoJSON Polygon: a geometry, a Feature with one, or a FeatureCollection of one Feature.
    static func polygon(_ body: ByteBuffer) throws(ValidationError) -> GeoPolygon {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: body.readableBytesView)
        } catch {
            throw ValidationError(.jsonInvalid, "the body is not valid JSON: \(error)")
        }
        var geometry = document
        if document["type"]?.stringValue == "FeatureCollection" {
            guard let features = document["features"]?.arrayValue, features.count == 1 else {
                throw ValidationError(.valueInvalid, "a FeatureCollection must hold exactly one Polygon feature")
            }
            geometry = features[0]
        }
        if geometry["type"]?.stringValue == "Feature" { geometry = geometry["geometry"] ?? .null }
        guard geometry["type"]?.stringValue == "Polygon", let rings = geometry["coordinates"]?.arrayValue else {
            throw ValidationError(.valueInvalid, "the body must be a GeoJSON Polygon (geometry, Feature or FeatureCollection of one)")
        }
        // Counted before anything is built: a 1 MiB body holds 100,000 positions.
        let total = rings.reduce(0) { $0 + ($1.arrayValue?.count ?? 0) }
        guard total <= GeoPolygon.maximumVertices else {
            throw ValidationError(
                .polygonTooManyVertices, "the polygon has \(total) positions; at most \(GeoPolygon.maximumVertices) are accepted")
        }
        var coordinates: [[[Double]]] = []
        for ring in rings {
            guard let positions = ring.arrayValue else { throw ValidationError(.valueInvalid, "a ring is an array of [lon, lat]") }
            var points: [[Double]] = []
            for position in positions {
                // [lon, lat] or [lon, lat, alt], numbers only.
                guard let items = position.arrayValue, (2...3).contains(items.count) else {
                    throw ValidationError(.positionInvalid, "a position is [lon, lat] or [lon, lat, alt]")
                }
                let numbers = items.compactMap(\.doubleValue)
                guard numbers.count == items.count else { throw ValidationError(.positionInvalid, "a position holds numbers only") }
                points.append(numbers)
            }
            coordinates.append(points)
        }
        return try GeoPolygon(geoJSONCoordinates: coordinates)
    }
}

extension QueryRoutes {
    /// What every unit listing takes besides its place: the filters, `limit`, `format=count` and
    /// the `after` cursor.
    struct UnitListing {
        let filter: LiveUnitFilter
        let limit: Int
        /// `format=count`: the number of matching units instead of the units (`format=features`,
        /// the default).
        let countOnly: Bool
        /// `after=<unit id>`: the page after that unit, in unit-id order.
        let after: UnitID?

        init(_ query: Parameters, limits: QueryLimits) throws(ValidationError) {
            filter = try QueryRoutes.unitFilter(query, maximumValues: limits.maximumFilterValues)
            limit = try QueryRoutes.integer(query, "limit", default: limits.maximumResults, in: 1...limits.maximumResults)
            switch query["format"] {
            case nil, "features": countOnly = false
            case "count": countOnly = true
            default: throw ValidationError(.valueInvalid, "format is features or count")
            }
            after = try query["after"].map { text throws(ValidationError) in try UnitID(text) }
        }

        /// Answers by distance have no id order to page through.
        func refuseCursor(for mode: String) throws(ValidationError) {
            guard after != nil else { return }
            throw ValidationError(.valueInvalid, "after pages answers in unit-id order (bbox, polygon, all units); \(mode) answers are by distance")
        }

        /// The units in `area` (all when nil) in unit-id order, one page of them, or their count.
        func answer(in area: LiveUnitArea?, from picture: LivePicture) -> JSONDocument {
            if countOnly { return JSONDocument(GeoJSON.count(picture.count(in: area, filter: filter))) }
            return JSONDocument(GeoJSON.units(picture.page(in: area, filter: filter, after: after, limit: limit)))
        }
    }
}

/// Units, cameras, incidents, tracks and zone cells as RFC 7946 GeoJSON.
enum GeoJSON {
    static func point(_ point: GeoPoint) -> JSONValue {
        .object(["type": "Point", "coordinates": .array([.number(point.longitude), .number(point.latitude)])])
    }

    static func collection(_ features: [JSONValue]) -> JSONValue {
        .object(["type": "FeatureCollection", "features": .array(features)])
    }

    /// A collection with how many features matched in all (RFC 7946 foreign member), so that a
    /// client sees when `limit` cut the answer.
    static func collection(_ features: [JSONValue], matched: Int) -> JSONValue {
        .object(["type": "FeatureCollection", "features": .array(features), "matched": .number(Double(matched))])
    }

    /// A page of units: `matched` in all, and `next`, the `after` value of the next page, when
    /// there is one.
    static func units(_ page: LiveUnitPage) -> JSONValue {
        var members: [String: JSONValue] = [
            "type": "FeatureCollection", "features": .array(page.units.map { unit($0, distance: nil) }),
            "matched": .number(Double(page.matched)),
        ]
        if page.hasMore, let last = page.units.last { members["next"] = .string(last.id.rawValue) }
        return .object(members)
    }

    static func count(_ count: Int) -> JSONValue { .object(["count": .number(Double(count))]) }

    static func feature(id: String, geometry: JSONValue, properties: [String: JSONValue]) -> JSONValue {
        .object(["type": "Feature", "id": .string(id), "geometry": geometry, "properties": .object(properties)])
    }

    static func unit(_ unit: LiveUnit, distance: Double?) -> JSONValue {
        var properties: [String: JSONValue] = [
            "time": .string(unit.time.rfc3339), "receivedAt": .string(unit.lastHeard.rfc3339), "stale": .bool(unit.isStale),
        ]
        if let value = unit.callsign { properties["callsign"] = .string(value) }
        if let value = unit.kind { properties["kind"] = .string(value.rawValue) }
        if let value = unit.agency { properties["agency"] = .string(value.rawValue) }
        if let value = unit.status { properties["status"] = .string(value.rawValue) }
        if let value = unit.speed { properties["speed"] = .number(value) }
        if let value = unit.heading { properties["heading"] = .number(value) }
        if let value = unit.altitude { properties["altitude"] = .number(value) }
        if let value = unit.accuracy { properties["accuracy"] = .number(value) }
        if let value = unit.battery { properties["battery"] = .number(Double(value)) }
        if let value = unit.staleSince { properties["staleSince"] = .string(value.rfc3339) }
        if let distance { properties["distance"] = .number((distance * 10).rounded() / 10) }
        return feature(id: unit.id.rawValue, geometry: point(unit.position), properties: properties)
    }

    static func camera(_ camera: Camera, distance: Double?) -> JSONValue {
        var properties: [String: JSONValue] = [
            "name": .string(camera.name), "heading": .number(camera.heading), "fov": .number(camera.fieldOfView),
            "range": .number(camera.range), "status": .string(camera.status.rawValue), "tags": .array(camera.tags.map { .string($0) }),
            "streams": .array(camera.streams.map {
                .object(["protocol": .string($0.transport.rawValue), "quality": .string($0.quality), "url": .string($0.url)])
            }),
        ]
        if let distance { properties["distance"] = .number((distance * 10).rounded() / 10) }
        return feature(id: camera.id, geometry: point(camera.position), properties: properties)
    }

    static func incident(_ incident: Incident) -> JSONValue {
        var properties: [String: JSONValue] = [
            "category": .string(incident.category), "priority": .number(Double(incident.priority)),
            "status": .string(incident.status.rawValue), "openedAt": .string(incident.openedAt.rfc3339),
            "source": .string(incident.source.rawValue),
        ]
        if let value = incident.closedAt { properties["closedAt"] = .string(value.rfc3339) }
        if let value = incident.summary { properties["summary"] = .string(value) }
        if let value = incident.service { properties["service"] = .string(value) }
        if let value = incident.routingReason { properties["routingReason"] = .string(value) }
        return feature(id: incident.id, geometry: point(incident.location), properties: properties)
    }

    static func trackPoint(_ point: TrackPoint, unit: String) -> JSONValue {
        var properties: [String: JSONValue] = ["unit": .string(unit), "time": .string(point.time.rfc3339)]
        if let value = point.speed { properties["speed"] = .number(value) }
        if let value = point.heading { properties["heading"] = .number(value) }
        if let value = point.status { properties["status"] = .string(value) }
        return .object(["type": "Feature", "geometry": self.point(point.position), "properties": .object(properties)])
    }

    /// A LineString with the time of every vertex in `properties.times` (GeoJSON has no
    /// per-vertex attributes). A single ping is a Point; none is a null geometry.
    static func track(_ points: [TrackPoint], unit: String, from: Timestamp, to: Timestamp) -> JSONValue {
        let geometry: JSONValue
        switch points.count {
        case 0: geometry = .null
        case 1: geometry = point(points[0].position)
        default:
            geometry = .object([
                "type": "LineString",
                "coordinates": .array(points.map { .array([.number($0.position.longitude), .number($0.position.latitude)]) }),
            ])
        }
        return .object([
            "type": "Feature", "id": .string(unit), "geometry": geometry,
            "properties": .object([
                "unit": .string(unit), "from": .string(from.rfc3339), "to": .string(to.rfc3339),
                "times": .array(points.map { .string($0.time.rfc3339) }), "points": .number(Double(points.count)),
            ]),
        ])
    }

    static func zoneCell(_ cell: ZoneCell) -> JSONValue {
        .object([
            "type": "Feature",
            "geometry": .object([
                "type": "Polygon",
                "coordinates": .array([.array(cell.ring.map { .array([.number($0.longitude), .number($0.latitude)]) })]),
            ]),
            "properties": .object([
                "count": .number(Double(cell.count)), "previous": .number(Double(cell.previous)),
                "change": .number(Double(cell.count - cell.previous)),
            ]),
        ])
    }
}
