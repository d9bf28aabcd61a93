import HypervisionCore
import Logging
import PostgresNIO

/// Why an incident write was refused.
public enum IncidentStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A client-chosen id that is already taken.
    case duplicateID(String)
    case notFound(String)
    /// Closed incidents are history: they are not edited, a new incident is opened instead.
    case closed(String)

    public var description: String {
        switch self {
        case .duplicateID(let id): return "an incident with id \(id) already exists"
        case .notFound(let id): return "no incident \(id)"
        case .closed(let id): return "incident \(id) is closed; open a new incident instead of editing it"
        }
    }
}

/// What a `PATCH` may change. Nil fields stay as they are.
public struct IncidentChanges: Sendable, Hashable {
    public var category: String?
    public var priority: Int?
    public var status: Incident.Status?
    public var summary: String?
    public init(category: String? = nil, priority: Int? = nil, status: Incident.Status? = nil, summary: String? = nil) {
        self.category = category
        self.priority = priority
        self.status = status
        self.summary = summary
    }
}

/// Which incidents a listing returns. Every field narrows the result; `limit` is bounded by the caller.
public struct IncidentFilter: Sendable, Hashable {
    /// Empty means every status.
    public var statuses: Set<Incident.Status> = []
    public var category: String?
    public var service: String?
    /// Opened at or after / before.
    public var openedFrom: Timestamp?
    public var openedTo: Timestamp?
    public var boundingBox: BoundingBox?
    public var limit: Int = 100

    public init() {}
}

/// Incidents in PostGIS, with every change kept in `incident_history`.
public struct IncidentStore: Sendable {
    public let database: Database
    let logger: Logger

    public init(database: Database) {
        self.database = database
        self.logger = database.logger
    }

    static let columns = """
        id, category, priority::int8, ST_Y(location::geometry), ST_X(location::geometry), status,
        (extract(epoch FROM opened_at) * 1000000)::int8, (extract(epoch FROM closed_at) * 1000000)::int8,
        summary, source, service, routing_reason
        """

    typealias Row = (String, String, Int64, Double, Double, String, Int64, Int64?, String?, String?, String?, String?)

    static func incident(_ row: Row) -> Incident {
        Incident(
            id: row.0, category: row.1, priority: Int(row.2), location: GeoPoint(latitude: row.3, longitude: row.4),
            status: Incident.Status(rawValue: row.5) ?? .open, openedAt: Timestamp(microseconds: row.6),
            closedAt: row.7.map { Timestamp(microseconds: $0) }, summary: row.8,
            source: row.9.flatMap(Incident.Source.init(rawValue:)) ?? .operator, service: row.10, routingReason: row.11)
    }

    /// Stores a new incident. An empty id is replaced by `INC-<year>-<number>`.
    public func create(_ incident: Incident, at now: Timestamp) async throws -> Incident {
        try await transaction { connection in
            var incident = incident
            if incident.id.isEmpty {
                let rows = try await connection.checkedQuery("SELECT nextval('incident_number')", logger: logger)
                var number: Int64 = 0
                for try await value in rows.decode(Int64.self) { number = value }
                let digits = String(number)
                incident.id = "INC-\(incident.openedAt.civilDate.year)-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
            }
            let inserted = try await connection.checkedQuery(
                """
                INSERT INTO incidents (id, category, priority, location, status, opened_at, closed_at, summary, source, service,
                                       routing_reason, updated_at)
                VALUES (\(incident.id), \(incident.category), \(Int16(incident.priority)),
                        ST_SetSRID(ST_MakePoint(\(incident.location.longitude), \(incident.location.latitude)), 4326)::geography,
                        \(incident.status.rawValue), \(PostgresTime(incident.openedAt)),
                        \(incident.closedAt.map(PostgresTime.init)), \(incident.summary), \(incident.source.rawValue),
                        \(incident.service), \(incident.routingReason), \(PostgresTime(now)))
                ON CONFLICT (id) DO NOTHING
                RETURNING 1
                """, logger: logger)
            var created = false
            for try await _ in inserted { created = true }
            guard created else { throw IncidentStoreError.duplicateID(incident.id) }
            try await Self.record(
                id: incident.id, at: now,
                change: #"{"event":"opened","priority":\#(incident.priority),"service":"\#(incident.service ?? "")"}"#,
                on: connection, logger: logger)
            return incident
        }
    }

    /// Applies `changes` under a row lock; `reroute` gives the routing decision for the changed
    /// incident (a new category can mean another service). Returns the incident after the change.
    public func update(
        id: String, changes: IncidentChanges, at now: Timestamp, reroute: @escaping @Sendable (Incident) -> RoutingDecision
    ) async throws -> Incident {
        try await transaction { connection in
            let rows = try await connection.checkedQuery(
                PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM incidents WHERE id = $1 FOR UPDATE", binds: try binds(id)),
                logger: logger)
            var current: Incident?
            for try await row in rows.decode(Row.self) { current = Self.incident(row) }
            guard var incident = current else { throw IncidentStoreError.notFound(id) }
            guard incident.status != .closed else { throw IncidentStoreError.closed(id) }
            let before = incident
            if let category = changes.category { incident.category = category }
            if let priority = changes.priority { incident.priority = priority }
            if let summary = changes.summary { incident.summary = summary }
            if let status = changes.status {
                incident.status = status
                if status == .closed { incident.closedAt = max(now, incident.openedAt) }
            }
            if incident.category != before.category || incident.priority != before.priority {
                let decision = reroute(incident)
                incident.service = decision.service
                incident.routingReason = decision.reason
            }
            try await connection.checkedQuery(
                """
                UPDATE incidents SET category = \(incident.category), priority = \(Int16(incident.priority)),
                    status = \(incident.status.rawValue), closed_at = \(incident.closedAt.map(PostgresTime.init)),
                    summary = \(incident.summary), service = \(incident.service), routing_reason = \(incident.routingReason),
                    updated_at = \(PostgresTime(now))
                WHERE id = \(id)
                """, logger: logger)
            var change: [String] = []
            if incident.category != before.category { change.append(#""category":\#(jsonString(incident.category))"#) }
            if incident.priority != before.priority { change.append(#""priority":\#(incident.priority)"#) }
            if incident.status != before.status { change.append(#""status":"\#(incident.status.rawValue)""#) }
            if incident.summary != before.summary { change.append(#""summary":true"#) }
            if incident.service != before.service { change.append(#""service":\#(jsonString(incident.service ?? ""))"#) }
            if !change.isEmpty {
                try await Self.record(id: id, at: now, change: "{" + change.joined(separator: ",") + "}", on: connection, logger: logger)
            }
            return incident
        }
    }

    /// A transaction whose refusals (``IncidentStoreError``) reach the caller as themselves,
    /// not wrapped in postgres-nio's transaction error.
    private func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await database.withTransaction { connection in try await body(connection) }
        } catch {
            if let refusal = DatabaseErrors.unwrap(error) as? IncidentStoreError { throw refusal }
            throw error
        }
    }

    private static func record(id: String, at time: Timestamp, change: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.checkedQuery(
            "INSERT INTO incident_history (incident_id, changed_at, change) VALUES (\(id), \(PostgresTime(time)), \(change)::jsonb)",
            logger: logger)
    }

    public func get(id: String) async throws -> Incident? {
        let rows = try await database.query(
            PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM incidents WHERE id = $1", binds: try binds(id)))
        for row in rows {
            let row = try row.decode(Row.self)
            return Self.incident(row)
        }
        return nil
    }

    /// The changes recorded for an incident, oldest first, as (time, JSON text).
    public func history(id: String) async throws -> [(Timestamp, String)] {
        let rows = try await database.query(
            "SELECT (extract(epoch FROM changed_at) * 1000000)::int8, change::text FROM incident_history WHERE incident_id = \(id) ORDER BY changed_at, ctid")
        var history: [(Timestamp, String)] = []
        for row in rows {
            let (micros, change) = try row.decode((Int64, String).self)
            history.append((Timestamp(microseconds: micros), change))
        }
        return history
    }

    /// Incidents matching `filter`, most urgent first, then most recent.
    public func list(_ filter: IncidentFilter) async throws -> [Incident] {
        var conditions: [String] = []
        var bindings = PostgresBindings()
        func bind(_ value: some PostgresEncodable & Sendable) throws -> String {
            try bindings.append(value, context: .default)
            return "$\(bindings.count)"
        }
        if !filter.statuses.isEmpty {
            conditions.append("status = ANY(\(try bind(filter.statuses.map(\.rawValue).sorted()))::text[])")
        }
        if let category = filter.category { conditions.append("category = \(try bind(category))") }
        if let service = filter.service { conditions.append("service = \(try bind(service))") }
        if let from = filter.openedFrom { conditions.append("opened_at >= \(try bind(PostgresTime(from)))") }
        if let to = filter.openedTo { conditions.append("opened_at < \(try bind(PostgresTime(to)))") }
        if let box = filter.boundingBox {
            // Split at the antimeridian so each envelope is an ordinary one.
            let envelopes = box.west <= box.east ? [(box.west, box.east)] : [(box.west, 180.0), (-180.0, box.east)]
            let parts = try envelopes.map { west, east in
                "ST_Covers(ST_MakeEnvelope(\(try bind(west)), \(try bind(box.south)), \(try bind(east)), \(try bind(box.north)), 4326), location::geometry)"
            }
            conditions.append("(" + parts.joined(separator: " OR ") + ")")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = try bind(Int64(filter.limit))
        let rows = try await database.query(
            PostgresQuery(
                unsafeSQL: "SELECT \(Self.columns) FROM incidents \(whereClause) ORDER BY priority, opened_at DESC, id LIMIT \(limit)",
                binds: bindings))
        var incidents: [Incident] = []
        for row in rows {
            let row = try row.decode(Row.self)
            incidents.append(Self.incident(row))
        }
        return incidents
    }
}

private func binds(_ values: String...) throws -> PostgresBindings {
    var bindings = PostgresBindings()
    for value in values { bindings.append(value) }
    return bindings
}
