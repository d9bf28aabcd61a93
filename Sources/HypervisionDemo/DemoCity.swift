import Foundation
import HypervisionCore

/// A simulated city for `hypervisiond --demo`: patrol units driving a street network, cameras
/// at street corners, incidents opening, escalating and closing.
///
/// The simulation is a pure value: it reads no clock, does no I/O and draws every random number
/// from a generator seeded at creation, so the same seed and the same sequence of
/// ``advance(to:)`` times always give the same steps. That keeps it testable, and lets a demo
/// that misbehaved be replayed exactly.
///
/// The city is synthesised around `centre` (no map data is available offline): a slightly
/// irregular grid of streets and boulevards about 5 km across, with diagonal avenues, a river
/// crossed on bridges and a ring road. Units follow the streets: they drive edge to edge, slow
/// down at junctions, are dispatched to incidents along shortest paths, stay on scene a while,
/// and sometimes press their emergency button.
///
/// ```swift
/// var city = DemoCity(start: .now())
/// // once a second:
/// let step = city.advance(to: .now())
/// // step.pings to ingest, step.openedIncidents / incidentUpdates / cameraEvents /
/// // cameraStatusChanges to their stores
/// ```
public struct DemoCity: Sendable {
    /// Paris, Hôtel de Ville.
    public static let defaultCentre = GeoPoint(latitude: 48.8566, longitude: 2.3522)

    /// The centre the city was generated around.
    public let centre: GeoPoint
    /// The simulated time the city has been advanced to.
    public private(set) var time: Timestamp
    /// The units of the fleet, with callsign, kind and agency, in a stable order.
    public let units: [HypervisionCore.Unit]
    /// How many incidents the city has opened so far.
    public private(set) var incidentCount = 0

    let network: DemoStreetNetwork
    let projection: DemoProjection
    var fleet: [DemoVehicle]
    var cameraStates: [DemoCameraState]
    /// Open and acknowledged incidents; closed ones are dropped.
    var incidents: [DemoIncident] = []
    var rng: SeededRandom
    var lastPingTime: Timestamp?
    var nextIncidentAt: Timestamp
    var nextCameraEventAt: Timestamp
    var nextOutageAt: Timestamp
    var nextEmergencyAt: Timestamp

    /// Creates a city. Nothing happens until the first ``advance(to:)``.
    ///
    /// - Parameters:
    ///   - seed: Everything random follows from it.
    ///   - centre: Where to build the city.
    ///   - units: How many units patrol it.
    ///   - cameras: How many cameras watch it.
    ///   - start: The simulated time at creation; incidents start within a minute of it.
    public init(
        seed: UInt64 = 1, centre: GeoPoint = DemoCity.defaultCentre, units unitCount: Int = 200, cameras cameraCount: Int = 100,
        start: Timestamp
    ) {
        var root = SeededRandom(seed: seed)
        // Separate streams, so that changing how cameras are drawn does not move the streets.
        var streetRandom = root.fork(1), fleetRandom = root.fork(2), cameraRandom = root.fork(3)
        self.centre = centre
        self.time = start
        self.projection = DemoProjection(centre: centre)
        self.network = DemoStreetNetwork.synthesize(using: &streetRandom)
        let fleet = DemoCity.makeFleet(count: max(0, unitCount), network: network, start: start, using: &fleetRandom)
        self.fleet = fleet
        self.units = fleet.map(\.unit)
        self.cameraStates = DemoCity.makeCameras(
            count: max(0, cameraCount), network: network, projection: projection, start: start, using: &cameraRandom)
        self.rng = root.fork(4)
        nextIncidentAt = start.adding(seconds: rng.uniform(5...20))
        nextCameraEventAt = start.adding(seconds: rng.uniform(3...10))
        nextOutageAt = start.adding(seconds: rng.uniform(60...180))
        nextEmergencyAt = start.adding(seconds: rng.uniform(120...420))
    }

    /// The cameras, with their current status.
    public var cameras: [Camera] { cameraStates.map(\.camera) }

    /// Incidents currently open or acknowledged, numbered by the order they were opened.
    public var activeIncidents: [(index: Int, incident: Incident)] {
        incidents.map { ($0.index, $0.incident) }
    }

    /// The street network as a GeoJSON FeatureCollection of LineStrings (properties `name` and
    /// `kind`), for a preview page to draw under the markers: there are no map tiles offline.
    public var streetMap: JSONValue {
        let features: [JSONValue] = network.edges.map { edge in
            let a = projection.geo(network.nodes[edge.a]), b = projection.geo(network.nodes[edge.b])
            return [
                "type": "Feature",
                "properties": ["name": .string(edge.name), "kind": .string(edge.kind.rawValue)],
                "geometry": [
                    "type": "LineString",
                    "coordinates": [
                        [.number(demoRounded(a.longitude, 1e7)), .number(demoRounded(a.latitude, 1e7))],
                        [.number(demoRounded(b.longitude, 1e7)), .number(demoRounded(b.latitude, 1e7))],
                    ],
                ],
            ]
        }
        return ["type": "FeatureCollection", "features": .array(features)]
    }

    /// Moves the city forward to `now` and reports what happened since the previous call.
    ///
    /// Meant to be called about once a second. Longer gaps are simulated in one-second steps
    /// (at most the last ten minutes of them, so waking from a suspended laptop stays cheap);
    /// a `now` that is not after the previous call's returns an empty step, so pings never go
    /// backwards in time.
    public mutating func advance(to now: Timestamp) -> DemoStep {
        var step = DemoStep(time: now, firstIncidentIndex: incidentCount)
        if let last = lastPingTime, now <= last { return step }
        let maximumCatchUp: Int64 = 600_000_000
        if now.microseconds - time.microseconds > maximumCatchUp {
            time = Timestamp(microseconds: now.microseconds - maximumCatchUp)
        }
        while time < now {
            let dt = min(1_000_000, now.microseconds - time.microseconds)
            let next = Timestamp(microseconds: time.microseconds + dt)
            tick(to: next, dt: Double(dt) / 1_000_000, into: &step)
        }
        step.pings.reserveCapacity(fleet.count)
        for index in fleet.indices { step.pings.append(ping(index, at: now)) }
        lastPingTime = now
        return step
    }

    // MARK: - One tick

    private mutating func tick(to t: Timestamp, dt: Double, into step: inout DemoStep) {
        time = t
        if t >= nextIncidentAt {
            openIncident(at: t, into: &step)
            nextIncidentAt = t.adding(seconds: rng.uniform(20...40))
        }
        updateIncidents(at: t, into: &step)
        if t >= nextCameraEventAt {
            randomCameraEvent(at: t, into: &step)
            nextCameraEventAt = t.adding(seconds: rng.uniform(4...14))
        }
        updateCameraOutages(at: t, into: &step)
        if t >= nextEmergencyAt {
            startEmergency(at: t)
            nextEmergencyAt = t.adding(seconds: rng.uniform(300...900))
        }
        for index in fleet.indices {
            updateStatus(index, at: t)
            move(index, dt: dt, at: t)
        }
    }

    // MARK: - Units

    /// Status changes driven by timers: shifts, breaks, the end of an emergency or of a stay on scene.
    private mutating func updateStatus(_ index: Int, at t: Timestamp) {
        guard t >= fleet[index].until else { return }
        var v = fleet[index]
        switch v.status {
        case .available:
            let draw = rng.uniform(0...1)
            if draw < 0.25 {
                v.status = .busy  // a stop, a check, paperwork in the car: moving but not dispatchable
                v.until = t.adding(seconds: rng.uniform(180...900))
            } else if draw < 0.3 {
                v.status = .offDuty
                v.until = t.adding(seconds: rng.uniform(600...1800))
            } else {
                v.until = t.adding(seconds: rng.uniform(600...2400))
            }
        case .enRoute:
            // Stuck or recalled: give up rather than drive forever.
            v.becomeAvailable(until: t.adding(seconds: rng.uniform(600...2400)))
        default:
            // Busy, off duty, emergency over, done on scene.
            v.becomeAvailable(until: t.adding(seconds: rng.uniform(600...2400)))
        }
        fleet[index] = v
    }

    private mutating func move(_ index: Int, dt: Double, at t: Timestamp) {
        var v = fleet[index]
        v.battery -= v.drain * dt
        if v.battery < 8 { v.battery = 100 }  // swapped or charged in the car
        guard v.isMoving else {
            v.speed = 0
            fleet[index] = v
            return
        }
        if v.route.isEmpty, v.destination == nil, v.planned == nil { v.planned = planNext(v) }
        let edge = network.edges[v.edge]
        let finalOffset = finalStop(v)
        if v.mode == .foot {
            v.speed = v.cruise
        } else {
            let limit = v.status == .enRoute ? v.mode.maximumSpeed : min(v.cruise, v.mode.limit(on: edge.kind))
            let end = finalOffset ?? edge.length
            let endSpeed = finalOffset != nil ? 3 : min(limit, junctionSpeed(v))
            // The fastest speed from which the unit can still brake to `endSpeed` at the end.
            let braking = 1.5
            let target = min(limit, (endSpeed * endSpeed + 2 * braking * max(end - v.offset, 0)).squareRoot())
            v.speed = v.speed < target ? min(target, v.speed + 2.5 * dt) : max(target, v.speed - 4 * dt)
        }
        var remaining = v.speed * dt
        var hops = 0
        while remaining > 0, hops < 64 {
            hops += 1
            let length = network.edges[v.edge].length
            let stop = finalStop(v) ?? length
            if v.offset + remaining < stop {
                v.offset += remaining
                break
            }
            remaining -= max(stop - v.offset, 0)
            v.offset = stop
            if finalStop(v) != nil {
                // Arrived at the incident.
                v.status = .onScene
                v.until = t.adding(seconds: rng.uniform(240...720))
                v.destination = nil
                v.speed = 0
                break
            }
            let next = v.route.popLast() ?? v.planned ?? planNext(v)
            v.planned = nil
            v.from = v.to
            v.to = network.other(next, v.from)
            v.edge = next
            v.offset = 0
            if v.route.isEmpty, v.destination == nil { v.planned = planNext(v) }
        }
        fleet[index] = v
    }

    /// Where the unit must stop on its current edge (metres from `from`), when this edge holds its destination.
    private func finalStop(_ v: DemoVehicle) -> Double? {
        guard v.route.isEmpty, let destination = v.destination, destination.edge == v.edge else { return nil }
        let edge = network.edges[v.edge]
        return v.from == edge.a ? destination.offsetFromA : edge.length - destination.offsetFromA
    }

    /// A random next street at the junction ahead: never straight back unless it is a dead end,
    /// preferring to keep going straight, and never onto the ring for pedestrians.
    private mutating func planNext(_ v: DemoVehicle) -> Int {
        let arriving = network.bearing(v.edge, from: v.from)
        var options: [Int] = []
        var weights: [Double] = []
        for e in network.adjacency[v.to] where e != v.edge {
            if v.mode == .foot && !network.edges[e].kind.walkable { continue }
            options.append(e)
            weights.append(turnAngle(arriving, network.bearing(e, from: v.to)) < 30 ? 3 : 1)
        }
        guard !options.isEmpty else { return v.edge }  // dead end: turn round
        return options[rng.weighted(weights)]
    }

    /// How fast a vehicle may take the junction ahead: nearly full speed straight on, slowly
    /// when turning, walking pace when turning round.
    private func junctionSpeed(_ v: DemoVehicle) -> Double {
        guard let next = v.route.last ?? v.planned else { return v.mode.turnSpeed }
        let turn = turnAngle(network.bearing(v.edge, from: v.from), network.bearing(next, from: v.to))
        if turn < 30 { return v.mode.limit(on: network.edges[next].kind) }
        if turn > 150 { return 4 }
        return v.mode.turnSpeed
    }

    private func turnAngle(_ a: Double, _ b: Double) -> Double {
        let d = abs(a - b).truncatingRemainder(dividingBy: 360)
        return d > 180 ? 360 - d : d
    }

    private mutating func startEmergency(at t: Timestamp) {
        guard !fleet.isEmpty else { return }
        let first = rng.below(fleet.count)
        for k in 0..<fleet.count {
            let index = (first + k) % fleet.count
            guard fleet[index].status == .available || fleet[index].status == .busy else { continue }
            // The officer stops and presses the button; it is cleared after about half a minute.
            fleet[index].status = .emergency
            fleet[index].until = t.adding(seconds: rng.uniform(25...40))
            fleet[index].route = []
            fleet[index].destination = nil
            fleet[index].mission = nil
            return
        }
    }

    private mutating func ping(_ index: Int, at now: Timestamp) -> Ping {
        let v = fleet[index]
        let p = network.point(v.edge, from: v.from, offset: v.offset)
        let g = projection.geo(p)
        var heading = demoRounded(network.bearing(v.edge, from: v.from), 10)
        if heading >= 360 { heading = 0 }
        let accuracy = demoRounded(min(15, max(3, v.accuracy + rng.uniform(-1.5...2.5))), 10)
        // Gentle hills (Paris lies between about 30 and 60 m above the ellipsoid's geoid).
        let altitude = demoRounded(40 + 12 * sin(p.x / 900) * cos(p.y / 1_100), 10)
        return Ping(
            unit: v.unit.id, time: now,
            position: GeoPoint(latitude: demoRounded(g.latitude, 1e7), longitude: demoRounded(g.longitude, 1e7)),
            altitude: altitude, speed: demoRounded(v.speed, 10), heading: heading, accuracy: accuracy, status: v.status,
            battery: Int(v.battery.rounded(.down)), receivedAt: now)
    }

    // MARK: - Incidents

    /// Kinds of incidents with their usual priority, how often they happen, and what a camera's
    /// analytics would say about them.
    private static let categories: [(name: String, priority: Int, weight: Double, label: String, text: String)] = [
        ("noise", 4, 5, "crowd gathering", "Noise complaint"),
        ("road_accident", 3, 4, "stopped vehicle", "Road accident"),
        ("assault", 2, 3, "fight detected", "Assault reported"),
        ("burglary", 3, 3, "person loitering", "Burglary in progress"),
        ("intrusion", 2, 2, "person in restricted area", "Intrusion alarm"),
        ("theft", 3, 3, "running person", "Theft reported"),
        ("suspicious_package", 2, 1, "abandoned object", "Suspicious package"),
        ("fire", 1, 1, "smoke detected", "Fire reported"),
    ]

    private mutating func openIncident(at t: Timestamp, into step: inout DemoStep) {
        let kind = DemoCity.categories[rng.weighted(DemoCity.categories.map(\.weight))]
        var priority = kind.priority
        let draw = rng.uniform(0...1)
        if draw < 0.15 { priority -= 1 } else if draw > 0.85 { priority += 1 }
        priority = min(max(priority, 1), 5)
        let spot = incidentSpot()
        let location = projection.geo(network.point(spot.edge, from: network.edges[spot.edge].a, offset: spot.offsetFromA))
        let point = GeoPoint(latitude: demoRounded(location.latitude, 1e7), longitude: demoRounded(location.longitude, 1e7))

        // Cameras watching the place raise analytics events: the wall's automatic region shows them.
        var watching = 0
        var raisedByCamera = false
        for camera in cameraStates.map(\.camera) where camera.status != .offline && camera.covers(point) {
            guard watching < 3 else { break }
            watching += 1
            let analytics = rng.chance(0.7)
            raisedByCamera = raisedByCamera || analytics
            step.cameraEvents.append(
                CameraEvent(
                    cameraID: camera.id, kind: analytics ? .analytics : .motion, label: analytics ? kind.label : nil,
                    confidence: demoRounded(rng.uniform(0.55...0.95), 100), occurredAt: t,
                    expiresAt: t.adding(seconds: demoRounded(rng.uniform(30...90), 1))))
        }
        let source: Incident.Source =
            raisedByCamera && (kind.name == "intrusion" || kind.name == "suspicious_package")
            ? .cameraAnalytics : (rng.chance(0.8) ? .citizenLine : .operator)
        let street = network.edges[spot.edge].name
        let incident = Incident(
            id: "", category: kind.name, priority: priority, location: point, status: .open, openedAt: t,
            summary: "\(kind.text), \(street)", source: source)
        let index = incidentCount
        incidentCount += 1
        step.openedIncidents.append(incident)
        var record = DemoIncident(
            index: index, incident: incident, spot: spot,
            acknowledgeAt: t.adding(seconds: rng.uniform(15...60)),
            escalateAt: priority > 1 && rng.chance(0.3) ? t.adding(seconds: rng.uniform(60...300)) : nil,
            closeAt: t.adding(seconds: priority <= 2 ? rng.uniform(600...1_200) : rng.uniform(240...900)))
        record.dispatched = dispatch(to: record, count: priority <= 1 ? 3 : priority == 2 ? 2 : 1, at: t)
        incidents.append(record)
    }

    /// A place on a walkable street, seen by a camera more often than not (so the wall has
    /// something to show), else anywhere in the city.
    private mutating func incidentSpot() -> DemoSpot {
        if rng.chance(0.6), !cameraStates.isEmpty {
            for _ in 0..<20 {
                let camera = cameraStates[rng.below(cameraStates.count)]
                guard camera.camera.status != .offline, !camera.nearbyEdges.isEmpty else { continue }
                let edge = rng.pick(camera.nearbyEdges)
                let offset = network.edges[edge].length * rng.uniform(0.05...0.95)
                let point = projection.geo(network.point(edge, from: network.edges[edge].a, offset: offset))
                if camera.camera.covers(point) { return DemoSpot(edge: edge, offsetFromA: offset) }
            }
        }
        while true {
            let edge = rng.below(network.edges.count)
            guard network.edges[edge].kind.walkable else { continue }
            return DemoSpot(edge: edge, offsetFromA: network.edges[edge].length * rng.uniform(0.1...0.9))
        }
    }

    /// Sends the `count` available units that can get there soonest (foot patrols only from
    /// within about ten minutes' walk) along shortest paths; returns the units sent.
    private mutating func dispatch(to incident: DemoIncident, count: Int, at t: Timestamp) -> [Int] {
        let spot = incident.spot
        let driving = network.paths(to: spot.edge, offsetFromA: spot.offsetFromA, pedestrian: false)
        let walking = network.paths(to: spot.edge, offsetFromA: spot.offsetFromA, pedestrian: true)
        var candidates: [(eta: Double, index: Int)] = []
        for (index, v) in fleet.enumerated() where v.status == .available {
            let edge = network.edges[v.edge]
            let left = edge.length - v.offset
            var eta: Double
            if v.mode == .foot {
                eta = (walking.cost[v.to] + left) / v.cruise
                guard eta <= 600 else { continue }
            } else {
                eta = driving.cost[v.to] + left / edge.kind.speedLimit
            }
            if v.edge == spot.edge, let ahead = aheadDistance(v, to: spot) { eta = min(eta, ahead / max(v.cruise, 1)) }
            if eta.isFinite { candidates.append((eta, index)) }
        }
        candidates.sort { $0.eta != $1.eta ? $0.eta < $1.eta : $0.index < $1.index }
        var sent: [Int] = []
        for candidate in candidates.prefix(count) {
            var v = fleet[candidate.index]
            let paths = v.mode == .foot ? walking : driving
            if v.edge == spot.edge, aheadDistance(v, to: spot) != nil {
                v.route = []
            } else {
                guard let path = network.route(from: v.to, along: paths) else { continue }
                // Stored reversed: the next edge is popped from the end.
                v.route = [spot.edge] + path.reversed()
            }
            v.destination = spot
            v.planned = nil
            v.status = .enRoute
            v.mission = incident.index
            v.until = t.adding(seconds: 1_200)  // gives up if it has not arrived in 20 minutes
            fleet[candidate.index] = v
            sent.append(candidate.index)
        }
        return sent
    }

    /// The distance to `spot` when it lies ahead of the unit on its current edge.
    private func aheadDistance(_ v: DemoVehicle, to spot: DemoSpot) -> Double? {
        guard v.edge == spot.edge else { return nil }
        let edge = network.edges[v.edge]
        let target = v.from == edge.a ? spot.offsetFromA : edge.length - spot.offsetFromA
        return target >= v.offset ? target - v.offset : nil
    }

    private mutating func updateIncidents(at t: Timestamp, into step: inout DemoStep) {
        var closed: [Int] = []
        for k in incidents.indices {
            let index = incidents[k].index
            if incidents[k].status == .open, t >= incidents[k].acknowledgeAt {
                incidents[k].status = .acknowledged
                step.incidentUpdates.append(DemoIncidentUpdate(index: index, time: t, status: .acknowledged))
            }
            if let escalation = incidents[k].escalateAt, t >= escalation {
                // It got worse: more urgent, and reinforcements are sent.
                incidents[k].escalateAt = nil
                incidents[k].priority = max(1, incidents[k].priority - 1)
                step.incidentUpdates.append(DemoIncidentUpdate(index: index, time: t, priority: incidents[k].priority))
                incidents[k].dispatched += dispatch(to: incidents[k], count: 1, at: t)
            }
            if t >= incidents[k].closeAt {
                step.incidentUpdates.append(DemoIncidentUpdate(index: index, time: t, status: .closed))
                closed.append(index)
                for unit in incidents[k].dispatched where fleet[unit].mission == index {
                    if fleet[unit].status == .onScene || fleet[unit].status == .enRoute {
                        fleet[unit].becomeAvailable(until: t.adding(seconds: rng.uniform(600...2400)))
                    }
                }
            }
        }
        if !closed.isEmpty { incidents.removeAll { closed.contains($0.index) } }
    }

    // MARK: - Cameras

    private static let randomLabels = ["person loitering", "vehicle wrong way", "abandoned object", "crowd gathering", "running person"]

    private mutating func randomCameraEvent(at t: Timestamp, into step: inout DemoStep) {
        guard !cameraStates.isEmpty else { return }
        let camera = cameraStates[rng.below(cameraStates.count)].camera
        guard camera.status != .offline else { return }
        let analytics = rng.chance(0.25)
        step.cameraEvents.append(
            CameraEvent(
                cameraID: camera.id, kind: analytics ? .analytics : .motion,
                label: analytics ? rng.pick(DemoCity.randomLabels) : nil,
                confidence: demoRounded(rng.uniform(0.4...0.9), 100), occurredAt: t,
                expiresAt: t.adding(seconds: demoRounded(rng.uniform(20...(analytics ? 90 : 45)), 1))))
    }

    /// One camera at a time goes offline (or degraded) for one to five minutes.
    private mutating func updateCameraOutages(at t: Timestamp, into step: inout DemoStep) {
        for k in cameraStates.indices {
            guard let restore = cameraStates[k].restoreAt, t >= restore else { continue }
            cameraStates[k].restoreAt = nil
            cameraStates[k].camera.status = .online
            step.cameraStatusChanges.append(DemoCameraStatusChange(cameraID: cameraStates[k].camera.id, status: .online, time: t))
        }
        guard t >= nextOutageAt else { return }
        nextOutageAt = t.adding(seconds: rng.uniform(90...300))
        guard !cameraStates.isEmpty else { return }
        let k = rng.below(cameraStates.count)
        guard cameraStates[k].restoreAt == nil else { return }
        let status: Camera.Status = rng.chance(0.75) ? .offline : .degraded
        if rng.chance(0.2) {
            // Someone covered or turned the camera before it dropped.
            step.cameraEvents.append(
                CameraEvent(
                    cameraID: cameraStates[k].camera.id, kind: .tamper, label: "view obstructed",
                    confidence: demoRounded(rng.uniform(0.6...0.95), 100), occurredAt: t,
                    expiresAt: t.adding(seconds: demoRounded(rng.uniform(30...90), 1))))
        }
        cameraStates[k].camera.status = status
        cameraStates[k].restoreAt = t.adding(seconds: rng.uniform(60...300))
        step.cameraStatusChanges.append(DemoCameraStatusChange(cameraID: cameraStates[k].camera.id, status: status, time: t))
    }
}

// MARK: - Simulation state

/// A point on the network: `offsetFromA` metres along `edge` from its end `a`.
struct DemoSpot: Sendable, Hashable {
    var edge: Int
    var offsetFromA: Double
}

/// How a unit moves.
enum DemoMode: Sendable, Hashable {
    case car, motorbike, foot

    /// The top speed with blue lights on, in m/s.
    var maximumSpeed: Double {
        switch self {
        case .car: 14
        case .motorbike: 16.5
        case .foot: 1.6
        }
    }

    /// Speed when turning at a junction.
    var turnSpeed: Double {
        switch self {
        case .car: 5
        case .motorbike: 6
        case .foot: 1.4
        }
    }

    /// The speed kept on a street of `kind` outside missions: motorbikes a little over the limit.
    func limit(on kind: DemoRoadKind) -> Double {
        switch self {
        case .car: min(kind.speedLimit, maximumSpeed)
        case .motorbike: min(kind.speedLimit + 2, maximumSpeed)
        case .foot: maximumSpeed
        }
    }
}

/// One unit's state: where it is on the network, where it is going, what it is doing.
struct DemoVehicle: Sendable {
    var unit: HypervisionCore.Unit
    var mode: DemoMode
    /// The unit's own preferred top speed (drivers differ).
    var cruise: Double
    var edge: Int
    var from: Int
    var to: Int
    /// Metres from `from` along `edge`.
    var offset: Double
    /// The edge chosen for after the junction ahead (random patrol).
    var planned: Int?
    /// Edges still to drive to reach `destination`, the next one last.
    var route: [Int] = []
    var destination: DemoSpot?
    var speed: Double = 0
    var status: UnitStatus
    /// When the current status ends by itself.
    var until: Timestamp
    /// The incident the unit was sent to.
    var mission: Int?
    var battery: Double
    /// Percent per second.
    var drain: Double
    /// Typical fix accuracy in metres.
    var accuracy: Double

    var isMoving: Bool { status != .onScene && status != .offDuty && status != .emergency }

    mutating func becomeAvailable(until: Timestamp) {
        status = .available
        self.until = until
        mission = nil
        route = []
        destination = nil
        planned = nil
    }
}

/// An incident the city is following.
struct DemoIncident: Sendable {
    var index: Int
    var incident: Incident
    var spot: DemoSpot
    var acknowledgeAt: Timestamp
    var escalateAt: Timestamp?
    var closeAt: Timestamp
    var dispatched: [Int] = []

    var status: Incident.Status {
        get { incident.status }
        set { incident.status = newValue }
    }
    var priority: Int {
        get { incident.priority }
        set { incident.priority = newValue }
    }
}

/// A camera and the simulation's bookkeeping about it.
struct DemoCameraState: Sendable {
    var camera: Camera
    /// Walkable edges within the camera's range, where incidents it can see may happen.
    var nearbyEdges: [Int]
    /// When an ongoing outage ends.
    var restoreAt: Timestamp?
}

@inline(__always) func demoRounded(_ value: Double, _ scale: Double) -> Double { (value * scale).rounded() / scale }

// MARK: - Making the fleet and the cameras

extension DemoCity {
    /// The kinds of teams in the fleet and their share of it.
    private static let teams: [(prefix: String, callsign: String, mode: DemoMode, agency: HypervisionCore.Unit.Agency, share: Double)] = [
        ("PN-75-PS", "PS", .car, .policeNationale, 24),  // police secours
        ("PN-75-BAC", "BAC", .car, .policeNationale, 18),  // brigade anti-criminalité
        ("PN-75-BST", "BST", .foot, .policeNationale, 14),  // brigade spécialisée de terrain, on foot
        ("PN-75-MOTO", "MOTO", .motorbike, .policeNationale, 10),
        ("PN-75-CSI", "CSI", .car, .policeNationale, 4),
        ("GN-92-PSIG", "PSIG", .car, .gendarmerie, 6),
        ("GN-93-BR", "BR", .car, .gendarmerie, 4),
        ("PM-75-VL", "PM", .car, .policeMunicipale, 8),
        ("PM-75-PED", "PM PED", .foot, .policeMunicipale, 8),
        ("PM-75-MOTO", "PM MOTO", .motorbike, .policeMunicipale, 4),
    ]

    static func makeFleet(count: Int, network: DemoStreetNetwork, start: Timestamp, using rng: inout SeededRandom) -> [DemoVehicle] {
        // Exact team sizes by largest remainder, so a 200-unit fleet always has the same mix.
        let total = teams.reduce(0) { $0 + $1.share }
        var sizes = teams.map { Int((Double(count) * $0.share / total).rounded(.down)) }
        let order = teams.indices.sorted {
            let a = Double(count) * teams[$0].share / total, b = Double(count) * teams[$1].share / total
            return (a - a.rounded(.down)) != (b - b.rounded(.down)) ? (a - a.rounded(.down)) > (b - b.rounded(.down)) : $0 < $1
        }
        var k = 0
        while sizes.reduce(0, +) < count {
            sizes[order[k % order.count]] += 1
            k += 1
        }
        let walkable = network.edges.indices.filter { network.edges[$0].kind.walkable }
        let insideRing = walkable.filter {
            let e = network.edges[$0]
            return (network.nodes[e.a] + network.nodes[e.b]).length / 2 < 1_900
        }
        let outskirts = walkable.filter {
            let e = network.edges[$0]
            return (network.nodes[e.a] + network.nodes[e.b]).length / 2 > 1_300
        }
        var fleet: [DemoVehicle] = []
        for (t, team) in teams.enumerated() where sizes[t] > 0 {
            for number in 1...sizes[t] {
                // Gendarmes patrol the outskirts, foot patrols the centre, the rest anywhere.
                let pool = team.agency == .gendarmerie ? outskirts : team.mode == .foot ? insideRing : walkable
                let edge = rng.pick(pool.isEmpty ? walkable : pool)
                let e = network.edges[edge]
                let forward = rng.chance(0.5)
                let kind: HypervisionCore.Unit.Kind = team.mode == .car ? .car : team.mode == .motorbike ? .motorbike : .foot
                let draw = rng.uniform(0...1)
                let status: UnitStatus = draw < 0.8 ? .available : draw < 0.95 ? .busy : .offDuty
                let cruise: Double
                switch team.mode {
                case .car: cruise = rng.uniform(11...14)
                case .motorbike: cruise = rng.uniform(13...16.5)
                case .foot: cruise = rng.uniform(1.2...1.6)
                }
                fleet.append(
                    DemoVehicle(
                        unit: HypervisionCore.Unit(
                            id: UnitID(trusted: "\(team.prefix)-\(number)"), callsign: "\(team.callsign) \(number)", kind: kind,
                            agency: team.agency),
                        mode: team.mode, cruise: cruise, edge: edge, from: forward ? e.a : e.b, to: forward ? e.b : e.a,
                        offset: e.length * rng.uniform(0...0.95), status: status,
                        until: start.adding(seconds: rng.uniform(60...(status == .available ? 2_400 : 900))),
                        battery: rng.uniform(40...100), drain: rng.uniform(0.0015...0.004),
                        accuracy: team.mode == .foot ? rng.uniform(5...11) : rng.uniform(3...7)))
            }
        }
        return fleet
    }

    private static let extraTags = ["traffic", "anpr", "school", "metro", "shops", "night-ir", "bank", "park"]

    static func makeCameras(
        count: Int, network: DemoStreetNetwork, projection: DemoProjection, start: Timestamp, using rng: inout SeededRandom
    ) -> [DemoCameraState] {
        // Junctions where several streets meet, boulevards and avenues first.
        var junctions = network.nodes.indices.filter { network.adjacency[$0].count >= 3 }
        func importance(_ node: Int) -> Int {
            network.adjacency[node].filter { network.edges[$0].kind != .street }.count
        }
        for k in stride(from: junctions.count - 1, to: 0, by: -1) { junctions.swapAt(k, rng.below(k + 1)) }
        // Most important first; among equals, the shuffled order (explicitly, not by sort stability).
        let ranked = junctions.enumerated().map { (importance: importance($0.element), rank: $0.offset, node: $0.element) }
        junctions = ranked.sorted { $0.importance != $1.importance ? $0.importance > $1.importance : $0.rank < $1.rank }.map(\.node)
        var cameras: [DemoCameraState] = []
        var usedJunctions = 0
        for number in stride(from: 1, through: count, by: 1) {
            let id = "cam-" + String(repeating: "0", count: max(0, 4 - String(number).count)) + String(number)
            var local: DemoPoint
            var heading: Double
            var fieldOfView: Double
            var range: Double
            var name: String
            var tags: [String]
            if usedJunctions < junctions.count, rng.chance(0.6) {
                // A pole at a corner of a junction: a dome watching all of it, or a PTZ looking down one street.
                let node = junctions[usedJunctions]
                usedJunctions += 1
                let streets = network.adjacency[node]
                local = network.nodes[node] + DemoPoint.heading(45 + 90 * Double(rng.below(4))) * 5
                let names = streets.map { network.edges[$0].name }
                var distinct: [String] = []
                for n in names where !distinct.contains(n) { distinct.append(n) }
                name = distinct.prefix(2).joined(separator: " × ")
                let main = streets.first { network.edges[$0].kind != .street } ?? streets[0]
                let isDome = rng.chance(0.4)
                if isDome {
                    heading = 0
                    fieldOfView = 360
                    range = rng.uniform(60...120)
                } else {
                    let look = rng.pick(streets)
                    heading = network.bearing(look, from: node)
                    fieldOfView = rng.uniform(60...100)
                    range = rng.uniform(100...200)
                }
                tags = [isDome ? "dome" : "ptz", "junction", network.edges[main].kind.rawValue]
            } else {
                // On a facade mid-block, looking along the street.
                var edge = rng.below(network.edges.count)
                while !network.edges[edge].kind.walkable && network.edges[edge].kind != .ring { edge = rng.below(network.edges.count) }
                let e = network.edges[edge]
                let offset = e.length * rng.uniform(0.2...0.8)
                let along = network.point(edge, from: e.a, offset: offset)
                let side = rng.chance(0.5) ? 90.0 : -90.0
                local = along + DemoPoint.heading(e.bearing + side) * 6
                heading = rng.chance(0.5) ? e.bearing : (e.bearing + 180).truncatingRemainder(dividingBy: 360)
                fieldOfView = rng.uniform(60...90)
                range = rng.uniform(80...200)
                let houseNumber = 2 * Int(offset / 12) + (side > 0 ? 1 : 2)
                name = e.kind == .ring ? "\(e.name), km \(Int(local.length / 100) % 35)" : "\(houseNumber) \(e.name)"
                tags = ["fixed", "midblock", e.kind.rawValue]
            }
            let sector = ["n", "ne", "e", "se", "s", "sw", "w", "nw"][Int(((local.bearing + 22.5) / 45).rounded(.down)) % 8]
            tags.append(local.length < 800 ? "centre" : "sector-" + sector)
            for tag in extraTags where rng.chance(0.12) { tags.append(tag) }
            let streams: [Camera.Stream]
            // Placeholder addresses: nothing plays them, the preview shows its placeholder for
            // those it cannot play. HLS, MJPEG and RTSP alternate so every kind of tile appears.
            switch number % 3 {
            case 1:
                streams = [
                    Camera.Stream(transport: .hls, quality: "main", url: "http://127.0.0.1/demo/hls/\(id)/index.m3u8"),
                    Camera.Stream(transport: .rtsp, quality: "main", url: "rtsp://127.0.0.1/demo/\(id)/main"),
                ]
            case 2:
                streams = [
                    Camera.Stream(transport: .mjpeg, quality: "sub", url: "http://127.0.0.1/demo/mjpeg/\(id)"),
                    Camera.Stream(transport: .rtsp, quality: "main", url: "rtsp://127.0.0.1/demo/\(id)/main"),
                ]
            default:
                streams = [
                    Camera.Stream(transport: .rtsp, quality: "main", url: "rtsp://127.0.0.1/demo/\(id)/main"),
                    Camera.Stream(transport: .rtsp, quality: "sub", url: "rtsp://127.0.0.1/demo/\(id)/sub"),
                ]
            }
            let geo = projection.geo(local)
            let camera = Camera(
                id: id, name: name,
                position: GeoPoint(latitude: demoRounded(geo.latitude, 1e7), longitude: demoRounded(geo.longitude, 1e7)),
                heading: demoRounded(heading, 10).truncatingRemainder(dividingBy: 360), fieldOfView: fieldOfView.rounded(),
                range: range.rounded(), streams: streams, status: .online, tags: tags)
            let nearby = network.edges.indices.filter {
                let e = network.edges[$0]
                return e.kind.walkable
                    && DemoStreetNetwork.distance(local, segment: network.nodes[e.a], network.nodes[e.b]) < camera.range * 0.9
            }
            cameras.append(DemoCameraState(camera: camera, nearbyEdges: nearby))
        }
        return cameras
    }
}
