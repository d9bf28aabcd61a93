import Foundation
import HypervisionCore
import NIOCore
import Synchronization
import Testing

@testable import HypervisionStore

@Suite struct SQLScriptTests {
    @Test func splitsOnSemicolonsOutsideQuotesCommentsAndDollarBodies() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'it''s; fine');
            /* block; comment */
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;
            CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 2; END; $body$;
            SELECT "weird;name" FROM a
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("CREATE TABLE a (x text DEFAULT 'it''s; fine')"))
        #expect(statements[1].hasSuffix("AS $$ BEGIN RETURN 1; END; $$"))
        #expect(statements[2].hasSuffix("$body$ BEGIN RETURN 2; END; $body$"))
        #expect(statements[3] == "SELECT \"weird;name\" FROM a")
    }

    @Test func theShippedMigrationsSplitIntoWholeStatements() {
        for migration in Migration.all {
            let statements = SQLScript.statements(migration.sql)
            // Counted by hand: a change here means the splitter or the file changed.
            #expect(statements.count == ["0001_initial.sql": 17, "0002_incidents_and_camera_events.sql": 6, "0003_scene_log_patches.sql": 2, "0004_change_notifications.sql": 4, "0005_history_without_per_row_gist.sql": 3, "0006_latest_positions_from_history.sql": 3, "0007_history_keyed_by_unit_number.sql": 13][migration.name])
            #expect(statements.allSatisfy { !$0.isEmpty })
        }
    }

    @Test func everyFileInSchemasIsShippedInTheBinary() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Schemas/migrations").standardized.path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migration.all.map(\.name))
        for migration in Migration.all {
            let onDisk = try String(contentsOfFile: directory + "/" + migration.name, encoding: .utf8)
            #expect(onDisk == migration.sql)
            #expect(Int(migration.name.prefix(4)) == migration.version)
        }
    }
}

@Suite struct CopyTextTests {
    @Test func escapesTheCharactersCopyTextGivesMeaningTo() {
        var writer = CopyTextWriter()
        writer.text("a\\b\tc\nd\re")
        writer.text(nil)
        writer.double(12.5)
        writer.integer(nil)
        writer.endRow()
        let text = String(buffer: writer.buffer)
        #expect(text == "a\\\\b\\tc\\nd\\re\t\\N\t12.5\t\\N\n")
    }

    /// Times and points are written in place; they must be the very text of their String forms.
    @Test func timesAndPointsWrittenInPlaceMatchTheirTextForms() {
        var random = SeededRandom(seed: 12)
        for _ in 0..<500 {
            let time = Timestamp(microseconds: Int64.random(in: -2_000_000_000_000_000...4_000_000_000_000_000, using: &random))
            let point = GeoPoint(latitude: .random(in: -90...90, using: &random), longitude: .random(in: -180...180, using: &random))
            var writer = CopyTextWriter()
            writer.timestamp(time)
            writer.point(point)
            writer.endRow()
            #expect(String(buffer: writer.buffer) == "\(time.postgresText)\t\(point.hexEWKB)\n")
        }
        var writer = CopyTextWriter()
        writer.point(GeoPoint(latitude: 48.8566, longitude: 2.3522))
        // EWKB: little-endian Point with SRID 4326, then longitude and latitude as little-endian doubles.
        #expect(String(buffer: writer.buffer) == "0101000020E6100000A835CD3B4ED1024076E09C11A56D4840")
    }
}

@Suite struct CopyBinaryTests {
    /// The layout PostgreSQL's manual gives: signature, flags, extension length; per row a field
    /// count and length-prefixed big-endian values (-1 for NULL); a trailer of -1.
    @Test func aRowIsWrittenInTheBinaryCopyLayout() {
        var writer = CopyBinaryWriter()
        writer.beginRow(fields: 5)
        writer.text("PN-1")
        writer.timestamp(Timestamp(microseconds: 946_684_800_000_001))
        writer.real(12.5)
        writer.smallint(nil)
        writer.point(GeoPoint(latitude: 48.8566, longitude: 2.3522))
        var buffer = writer.finish()
        let bytes = buffer.readBytes(length: buffer.readableBytes)!
        let expected: [UInt8] =
            Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
            + [0, 5]
            + [0, 0, 0, 4] + Array("PN-1".utf8)
            + [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]  // one microsecond after 2000-01-01
            + [0, 0, 0, 4, 0x41, 0x48, 0, 0]  // 12.5 as a big-endian float
            + [0xFF, 0xFF, 0xFF, 0xFF]
            + [0, 0, 0, 25] + Hex.decode("0101000020E6100000A835CD3B4ED1024076E09C11A56D4840")!
            + [0xFF, 0xFF]
        #expect(bytes == expected)
    }
}

extension CopyBinaryTests {
    /// The writer's one-span history row is byte for byte the row the general calls write, with
    /// and without the optional fields, and rows follow each other.
    @Test func aHistoryRowIsTheSameBytesAsItsFieldsWrittenOneByOne() {
        var random = SeededRandom(seed: 7)
        var fast = CopyBinaryWriter(capacity: 16), byField = CopyBinaryWriter(capacity: 16)
        for n in 0..<200 {
            let full = n % 3 != 0
            let ping = Ping(
                unit: UnitID(trusted: "PN-\(n)"), time: Timestamp(microseconds: .random(in: -1_000_000_000...4_000_000_000_000_000, using: &random)),
                position: GeoPoint(latitude: .random(in: -90...90, using: &random), longitude: .random(in: -180...180, using: &random)),
                altitude: full ? .random(in: -400...9_000, using: &random) : nil, speed: full ? 12.5 : nil,
                heading: full ? .random(in: 0..<360, using: &random) : nil, accuracy: n % 2 == 0 ? 8 : nil,
                status: [nil, .available, .enRoute, UnitStatus(rawValue: String(repeating: "x", count: 32))][n % 4],
                battery: full ? n % 101 : nil, receivedAt: Timestamp(microseconds: .random(in: 0...4_000_000_000_000_000, using: &random)))
            let key = Int64.random(in: 1...Int64.max, using: &random)
            fast.historyRow(ping, unitKey: key)
            byField.historyRowByField(ping, unitKey: key)
        }
        var a = fast.finish(), b = byField.finish()
        #expect(a.readableBytes > 200 * 100)
        #expect(a.readBytes(length: a.readableBytes) == b.readBytes(length: b.readableBytes))
    }
}

@Suite struct HistoryCellTests {
    /// No point within the radius may fall outside the ranges: a miss would drop a unit from
    /// "who passed here". Points are placed with our own geodesy (Karney's direct problem).
    @Test func everyPointWithinTheRadiusIsInTheRanges() {
        var random = SeededRandom(seed: 31)
        var tried = 0
        for _ in 0..<3_000 {
            let center = GeoPoint(latitude: .random(in: -85...85, using: &random), longitude: .random(in: -179...179, using: &random))
            let radius = [1.0, 50, 400, 1_000, 5_000, 10_000][Int.random(in: 0..<6, using: &random)]
            guard let ranges = HistoryCell.ranges(around: center, radius: radius) else { continue }
            tried += 1
            for _ in 0..<20 {
                // Mostly on the circle itself, where a too-narrow range would show.
                let distance = radius * (Bool.random(using: &random) ? 0.9999 : .random(in: 0...1, using: &random))
                let point = Geodesy.destination(from: center, bearing: .random(in: 0..<360, using: &random), distance: distance)
                let cell = HistoryCell.cell(of: point)
                #expect(ranges.contains { $0.contains(cell) }, "center \(center), radius \(radius), point \(point)")
            }
        }
        #expect(tried > 2_000)
    }

    @Test func areasThatReachAPoleOrTheAntimeridianOrAreLargeUseNoRanges() {
        #expect(HistoryCell.ranges(around: GeoPoint(latitude: 88.995, longitude: 10), radius: 1_000) == nil)
        #expect(HistoryCell.ranges(around: GeoPoint(latitude: 0, longitude: 179.995), radius: 1_000) == nil)
        #expect(HistoryCell.ranges(around: GeoPoint(latitude: 0, longitude: -179.995), radius: 1_000) == nil)
        #expect(HistoryCell.ranges(around: GeoPoint(latitude: 45, longitude: 0), radius: 30_000) == nil)
        #expect(HistoryCell.condition(column: "cell", around: GeoPoint(latitude: 45, longitude: 0), radius: 30_000) == "true")
        // Paris, 1 km: ten rows of cells of 0.002°, each cut to the circle's width there, so the
        // cells cover little more than the circle (a square around it would hold 4/π times it).
        let center = GeoPoint(latitude: 48.85, longitude: 2.3)
        let ranges = HistoryCell.ranges(around: center, radius: 1_000)!
        #expect((9...11).contains(ranges.count))
        let widest = ranges.map(\.count).max()!
        #expect(widest <= 16)
        #expect(ranges.first!.count < widest && ranges.last!.count < widest)
        let cellArea = (111_320.0 / 500) * (111_320.0 * cos(center.latitude * .pi / 180) / 500)
        #expect(Double(ranges.map(\.count).reduce(0, +)) * cellArea < 1.6 * Double.pi * 1_000 * 1_000)
    }

    /// Neighbouring cells of a row are consecutive numbers; rows never share a number, even at
    /// longitude 180.
    @Test func cellNumbersAreDistinctAcrossRows() {
        #expect(HistoryCell.cell(of: GeoPoint(latitude: 10.0001, longitude: 180)) != HistoryCell.cell(of: GeoPoint(latitude: 10.0021, longitude: -180)))
        let west = HistoryCell.cell(of: GeoPoint(latitude: 10.0001, longitude: 5.0001))
        #expect(HistoryCell.cell(of: GeoPoint(latitude: 10.0001, longitude: 5.0021)) == west + 1)
    }
}

@Suite struct DatabaseEndpointTests {
    @Test func urlPartsWinAndTheEnvironmentFillsTheRest() throws {
        let endpoint = try DatabaseEndpoint.resolve(
            url: "postgres://ops:s%40cret@db.cic.local:6432/hv?sslmode=require",
            environment: ["PGUSER": "ignored", "PGPASSWORD": "ignored"], currentUser: "me")
        #expect(endpoint == DatabaseEndpoint(host: "db.cic.local", port: 6432, user: "ops", password: "s@cret", database: "hv", sslMode: .require))
        #expect(!endpoint.description.contains("s@cret"))

        let fromEnvironment = try DatabaseEndpoint.resolve(
            url: nil, environment: ["PGHOST": "10.0.0.5", "PGPORT": "5433", "PGUSER": "u", "PGPASSWORD": "p", "PGDATABASE": "d",
                                    "PGSSLMODE": "verify-full"], currentUser: "me")
        #expect(fromEnvironment == DatabaseEndpoint(host: "10.0.0.5", port: 5433, user: "u", password: "p", database: "d", sslMode: .verifyFull))
    }

    @Test func libpqDefaultsAndSocketDirectories() throws {
        let endpoint = try DatabaseEndpoint.resolve(url: "postgresql:///hv?host=/run/postgresql", environment: [:], currentUser: "me")
        #expect(endpoint.isUnixSocket)
        #expect(endpoint.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(endpoint.user == "me")
        #expect(endpoint.database == "hv")
        let defaults = try DatabaseEndpoint.resolve(url: nil, environment: [:], currentUser: "me")
        #expect(defaults.host == "/var/run/postgresql")
        #expect(defaults.database == "me")
        let ipv6 = try DatabaseEndpoint.resolve(url: "postgres://u@[::1]:5499/x", environment: [:], currentUser: "me")
        #expect(ipv6.host == "::1" && ipv6.port == 5499)
    }

    /// Several hosts, the way every PostgreSQL tool takes them: in the authority, in `host=` and
    /// `port=` lists, or in PGHOST/PGPORT; with libpq's target_session_attrs.
    @Test func severalHostsAsLibpqTakesThem() throws {
        typealias Server = DatabaseEndpoint.Server
        let url = try DatabaseEndpoint.resolve(
            url: "postgresql://hv@db-a:5432,db-b:5433,[fd00::3]/hypervision?target_session_attrs=read-write", environment: [:],
            currentUser: "me")
        #expect(url.servers == [Server(host: "db-a", port: 5432), Server(host: "db-b", port: 5433), Server(host: "fd00::3", port: 5432)])
        #expect(url.targetSession == .readWrite)
        #expect(url.candidates.map(\.servers) == url.servers.map { [$0] })
        #expect(url.candidates.allSatisfy { $0.user == "hv" && $0.database == "hypervision" && $0.targetSession == .readWrite })
        #expect(url.description.contains("db-a:5432, db-b:5433") && url.description.contains("read-write"))

        let lists = try DatabaseEndpoint.resolve(
            url: "postgres:///hv?host=/run/a,/run/b&port=5432&target_session_attrs=primary", environment: [:], currentUser: "me")
        #expect(lists.servers == [Server(host: "/run/a", port: 5432), Server(host: "/run/b", port: 5432)])
        #expect(lists.targetSession == .primary)

        let environment = try DatabaseEndpoint.resolve(
            url: nil, environment: ["PGHOST": "10.0.0.1,10.0.0.2", "PGPORT": "5432,6432", "PGTARGETSESSIONATTRS": "read-write"],
            currentUser: "me")
        #expect(environment.servers == [Server(host: "10.0.0.1", port: 5432), Server(host: "10.0.0.2", port: 6432)])
        #expect(environment.targetSession == .readWrite)

        let single = try DatabaseEndpoint.resolve(url: "postgres://u@h/d", environment: [:], currentUser: "me")
        #expect(single.servers.count == 1 && single.targetSession == .any)
    }

    @Test(arguments: [
        "mysql://x@y/z", "postgres://u@h:99999/d", "postgres://u@h/d?sslmode=sometimes", "postgres://u@h/d?frobnicate=1",
        "postgres://u%zz@h/d", "postgres://u@a,b,c/d?port=1,2", "postgres://u@h/d?target_session_attrs=standby-please",
    ])
    func badURLsSayWhy(url: String) {
        #expect(throws: DatabaseEndpointError.self) {
            try DatabaseEndpoint.resolve(url: url, environment: [:], currentUser: "me")
        }
    }
}

/// Host names that do not exist are told apart from the rest, so that a typo in
/// `database.url` stops the daemon while a resolver that cannot answer yet is waited out.
@Suite struct HostNameCheckTests {
    @Test func addressesSocketsAndLocalNamesAreKnownAndAMadeUpNameIsUnknown() async throws {
        #expect(HostNameCheck.resolve("127.0.0.1") == .known)
        #expect(HostNameCheck.resolve("::1") == .known)
        #expect(HostNameCheck.resolve("/var/run/postgresql") == .known)
        #expect(HostNameCheck.resolve("localhost") == .known)
        // RFC 2606 reserves .invalid: no resolver may answer it with an address.
        guard case .unknown(let reason) = HostNameCheck.resolve("db-b.hypervision.invalid") else {
            Issue.record("this machine's resolver gave \(HostNameCheck.resolve("db-b.hypervision.invalid")) for a .invalid name")
            return
        }
        #expect(!reason.isEmpty)
        var endpoint = try DatabaseEndpoint.resolve(url: "postgres://u@127.0.0.1,db-b.hypervision.invalid:6432/d", environment: [:], currentUser: "me")
        let checks = await HostNameCheck.check(endpoint)
        #expect(checks.map(\.server) == ["127.0.0.1:5432", "db-b.hypervision.invalid:6432"])
        #expect(checks.map(\.check) == [.known, .unknown(reason: reason)])
        endpoint.servers.removeFirst()
        #expect(await HostNameCheck.check(endpoint).map(\.check) == [.unknown(reason: reason)])
    }

    /// A resolver that takes its time (no DNS server answering: seconds per name) does not hold
    /// up a task that is cancelled, as a daemon stopping while it starts is. Judged by order,
    /// not by the clock (the suites share two cores): the cancelled check must answer while the
    /// resolver is still held. Were it waited for, a safety net releases it after 60 s, and the
    /// check then fails instead of hanging.
    @Test func aCancelledCheckDoesNotWaitForTheResolver() async throws {
        let endpoint = try DatabaseEndpoint.resolve(url: "postgres://u@db-a,db-b/d", environment: [:], currentUser: "me")
        let held = DispatchSemaphore(value: 0)
        let resolved = Mutex(false), asked = Mutex(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { held.signal() }
        let check = Task {
            await HostNameCheck.check(endpoint) { _ in
                asked.withLock { $0 = true }
                held.wait()
                held.signal()  // the next name, if any, is not held either
                resolved.withLock { $0 = true }
                return .known
            }
        }
        // Cancelled while the resolver is at work, as a stop during start-up would be.
        for _ in 0..<6_000 where !asked.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(asked.withLock { $0 })
        check.cancel()
        let checks = await check.value
        #expect(!resolved.withLock { $0 }, "the cancelled check waited for the resolver")
        #expect(checks.map(\.server) == ["db-a:5432", "db-b:5432"])
        #expect(checks.allSatisfy { if case .undecided = $0.check { true } else { false } })
        held.signal()
        // Not cancelled, a resolver is waited for.
        let answered = await HostNameCheck.check(endpoint) { _ in .known }
        #expect(answered.map(\.check) == [.known, .known])
    }
}

enum TestData {
    static func pings(_ count: Int, offset: Int = 0) -> [Ping] {
        (offset..<(offset + count)).map { i in
            Ping(
                unit: UnitID(trusted: "GN-64-PSIG-\(i)"), time: Timestamp(microseconds: 1_795_428_000_250_001 + Int64(i)),
                position: GeoPoint(latitude: 43.48 + Double(i) * 1e-7, longitude: -1.55), altitude: 12.25, speed: 3.5,
                heading: 359.5, accuracy: 4, status: .busy, battery: 55, receivedAt: Timestamp(microseconds: 1_795_428_001_000_000))
        }
    }
}

/// The replay step shrinks after a failure and grows back after successes, within its bounds.
@Suite struct ReplayStepSizeTests {
    @Test func halvesOnFailureAndDoublesOnSuccessWithinItsBounds() {
        var size = ReplayStepSize(maximum: 50_000, minimum: 500)
        #expect(size.current == 50_000)
        size.failed()
        #expect(size.current == 25_000)
        for _ in 0..<20 { size.failed() }
        #expect(size.current == 500)
        size.succeeded()
        #expect(size.current == 1_000)
        for _ in 0..<20 { size.succeeded() }
        #expect(size.current == 50_000)
    }

    @Test func aBatchSizeBelowTheMinimumIsItsOwnMinimum() {
        var size = ReplayStepSize(maximum: 100, minimum: 500)
        #expect(size.current == 100)
        size.failed()
        #expect(size.current == 100)
    }
}
