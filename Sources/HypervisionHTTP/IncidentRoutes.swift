import Foundation
import Hummingbird
import HypervisionCore
import HypervisionLive
import HypervisionStore

/// Incidents: `POST /api/v1/incidents`, `GET /api/v1/incidents` with filters,
/// `GET|PATCH /api/v1/incidents/{id}`, as GeoJSON.
///
/// Citizen lines, chatbots and analytics are machines feeding us: opening and editing take the
/// `ingest` scope; reading takes `query`.
public struct IncidentRoutes<Context: RequestContext>: Sendable {
    let desk: IncidentDesk
    let authority: TokenAuthority
    public var maximumBodyBytes = 64 * 1024
    public var maximumListLimit = 1_000

    public init(desk: IncidentDesk, authority: TokenAuthority) {
        self.desk = desk
        self.authority = authority
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let ingest = routes.requiring(.scope(.ingest), of: authority)
        let query = routes.requiring(.scope(.query), of: authority)
        ingest.post("/api/v1/incidents") { request, _ in
            let fields = try await request.jsonObject(.standard(limit: maximumBodyBytes))
            let incident = try desk.validator.validate(try IncidentJSON.raw(from: fields), now: desk.now())
            return JSONDocument(GeoJSON.incident(try await desk.open(incident)), status: .created)
        }
        query.get("/api/v1/incidents/:id") { _, context in
            guard let id = pathID(context), let incident = try await desk.store.get(id: id) else {
                throw APIError.notFound("no incident \(describePathID(context))")
            }
            return JSONDocument(GeoJSON.incident(incident))
        }
        ingest.patch("/api/v1/incidents/:id") { request, context in
            let fields = try await request.jsonObject(.standard(limit: maximumBodyBytes))
            let changes = try IncidentJSON.changes(from: fields, validator: desk.validator)
            guard let id = pathID(context) else { throw IncidentStoreError.notFound(describePathID(context)) }
            return JSONDocument(GeoJSON.incident(try await desk.update(id: id, changes: changes, at: desk.now())))
        }
        query.get("/api/v1/incidents") { request, _ in
            let filter = try IncidentJSON.filter(from: request.uri.queryParameters, maximumLimit: maximumListLimit, validator: desk.validator)
            return JSONDocument(GeoJSON.collection(try await desk.store.list(filter).map(GeoJSON.incident)))
        }
        return routes
    }

    public func addRoutes(to router: Router<Context>) {
        router.addRoutes(routes)
    }
}

/// Incidents in and out of JSON.
enum IncidentJSON {
    static func raw(from fields: JSONFields) throws(ValidationError) -> RawIncident {
        var raw = RawIncident()
        raw.id = try fields.string("id")
        raw.category = try fields.string("category")
        raw.summary = try fields.string("summary")
        raw.source = try fields.string("source")
        raw.openedAt = try fields.string("openedAt")
        raw.latitude = try fields.number("lat")
        raw.longitude = try fields.number("lon")
        if let priority = try fields.number("priority") {
            guard priority == priority.rounded(), abs(priority) < 1e6 else {
                throw ValidationError(.valueInvalid, "priority must be a whole number from 1 to 5")
            }
            raw.priority = Int(priority)
        }
        // A GeoJSON Point is accepted in place of lat/lon.
        if raw.latitude == nil, raw.longitude == nil, let geometry = try fields.fields("geometry") {
            guard try geometry.string("type") == "Point", let coordinates = try geometry.array("coordinates"), coordinates.count >= 2 else {
                throw ValidationError(.valueInvalid, "geometry must be a GeoJSON Point with [lon, lat] coordinates")
            }
            guard let lon = coordinates[0].doubleValue, let lat = coordinates[1].doubleValue else {
                throw ValidationError(.fieldTypeInvalid, "geometry.coordinates must be numbers [lon, lat]")
            }
            raw.longitude = lon
            raw.latitude = lat
        }
        return raw
    }

    static func changes(from fields: JSONFields, validator: IncidentValidator) throws(ValidationError) -> IncidentChanges {
        let known: Set<String> = ["category", "priority", "status", "summary"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw ValidationError(
                .valueInvalid, "\(unknown.prefix(64)) cannot be changed; a PATCH may carry category, priority, status and summary")
        }
        var changes = IncidentChanges()
        if let category = try fields.string("category") { changes.category = try validator.validateCategory(category) }
        if let priority = try fields.number("priority") {
            guard priority == priority.rounded(), abs(priority) < 1e6 else {
                throw ValidationError(.valueInvalid, "priority must be a whole number from 1 to 5")
            }
            changes.priority = try validator.validatePriority(Int(priority))
        }
        if let status = try fields.string("status") {
            guard let parsed = Incident.Status(rawValue: status) else {
                throw ValidationError(.statusInvalid, "status must be open, acknowledged or closed")
            }
            changes.status = parsed
        }
        if let summary = try fields.string("summary") { changes.summary = try validator.validateSummary(summary) }
        return changes
    }

    static func filter(from query: Parameters, maximumLimit: Int, validator: IncidentValidator) throws(ValidationError) -> IncidentFilter {
        var filter = IncidentFilter()
        if let status = query["status"] {
            for item in status.split(separator: ",") {
                if item == "active" {
                    filter.statuses.formUnion([.open, .acknowledged])
                } else if let parsed = Incident.Status(rawValue: String(item)) {
                    filter.statuses.insert(parsed)
                } else {
                    throw ValidationError(.statusInvalid, "status \"\(item.prefix(32))\" is not one of open, acknowledged, closed, active")
                }
            }
        }
        // Compared with stored text: checked as it would be on the way in, so that nothing
        // PostgreSQL cannot hold (NUL) reaches it.
        if let category = query["category"] { filter.category = try validator.validateCategory(String(category)) }
        if let service = query["service"] {
            try InputText.check(String(service), field: "service")
            guard (1...64).contains(service.utf8.count) else { throw ValidationError(.valueInvalid, "service must be 1 to 64 characters") }
            filter.service = String(service)
        }
        if let text = query["from"] { filter.openedFrom = try Timestamp.parseStorable(text, field: "from") }
        if let text = query["to"] { filter.openedTo = try Timestamp.parseStorable(text, field: "to") }
        if let text = query["bbox"] { filter.boundingBox = try BoundingBox(parsing: text) }
        if let text = query["limit"] {
            guard let limit = Int(text), (1...maximumLimit).contains(limit) else {
                throw ValidationError(.valueInvalid, "limit must be a whole number from 1 to \(maximumLimit)")
            }
            filter.limit = limit
        }
        return filter
    }
}
