import HypervisionCore
import Logging
import PostgresNIO

/// One stored position of a unit's track.
public struct TrackPoint: Sendable, Hashable {
    public var time: Timestamp
    public var position: GeoPoint
    public var speed: Double?
    public var heading: Double?
    public var status: String?
    public init(time: Timestamp, position: GeoPoint, speed: Double? = nil, heading: Double? = nil, status: String? = nil) {
        self.time = time
        self.position = position
        self.speed = speed
        self.heading = heading
        self.status = status
    }
}

/// A unit that was near a place during a time window, and how near it came.
public struct PassingUnit: Sendable, Hashable {
    public var unit: String
    public var closestMetres: Double
    public var closestAt: Timestamp
    public var pings: Int

    public init(unit: String, closestMetres: Double, closestAt: Timestamp, pings: Int) {
        self.unit = unit
        self.closestMetres = closestMetres
        self.closestAt = closestAt
        self.pings = pings
    }
}

/// One hexagonal cell of a zone analysis, with its counts in this period and the one before.
public struct ZoneCell: Sendable, Hashable {
    /// The cell's outline, a closed ring of [lon, lat].
    public var ring: [GeoPoint]
    public var count: Int
    public var previous: Int
}

/// What a zone analysis counts.
public enum ZoneLayer: String, Sendable, Hashable, CaseIterable {
    /// Incidents by opening time.
    case incidents
    /// Camera events by time.
    case cameraEvents = "camera_events"
}

/// Questions about the past, answered from PostGIS: tracks, who passed by, where things recur.
public struct HistoryStore: Sendable {
    public let database: Database
    let logger: Logger

    public init(database: Database) {
        self.database = database
        self.logger = database.logger
    }

    /// The pings of `unit` in [from, to), oldest first, at most `limit` (the caller says when it
    /// was reached: one more than the limit is read).
    public func track(unit: String, from: Timestamp, to: Timestamp, limit: Int) async throws -> [TrackPoint] {
        // The time range prunes day partitions and the primary key (unit number, time) serves the
        // rest; the unit's number is looked up once.
        let rows = try await database.query(
            """
            SELECT (extract(epoch FROM time) * 1000000)::int8, ST_Y(position::geometry), ST_X(position::geometry),
                   speed::float8, heading::float8, status
            FROM pings
            WHERE unit_key = (SELECT key FROM units WHERE id = \(unit)) AND time >= \(PostgresTime(from)) AND time < \(PostgresTime(to))
            ORDER BY time
            LIMIT \(Int64(limit + 1))
            """)
        var points: [TrackPoint] = []
        for row in rows {
            let (micros, lat, lon, speed, heading, status) = try row.decode((Int64, Double, Double, Double?, Double?, String?).self)
            points.append(
                TrackPoint(
                    time: Timestamp(microseconds: micros), position: GeoPoint(latitude: lat, longitude: lon), speed: speed, heading: heading,
                    status: status))
        }
        return points
    }

    /// Units with a ping within `radius` metres of `point` during [from, to), nearest first (ties
    /// by unit id), at most `limit` of them: the database sorts and cuts, so a busy place sends
    /// back `limit` rows, not one per unit that ever passed.
    ///
    /// History rows have no spatial index (schema version 5): the window's blocks come from the
    /// BRIN index on time, the ``HistoryCell`` ranges keep the rows that can be near, a spherical
    /// test with 1% to spare drops most of the rest cheaply, and the geodesic distance on the
    /// spheroid, computed once per row, decides. The candidates are materialised so that the
    /// planner does not walk the whole primary key for the window instead. Units are named (and
    /// ties broken by id) by joining `units` on the rows kept, at most `limit`.
    public func unitsPassing(near point: GeoPoint, radius: Double, from: Timestamp, to: Timestamp, limit: Int) async throws -> [PassingUnit] {
        // Written in as literals (finite numbers: callers validate positions), so the planner
        // folds the point into a constant that PostGIS builds once, not once per row.
        let here = "ST_SetSRID(ST_MakePoint(\(point.longitude), \(point.latitude)), 4326)::geography"
        let rows = try await database.query(
            PostgresQuery(
                unsafeSQL: """
                    WITH candidates AS MATERIALIZED (
                        SELECT unit_key, position, time FROM pings
                        WHERE time >= $1 AND time < $2
                          AND \(HistoryCell.condition(column: "cell", around: point, radius: radius))
                    ), near AS MATERIALIZED (
                        SELECT unit_key, ST_Distance(position, \(here)) AS distance, time FROM candidates
                        WHERE ST_DWithin(position, \(here), $3 * 1.01, false)
                    ), closest AS (
                        SELECT DISTINCT ON (unit_key) unit_key, distance,
                               (extract(epoch FROM time) * 1000000)::int8 AS micros, count(*) OVER (PARTITION BY unit_key) AS pings
                        FROM near
                        WHERE distance <= $3
                        ORDER BY unit_key, distance, time
                    )
                    SELECT u.id, c.distance, c.micros, c.pings FROM closest c JOIN units u ON u.key = c.unit_key
                    ORDER BY c.distance, u.id LIMIT $4
                    """,
                binds: {
                    var b = PostgresBindings()
                    b.append(PostgresTime(from))
                    b.append(PostgresTime(to))
                    b.append(radius)
                    b.append(Int64(limit))
                    return b
                }()))
        var units: [PassingUnit] = []
        for row in rows {
            let (unit, distance, micros, count) = try row.decode((String, Double, Int64, Int64).self)
            units.append(PassingUnit(unit: unit, closestMetres: distance, closestAt: Timestamp(microseconds: micros), pings: Int(count)))
        }
        return units
    }

    /// Counts of `layer` per cell of `grid` (hexagons as PostGIS's `ST_HexagonGrid` draws them in
    /// Web Mercator, see ``ZoneGrid``), for [from, to) and for the period of the same length
    /// before it. Only cells with something in either period are returned, most in this period
    /// first, at most `limit` of them.
    ///
    /// Each item finds its own cell: the grid is anchored at the projection's origin, so the
    /// cells `ST_HexagonGrid` draws around one point are the same cells, with the same `i, j`,
    /// as those it draws over the whole box. The work is a few cells per item, never the
    /// box's whole grid joined with every item (cells × items `ST_Intersects` tests, minutes for
    /// a large box). A point on an edge shared by two cells counts once, in the first cell by
    /// `(i, j)`, as it would in the box's grid.
    public func zoneStatistics(layer: ZoneLayer, grid: ZoneGrid, from: Timestamp, to: Timestamp, limit: Int) async throws -> [ZoneCell] {
        let previousFrom = Timestamp(microseconds: from.microseconds - (to.microseconds - from.microseconds))
        let source: String
        switch layer {
        case .incidents: source = "SELECT location::geometry AS g, opened_at AS t FROM incidents"
        case .cameraEvents:
            source = "SELECT c.position::geometry AS g, e.occurred_at AS t FROM camera_events e JOIN cameras c ON c.id = e.camera_id"
        }
        let rows = try await database.query(
            PostgresQuery(
                unsafeSQL: """
                    WITH items AS (
                        SELECT ST_Transform(g, 3857) AS g, t >= $6 AS current FROM (\(source)) s
                        WHERE t >= $5 AND t < $7 AND ST_Intersects(g, ST_MakeEnvelope($1, $2, $3, $4, 4326))
                    ), hits AS (
                        SELECT cell.i, cell.j, items.current
                        FROM items CROSS JOIN LATERAL (
                            -- The cells around the item, widened a metre so that a point on a
                            -- cell's edge sees both of its cells.
                            SELECT h.i, h.j FROM ST_HexagonGrid($8, ST_Expand(items.g, 1)) h
                            WHERE ST_Intersects(h.geom, items.g)
                            ORDER BY h.i, h.j
                            LIMIT 1
                        ) cell
                    )
                    SELECT ST_AsText(ST_Transform(ST_Hexagon($8, i, j, ST_SetSRID(ST_MakePoint(0, 0), 3857)), 4326)),
                           count(*) FILTER (WHERE current), count(*) FILTER (WHERE NOT current)
                    FROM hits
                    GROUP BY i, j
                    ORDER BY 2 DESC, 3 DESC, 1
                    LIMIT $9
                    """,
                binds: {
                    var b = PostgresBindings()
                    for value in [grid.west, grid.south, grid.east, grid.north] { b.append(value) }
                    b.append(PostgresTime(previousFrom))
                    b.append(PostgresTime(from))
                    b.append(PostgresTime(to))
                    b.append(grid.projectedEdge)
                    b.append(Int64(limit))
                    return b
                }()))
        var cells: [ZoneCell] = []
        for row in rows {
            let (wkt, count, previous) = try row.decode((String, Int64, Int64).self)
            cells.append(ZoneCell(ring: Self.ring(fromPolygonWKT: wkt), count: Int(count), previous: Int(previous)))
        }
        return cells
    }

    /// Incidents opened before `before` in the hexagonal cell of `cellMetres` around `point`,
    /// newest first (for the intervention dossier: "has this happened here before?").
    public func earlierIncidents(near point: GeoPoint, radius: Double, before: Timestamp, excluding id: String, limit: Int) async throws
        -> [Incident]
    {
        let rows = try await database.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(IncidentStore.columns) FROM incidents
                    WHERE opened_at < $1 AND id <> $2
                      AND ST_DWithin(location, ST_SetSRID(ST_MakePoint($3, $4), 4326)::geography, $5)
                    ORDER BY opened_at DESC LIMIT $6
                    """,
                binds: {
                    var b = PostgresBindings()
                    b.append(PostgresTime(before))
                    b.append(id)
                    b.append(point.longitude)
                    b.append(point.latitude)
                    b.append(radius)
                    b.append(Int64(limit))
                    return b
                }()))
        var incidents: [Incident] = []
        for row in rows {
            let row = try row.decode(IncidentStore.Row.self)
            incidents.append(IncidentStore.incident(row))
        }
        return incidents
    }

    /// `POLYGON((x y,x y,…))` to points; only the outer ring (hexagons have no holes).
    static func ring(fromPolygonWKT wkt: String) -> [GeoPoint] {
        guard let open = wkt.firstIndex(of: "("), let close = wkt.firstIndex(of: ")") else { return [] }
        let body = wkt[open..<close].drop { $0 == "(" }
        return body.split(separator: ",").compactMap { pair in
            let parts = pair.split(separator: " ")
            guard parts.count == 2, let x = Double(parts[0]), let y = Double(parts[1]) else { return nil }
            return GeoPoint(latitude: y, longitude: x)
        }
    }
}

extension HistoryStore {
    /// The latest position of every unit heard since `heardSince` (all when nil), the most
    /// recently heard first, at most `limit`, to rebuild the live picture at start-up and when a
    /// daemon of a cluster joins again: the history keeps every unit ever heard, the live
    /// picture only those it would keep, so this never reads millions of rows to forget them.
    ///
    /// A unit's latest position is its newest ping by device time, as the live picture keeps it,
    /// and "heard" is when that ping was received. It is read from the history: the last entry of
    /// the unit's number in the primary key, the newest day partition first (one index probe for a unit heard
    /// today). Only units whose `heard_on` (the last day a ping of theirs was received) is not
    /// before `heardSince`'s day are probed. A unit whose pings have all passed the retention
    /// has no latest position.
    public func latestPositions(heardSince: Timestamp? = nil, limit: Int = Int(Int64.max)) async throws -> [Ping] {
        let since = heardSince ?? Timestamp.storableRange.lowerBound
        let rows = try await database.query(
            """
            SELECT u.id, (extract(epoch FROM p.time) * 1000000)::int8, ST_Y(p.position::geometry), ST_X(p.position::geometry),
                   p.altitude::float8, p.speed::float8, p.heading::float8, p.accuracy::float8, p.status, p.battery::int8,
                   (extract(epoch FROM p.received_at) * 1000000)::int8
            FROM units u
            CROSS JOIN LATERAL (
                SELECT time, position, altitude, speed, heading, accuracy, status, battery, received_at
                FROM pings WHERE pings.unit_key = u.key ORDER BY time DESC LIMIT 1
            ) p
            WHERE u.heard_on >= date '1970-01-01' + \(since.epochDay)::int AND p.received_at > \(PostgresTime(since))
            ORDER BY p.received_at DESC
            LIMIT \(Int64(limit))
            """)
        var pings: [Ping] = []
        for row in rows {
            let row = try row.decode((String, Int64, Double, Double, Double?, Double?, Double?, Double?, String?, Int64?, Int64).self)
            pings.append(
                Ping(
                    unit: UnitID(trusted: row.0), time: Timestamp(microseconds: row.1), position: GeoPoint(latitude: row.2, longitude: row.3),
                    altitude: row.4, speed: row.5, heading: row.6, accuracy: row.7, status: row.8.flatMap(UnitStatus.init(rawValue:)),
                    battery: row.9.map(Int.init), receivedAt: Timestamp(microseconds: row.10)))
        }
        return pings
    }

    /// Units with registry data (callsign, kind, agency).
    public func registeredUnits() async throws -> [Unit] {
        let rows = try await database.query(
            "SELECT id, callsign, kind, agency FROM units WHERE callsign IS NOT NULL OR kind IS NOT NULL OR agency IS NOT NULL")
        var units: [Unit] = []
        for row in rows {
            let (id, callsign, kind, agency) = try row.decode((String, String?, String?, String?).self)
            units.append(
                Unit(id: UnitID(trusted: id), callsign: callsign, kind: kind.map(Unit.Kind.init(rawValue:)), agency: agency.map(Unit.Agency.init(rawValue:))))
        }
        return units
    }

    /// Records registry data of units (the demo's fleet, an import), so it survives restarts.
    public func register(_ units: [Unit]) async throws {
        guard !units.isEmpty else { return }
        // In id order, as the writer moves `heard_on`: two statements that lock the same unit
        // rows in one order cannot deadlock.
        let units = units.sorted { $0.id < $1.id }
        try await database.query(
            """
            INSERT INTO units (id, callsign, kind, agency)
            SELECT i, NULLIF(c, ''), NULLIF(k, ''), NULLIF(a, '')
            FROM unnest(\(units.map(\.id.rawValue))::text[], \(units.map { $0.callsign ?? "" })::text[],
                        \(units.map { $0.kind?.rawValue ?? "" })::text[], \(units.map { $0.agency?.rawValue ?? "" })::text[]) AS u(i, c, k, a)
            ON CONFLICT (id) DO UPDATE SET callsign = EXCLUDED.callsign, kind = EXCLUDED.kind, agency = EXCLUDED.agency, updated_at = now()
            """)
    }
}

extension HistoryStore {
    /// Records the callsigns units announced themselves with (Cursor-on-Target), keeping their
    /// kind and agency.
    public func recordCallsigns(_ callsigns: [(unit: UnitID, callsign: String)]) async throws {
        guard !callsigns.isEmpty else { return }
        // In id order, like the writer's updates of the same rows (no deadlock between them).
        let callsigns = callsigns.sorted { $0.unit < $1.unit }
        try await database.query(
            """
            INSERT INTO units (id, callsign)
            SELECT * FROM unnest(\(callsigns.map(\.unit.rawValue))::text[], \(callsigns.map(\.callsign))::text[])
            ON CONFLICT (id) DO UPDATE SET callsign = EXCLUDED.callsign, updated_at = now()
            WHERE units.callsign IS DISTINCT FROM EXCLUDED.callsign
            """)
    }
}
