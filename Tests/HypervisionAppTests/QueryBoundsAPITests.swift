import Foundation
import HypervisionCore
import HypervisionStore
import HypervisionTestSupport
import Testing

/// No request can make PostgreSQL work without end or hold a pooled connection: what a query
/// will scan is bounded before it is sent, the database's `statement_timeout` ends the rest,
/// and both that and a database past its deadline answer 503 with `Retry-After`, not 500.
@Suite(.serialized) struct QueryBoundsAPITests {
    /// The defect: the zone cap estimated cells from ground distances, and a box from -180 to
    /// 180 has its west and east edges on one meridian, 0 m apart: "0 cells". PostGIS then drew
    /// millions of hexagons and held a connection for minutes.
    @Test func aWorldWideZoneAnalysisIsRefusedAtOnceWithASpecificCode() async throws {
        let daemon = try await APIDaemon("zones-cap")
        func zones(_ query: String) async throws -> APIExchange {
            try await daemon.exchange("GET", "/api/v1/zones/stats?" + query, token: "query-secret")
        }
        let world = try await zones("size=50000&bbox=-180,-85,180,85")
        #expect(world.status == 400 && world.errorCode == "too_many_cells", "\(world)")
        #expect(world.elapsed < .seconds(2), "refused before PostGIS is asked: \(world.elapsed)")
        let fine = try await zones("size=50&bbox=-180,-1,180,1")
        #expect(fine.status == 400 && fine.errorCode == "too_many_cells", "\(fine)")
        // Beyond Web Mercator, where PostGIS cannot project (it failed with a 500 before).
        let poles = try await zones("size=50000&bbox=-10,-90,10,90")
        #expect(poles.status == 400 && poles.errorCode == "lat_out_of_range", "\(poles)")
        let across = try await zones("size=5000&bbox=170,0,-170,1")
        #expect(across.status == 400 && across.errorCode == "bbox_crosses_antimeridian", "\(across)")
        // Every longitude is fine when the grid is small: a thin band in 50 km cells.
        let band = try await zones("size=50000&bbox=-180,-0.5,180,0.5")
        #expect(band.status == 200 && field(band.json, "type") as? String == "FeatureCollection", "\(band)")
        let year = try await zones("size=500&bbox=2.3,48.8,2.4,48.9&from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z")
        #expect(year.status == 400 && year.errorCode == "value_invalid", "\(year)")
        #expect(await daemon.stop() == 0)
    }

    /// A query that runs longer than the statement timeout is ended by PostgreSQL and answered
    /// 503 `query_timeout` at once; with a pool of one connection, the next request proves the
    /// connection came back.
    @Test(.timeLimit(.minutes(4)))
    func aQueryPastTheStatementTimeoutAnswers503AndFreesItsConnection() async throws {
        let daemon = try await APIDaemon(
            "stmt-timeout", extraConfiguration: "database:\n  statementTimeoutMs: 1000\n  poolSize: 1\n")
        // 300,000 incidents in Paris over the last six days, written straight into the table.
        _ = try await TestPostgres.integers(
            daemon.endpoint,
            """
            WITH inserted AS (
                INSERT INTO incidents (id, category, priority, location, status, opened_at, closed_at, source)
                SELECT 'LOAD-' || n, 'noise', 3,
                       ST_SetSRID(ST_MakePoint(2.30 + random() * 0.1, 48.83 + random() * 0.06), 4326)::geography,
                       'closed', now() - interval '7 days', now() - interval '7 days', 'operator'
                FROM generate_series(1, 300000) n
                RETURNING 1
            ) SELECT count(*) FROM inserted
            """)
        let from = Timestamp.now().adding(seconds: -8 * 86_400).rfc3339, to = Timestamp.now().rfc3339
        let heavy = try await daemon.exchange(
            "GET", "/api/v1/zones/stats?size=50&bbox=2.3,48.83,2.4,48.89&from=\(from)&to=\(to)", token: "query-secret")
        #expect(heavy.status == 503 && heavy.errorCode == "query_timeout", "\(heavy)")
        #expect(heavy.headers["retry-after"] != nil, "\(heavy.headers)")
        // Ended by the server at 1 s, well before the daemon's own deadline (1 s + 2 s).
        #expect(heavy.elapsed < .milliseconds(2_900), "\(heavy.elapsed)")
        // A lookup by primary key: cheap whatever the load, so it tells only whether the one
        // pooled connection is free again.
        let next = try await daemon.exchange("GET", "/api/v1/incidents/LOAD-1", token: "query-secret")
        #expect(next.status == 200 && field(next.json, "id") as? String == "LOAD-1", "\(next)")
        #expect(next.elapsed < .seconds(2), "the only pooled connection was free at once: \(next.elapsed)")
        #expect(await daemon.stop() == 0)
    }

    /// A database that stops answering (frozen processes, open sockets): a query ends at its
    /// deadline with 503 `database_unavailable`, and the pool serves again once it thaws.
    @Test(.timeLimit(.minutes(4)))
    func aFrozenDatabaseAnswers503AtTheDeadlineAndRecovers() async throws {
        let cluster = TestPostgres.makeCluster("query-freeze")
        registerStopAtExit(cluster)
        let endpoint = try await cluster.start()
        let daemon = try await APIDaemon(
            "query-freeze", extraConfiguration: "database:\n  statementTimeoutMs: 1000\n", database: endpoint)
        #expect(try await daemon.exchange("GET", "/api/v1/incidents", token: "query-secret").status == 200)
        cluster.freeze()
        let frozen = try await daemon.exchange("GET", "/api/v1/incidents", token: "query-secret")
        cluster.thaw()
        #expect(frozen.status == 503 && frozen.errorCode == "database_unavailable", "\(frozen)")
        #expect(frozen.headers["retry-after"] != nil)
        #expect(frozen.elapsed < .seconds(10), "ended at the deadline (3 s), not hung: \(frozen.elapsed)")
        var recovered: APIExchange?
        for _ in 0..<50 {
            recovered = try await daemon.exchange("GET", "/api/v1/incidents", token: "query-secret")
            if recovered?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(recovered?.status == 200, "\(String(describing: recovered))")
        #expect(await daemon.stop() == 0)
        try? cluster.kill()
    }
}
