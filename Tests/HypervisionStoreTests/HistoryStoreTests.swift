import HypervisionCore
import HypervisionStore
import HypervisionTestSupport
import Logging
import PostgresNIO
import Testing

/// Questions about the past against a real PostGIS, checked against answers computed here.
@Suite struct HistoryStoreTests {
    @Test func aTrackIsTheUnitsPingsInTheWindowInTimeOrder() async throws {
        let endpoint = try await PingStoreTests.migratedDatabase()
        let start = Timestamp.now().adding(seconds: -7_200).adding(seconds: 0)
        let pings = TestPings.make(units: 3, perUnit: 120, start: start, step: 30)
        try await TestPostgres.withClient(endpoint) { client in
            let store = PingStore(database: client.database)
            try await store.ensurePartitions(around: Timestamp.now().epochDay, daysBehind: 1, daysAhead: 1)
            _ = try await store.insert(pings.shuffled())
            let history = HistoryStore(database: client.database)
            let from = start.adding(seconds: 600), to = start.adding(seconds: 1_800)
            let track = try await history.track(unit: "PN-75-T-1", from: from, to: to, limit: 1_000)
            let expected = pings.filter { $0.unit.rawValue == "PN-75-T-1" && $0.time >= from && $0.time < to }.sorted { $0.time < $1.time }
            #expect(track.map(\.time) == expected.map(\.time))
            #expect(track.map(\.position) == expected.map(\.position))
            #expect(track.count == 40)
            // limit + 1 rows tell the caller the limit was reached.
            #expect(try await history.track(unit: "PN-75-T-1", from: from, to: to, limit: 10).count == 11)
            #expect(try await history.track(unit: "nobody", from: from, to: to, limit: 10).isEmpty)
        }
    }

    /// Start-up reads only what the live picture keeps: units heard since its forget time,
    /// the most recently heard first, at most its cap.
    @Test func latestPositionsAreTheMostRecentlyHeardWithinTheWindow() async throws {
        let endpoint = try await PingStoreTests.migratedDatabase()
        let now = Timestamp.now()
        let pings = (0..<5).map { n in
            Ping(
                unit: UnitID(trusted: "PN-LP-\(n)"), time: now.adding(seconds: Double(-n) * 3_600), position: GeoPoint(latitude: 48.8, longitude: 2.3),
                receivedAt: now.adding(seconds: Double(-n) * 3_600))
        }
        try await TestPostgres.withClient(endpoint) { client in
            let store = PingStore(database: client.database)
            try await store.ensurePartitions(around: now.epochDay, daysBehind: 1, daysAhead: 1)
            _ = try await store.insert(pings)
            let history = HistoryStore(database: client.database)
            #expect(try await history.latestPositions().count == 5)
            #expect(try await history.latestPositions(limit: 2).map(\.unit.rawValue) == ["PN-LP-0", "PN-LP-1"])
            let recent = try await history.latestPositions(heardSince: now.adding(seconds: -2.5 * 3_600))
            #expect(recent.map(\.unit.rawValue) == ["PN-LP-0", "PN-LP-1", "PN-LP-2"])
            #expect(recent.first?.receivedAt == now)
        }
    }

    /// Latest positions read from the history answer as the live picture keeps them: for each
    /// unit its newest ping by device time, heard when that ping was received. Late pings and
    /// old buffered ones (device times days before they were received) never move a unit back,
    /// and a fresh store (which knows no heard days) finds what another wrote. The oracle is
    /// computed here from the pings sent.
    @Test func latestPositionsAreTheNewestPingOfEachUnitWhoeverWroteIt() async throws {
        let endpoint = try await PingStoreTests.migratedDatabase()
        let now = Timestamp.now()
        var random = SeededRandom(seed: 0x1a7e)
        var batches: [[Ping]] = []
        for _ in 0..<14 {
            batches.append(
                (0..<90).map { _ in
                    let unit = random.below(70)
                    let received = now.adding(seconds: -.random(in: 0...(3 * 86_400), using: &random))
                    // One unit in five sends pings it buffered for up to two days.
                    let lag = unit % 5 == 0 ? Double.random(in: 0...(2 * 86_400), using: &random) : .random(in: 0...5, using: &random)
                    return Ping(
                        unit: UnitID(trusted: "PN-LH-\(unit)"), time: received.adding(seconds: -lag),
                        position: GeoPoint(latitude: .random(in: 43...49, using: &random), longitude: .random(in: -1...7, using: &random)),
                        receivedAt: received)
                })
        }
        let sent = batches
        try await TestPostgres.withClient(endpoint) { client in
            try await PingStore(database: client.database).ensurePartitions(around: now.epochDay, daysBehind: 6, daysAhead: 1)
            var store = PingStore(database: client.database)
            for (n, batch) in sent.enumerated() {
                // Every fourth batch from a store that has just started (as after a restart).
                if n % 4 == 3 { store = PingStore(database: client.database) }
                _ = try await store.insert(batch)
            }
            var newest: [UnitID: Ping] = [:]
            for ping in sent.joined() where newest[ping.unit].map({ $0.time < ping.time }) ?? true { newest[ping.unit] = ping }
            let history = HistoryStore(database: client.database)
            for since in [nil, now.adding(seconds: -3_600), now.adding(seconds: -86_400), now.adding(seconds: -2.5 * 86_400)] {
                let expected = newest.values.filter { since == nil || $0.receivedAt > since! }.sorted { $0.receivedAt > $1.receivedAt }
                let found = try await history.latestPositions(heardSince: since)
                #expect(found.map(\.unit) == expected.map(\.unit), "heard since \(String(describing: since))")
                #expect(found.map(\.time) == expected.map(\.time) && found.map(\.receivedAt) == expected.map(\.receivedAt))
                #expect(found.map(\.position) == expected.map(\.position))
                #expect(try await history.latestPositions(heardSince: since, limit: 7).map(\.unit) == Array(expected.prefix(7).map(\.unit)))
            }
            #expect(newest.count == 70)
            // heard_on is the last day a ping of the unit was received.
            let heardOn = try await TestPostgres.integers(
                endpoint, "SELECT (heard_on - date '1970-01-01')::int8 FROM units WHERE id LIKE 'PN-LH-%' ORDER BY id")
            var lastHeard: [UnitID: Int64] = [:]
            for ping in sent.joined() { lastHeard[ping.unit] = max(lastHeard[ping.unit] ?? .min, ping.receivedAt.epochDay) }
            #expect(heardOn == lastHeard.sorted { $0.key.rawValue < $1.key.rawValue }.map(\.value))
        }
    }

    /// Schema 6 fills `heard_on` from the latest-position table it drops, so a database
    /// migrated from schema 5 starts with every unit it had.
    @Test func schema6CarriesTheLatestPositionsOfSchema5Over() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let now = Timestamp.now()
        let pings = TestPings.make(units: 12, perUnit: 3, start: now.adding(seconds: -600), step: 60)
        try await TestPostgres.withClient(endpoint) { client in
            try await Migrator(migrations: Array(Migration.all.prefix(5)), logger: TestPostgres.logger).migrate(client.database)
            try await PingStore(database: client.database).ensurePartitions(around: now.epochDay, daysBehind: 1, daysAhead: 1)
            // As the schema-5 writer stored them: history rows, and each unit's newest in unit_positions.
            for ping in pings {
                try await client.database.query(
                    """
                    INSERT INTO pings (unit_id, time, position, received_at)
                    VALUES (\(ping.unit.rawValue), \(PostgresTime(ping.time)), ST_MakePoint(\(ping.position.longitude), \(ping.position.latitude))::geography,
                            \(PostgresTime(ping.receivedAt)))
                    """)
            }
            try await client.database.query(
                """
                INSERT INTO units (id) SELECT DISTINCT unit_id FROM pings;
                """)
            try await client.database.query(
                """
                INSERT INTO unit_positions (unit_id, time, position, received_at)
                SELECT DISTINCT ON (unit_id) unit_id, time, position, received_at FROM pings ORDER BY unit_id, time DESC
                """)
            try await Migrator(logger: TestPostgres.logger).migrate(client.database)
            let latest = try await HistoryStore(database: client.database).latestPositions()
            #expect(latest.count == 12)
            var newest: [UnitID: Ping] = [:]
            for ping in pings where newest[ping.unit].map({ $0.time < ping.time }) ?? true { newest[ping.unit] = ping }
            #expect(Set(latest.map { "\($0.unit) \($0.time.microseconds)" }) == Set(newest.values.map { "\($0.unit) \($0.time.microseconds)" }))
        }
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'unit_positions'") == [0])
    }

    /// Schema 7 keys the history by unit number: it copies every stored ping of schema 6 over,
    /// gives a number to units that had pings but no row, keeps the day partitions, and leaves
    /// nothing of the old table behind. Answers read through the new keys are those of the rows
    /// written the schema-6 way, and a repeat of an old ping is still a duplicate.
    @Test func schema7CarriesTheHistoryOfSchema6Over() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let now = Timestamp.now()
        // Two days: yesterday's pings and today's, in their own partitions.
        let pings = TestPings.make(units: 6, perUnit: 8, start: now.adding(seconds: -86_400 - 1_800), step: 600)
            + TestPings.make(units: 6, perUnit: 4, start: now.adding(seconds: -1_200), step: 120)
        try await TestPostgres.withClient(endpoint) { client in
            try await Migrator(migrations: Array(Migration.all.prefix(6)), logger: TestPostgres.logger).migrate(client.database)
            try await PingStore(database: client.database).ensurePartitions(around: now.epochDay, daysBehind: 2, daysAhead: 1)
            for ping in pings {
                try await client.database.query(
                    """
                    INSERT INTO pings (unit_id, time, position, speed, status, received_at, cell)
                    VALUES (\(ping.unit.rawValue), \(PostgresTime(ping.time)), ST_MakePoint(\(ping.position.longitude), \(ping.position.latitude))::geography,
                            \(ping.speed ?? 0), \(ping.status?.rawValue), \(PostgresTime(ping.receivedAt)), \(HistoryCell.cell(of: ping.position)))
                    """)
            }
            // Unit 5 has pings but no row of its own (a database written by hand).
            try await client.database.query(
                "INSERT INTO units (id, callsign, heard_on) SELECT DISTINCT unit_id, 'C-' || unit_id, current_date FROM pings WHERE unit_id <> 'PN-75-T-5'")
            // The deadline of the copy is sized from this estimate: it may err high, never low.
            let estimate = try await Migrator.estimatedHistoryRows(client.database)
            #expect(estimate >= Int64(pings.count) && estimate <= 50 * Int64(pings.count), "\(estimate)")
            try await Migrator(logger: TestPostgres.logger).migrate(client.database)

            #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings") == [Int64(pings.count)])
            let rows = try await client.query(
                "SELECT unit_id, (extract(epoch FROM time) * 1000000)::int8, ST_Y(position::geometry), ST_X(position::geometry) FROM ping_history")
            var stored: Set<String> = []
            for try await (unit, micros, lat, lon) in rows.decode((String, Int64, Double, Double).self) {
                stored.insert("\(unit) \(micros) \(lat) \(lon)")
            }
            #expect(stored == Set(pings.map { "\($0.unit) \($0.time.microseconds) \($0.position.latitude) \($0.position.longitude)" }))
            // Every unit has one number; the registry data stayed.
            #expect(try await TestPostgres.integers(endpoint, "SELECT count(DISTINCT key) FROM units WHERE key IS NOT NULL") == [6])
            #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM units WHERE callsign = 'C-' || id") == [5])
            // The same four day partitions, and nothing of the old table.
            #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'pings'::regclass") == [4])
            #expect(
                try await TestPostgres.integers(
                    endpoint, "SELECT count(*) FROM pg_class WHERE relname LIKE 'pings_schema6%' OR relname LIKE 'schema6_%'") == [0])

            let history = HistoryStore(database: client.database)
            let track = try await history.track(unit: "PN-75-T-5", from: now.adding(seconds: -2 * 86_400), to: now, limit: 100)
            #expect(track.map(\.time) == pings.filter { $0.unit.rawValue == "PN-75-T-5" }.map(\.time).sorted())
            let latest = try await history.latestPositions()
            #expect(latest.count == 5)  // unit 5 has no heard_on: the writer sets it with its next ping
            // The writer keeps writing, and an old ping sent again is a duplicate.
            let store = PingStore(database: client.database)
            let again = pings[0]
            let later = Ping(unit: again.unit, time: now, position: again.position, receivedAt: now)
            #expect(try await store.insert([again, later]).isNew == [false, true])
            #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings") == [Int64(pings.count + 1)])
        }
    }

    @Test func unitsPassingAPlaceAreFoundWithTheirClosestApproach() async throws {
        let endpoint = try await PingStoreTests.migratedDatabase()
        let start = Timestamp.now().adding(seconds: -3_600)
        let pings = TestPings.make(units: 30, perUnit: 20, start: start, step: 60)
        try await TestPostgres.withClient(endpoint) { client in
            let store = PingStore(database: client.database)
            try await store.ensurePartitions(around: Timestamp.now().epochDay, daysBehind: 1, daysAhead: 1)
            _ = try await store.insert(pings)
            let place = GeoPoint(latitude: 48.86, longitude: 2.36)
            let from = start.adding(seconds: 300), to = start.adding(seconds: 900)
            let found = try await HistoryStore(database: client.database)
                .unitsPassing(near: place, radius: 400, from: from, to: to, limit: 100)
            // Brute force with our own geodesy (Vincenty vs PostGIS spheroid: sub-millimetre).
            var best: [String: Double] = [:]
            for ping in pings where ping.time >= from && ping.time < to {
                let d = Geodesy.distance(place, ping.position)
                if d <= 400 { best[ping.unit.rawValue] = min(best[ping.unit.rawValue] ?? .infinity, d) }
            }
            #expect(!best.isEmpty)
            #expect(Set(found.map(\.unit)) == Set(best.keys))
            for unit in found { #expect(abs(unit.closestMetres - best[unit.unit]!) < 0.01) }
            #expect(found.map(\.closestMetres) == found.map(\.closestMetres).sorted())
        }
    }

    /// Schema 5 answers "who passed here" without a spatial index: BRIN on time, the cell
    /// ranges, a spherical test with room to spare, then the spheroid. Its answers must be those
    /// of the query it replaced (a plain ST_DWithin over the window), for places and radii of
    /// every kind, with rows from before cells existed (NULL cell) among them.
    @Test func unitsPassingAnswersAsThePlainGeodesicQueryDoes() async throws {
        let endpoint = try await PingStoreTests.migratedDatabase()
        let now = Timestamp.now()
        var random = SeededRandom(seed: 5)
        let start = now.adding(seconds: -3_000)
        var made: [Ping] = []
        for n in 0..<40 {
            for u in 0..<150 {
                let time = start.adding(seconds: Double(n * 60 + u % 60))
                made.append(
                    Ping(
                        unit: UnitID(trusted: "PN-CELL-\(u)"), time: time,
                        position: GeoPoint(latitude: 48.85 + .random(in: -0.08...0.08, using: &random), longitude: 2.35 + .random(in: -0.12...0.12, using: &random)),
                        receivedAt: time))
            }
        }
        let pings = made
        // Small, cell-sized, and wide enough that no ranges are used.
        let questions = (0..<40).map { round in
            let place = GeoPoint(latitude: 48.85 + .random(in: -0.09...0.09, using: &random), longitude: 2.35 + .random(in: -0.13...0.13, using: &random))
            let radius = [0.0, 150, 800, 1_000, 2_500, 30_000][round % 6] + .random(in: 0...50, using: &random)
            let from = start.adding(seconds: .random(in: -100...1_500, using: &random))
            return (place: place, radius: radius, from: from, to: from.adding(seconds: .random(in: 60...2_400, using: &random)))
        }
        try await TestPostgres.withClient(endpoint) { client in
            let store = PingStore(database: client.database)
            try await store.ensurePartitions(around: now.epochDay, daysBehind: 1, daysAhead: 1)
            _ = try await store.insert(pings)
            // Rows as schema 4 stored them: no cell.
            try await client.query("INSERT INTO units (id) SELECT 'PN-OLD-' || n FROM generate_series(0, 19) n")
            try await client.query(
                """
                INSERT INTO pings (unit_key, time, position, received_at)
                SELECT (SELECT key FROM units WHERE id = 'PN-OLD-' || (n % 20)), now() - make_interval(secs => 2900 - n * 7),
                       ST_SetSRID(ST_MakePoint(2.35 + sin(n) * 0.05, 48.85 + cos(n) * 0.04), 4326)::geography, now()
                FROM generate_series(0, 399) n
                """)
            #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings WHERE cell IS NULL") == [400])
            #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings WHERE cell IS NOT NULL") == [Int64(pings.count)])
            // Every day partition's BRIN index summarises its ranges as they fill.
            let brin = "SELECT count(*) FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'brin' AND c.relkind = 'i' AND c.relname LIKE 'pings_%'"
            #expect(try await TestPostgres.integers(endpoint, brin + " AND 'autosummarize=on' = ANY(c.reloptions)") == [3])
            #expect(try await TestPostgres.integers(endpoint, brin) == [3])
            let history = HistoryStore(database: client.database)
            var compared = 0
            for (place, radius, from, to) in questions {
                let found = try await history.unitsPassing(near: place, radius: radius, from: from, to: to, limit: 500)
                let rows = try await client.query(
                    """
                    WITH here AS (SELECT ST_SetSRID(ST_MakePoint(\(place.longitude), \(place.latitude)), 4326)::geography AS g),
                    closest AS (
                        SELECT DISTINCT ON (unit_id) unit_id, ST_Distance(position, here.g) AS distance,
                               (extract(epoch FROM time) * 1000000)::int8 AS micros, count(*) OVER (PARTITION BY unit_id) AS pings
                        FROM ping_history, here
                        WHERE time >= \(from.postgresText)::timestamptz AND time < \(to.postgresText)::timestamptz
                          AND ST_DWithin(position, here.g, \(radius))
                        ORDER BY unit_id, ST_Distance(position, here.g), time
                    )
                    SELECT unit_id, distance, micros, pings FROM closest ORDER BY distance, unit_id LIMIT 500
                    """)
                var expected: [PassingUnit] = []
                for try await (unit, distance, micros, count) in rows.decode((String, Double, Int64, Int64).self) {
                    expected.append(PassingUnit(unit: unit, closestMetres: distance, closestAt: Timestamp(microseconds: micros), pings: Int(count)))
                }
                #expect(found == expected, "place \(place), radius \(radius)")
                compared += expected.count
            }
            // The comparison saw real answers, old rows among them.
            #expect(compared > 500)
        }
    }

    @Test func zoneStatisticsCountEachIncidentOnceAndCompareWithThePeriodBefore() async throws {
        let endpoint = try await PingStoreTests.migratedDatabase()
        try await TestPostgres.withClient(endpoint) { client in
            let store = IncidentStore(database: client.database)
            let now = Timestamp.now()
            var rng = SeededRandom(seed: 23)
            var current = 0, previous = 0
            for i in 0..<300 {
                let ageHours = Double.random(in: 0..<48, using: &rng)
                if ageHours < 24 { current += 1 } else { previous += 1 }
                let location = GeoPoint(latitude: .random(in: 48.84...48.88, using: &rng), longitude: .random(in: 2.32...2.38, using: &rng))
                _ = try await store.create(
                    Incident(id: "Z-\(i)", category: "noise", priority: 3, location: location, openedAt: now.adding(seconds: -ageHours * 3600)),
                    at: now)
            }
            let grid = try ZoneGrid(cellMetres: 500, west: 2.3, south: 48.83, east: 2.4, north: 48.89)
            let cells = try await HistoryStore(database: client.database).zoneStatistics(
                layer: .incidents, grid: grid, from: now.adding(seconds: -86_400), to: now.adding(seconds: 1), limit: 10_000)
            #expect(cells.reduce(0) { $0 + $1.count } == current)
            #expect(cells.reduce(0) { $0 + $1.previous } == previous)
            // Hexagons: 6 corners plus the closing point, edges of 500 m, so 1,000 m corner to corner.
            let cell = try #require(cells.first)
            #expect(cell.ring.count == 7 && cell.ring.first == cell.ring.last)
            let across = cell.ring.map { Geodesy.distance(cell.ring[0], $0) }.max()!
            #expect(across > 950 && across < 1_050, "corner to corner \(across) m")
            // The same cells and counts as joining every incident with the box's whole grid
            // (the former query, cells × items): each item's own cell is the box grid's.
            let joined = try await TestPostgres.withConnection(endpoint) { connection in
                let rows = try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            WITH items AS (
                                SELECT row_number() OVER () AS n, ST_Transform(location::geometry, 3857) AS g,
                                       opened_at >= $2::timestamptz AS current
                                FROM incidents WHERE opened_at >= $1::timestamptz AND opened_at < $3::timestamptz
                            ), cells AS (
                                SELECT h.geom, h.i, h.j FROM ST_HexagonGrid($4, ST_Transform(ST_MakeEnvelope(2.3, 48.83, 2.4, 48.89, 4326), 3857)) h
                            ), hits AS (
                                SELECT DISTINCT ON (items.n) cells.geom, items.current FROM items JOIN cells ON ST_Intersects(cells.geom, items.g)
                                ORDER BY items.n, cells.i, cells.j
                            )
                            SELECT ST_AsText(ST_Transform(geom, 4326)), count(*) FILTER (WHERE current), count(*) FILTER (WHERE NOT current)
                            FROM hits GROUP BY geom
                            """,
                        binds: {
                            var b = PostgresBindings()
                            b.append(now.adding(seconds: -2 * 86_400 - 1).postgresText)
                            b.append(now.adding(seconds: -86_400).postgresText)
                            b.append(now.adding(seconds: 1).postgresText)
                            b.append(grid.projectedEdge)
                            return b
                        }()),
                    logger: Logger(label: "test"))
                var cells: [[Double]: [Int64]] = [:]
                for try await (wkt, count, previous) in rows.decode((String, Int64, Int64).self) {
                    cells[Self.coordinates(wkt)] = [count, previous]
                }
                return cells
            }
            var ours: [[Double]: [Int64]] = [:]
            for cell in cells { ours[cell.ring.flatMap { [$0.longitude, $0.latitude] }] = [Int64(cell.count), Int64(cell.previous)] }
            #expect(ours == joined)
        }
    }

    /// The numbers of a WKT text, in order.
    static func coordinates(_ wkt: String) -> [Double] {
        wkt.split(whereSeparator: { !"0123456789.-e".contains($0) }).compactMap { Double($0) }
    }

    /// The defect: the cell cap estimated the grid from ground distances, and a box from -180 to
    /// 180 has west and east on one meridian (0 m apart), so it passed as "0 cells" and PostGIS
    /// generated millions. The count must be what ST_HexagonGrid generates over the projected box.
    @Test func theZoneGridCountIsExactlyWhatPostGISGenerates() async throws {
        let endpoint = try await PingStoreTests.migratedDatabase()
        var rng = SeededRandom(seed: 41)
        var boxes: [(size: Double, west: Double, south: Double, east: Double, north: Double)] = [
            (500, 2.3, 48.83, 2.4, 48.89),  // Paris
            (50_000, -180, -1, 180, 1),  // every longitude, a thin band
            (50_000, -20, 70, 20, 85.05),  // near the Mercator limit
            (2_000, 2.35, 48.85, 2.35, 48.85),  // a point
            (50, -0.001, -0.001, 0.001, 0.001),  // around the origin, negative cells
        ]
        for _ in 0..<60 {
            let size = [50.0, 200, 1_000, 5_000, 50_000].randomElement(using: &rng)!
            let south = Double.random(in: -85...84.9, using: &rng)
            let north = min(85.0, south + .random(in: 0...(size / 2_000), using: &rng))
            let west = Double.random(in: -180...179, using: &rng)
            let east = min(180.0, west + .random(in: 0...(size / 1_000), using: &rng))
            boxes.append((size, west, south, east, north))
        }
        var mismatches: [String] = []
        for box in boxes {
            let grid = try ZoneGrid(cellMetres: box.size, west: box.west, south: box.south, east: box.east, north: box.north)
            let counted = try await TestPostgres.integers(
                endpoint,
                """
                SELECT count(*) FROM ST_HexagonGrid(\(grid.projectedEdge),
                    ST_Transform(ST_MakeEnvelope(\(box.west), \(box.south), \(box.east), \(box.north), 4326), 3857))
                """)
            if counted != [grid.cellCount] { mismatches.append("\(box): ours \(grid.cellCount), PostGIS \(counted)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")

        // The whole world in 50 km cells: refused on its count, never sent to PostGIS.
        let world = try ZoneGrid(cellMetres: 50_000, west: -180, south: -85, east: 180, north: 85)
        #expect(world.cellCount > 200_000, "\(world.cellCount)")
        #expect(throws: ZoneGridError.outsideProjection(latitude: -90)) {
            try ZoneGrid(cellMetres: 50_000, west: -180, south: -90, east: 180, north: 90)
        }
        #expect(throws: ZoneGridError.crossesAntimeridian) { try ZoneGrid(cellMetres: 500, west: 170, south: 0, east: -170, north: 1) }
    }
}

@Suite struct TrackSimplifierTests {
    @Test func aStraightLineKeepsItsEndsAndAZigzagKeepsItsCorners() {
        let line = (0...100).map { GeoPoint(latitude: 48.85, longitude: 2.30 + Double($0) * 0.0001) }
        #expect(TrackSimplifier.keep(line, toleranceMetres: 1) == [0, 100])
        // A 100 m detour in the middle survives a 10 m tolerance, not a 200 m one.
        var detour = line
        detour[50] = GeoPoint(latitude: 48.85 + 100 / 111_195.0, longitude: detour[50].longitude)
        #expect(TrackSimplifier.keep(detour, toleranceMetres: 10) == [0, 49, 50, 51, 100])
        #expect(TrackSimplifier.keep(detour, toleranceMetres: 200) == [0, 100])
        #expect(TrackSimplifier.keep(Array(line.prefix(2)), toleranceMetres: 5) == [0, 1])
    }

    @Test func everyDroppedVertexIsWithinTheToleranceOfTheSimplifiedLine() {
        var rng = SeededRandom(seed: 17)
        var points: [GeoPoint] = [GeoPoint(latitude: 48.85, longitude: 2.35)]
        for _ in 0..<2_000 {
            let last = points.last!
            points.append(GeoPoint(latitude: last.latitude + .random(in: -0.0005...0.0005, using: &rng),
                                   longitude: last.longitude + .random(in: -0.0005...0.0008, using: &rng)))
        }
        let kept = TrackSimplifier.keep(points, toleranceMetres: 25)
        #expect(kept.count < points.count * 3 / 4, "a random walk is rough: it still loses a quarter of its vertices at 25 m")
        for (a, b) in zip(kept, kept.dropFirst()) {
            for index in a..<b {
                // Checked with the geodesic distance to the nearest of 50 points along the segment.
                let distance = (0...50).map { step -> Double in
                    let t = Double(step) / 50
                    let q = GeoPoint(latitude: points[a].latitude + t * (points[b].latitude - points[a].latitude),
                                     longitude: points[a].longitude + t * (points[b].longitude - points[a].longitude))
                    return Geodesy.distance(points[index], q)
                }.min()!
                #expect(distance <= 25 * 1.05 + 1)
            }
        }
    }
}
