import HypervisionCore
import Logging
import PostgresNIO

/// A stored camera with what the store knows about its status over time.
public struct StoredCamera: Sendable, Hashable {
    public var camera: Camera
    /// When the reported status last changed.
    public var statusSince: Timestamp
    /// The status before the current one (what an offline within its grace period still shows).
    public var previousStatus: Camera.Status
    public var updatedAt: Timestamp

    /// The status the wall should act on: an `offline` younger than `grace` still counts as the
    /// status before it, so a stream that drops for a few seconds does not flap the wall.
    public func effectiveStatus(now: Timestamp, grace: Double) -> Camera.Status {
        if camera.status == .offline, Double(now.microseconds - statusSince.microseconds) / 1e6 < grace {
            return previousStatus == .offline ? .online : previousStatus
        }
        return camera.status
    }
}

/// Cameras in PostGIS: upsert, read, delete, status changes with history, bulk import.
public struct CameraStore: Sendable {
    public let database: Database
    let logger: Logger

    public init(database: Database) {
        self.database = database
        self.logger = database.logger
    }

    /// Creates or replaces a camera; a status different from the stored one is recorded as a
    /// change. Returns true when the camera is new.
    @discardableResult
    public func upsert(_ camera: Camera, at time: Timestamp) async throws -> Bool {
        try await database.withTransaction { connection in
            try await Self.upsert(camera, at: time, on: connection, logger: logger)
        }
    }

    /// Upserts many cameras in one transaction (an import). Returns how many were new.
    public func upsert(_ cameras: [Camera], at time: Timestamp) async throws -> Int {
        try await database.withTransaction { connection in
            var created = 0
            for camera in cameras where try await Self.upsert(camera, at: time, on: connection, logger: logger) { created += 1 }
            return created
        }
    }

    private static func upsert(_ camera: Camera, at time: Timestamp, on connection: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        let transports = camera.streams.map(\.transport.rawValue)
        let qualities = camera.streams.map(\.quality)
        let urls = camera.streams.map(\.url)
        let at = PostgresTime(time)
        // Lock the row (if any) first, so the status comparison and the write see the same state.
        var existed = false
        var previousStatus: String?
        let previous = try await connection.checkedQuery(
            "SELECT status FROM cameras WHERE id = \(camera.id) FOR UPDATE", logger: logger)
        for try await status in previous.decode(String.self) {
            existed = true
            previousStatus = status
        }
        try await connection.checkedQuery(
            """
            INSERT INTO cameras AS c (id, name, position, heading, field_of_view, range_m, streams, status, status_since,
                                      previous_status, tags, updated_at)
            VALUES (\(camera.id), \(camera.name), ST_SetSRID(ST_MakePoint(\(camera.position.longitude), \(camera.position.latitude)), 4326)::geography,
                    \(Float(camera.heading)), \(Float(camera.fieldOfView)), \(Float(camera.range)),
                    (SELECT coalesce(jsonb_agg(jsonb_build_object('protocol', p, 'quality', q, 'url', u) ORDER BY n), '[]'::jsonb)
                     FROM unnest(\(transports)::text[], \(qualities)::text[], \(urls)::text[]) WITH ORDINALITY AS s(p, q, u, n)),
                    \(camera.status.rawValue), \(at), \(camera.status.rawValue), \(camera.tags), \(at))
            ON CONFLICT (id) DO UPDATE SET
                name = EXCLUDED.name, position = EXCLUDED.position, heading = EXCLUDED.heading,
                field_of_view = EXCLUDED.field_of_view, range_m = EXCLUDED.range_m, streams = EXCLUDED.streams,
                tags = EXCLUDED.tags, updated_at = EXCLUDED.updated_at,
                previous_status = CASE WHEN c.status <> EXCLUDED.status THEN c.status ELSE c.previous_status END,
                status_since = CASE WHEN c.status <> EXCLUDED.status THEN EXCLUDED.status_since ELSE c.status_since END,
                status = EXCLUDED.status
            """, logger: logger)
        if !existed || previousStatus != camera.status.rawValue {
            try await connection.checkedQuery(
                """
                INSERT INTO camera_status_history (camera_id, changed_at, status) VALUES (\(camera.id), \(at), \(camera.status.rawValue))
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        return !existed
    }

    /// Records a reported status. Returns the camera after the change, or nil if unknown.
    public func updateStatus(id: String, to status: Camera.Status, at time: Timestamp) async throws -> StoredCamera? {
        let changed: Bool? = try await database.withTransaction { connection in
            let rows = try await connection.checkedQuery(
                """
                UPDATE cameras c SET
                    previous_status = CASE WHEN c.status <> \(status.rawValue) THEN c.status ELSE c.previous_status END,
                    status_since = CASE WHEN c.status <> \(status.rawValue) THEN \(PostgresTime(time)) ELSE c.status_since END,
                    status = \(status.rawValue), updated_at = now()
                FROM (SELECT id, status AS old FROM cameras WHERE id = \(id) FOR UPDATE) o
                WHERE c.id = o.id
                RETURNING o.old <> \(status.rawValue)
                """, logger: logger)
            var changed: Bool?
            for try await value in rows.decode(Bool.self) { changed = value }
            if changed == true {
                try await connection.checkedQuery(
                    "INSERT INTO camera_status_history (camera_id, changed_at, status) VALUES (\(id), \(PostgresTime(time)), \(status.rawValue)) ON CONFLICT DO NOTHING",
                    logger: logger)
            }
            return changed
        }
        guard changed != nil else { return nil }
        return try await get(id: id)
    }

    public func get(id: String) async throws -> StoredCamera? {
        let rows = try await database.query(
            """
            SELECT id, name, ST_Y(position::geometry), ST_X(position::geometry), heading::float8, field_of_view::float8,
                   range_m::float8, status, (extract(epoch FROM status_since) * 1000000)::int8, previous_status,
                   tags, (extract(epoch FROM updated_at) * 1000000)::int8
            FROM cameras WHERE id = \(id)
            """)
        for row in rows {
            let row = try row.decode((String, String, Double, Double, Double, Double, Double, String, Int64, String, [String], Int64).self)
            let camera = Camera(
                id: row.0, name: row.1, position: GeoPoint(latitude: row.2, longitude: row.3), heading: row.4,
                fieldOfView: row.5, range: row.6, streams: try await streams(id: id), status: Camera.Status(rawValue: row.7) ?? .online,
                tags: row.10)
            return StoredCamera(
                camera: camera, statusSince: Timestamp(microseconds: row.8),
                previousStatus: Camera.Status(rawValue: row.9) ?? .online, updatedAt: Timestamp(microseconds: row.11))
        }
        return nil
    }

    private func streams(id: String) async throws -> [Camera.Stream] {
        let rows = try await database.query(
            """
            SELECT s->>'protocol', s->>'quality', s->>'url'
            FROM cameras, jsonb_array_elements(streams) WITH ORDINALITY AS e(s, n) WHERE id = \(id) ORDER BY n
            """)
        var streams: [Camera.Stream] = []
        for row in rows {
            let (transport, quality, url) = try row.decode((String, String, String).self)
            if let transport = Camera.Stream.Transport(rawValue: transport) {
                streams.append(Camera.Stream(transport: transport, quality: quality, url: url))
            }
        }
        return streams
    }

    /// The status changes of a camera, oldest first.
    public func statusHistory(id: String) async throws -> [(Timestamp, Camera.Status)] {
        let rows = try await database.query(
            "SELECT (extract(epoch FROM changed_at) * 1000000)::int8, status FROM camera_status_history WHERE camera_id = \(id) ORDER BY changed_at")
        var history: [(Timestamp, Camera.Status)] = []
        for row in rows {
            let (micros, status) = try row.decode((Int64, String).self)
            history.append((Timestamp(microseconds: micros), Camera.Status(rawValue: status) ?? .online))
        }
        return history
    }

    /// Deletes a camera and its history. Returns false when there was none.
    public func delete(id: String) async throws -> Bool {
        let rows = try await database.query("DELETE FROM cameras WHERE id = \(id) RETURNING 1")
        var deleted = false
        for _ in rows { deleted = true }
        return deleted
    }
}

extension CameraStore {
    /// Stores an event. Returns it with its id, or nil when the camera is unknown.
    public func add(_ event: CameraEvent) async throws -> CameraEvent? {
        let rows = try await database.query(
            """
            INSERT INTO camera_events (camera_id, kind, label, confidence, occurred_at, expires_at, incident_id)
            SELECT id, \(event.kind.rawValue), \(event.label), \(event.confidence.map(Float.init)),
                   \(PostgresTime(event.occurredAt)), \(PostgresTime(event.expiresAt)), \(event.incidentID)
            FROM cameras WHERE id = \(event.cameraID)
            RETURNING id
            """)
        for row in rows {
            let id = try row.decode(Int64.self)
            var stored = event
            stored.id = id
            return stored
        }
        return nil
    }

    /// Events still active at `now`, newest first; of one camera when `cameraID` is given.
    public func activeEvents(at now: Timestamp, cameraID: String? = nil, limit: Int = 1_000) async throws -> [CameraEvent] {
        let rows = try await database.query(
            """
            SELECT id, camera_id, kind, label, confidence::float8, (extract(epoch FROM occurred_at) * 1000000)::int8,
                   (extract(epoch FROM expires_at) * 1000000)::int8, incident_id
            FROM camera_events
            WHERE expires_at > \(PostgresTime(now)) AND occurred_at <= \(PostgresTime(now))
              AND (\(cameraID)::text IS NULL OR camera_id = \(cameraID))
            ORDER BY occurred_at DESC, id DESC LIMIT \(Int64(limit))
            """)
        var events: [CameraEvent] = []
        for row in rows {
            let row = try row.decode((Int64, String, String, String?, Double?, Int64, Int64, String?).self)
            events.append(
                CameraEvent(
                    id: row.0, cameraID: row.1, kind: CameraEvent.Kind(rawValue: row.2) ?? .motion, label: row.3, confidence: row.4,
                    occurredAt: Timestamp(microseconds: row.5), expiresAt: Timestamp(microseconds: row.6), incidentID: row.7))
        }
        return events
    }
}

extension CameraStore {
    /// Every camera with its status history marks, to rebuild the live picture at start-up.
    public func all() async throws -> [StoredCamera] {
        let rows = try await database.query(
            """
            SELECT id, name, ST_Y(position::geometry), ST_X(position::geometry), heading::float8, field_of_view::float8,
                   range_m::float8, status, (extract(epoch FROM status_since) * 1000000)::int8, previous_status,
                   tags, (extract(epoch FROM updated_at) * 1000000)::int8, streams::text
            FROM cameras ORDER BY id
            """)
        var cameras: [StoredCamera] = []
        for row in rows {
            let row = try row.decode((String, String, Double, Double, Double, Double, Double, String, Int64, String, [String], Int64, String).self)
            var streams: [Camera.Stream] = []
            if let list = (try? JSONValue(parsing: row.12))?.arrayValue {
                for item in list {
                    if let transport = item["protocol"]?.stringValue.flatMap(Camera.Stream.Transport.init(rawValue:)),
                        let url = item["url"]?.stringValue
                    {
                        streams.append(Camera.Stream(transport: transport, quality: item["quality"]?.stringValue ?? "main", url: url))
                    }
                }
            }
            let camera = Camera(
                id: row.0, name: row.1, position: GeoPoint(latitude: row.2, longitude: row.3), heading: row.4, fieldOfView: row.5,
                range: row.6, streams: streams, status: Camera.Status(rawValue: row.7) ?? .online, tags: row.10)
            cameras.append(
                StoredCamera(
                    camera: camera, statusSince: Timestamp(microseconds: row.8), previousStatus: Camera.Status(rawValue: row.9) ?? .online,
                    updatedAt: Timestamp(microseconds: row.11)))
        }
        return cameras
    }
}
