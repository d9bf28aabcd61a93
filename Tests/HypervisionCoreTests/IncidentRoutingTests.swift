import HypervisionCore
import Testing

@Suite struct IncidentRoutingTests {
    static let square = try! RoutingZone(
        name: "centre",
        rings: [
            [GeoPoint(latitude: 0, longitude: 0), GeoPoint(latitude: 0, longitude: 10), GeoPoint(latitude: 10, longitude: 10),
             GeoPoint(latitude: 10, longitude: 0), GeoPoint(latitude: 0, longitude: 0)],
            [GeoPoint(latitude: 4, longitude: 4), GeoPoint(latitude: 4, longitude: 6), GeoPoint(latitude: 6, longitude: 6),
             GeoPoint(latitude: 6, longitude: 4), GeoPoint(latitude: 4, longitude: 4)],
        ])

    @Test func zonesCoverTheirBoundaryAndExcludeHoles() {
        #expect(Self.square.contains(GeoPoint(latitude: 1, longitude: 1)))
        #expect(Self.square.contains(GeoPoint(latitude: 0, longitude: 5)))  // on the outer edge
        #expect(Self.square.contains(GeoPoint(latitude: 10, longitude: 10)))  // a corner
        #expect(!Self.square.contains(GeoPoint(latitude: 5, longitude: 5)))  // inside the hole
        #expect(Self.square.contains(GeoPoint(latitude: 4, longitude: 5)))  // on the hole's edge
        #expect(!Self.square.contains(GeoPoint(latitude: 11, longitude: 5)))
        #expect(!Self.square.contains(GeoPoint(latitude: -0.0001, longitude: 5)))
    }

    @Test func malformedZonesAreRefusedWithTheReason() {
        #expect(throws: ValidationError.self) { try RoutingZone(name: "z", rings: []) }
        do {
            _ = try RoutingZone(name: "z", rings: [[GeoPoint(latitude: 0, longitude: 0), GeoPoint(latitude: 1, longitude: 0),
                                                     GeoPoint(latitude: 1, longitude: 1), GeoPoint(latitude: 0, longitude: 1)]])
            Issue.record("an open ring was accepted")
        } catch {
            #expect(error.message.contains("not closed"))
        }
    }

    @Test func dailyWindowsWrapMidnight() throws {
        let night = try DailyWindow(parsing: "22:00-06:00")
        #expect(night.contains(minuteOfDay: 23 * 60))
        #expect(night.contains(minuteOfDay: 5 * 60 + 59))
        #expect(!night.contains(minuteOfDay: 6 * 60))
        #expect(!night.contains(minuteOfDay: 12 * 60))
        let day = try DailyWindow(parsing: "08:30-18:00")
        #expect(day.contains(minuteOfDay: 8 * 60 + 30) && !day.contains(minuteOfDay: 18 * 60))
        #expect(night.description == "22:00-06:00")
        for bad in ["22-06", "25:00-01:00", "10:00", "aa:bb-cc:dd", "10:61-11:00"] {
            #expect(throws: ValidationError.self) { try DailyWindow(parsing: bad) }
        }
    }

    @Test func theFirstMatchingRuleWinsAndHoursAreLocalTime() throws {
        let router = try IncidentRouter(
            rules: [
                RoutingRule(name: "noise-night", categories: ["noise"], zone: Self.square, hours: try DailyWindow(parsing: "22:00-06:00"),
                            service: "police_municipale"),
                RoutingRule(name: "urgent", maximumPriority: 1, service: "bac"),
            ],
            defaultService: "police_nationale", timeZoneIdentifier: "Europe/Paris")
        let inside = GeoPoint(latitude: 1, longitude: 1)
        // 21:30 UTC on 10 January is 22:30 in Paris (UTC+1); in July 21:30 UTC is 23:30 (UTC+2).
        let winter = router.route(category: "noise", priority: 4, location: inside, at: Timestamp(rfc3339: "2026-01-10T21:30:00Z")!)
        #expect(winter.service == "police_municipale")
        #expect(winter.reason == "rule 1 (noise-night): category noise, inside zone centre, 22:30 Europe/Paris within 22:00-06:00")
        // 20:30 UTC in winter is 21:30 local: before the window.
        let evening = router.route(category: "noise", priority: 4, location: inside, at: Timestamp(rfc3339: "2026-01-10T20:30:00Z")!)
        #expect(evening.service == "police_nationale" && evening.reason.contains("default"))
        // In summer 20:30 UTC is 22:30 local: inside the window.
        #expect(router.route(category: "noise", priority: 4, location: inside, at: Timestamp(rfc3339: "2026-07-10T20:30:00Z")!).service
            == "police_municipale")
        // Outside the zone at night: not the municipal police.
        #expect(router.route(category: "noise", priority: 4, location: GeoPoint(latitude: 20, longitude: 20),
                             at: Timestamp(rfc3339: "2026-01-10T23:00:00Z")!).service == "police_nationale")
        let urgent = router.route(category: "assault", priority: 1, location: inside, at: Timestamp(seconds: 0))
        #expect(urgent.service == "bac" && urgent.reason.contains("priority 1 <= 1"))
        #expect(throws: ValidationError.self) { try IncidentRouter(timeZoneIdentifier: "Mars/Olympus") }
    }

    @Test func incidentsAndCameraEventsAreValidated() throws {
        let now = Timestamp(rfc3339: "2026-11-23T10:00:00Z")!
        var raw = RawIncident()
        raw.category = "noise"
        raw.latitude = 48.85
        raw.longitude = 2.35
        let incident = try IncidentValidator().validate(raw, now: now)
        #expect(incident.priority == 3 && incident.openedAt == now && incident.source == .operator && incident.id.isEmpty)
        raw.category = "Noise!"
        #expect(throws: ValidationError.self) { try IncidentValidator().validate(raw, now: now) }
        raw.category = "noise"
        raw.openedAt = "2026-11-23T11:00:00Z"
        #expect { try IncidentValidator().validate(raw, now: now) } throws: { ($0 as? ValidationError)?.code == .timeInFuture }
        raw.openedAt = nil
        raw.source = "twitter"
        #expect { try IncidentValidator().validate(raw, now: now) } throws: { "\($0)".contains("citizen_line") }

        let event = try CameraEventValidator().validate(
            cameraID: "cam-1", kind: "tamper", label: nil, confidence: nil, time: nil, ttlSeconds: 30, now: now)
        #expect(event.expiresAt == now.adding(seconds: 30) && event.isActive(at: now) && !event.isActive(at: now.adding(seconds: 30)))
        #expect(throws: ValidationError.self) {
            try CameraEventValidator().validate(cameraID: "c", kind: "motion", label: nil, confidence: 1.5, time: nil, ttlSeconds: nil, now: now)
        }
        #expect(throws: ValidationError.self) {
            try CameraEventValidator().validate(cameraID: "c", kind: "motion", label: nil, confidence: nil, time: "2026-11-23T08:00:00Z",
                                                ttlSeconds: nil, now: now)
        }
    }
}
