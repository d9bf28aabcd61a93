import Foundation
import HypervisionCLI
import HypervisionCore
import Testing

@Suite struct FormattingTests {
    @Test func distancesAsOperatorsSayThem() {
        #expect(formatDistance(0) == "0 m")
        #expect(formatDistance(180.4) == "180 m")
        #expect(formatDistance(999.4) == "999 m")
        #expect(formatDistance(999.6) == "1.0 km")
        #expect(formatDistance(1234) == "1.2 km")
        #expect(formatDistance(34_560) == "34.6 km")
        #expect(formatDistance(123_400) == "123 km")
        #expect(formatDistance(-1) == "?")
        #expect(formatDistance(.nan) == "?")
    }

    @Test func durations() {
        #expect(formatDuration(45) == "45 s")
        #expect(formatDuration(60) == "1 min")
        #expect(formatDuration(95) == "1 min 35 s")
        #expect(formatDuration(720) == "12 min")
        #expect(formatDuration(3900) == "1 h 05")
        #expect(formatDuration(2 * 86_400 + 4 * 3600) == "2 d 4 h")
    }

    @Test func speedsHeadingsPositions() {
        #expect(formatSpeed(15) == "54 km/h")
        #expect(formatHeading(270) == "270° W")
        #expect(formatHeading(359.6) == "0° N")
        #expect(formatHeading(-45) == "315° NW")
        #expect(formatPosition(GeoPoint(latitude: -33.8688, longitude: 151.20931)) == "-33.86880, 151.20931")
        #expect(formatPosition(GeoPoint(latitude: -0.000001, longitude: 0)) == "0.00000, 0.00000")
    }

    @Test func localTimesInTheOperatorsZone() throws {
        let paris = try #require(TimeZone(identifier: "Europe/Paris"))
        let clock = Clock(now: Fixtures.now, timeZone: paris)
        // 10:00Z is 11:00 in Paris in November (UTC+1).
        #expect(clock.local(Timestamp(rfc3339: "2026-11-23T09:59:48Z")!) == "10:59:48")
        #expect(clock.local(Timestamp(rfc3339: "2026-11-22T22:59:00Z")!) == "2026-11-22 23:59")
        #expect(clock.local(Timestamp(rfc3339: "2026-11-22T23:00:00Z")!) == "00:00:00")
        #expect(clock.localFull(Timestamp(rfc3339: "2026-07-01T12:00:00Z")!) == "2026-07-01 14:00:00")
        #expect(clock.offsetName(at: Fixtures.now) == "UTC+01:00")
        #expect(clock.age(Timestamp(rfc3339: "2026-11-23T09:57:00Z")!) == "3 min ago")
        #expect(clock.age(Timestamp(rfc3339: "2026-11-23T10:05:00Z")!) == "in 5 min")
    }
}

@Suite struct TableTests {
    @Test func alignsColumnsWithoutTrailingSpaces() {
        var table = TextTable([.init("NAME"), .init("DIST", .right), .init("NOTE")])
        table.append(["a", "8 m", ""])
        table.append(["Rivoli / Louvre", "1.2 km", "x"])
        #expect(
            table.render() == """
                NAME               DIST  NOTE
                a                   8 m
                Rivoli / Louvre  1.2 km  x

                """)
    }

    @Test func dropsColumnsNobodyFilled() {
        var table = TextTable([.init("A"), .init("B"), .init("C")])
        table.append(["1", "", "3"])
        #expect(table.droppingEmptyColumns().render() == "A  C\n1  3\n")
    }

    @Test func wideCharactersTakeTwoCells() {
        var table = TextTable([.init("NAME"), .init("X")])
        table.append(["東京", "1"])
        table.append(["abcd", "2"])
        #expect(table.render() == "NAME  X\n東京  1\nabcd  2\n")
    }
}

@Suite struct RenderTests {
    let clock = Clock(now: Fixtures.now, timeZone: TimeZone(identifier: "UTC")!)

    @Test func unitsNearestFirstWithDistanceAndStaleMarked() {
        #expect(
            unitsTable(Fixtures.unitsNear, clock: clock) == """
                UNIT          CALLSIGN  KIND       AGENCY  STATUS       DIST    SPEED     HDG  LAST PING              STALE
                PN-75-BAC-12  Alpha 12  car        PN      patrol      180 m  54 km/h  270° W  09:59:48 (12 s ago)
                PM-7          Moto 7    motorbike  PM      available  1.2 km                   09:50:00 (10 min ago)  STALE since 09:55:00
                2 units, 1 stale

                """)
    }

    @Test func unitsWithoutAPointHaveNoDistanceColumn() {
        let box = Fixtures.parse(
            #"{"type":"FeatureCollection","features":[{"type":"Feature","id":"U1","geometry":{"type":"Point","coordinates":[2,48]},"properties":{"status":"available","time":"2026-11-23T09:59:00Z","stale":false}}]}"#
        )
        #expect(unitsTable(box, clock: clock) == "UNIT  STATUS     LAST PING\nU1    available  09:59:00 (1 min ago)\n1 unit\n")
        #expect(unitsTable(Fixtures.parse(#"{"type":"FeatureCollection","features":[]}"#), clock: clock) == "no units found\n")
    }

    @Test func oneUnitInDetail() {
        #expect(
            unitDetail(Fixtures.unit, clock: clock) == """
                unit       PN-75-BAC-12
                callsign   Alpha 12
                kind       car
                agency     PN
                status     patrol
                position   48.85660, 2.35220 (±5 m)
                last ping  2026-11-23 09:59:48 (12 s ago)
                received   2026-11-23 09:59:49
                motion     54 km/h, heading 270° W
                altitude   35 m
                battery    80 %
                stale      no

                """)
    }

    @Test func oneUnitInDetailNeverPrintsNothing() {
        #expect(unitDetail(Fixtures.parse(#"{"type":"FeatureCollection","features":[]}"#), clock: clock) == "no unit in the answer\n")
        #expect(unitDetail(Fixtures.unitsNear, clock: clock).hasPrefix("unit       PN-75-BAC-12\n"))
    }

    @Test func trackAsLineAndAsPoints() {
        #expect(
            trackTable(Fixtures.trackLine, clock: clock) == """
                TIME                 POSITION             STEP
                2026-11-23 09:00:00  48.85000, 2.35000
                2026-11-23 09:01:00  48.85000, 2.36000   734 m
                2026-11-23 09:03:00  48.86000, 2.36000  1.1 km
                3 positions, 1.8 km in 3 min

                """)
        #expect(
            trackTable(Fixtures.trackPoints, clock: clock) == """
                TIME                 POSITION            STEP    SPEED    HDG
                2026-11-23 09:00:00  48.85000, 2.35000         36 km/h  90° E
                2026-11-23 09:01:00  48.85000, 2.36000  734 m  45 km/h   0° N
                2 positions, 734 m in 1 min

                """)
        #expect(trackTable(Fixtures.parse(#"{"type":"FeatureCollection","features":[]}"#), clock: clock) == "no positions in this window\n")
    }

    @Test func cameras() {
        #expect(
            camerasTable(Fixtures.cameras) == """
                CAMERA        NAME             DIST  HEADING  FOV  RANGE  STATUS  STREAMS  TAGS
                cam-rivoli-3  Rivoli / Louvre  42 m  135° SE  60°  120 m  online        2  ptz,traffic
                1 camera

                """)
    }

    @Test func incidentsWithLongSummariesClipped() {
        #expect(
            incidentsTable(Fixtures.incidents, clock: clock) == """
                INCIDENT  PRI  CATEGORY  STATUS  OPENED                 SERVICE  SOURCE        SUMMARY
                INC-42      2  burglary  open    09:48:00 (12 min ago)  police   citizen_line  Shop window broken, two people seen running towar…
                1 incident

                """)
    }

    @Test func dossierInSections() {
        #expect(
            dossierText(Fixtures.dossier, clock: clock) == """
                INCIDENT INC-42  burglary  priority 2  open
                  opened   2026-11-23 09:48:00 (12 min ago)
                  where    48.85000, 2.35000
                  summary  Shop window broken
                  service  police (category burglary)
                  source   citizen_line

                NEAREST UNITS
                  UNIT          CALLSIGN  STATUS   DIST         ETA
                  PN-75-BAC-12  Alpha 12  patrol  850 m  1 min 35 s

                CAMERAS
                  CAMERA        NAME             DIST  STATUS
                  cam-rivoli-3  Rivoli / Louvre  42 m  online

                UNITS PRESENT
                  UNIT  CLOSEST  AT        PINGS
                  PM-7     12 m  09:47:10     14

                EARLIER INCIDENTS NEARBY
                  INCIDENT  CATEGORY  OPENED            STATUS  DIST  SUMMARY
                  INC-7     burglary  2026-11-02 22:10  closed  73 m  Same shop

                """)
    }

    @Test func anEmptyDossierSaysNone() {
        let dossier = Fixtures.parse(#"{"incident":{"type":"Feature","id":"INC-1","geometry":null,"properties":{}},"nearestUnits":[],"cameras":[],"unitsPresent":[],"earlierIncidents":[]}"#)
        let text = dossierText(dossier, clock: clock)
        #expect(text.hasPrefix("INCIDENT INC-1\n"))
        #expect(text.components(separatedBy: "  none\n").count == 5)
    }

    @Test func dossierAsGeoJSONHoldsTheIncidentAndEarlierOnes() {
        let collection = dossierGeoJSON(Fixtures.dossier)
        #expect(collection["type"] == "FeatureCollection")
        #expect(collection["features"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["INC-42", "INC-7"])
    }

    @Test func zonesBusiestFirst() {
        #expect(
            zonesTable(Fixtures.zones) == """
                CELL CENTRE        COUNT  PREVIOUS  CHANGE
                48.10000, 2.30000      7         1      +6
                48.10000, 2.10000      3         5      -2
                2 cells, 10 in this window, 6 in the one before

                """)
    }

    @Test func prettyJSONReadsBackToTheSameValue() throws {
        for document in [Fixtures.unitsNear, Fixtures.dossier, Fixtures.zones, Fixtures.trackLine] {
            #expect(try JSONValue(parsing: prettyJSON(document)) == document)
        }
        #expect(prettyJSON(["a": [1, 2], "b": [:], "c": []]) == "{\n  \"a\": [1, 2],\n  \"b\": {},\n  \"c\": []\n}\n")
    }
}
