import HypervisionCore
import HypervisionTestSupport
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

@testable import HypervisionStore

/// Integration tests against a real PostgreSQL + PostGIS started by the tests.
@Suite struct MigrationTests {
    @Test func migratesOnceAndReRunningIsANoOp() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await TestPostgres.withClient(endpoint) { client in
            let first = try await Migrator(logger: TestPostgres.logger).migrate(client.database)
            #expect(first.applied == Migration.all.map(\.version))
            let second = try await Migrator(logger: TestPostgres.logger).migrate(client.database)
            #expect(second.applied.isEmpty)
            #expect(second.version == Migration.all.last!.version)
        }
        let tables = try await TestPostgres.integers(
            endpoint,
            """
            SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN
            ('units','pings','ping_history','cameras','camera_status_history','incidents','walls','scene_log','hypervision_schema')
            """)
        #expect(tables == [9])
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM hypervision_schema") == [Int64(Migration.all.count)])
    }

    /// The daemon's connections start with its session settings, and PostgreSQL takes them:
    /// JIT off even where the database has it on (compiling "who passed here" took ten times
    /// the query), the statement timeout, the name.
    @Test func theDaemonsSessionParametersAreTakenByTheServer() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await TestPostgres.withConnection(endpoint) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \"\(endpoint.database)\" SET jit = on"), logger: TestPostgres.logger)
        }
        var store = StoreConfiguration()
        store.statementTimeout = .milliseconds(4_500)
        var configuration = try endpoint.clientConfiguration()
        configuration.options.additionalStartupParameters += store.sessionParameters(node: "cic-a")
        let client = PostgresClient(configuration: configuration, backgroundLogger: TestPostgres.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let rows = try await client.query(
                "SELECT current_setting('jit'), current_setting('statement_timeout'), current_setting('application_name')", logger: TestPostgres.logger)
            var settings: [String] = []
            for try await (jit, timeout, name) in rows.decode((String, String, String).self) { settings = [jit, timeout, name] }
            #expect(settings == ["off", "4500ms", "hypervisiond cic-a"])
        }
        // Without them, the database's own setting applies (the test would see nothing otherwise).
        #expect(try await TestPostgres.withConnection(endpoint) { connection in
            var jit = ""
            for try await value in try await connection.query("SELECT current_setting('jit')", logger: TestPostgres.logger).decode(String.self) { jit = value }
            return jit
        } == "on")
    }

    @Test func aDatabaseNewerThanTheBinaryIsRefused() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await TestPostgres.withClient(endpoint) { client in
            try await Migrator(logger: TestPostgres.logger).migrate(client.database)
            try await client.query("INSERT INTO hypervision_schema (version, name, checksum) VALUES (999, '0999_future.sql', 'x')")
            await #expect {
                try await Migrator(logger: TestPostgres.logger).migrate(client.database)
            } throws: { error in
                guard case MigrationError.databaseNewerThanBinary(999, let binary) = error else { return false }
                return binary == Migration.all.last!.version && "\(error)".contains("upgrade hypervisiond")
            }
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let broken = Migration.all + [Migration(version: Migration.all.last!.version + 1, name: "9999_broken.sql", sql: "CREATE TABLE extra (x int); SELECT no_such_function();")]
        try await TestPostgres.withClient(endpoint) { client in
            await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: broken, logger: TestPostgres.logger).migrate(client.database)
            }
        }
        // One transaction: not even migration 1 was committed.
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pg_tables WHERE tablename IN ('pings', 'extra')") == [0])
    }
}

@Suite struct PingStoreTests {
    static func migratedDatabase() async throws -> DatabaseEndpoint {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await TestPostgres.withClient(endpoint) { client in
            try await Migrator(logger: TestPostgres.logger).migrate(client.database)
        }
        return endpoint
    }

    @Test func aRepeatedPingIsStoredOnceAndReportedAsDuplicate() async throws {
        let endpoint = try await Self.migratedDatabase()
        let pings = TestPings.make(units: 20, perUnit: 5)
        try await TestPostgres.withClient(endpoint) { client in
            let store = PingStore(database: client.database)
            let first = try await store.insert(pings)
            #expect(first.count == 100)
            let second = try await store.insert(Array(pings[0..<30]) + TestPings.make(units: 1, perUnit: 1, start: .now()))
            #expect(second.count == 1)
            #expect(second.isNew == Array(repeating: false, count: 30) + [true])
            // A ping repeated within one batch is stored once, its first time, whether the store
            // is on the careful path already (after a repeat) or not (a store just made).
            let fresh = TestPings.make(units: 2, perUnit: 1, start: .now().adding(seconds: 1))
            #expect(try await store.insert([fresh[0], fresh[0], pings[0], fresh[0]]).isNew == [true, false, false, false])
            var moved = fresh[1]
            moved.position = GeoPoint(latitude: 1, longitude: 1)
            #expect(try await PingStore(database: client.database).insert([fresh[1], moved, fresh[1]]).isNew == [true, false, false])
            let kept = try await HistoryStore(database: client.database).track(
                unit: fresh[1].unit.rawValue, from: fresh[1].time, to: fresh[1].time.adding(seconds: 1), limit: 10)
            #expect(kept.map(\.position) == [fresh[1].position])
        }
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings") == [103])
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM units") == [20])
    }

    @Test func latePingsAreKeptInHistoryButNeverMoveTheLatestPositionBack() async throws {
        let endpoint = try await Self.migratedDatabase()
        let unit = UnitID(trusted: "PN-75-BAC-12")
        let now = Timestamp.now()
        @Sendable func ping(_ secondsAgo: Double, _ lat: Double) -> Ping {
            Ping(unit: unit, time: now.adding(seconds: -secondsAgo), position: GeoPoint(latitude: lat, longitude: 2.35), receivedAt: now)
        }
        try await TestPostgres.withClient(endpoint) { client in
            let store = PingStore(database: client.database)
            _ = try await store.insert([ping(10, 48.0)])
            _ = try await store.insert([ping(60, 47.0), ping(30, 47.5)])  // late, out of order
            // Within one batch the newest wins whatever the order of arrival.
            _ = try await store.insert([ping(5, 48.5), ping(2, 48.9), ping(7, 48.2)])
        }
        let latest = try await TestPostgres.withClient(endpoint) { client in
            try await HistoryStore(database: client.database).latestPositions().map { ($0.position.latitude, $0.time.microseconds) }
        }
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings") == [6])
    }

    @Test func storedValuesRoundTripExactly() async throws {
        let endpoint = try await Self.migratedDatabase()
        let time = Timestamp(microseconds: Timestamp.now().microseconds - 3_600_000_000 + 123_457)
        let ping = Ping(
            unit: UnitID(trusted: "GN-64-PSIG-3"), time: time, position: GeoPoint(latitude: -33.868_820_1, longitude: 151.209_295_5),
            altitude: 35.5, speed: 12.5, heading: 270, accuracy: 8, status: .emergency, battery: 81, receivedAt: .now())
        try await TestPostgres.withClient(endpoint) { client in
            _ = try await PingStore(database: client.database).insert([ping])
        }
        let row = try await TestPostgres.withConnection(endpoint) { connection -> (String, Int64, Double, Double, Double, String, Int64)? in
            let rows = try await connection.query(
                """
                SELECT unit_id, (extract(epoch FROM time) * 1000000)::int8, ST_Y(position::geometry), ST_X(position::geometry),
                       altitude::float8, status, battery::int8 FROM ping_history
                """, logger: TestPostgres.logger)
            for try await row in rows.decode((String, Int64, Double, Double, Double, String, Int64).self) { return row }
            return nil
        }
        let r = try #require(row)
        #expect(r.0 == "GN-64-PSIG-3")
        #expect(r.1 == time.microseconds)
        #expect(r.2 == -33.868_820_1 && r.3 == 151.209_295_5)
        #expect(r.4 == 35.5 && r.5 == "emergency" && r.6 == 81)
    }

    @Test func partitionsAreCreatedAheadAndDroppedAfterRetention() async throws {
        let endpoint = try await Self.migratedDatabase()
        let today = Timestamp.now().epochDay
        try await TestPostgres.withClient(endpoint) { client in
            let store = PingStore(database: client.database)
            try await store.ensurePartitions(around: today, daysBehind: 10, daysAhead: 3)
            let old = TestPings.make(units: 3, perUnit: 2, start: Timestamp(microseconds: (today - 9) * 86_400_000_000 + 1_000_000))
            _ = try await store.insert(old)
            let dropped = try await store.dropPartitions(olderThan: 5, today: today)
            #expect(dropped.count == 5)  // today-10 ... today-6
            #expect(dropped.first == "pings_" + CivilDate(epochDay: today - 10).compactString)
        }
        #expect(try await TestPostgres.integers(endpoint, "SELECT count(*) FROM pings") == [0])
        let remaining = try await TestPostgres.integers(
            endpoint, "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'pings'")
        #expect(remaining == [9])  // today-5 ... today+3
    }

    @Test func ourHexEWKBIsWhatPostGISReads() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        let point = GeoPoint(latitude: 48.8566, longitude: 2.3522)
        let coordinates = try await TestPostgres.withConnection(endpoint) { connection -> (Double, Double, Int)? in
            let rows = try await connection.query(
                "SELECT ST_Y(g::geometry), ST_X(g::geometry), ST_SRID(g) FROM (SELECT \(point.hexEWKB)::geography AS g) s",
                logger: TestPostgres.logger)
            for try await row in rows.decode((Double, Double, Int).self) { return row }
            return nil
        }
        #expect(coordinates?.0 == 48.8566 && coordinates?.1 == 2.3522 && coordinates?.2 == 4326)
    }

    @Test func ourGeodesyAgreesWithPostGISOnThousandsOfPairs() async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        var generator = SystemRandomNumberGenerator()
        var pairs: [(GeoPoint, GeoPoint)] = []
        for i in 0..<2_000 {
            let a: GeoPoint
            switch i % 4 {
            case 0:  // near the poles
                a = GeoPoint(latitude: .random(in: 85...90, using: &generator) * (i % 8 == 0 ? 1 : -1), longitude: .random(in: -180...180, using: &generator))
            case 1:  // across the antimeridian
                a = GeoPoint(latitude: .random(in: -60...60, using: &generator), longitude: .random(in: 179...180, using: &generator))
            default:
                a = GeoPoint(latitude: .random(in: -90...90, using: &generator), longitude: .random(in: -180...180, using: &generator))
            }
            let b: GeoPoint
            if i % 4 == 1 {
                b = GeoPoint(latitude: a.latitude + .random(in: -0.2...0.2, using: &generator), longitude: .random(in: -180 ... -179, using: &generator))
            } else if i % 3 == 0 {  // a few kilometres away, as in the city
                b = GeoPoint(latitude: max(-90, min(90, a.latitude + .random(in: -0.05...0.05, using: &generator))),
                             longitude: a.longitude + .random(in: -0.05...0.05, using: &generator))
            } else {
                b = GeoPoint(latitude: .random(in: -90...90, using: &generator), longitude: .random(in: -180...180, using: &generator))
            }
            pairs.append((a, GeoPoint(latitude: b.latitude, longitude: b.longitude > 180 ? b.longitude - 360 : b.longitude)))
        }
        let lat1 = pairs.map(\.0.latitude), lon1 = pairs.map(\.0.longitude)
        let lat2 = pairs.map(\.1.latitude), lon2 = pairs.map(\.1.longitude)
        let distances = try await TestPostgres.withConnection(endpoint) { connection in
            let rows = try await connection.query(
                """
                SELECT ST_Distance(ST_SetSRID(ST_MakePoint(lo1, la1), 4326)::geography, ST_SetSRID(ST_MakePoint(lo2, la2), 4326)::geography, true)
                FROM unnest(\(lat1)::float8[], \(lon1)::float8[], \(lat2)::float8[], \(lon2)::float8[]) WITH ORDINALITY AS t(la1, lo1, la2, lo2, n)
                ORDER BY n
                """, logger: TestPostgres.logger)
            var values: [Double] = []
            for try await d in rows.decode(Double.self) { values.append(d) }
            return values
        }
        #expect(distances.count == pairs.count)
        var worst = 0.0
        for (pair, postgis) in zip(pairs, distances) where postgis > 1 {
            let ours = Geodesy.distance(pair.0, pair.1)
            worst = max(worst, abs(ours - postgis) / postgis)
        }
        // Vincenty agrees with PostGIS's spheroid distance far below the 0.5% the design allows.
        #expect(worst < 0.005, "worst relative error \(worst)")
    }
}
