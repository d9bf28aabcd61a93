import Foundation
import HypervisionCore
import HypervisionLayout
import Testing

@testable import HypervisionDemo

/// The demo city: deterministic, plausible, and cheap enough to run every second.
@Suite struct DemoCityTests {
    /// 2026-11-23T10:00:00Z.
    private static let start = Timestamp(seconds: 1_795_428_000)

    /// Runs a city for `seconds`, one call a second, and returns its steps.
    private static func run(_ city: inout DemoCity, seconds: Int, from start: Timestamp = start) -> [DemoStep] {
        (0...seconds).map { city.advance(to: start.adding(seconds: Double($0))) }
    }

    /// Thirty simulated minutes of the default city, shared by the tests that only read it.
    private static let halfHour: (city: DemoCity, steps: [DemoStep]) = {
        var city = DemoCity(start: start)
        let steps = run(&city, seconds: 1_800)
        return (city, steps)
    }()

    private static func maximumSpeed(_ kind: HypervisionCore.Unit.Kind?) -> Double {
        switch kind {
        case .car?: 14
        case .motorbike?: 16.5
        default: 1.6
        }
    }

    // MARK: Determinism

    @Test func sameSeedAndTimesGiveTheSameSteps() {
        var a = DemoCity(seed: 42, start: Self.start)
        var b = DemoCity(seed: 42, start: Self.start)
        #expect(a.cameras == b.cameras)
        #expect(a.units == b.units)
        // Irregular call times, as a real timer gives them.
        var t = Self.start
        for k in 0..<300 {
            t = t.adding(seconds: 0.9 + Double(k % 7) * 0.05)
            #expect(a.advance(to: t) == b.advance(to: t))
        }
        var c = DemoCity(seed: 43, start: Self.start)
        #expect(c.cameras != a.cameras)
        #expect(c.advance(to: t.adding(seconds: 1)).pings != a.advance(to: t.adding(seconds: 1)).pings)
    }

    @Test func timeThatDoesNotMoveForwardGivesAnEmptyStep() {
        var city = DemoCity(start: Self.start)
        #expect(city.advance(to: Self.start).pings.count == 200)
        #expect(city.advance(to: Self.start.adding(seconds: 1)).pings.count == 200)
        let again = city.advance(to: Self.start.adding(seconds: 1))
        #expect(again.pings.isEmpty && again.openedIncidents.isEmpty)
        #expect(city.advance(to: Self.start.adding(seconds: 0.5)).pings.isEmpty)
    }

    // MARK: The fleet and the cameras

    @Test func fleetAndCamerasLookRight() throws {
        let city = DemoCity(start: Self.start)
        #expect(city.units.count == 200)
        #expect(Set(city.units.map(\.id)).count == 200)
        for unit in city.units {
            _ = try UnitID(unit.id.rawValue)
            #expect(["PN-", "GN-", "PM-"].contains(String(unit.id.rawValue.prefix(3))))
            #expect(unit.callsign != nil && unit.kind != nil && unit.agency != nil)
        }
        let foot = city.units.filter { $0.kind == .foot }.count
        #expect(foot >= 20 && foot <= 80)
        #expect(city.units.contains { $0.id.rawValue == "PN-75-BAC-12" })

        #expect(city.cameras.count == 100)
        #expect(Set(city.cameras.map(\.id)).count == 100)
        let validator = CameraValidator()
        for camera in city.cameras {
            #expect((60...360).contains(camera.fieldOfView))
            #expect((60...200).contains(camera.range))
            #expect(!camera.streams.isEmpty)
            #expect(camera.streams.allSatisfy { $0.url.contains("127.0.0.1/demo/") })
            #expect(!camera.tags.isEmpty)
            // What the daemon would accept from a registry, it accepts from the demo.
            var raw = RawCamera()
            raw.id = camera.id
            raw.name = camera.name
            raw.latitude = camera.position.latitude
            raw.longitude = camera.position.longitude
            raw.heading = camera.heading
            raw.fieldOfView = camera.fieldOfView
            raw.range = camera.range
            raw.streams = camera.streams.map { ($0.transport.rawValue, $0.quality, $0.url) }
            raw.tags = camera.tags
            #expect(try validator.validate(raw) == camera)
            // Cameras stand at the roadside.
            let local = city.projection.local(camera.position)
            #expect(city.network.distanceToNetwork(local) < 10)
        }
        let transports = Set(city.cameras.flatMap { $0.streams.map(\.transport) })
        #expect(transports.isSuperset(of: [.hls, .mjpeg, .rtsp]))
        #expect(city.cameras.contains { $0.fieldOfView == 360 })
    }

    @Test func streetNetworkIsConnectedAndCityScaled() {
        let city = DemoCity(start: Self.start)
        let network = city.network
        #expect(network.nodes.count > 300)
        #expect(network.edges.count > 500)
        #expect(network.nodes.allSatisfy { $0.length <= 2_510 })
        // Every junction can reach the centre: a shortest-path search from any edge reaches all.
        let paths = network.paths(to: 0, offsetFromA: 0, pedestrian: false)
        #expect(paths.cost.allSatisfy { $0.isFinite })
        let kinds = Set(network.edges.map(\.kind))
        #expect(kinds == [.street, .boulevard, .avenue, .ring, .link])
        if case .object(let map) = city.streetMap, case .array(let features)? = map["features"] {
            #expect(features.count == network.edges.count)
        } else {
            Issue.record("streetMap is not a FeatureCollection")
        }
    }

    // MARK: Movement

    @Test func pingsArePlausible() throws {
        let steps = Self.halfHour.steps.prefix(601)
        let units = Self.halfHour.city.units
        let kinds = Dictionary(uniqueKeysWithValues: units.map { ($0.id, $0.kind) })
        var previous: [UnitID: Ping] = [:]
        var movingCarSpeeds: [Double] = []
        var batteryDrops = 0
        let validator = PingValidator()
        for step in steps {
            #expect(step.pings.count == units.count)
            for ping in step.pings {
                let limit = Self.maximumSpeed(kinds[ping.unit] ?? nil)
                let speed = try #require(ping.speed)
                #expect(speed >= 0 && speed <= limit + 0.05, "\(ping.unit) reports \(speed) m/s")
                #expect((3...15).contains(try #require(ping.accuracy)))
                if kinds[ping.unit] == .foot && speed > 0 { #expect((1.2...1.6).contains(speed)) }
                if kinds[ping.unit] == .car && speed > 0 { movingCarSpeeds.append(speed) }
                if let before = previous[ping.unit] {
                    let dt = Double(ping.time.microseconds - before.time.microseconds) / 1e6
                    let distance = Geodesy.distance(before.position, ping.position)
                    #expect(distance / dt <= limit * 1.01 + 0.05, "\(ping.unit) moved \(distance) m in \(dt) s")
                    // On a straight stretch the heading is the direction of travel.
                    if distance > 4, before.heading == ping.heading, let heading = ping.heading {
                        var offset = abs(Geodesy.initialBearing(before.position, ping.position) - heading)
                        if offset > 180 { offset = 360 - offset }
                        #expect(offset < 2, "\(ping.unit) heads \(heading) but moved \(offset)° off it")
                    }
                    if let b0 = before.battery, let b1 = ping.battery, b1 < b0 { batteryDrops += 1 }
                }
                previous[ping.unit] = ping
                var raw = RawPing(
                    unit: ping.unit.rawValue, latitude: ping.position.latitude, longitude: ping.position.longitude,
                    altitude: ping.altitude, speed: ping.speed, heading: ping.heading, accuracy: ping.accuracy,
                    status: ping.status?.rawValue, battery: ping.battery.map(Double.init))
                raw.time = ping.time.rfc3339
                #expect(try validator.validate(raw, now: ping.receivedAt) == ping)
            }
        }
        let mean = movingCarSpeeds.reduce(0, +) / Double(movingCarSpeeds.count)
        #expect(mean > 5 && mean < 14, "mean car speed \(mean) m/s")
        // Cars slow down for junctions and turns.
        #expect(movingCarSpeeds.contains { $0 <= 6 })
        #expect(batteryDrops > 100)
    }

    @Test func unitsStayOnTheStreets() {
        let city = Self.halfHour.city
        let network = city.network
        let onFoot = Set(city.units.filter { $0.kind == .foot }.map(\.id))
        let walkable = network.edges.filter(\.kind.walkable)
        for step in Self.halfHour.steps.enumerated() where step.offset % 60 == 0 {
            for ping in step.element.pings {
                let local = city.projection.local(ping.position)
                let distance = network.distanceToNetwork(local)
                #expect(distance < 1, "\(ping.unit) is \(distance) m from any street at \(step.element.time)")
                if onFoot.contains(ping.unit) {
                    // Pedestrians keep off the ring road and its slip roads.
                    let toWalkable = walkable.map {
                        DemoStreetNetwork.distance(local, segment: network.nodes[$0.a], network.nodes[$0.b])
                    }.min()!
                    #expect(toWalkable < 1, "\(ping.unit) walks on the ring")
                }
            }
        }
    }

    @Test func dispatchedUnitsStopAtTheirIncident() {
        var opened: [GeoPoint] = []
        var last: [UnitID: UnitStatus] = [:]
        var arrivals = 0
        for step in Self.halfHour.steps {
            opened += step.openedIncidents.map(\.location)
            for ping in step.pings {
                if last[ping.unit] == .enRoute, ping.status == .onScene {
                    arrivals += 1
                    let nearest = opened.map { Geodesy.distance($0, ping.position) }.min() ?? .infinity
                    #expect(nearest < 1, "\(ping.unit) went on scene \(nearest) m from the nearest incident")
                    #expect(ping.speed == 0)
                }
                last[ping.unit] = ping.status
            }
        }
        #expect(arrivals >= 10)
    }

    @Test func aLongPauseIsCaughtUpCheaply() throws {
        var city = DemoCity(seed: 7, start: Self.start)
        let first = city.advance(to: Self.start)
        let clock = ContinuousClock()
        var later = DemoStep(time: Self.start, firstIncidentIndex: 0)
        let elapsed = clock.measure { later = city.advance(to: Self.start.adding(seconds: 3_600)) }
        // Only the last ten minutes are simulated: incidents of those minutes, plausible moves.
        #expect(later.openedIncidents.count >= 10 && later.openedIncidents.count <= 40)
        #expect(later.openedIncidents.allSatisfy { $0.openedAt >= Self.start.adding(seconds: 3_000) })
        #expect(city.time == Self.start.adding(seconds: 3_600))
        for (a, b) in zip(first.pings, later.pings) {
            #expect(Geodesy.distance(a.position, b.position) <= 600 * 16.5)
        }
        print("DemoCity.advance over a one-hour pause: \(elapsed)")
    }

    // MARK: Thirty minutes of the city

    @Test func incidentsAndStatusesEvolve() throws {
        let (city, steps) = Self.halfHour
        let opened = steps.flatMap(\.openedIncidents)
        let updates = steps.flatMap(\.incidentUpdates)
        // About one every 20 to 40 s.
        #expect(opened.count >= 40 && opened.count <= 95, "\(opened.count) incidents in 30 minutes")
        #expect(city.incidentCount == opened.count)
        let validator = IncidentValidator()
        for incident in opened {
            #expect(incident.id.isEmpty)
            #expect(try validator.validateCategory(incident.category) == incident.category)
            #expect((1...5).contains(incident.priority))
            #expect(incident.summary != nil)
            #expect(city.network.distanceToNetwork(city.projection.local(incident.location)) < 1)
        }
        #expect(Set(opened.map(\.category)).count >= 5)

        // Updates refer to incidents already opened, and nothing happens to a closed one.
        var openedSoFar = 0
        var closed: Set<Int> = []
        for step in steps {
            #expect(step.firstIncidentIndex == openedSoFar)
            openedSoFar += step.openedIncidents.count
            for update in step.incidentUpdates {
                #expect(update.index < openedSoFar)
                #expect(!closed.contains(update.index))
                if update.status == .closed { closed.insert(update.index) }
                if let priority = update.priority { #expect((1...5).contains(priority)) }
            }
        }
        #expect(closed.count >= 10)
        #expect(updates.contains { $0.status == .acknowledged })
        #expect(updates.contains { $0.priority != nil }, "no incident escalated")
        #expect(city.activeIncidents.count == opened.count - closed.count)

        // Units are sent, arrive, leave again; someone presses the emergency button.
        var statuses: [UnitID: [UnitStatus]] = [:]
        for step in steps {
            for ping in step.pings {
                guard let status = ping.status else { continue }
                if statuses[ping.unit]?.last != status { statuses[ping.unit, default: []].append(status) }
            }
        }
        let arrivals = statuses.values.filter { history in
            zip(history, history.dropFirst()).contains { $0 == .enRoute && $1 == .onScene }
        }
        #expect(arrivals.count >= 10, "\(arrivals.count) units went from en_route to on_scene")
        #expect(statuses.values.contains { history in
            zip(history, history.dropFirst()).contains { $0 == .onScene && $1 == .available }
        })
        #expect(statuses.values.contains { $0.contains(.emergency) })
        #expect(statuses.values.contains { $0.contains(.busy) })
        // An emergency lasts about half a minute.
        var emergencySince: [UnitID: Timestamp] = [:]
        for step in steps {
            for ping in step.pings {
                if ping.status == .emergency {
                    if emergencySince[ping.unit] == nil { emergencySince[ping.unit] = ping.time }
                } else if let since = emergencySince.removeValue(forKey: ping.unit) {
                    let seconds = Double(ping.time.microseconds - since.microseconds) / 1e6
                    #expect(seconds >= 20 && seconds <= 45, "emergency lasted \(seconds) s")
                }
            }
        }
    }

    @Test func camerasReportEventsAndOutages() {
        let (city, steps) = Self.halfHour
        let ids = Set(city.cameras.map(\.id))
        let events = steps.flatMap(\.cameraEvents)
        #expect(events.count >= 100)
        for event in events {
            #expect(ids.contains(event.cameraID))
            let ttl = Double(event.expiresAt.microseconds - event.occurredAt.microseconds) / 1e6
            #expect(ttl >= 20 && ttl <= 90)
            if let confidence = event.confidence { #expect((0...1).contains(confidence)) }
        }
        #expect(Set(events.map(\.kind)).isSuperset(of: [.motion, .analytics]))
        // Some events come from cameras watching a new incident, at the moment it opens.
        let nearIncidents = steps.filter { step in
            step.openedIncidents.contains { incident in
                step.cameraEvents.contains { event in
                    event.occurredAt == incident.openedAt && city.cameras.first { $0.id == event.cameraID }!.covers(incident.location)
                }
            }
        }
        #expect(nearIncidents.count >= 10)

        let changes = steps.flatMap(\.cameraStatusChanges)
        #expect(changes.contains { $0.status != .online })
        #expect(changes.contains { $0.status == .online })
        // Every outage ends with the camera back online (or is still running at the end).
        var down: Set<String> = []
        for change in changes {
            if change.status == .online {
                #expect(down.remove(change.cameraID) != nil)
            } else {
                #expect(down.insert(change.cameraID).inserted)
            }
        }
        #expect(Set(city.cameras.filter { $0.status != .online }.map(\.id)) == down)
    }

    // MARK: The wall

    @Test func demoWallCompiles() throws {
        let layout = try WallDefinition.compile(json: DemoWall.definition)
        #expect(layout.id == "demo")
        #expect(layout.displays.count == 6)
        #expect(layout.canvasWidth >= 3 * 1920 && layout.canvasHeight >= 2 * 1080)
        let regions = Dictionary(uniqueKeysWithValues: layout.regions.map { ($0.region.id, $0) })
        #expect(regions["cams"]?.slots.count == 16)
        #expect(regions["map"] != nil)
        // The default cameras exist in the city, and the fallback map view covers the city.
        let city = DemoCity(start: Self.start)
        let cameraIDs = Set(city.cameras.map(\.id))
        if case .array(let sources)? = DemoWall.definition["regions"]?[1]?["sources"] {
            #expect(sources.allSatisfy { cameraIDs.contains($0.stringValue ?? "") })
        } else {
            Issue.record("the camera region has no default sources")
        }
        let viewport = try #require(DemoWall.definition["regions"]?[0]?["viewport"])
        for node in city.network.nodes {
            let point = city.projection.geo(node)
            #expect(point.longitude > viewport["west"]!.doubleValue! && point.longitude < viewport["east"]!.doubleValue!)
            #expect(point.latitude > viewport["south"]!.doubleValue! && point.latitude < viewport["north"]!.doubleValue!)
        }
        // Round trip through text, as from a file.
        let reparsed = try JSONValue(parsing: DemoWall.definition.encoded())
        #expect(try WallDefinition.compile(json: reparsed) == layout)
    }

    // MARK: Cost

    @Test func advancingOneSecondIsCheap() {
        var city = DemoCity(start: Self.start)
        _ = Self.run(&city, seconds: 60)
        let clock = ContinuousClock()
        let rounds = 300
        var pings = 0
        let elapsed = clock.measure {
            for k in 1...rounds {
                pings += city.advance(to: Self.start.adding(seconds: 60 + Double(k))).pings.count
            }
        }
        #expect(pings == rounds * 200)
        let perStep = elapsed / rounds
        print("DemoCity.advance, 200 units, 1 s: \(perStep) per call (\(rounds) calls)")
    }
}
