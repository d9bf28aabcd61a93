import HypervisionCore

/// A camera as the live state knows it: the camera and since when its status has been what it is.
public struct CameraState: Sendable, Hashable {
    public var camera: Camera
    /// When the current status began; an offline camera is replaced once this is older than the
    /// wall's ``LayoutTuning/offlineGraceSeconds``.
    public var statusSince: Timestamp

    public init(camera: Camera, statusSince: Timestamp) {
        self.camera = camera
        self.statusSince = statusSince
    }
}

/// A unit as the layout engine sees it: latest position and status, for map tiles and for
/// cameras that follow a unit in emergency. (The live picture's `LiveUnit` carries more.)
public struct LayoutUnit: Sendable, Hashable {
    public var id: UnitID
    public var callsign: String?
    public var kind: Unit.Kind?
    public var position: GeoPoint
    /// Degrees true, nil when the device did not report one.
    public var heading: Double?
    public var status: UnitStatus?
    /// Device time of the latest fix.
    public var time: Timestamp

    public init(
        id: UnitID, callsign: String? = nil, kind: Unit.Kind? = nil, position: GeoPoint, heading: Double? = nil,
        status: UnitStatus? = nil, time: Timestamp
    ) {
        self.id = id
        self.callsign = callsign
        self.kind = kind
        self.position = position
        self.heading = heading
        self.status = status
        self.time = time
    }
}

/// An operator's request to keep a camera on the wall.
public struct Pin: Sendable, Hashable {
    public var camera: String
    /// The camera region to show it in; nil for any camera region.
    public var region: String?
    public var pinnedAt: Timestamp
    /// When the pin lapses by itself; nil for a pin that lasts until removed.
    public var expiresAt: Timestamp?
    /// Who pinned it, for the reason the scene shows.
    public var pinnedBy: String?

    public init(camera: String, region: String? = nil, pinnedAt: Timestamp, expiresAt: Timestamp? = nil, pinnedBy: String? = nil) {
        self.camera = camera
        self.region = region
        self.pinnedAt = pinnedAt
        self.expiresAt = expiresAt
        self.pinnedBy = pinnedBy
    }

    public func isActive(at now: Timestamp) -> Bool { pinnedAt <= now && expiresAt.map { now < $0 } ?? true }
}

/// A round of cameras shown one after the other, each for a dwell time, forever.
public struct GuardTour: Sendable, Hashable {
    public var id: String
    public var cameras: [String]
    public var dwellSeconds: Double
    /// The moment step 1 began; the current step follows from the clock alone, so every
    /// recompute (and every replica) agrees on it.
    public var startedAt: Timestamp
    /// The camera region it runs in; nil for any camera region.
    public var region: String?

    public init(id: String, cameras: [String], dwellSeconds: Double, startedAt: Timestamp, region: String? = nil) {
        self.id = id
        self.cameras = cameras
        self.dwellSeconds = dwellSeconds
        self.startedAt = startedAt
        self.region = region
    }

    /// The step shown at `now` (0-based), nil before the start or for an empty tour.
    public func step(at now: Timestamp) -> Int? {
        guard !cameras.isEmpty, dwellSeconds > 0, now >= startedAt else { return nil }
        let dwell = Int64((dwellSeconds * 1_000_000).rounded())
        guard dwell > 0 else { return nil }
        return Int((now.microseconds - startedAt.microseconds) / dwell % Int64(cameras.count))
    }
}

/// Everything the layout engine decides from. A value: the caller snapshots the live state, the
/// engine computes, and the same inputs always give the same scene.
public struct LayoutInputs: Sendable {
    public var wall: WallLayout
    /// Keyed by camera id.
    public var cameras: [String: CameraState]
    public var units: [UnitID: LayoutUnit]
    public var incidents: [Incident]
    public var events: [CameraEvent]
    public var pins: [Pin]
    public var tours: [GuardTour]
    /// The clock of this computation; nothing in the engine reads the system clock.
    public var now: Timestamp
    /// A number that changes whenever `cameras` changes (a camera added, removed or changed,
    /// or the start of its status); nil when unknown. With it, the engine keeps what it derives
    /// from the cameras from one computation to the next; the result is the same.
    public var camerasRevision: UInt64?
    /// The units that may differ from those of the computation that produced the previous state
    /// (added, moved, changed or gone); nil when unknown. With it, the engine updates the map's
    /// markers of those units only (see ``LayoutState/unitChanges``), and the result is the same.
    public var changedUnits: Set<UnitID>?

    public init(
        wall: WallLayout, cameras: [String: CameraState] = [:], units: [UnitID: LayoutUnit] = [:], incidents: [Incident] = [],
        events: [CameraEvent] = [], pins: [Pin] = [], tours: [GuardTour] = [], now: Timestamp, camerasRevision: UInt64? = nil,
        changedUnits: Set<UnitID>? = nil
    ) {
        self.camerasRevision = camerasRevision
        self.changedUnits = changedUnits
        self.wall = wall
        self.cameras = cameras
        self.units = units
        self.incidents = incidents
        self.events = events
        self.pins = pins
        self.tours = tours
        self.now = now
    }
}

/// Why a source is on the wall, carried in the scene for the operators.
public enum Reason: Sendable, Hashable, CustomStringConvertible {
    case pinned(by: String?)
    case emergency(unit: String, distanceMetres: Int)
    case incident(id: String, distanceMetres: Int)
    case event(kind: String, label: String?, ageSeconds: Int64)
    case tour(id: String, step: Int, count: Int)
    case normalContent
    case fixed

    public var description: String {
        switch self {
        case .pinned(let by): by.map { "pinned by \($0)" } ?? "pinned by operator"
        case .emergency(let unit, let distance): "follows \(unit) in emergency at \(distance) m"
        case .incident(let id, let distance): "covers incident \(id) at \(distance) m"
        case .event(let kind, let label, let age): "\(kind) alarm\(label.map { " (\($0))" } ?? "") \(age) s ago"
        case .tour(_, let step, let count): "guard tour \(step)/\(count)"
        case .normalContent: "normal content"
        case .fixed: "fixed preset"
        }
    }
}

/// A camera that some rule wants on the wall, with how much and why.
public struct Candidate: Sendable, Hashable {
    public var camera: String
    /// Higher is more important. See ``PriorityRules`` for the bands.
    public var priority: Double
    public var reason: Reason
    /// The camera region it must go to, nil for any camera region.
    public var region: String?

    public init(camera: String, priority: Double, reason: Reason, region: String?) {
        self.camera = camera
        self.priority = priority
        self.reason = reason
        self.region = region
    }

    /// The order of the wall: higher priority first, then camera id so ties never depend on
    /// dictionary order.
    static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
        a.priority != b.priority ? a.priority > b.priority : a.camera < b.camera
    }
}

/// The rules that turn what is happening into candidates.
///
/// Priorities live in bands far apart, so a rule of a lower band never outranks one of a higher
/// band, whatever its details; within a band the details order candidates:
/// | band | rule | priority |
/// |---|---|---|
/// | pin | an operator pinned the camera | 10 000 |
/// | emergency | covers a unit in `emergency` | 5 000 − distance (m, capped at 999) |
/// | incident | covers an active incident | 1 000 + 400 × (5 − priority) + 100 × (1 − distance / range) |
/// | event | active camera event | 500 + 400 × confidence × ½^(age / half-life) |
/// | tour | a guard tour's current step | 200 |
/// | normal | the region's normal content | 100 − 0.1 × position in the list |
/// A camera with several reasons takes its highest; the reason shown is that one.
public enum PriorityRules {
    public static let pinned = 10_000.0
    public static let emergency = 5_000.0
    public static let incident = 1_000.0
    public static let event = 500.0
    public static let tour = 200.0
    public static let normalContent = 100.0

    /// The candidates of a wall's automatic camera regions, best first.
    ///
    /// Cameras fixed in preset regions are left out: a camera appears at most once on a wall.
    /// Cameras the live state does not know are left out too (nothing could be shown). Offline
    /// cameras are candidates; whether they may be shown is the engine's decision, because it
    /// depends on whether they are already on the wall.
    public static func candidates(_ inputs: LayoutInputs) -> [Candidate] {
        let ranking = rank(inputs, cameras: CameraDirectory(inputs.cameras, revision: nil))
        return ranking.order.map { ranking.offered[$0] }
    }

    /// The candidates, best first, with what the engine needs next to them. The engine runs
    /// this every round for hundreds of cameras, so it hashes each camera id as few times as it
    /// can and never copies a candidate it does not keep.
    static func rank(_ inputs: LayoutInputs, cameras directory: CameraDirectory) -> CandidateRanking {
        let wall = inputs.wall
        let now = inputs.now
        var fixed: Set<String> = []
        var cameraRegions: Set<String> = []
        for placed in wall.regions {
            switch placed.region.content {
            case .preset(_, let sources): fixed.formUnion(sources)
            case .cameras: cameraRegions.insert(placed.region.id)
            default: break
            }
        }
        guard !cameraRegions.isEmpty else { return CandidateRanking(cameras: directory) }
        // Region ids key region tiles in the scene, so a camera with such an id cannot be a tile.
        let excluded = fixed.union(wall.regions.map(\.region.id))
        let states = directory.states
        // Every camera offered, in order of first offer, and where each camera is in that list
        // (by its place in the directory; -1 when not offered).
        var offered: [Candidate] = []
        var statusSince: [Timestamp?] = []
        var position = [Int](repeating: -1, count: states.count)
        offered.reserveCapacity(min(states.count, 4_096))
        statusSince.reserveCapacity(min(states.count, 4_096))
        var isExcluded = [Bool](repeating: false, count: states.count)
        for id in excluded {
            if let offset = directory.offsetByID[id] { isExcluded[offset] = true }
        }
        func offer(_ camera: String, priority: Double, region: String?, reason: () -> Reason) {
            // Cameras the live state does not know are left out: nothing could be shown.
            guard let offset = directory.offsetByID[camera] else { return }
            offer(at: offset, priority: priority, region: region, reason: reason)
        }
        func offer(at offset: Int, priority: Double, region: String?, reason: () -> Reason) {
            let at = position[offset]
            guard at < 0 else {
                // Deterministic whatever the order of offers: priority, then reason text.
                let current = offered[at].priority
                guard priority >= current else { return }
                let reason = reason()
                guard priority > current || reason.description < offered[at].reason.description else { return }
                offered[at] = Candidate(
                    camera: states[offset].camera.id, priority: priority, reason: reason,
                    region: region.flatMap { cameraRegions.contains($0) ? $0 : nil })
                return
            }
            guard !isExcluded[offset] else { return }
            position[offset] = offered.count
            offered.append(
                Candidate(
                    camera: states[offset].camera.id, priority: priority, reason: reason(),
                    region: region.flatMap { cameraRegions.contains($0) ? $0 : nil }))
            statusSince.append(states[offset].camera.status == .offline ? states[offset].statusSince : nil)
        }

        for pin in inputs.pins where pin.isActive(at: now) {
            offer(pin.camera, priority: pinned, region: pin.region) { .pinned(by: pin.pinnedBy) }
        }
        var emergencies: [LayoutUnit] = []
        for index in inputs.units.indices where inputs.units.values[index].status == .emergency {
            emergencies.append(inputs.units.values[index])
        }
        let activeIncidents = inputs.incidents.filter(\.isActive)
        if !emergencies.isEmpty || !activeIncidents.isEmpty {
            for offset in states.indices {
                let reach = directory.reach[offset]
                guard emergencies.contains(where: { reach.mayCover($0.position) }) || activeIncidents.contains(where: { reach.mayCover($0.location) })
                else { continue }
                for unit in emergencies where reach.mayCover(unit.position) {
                    guard let distance = states[offset].camera.coveringDistance(to: unit.position) else { continue }
                    offer(at: offset, priority: emergency - min(distance, 999), region: nil) {
                        .emergency(unit: unit.callsign ?? unit.id.rawValue, distanceMetres: Int(distance.rounded()))
                    }
                }
                for incident in activeIncidents where reach.mayCover(incident.location) {
                    guard let distance = states[offset].camera.coveringDistance(to: incident.location) else { continue }
                    let urgency = Double(5 - min(max(incident.priority, 1), 5))
                    let range = states[offset].camera.range
                    let closeness = range > 0 ? max(0, 1 - distance / range) : 0
                    offer(at: offset, priority: PriorityRules.incident + 400 * urgency + 100 * closeness, region: nil) {
                        .incident(id: incident.id, distanceMetres: Int(distance.rounded()))
                    }
                }
            }
        }
        let halfLife = max(wall.tuning.eventHalfLifeSeconds, 0.001)
        // By index: an event taken out of the array is a copy of its strings.
        let events = inputs.events
        for index in events.indices where events[index].isActive(at: now) {
            let age = Double(now.microseconds - events[index].occurredAt.microseconds) / 1e6
            let confidence = min(max(events[index].confidence ?? 1, 0), 1)
            let decay = 1 / pow2(age / halfLife)
            offer(events[index].cameraID, priority: event + 400 * confidence * decay, region: nil) {
                .event(kind: events[index].kind.rawValue, label: events[index].label.map { String($0.prefix(64)) }, ageSeconds: Int64(age))
            }
        }
        for tour in inputs.tours {
            guard let step = tour.step(at: now) else { continue }
            offer(tour.cameras[step], priority: PriorityRules.tour, region: tour.region) {
                .tour(id: tour.id, step: step + 1, count: tour.cameras.count)
            }
        }
        for placed in wall.regions {
            guard case .cameras(_, let defaults) = placed.region.content else { continue }
            for (index, camera) in defaults.enumerated() {
                offer(camera, priority: normalContent - 0.1 * Double(index), region: placed.region.id) { .normalContent }
            }
        }
        // Sort keys (priority and position) rather than the candidates themselves, in the
        // order of ``Candidate/precedes(_:_:)``: moving a candidate retains and releases its
        // strings, and that dominated the whole computation.
        var keys = offered.indices.map { (priority: offered[$0].priority, at: $0) }
        keys.sort { a, b in a.priority != b.priority ? a.priority > b.priority : offered[a.at].camera < offered[b.at].camera }
        let order = keys.map(\.at)
        return CandidateRanking(cameras: directory, offered: offered, offlineSince: statusSince, order: order, offerOfCamera: position)
    }
}

/// The ranked candidates of one computation (``PriorityRules/rank(_:)``). The candidates stay
/// where they were first offered and the ranking is a list of positions: moving candidates
/// around copies their strings.
struct CandidateRanking {
    /// The cameras the candidates were drawn from.
    var cameras: CameraDirectory
    /// In order of first offer.
    var offered: [Candidate] = []
    /// Since when each offered candidate's camera has been offline; nil when it is not offline.
    var offlineSince: [Timestamp?] = []
    /// Positions in `offered`, best first.
    var order: [Int] = []
    /// The position in `offered` of each camera of `cameras` (by its place there); -1 for a
    /// camera that is no candidate.
    var offerOfCamera: [Int] = []

    /// The position in `offered` of a camera's candidate.
    func offer(of camera: String) -> Int? {
        guard let offset = cameras.offsetByID[camera], offset < offerOfCamera.count else { return nil }
        let at = offerOfCamera[offset]
        return at >= 0 ? at : nil
    }
}

/// 2^x without Foundation's `pow`, for x ≥ 0 (event decay): exact on whole numbers, and a
/// deterministic polynomial on the fraction so every platform gets the same bits.
func pow2(_ x: Double) -> Double {
    guard x > 0 else { return 1 }
    guard x < 1000 else { return .infinity }
    let whole = x.rounded(.down)
    let fraction = x - whole
    // 2^f = e^(f ln2), Taylor series to 12 terms: error below 1e-15 on [0, 1).
    let y = fraction * 0.693_147_180_559_945_3
    var term = 1.0, sum = 1.0
    for n in 1...12 {
        term *= y / Double(n)
        sum += term
    }
    var result = sum
    var remaining = Int(whole)
    while remaining > 0 {
        result *= 2
        remaining -= 1
    }
    return result
}

/// A cheap test that rules out points clearly beyond a camera's range before the exact (and
/// much slower) geodesic check: a few multiplications instead of Vincenty's iteration.
struct CoverageFilter: Sendable, Hashable {
    let latitude: Double
    let longitude: Double
    let latitudeReach: Double
    let longitudeReach: Double

    init(position: GeoPoint, range: Double) {
        latitude = position.latitude
        longitude = position.longitude
        // One degree of latitude is at least 110 574 m; a degree of longitude shrinks with the
        // cosine of the latitude. A 2% margin and a metre absorb the ellipsoid's deviations.
        let metres = range * 1.02 + 1
        latitudeReach = metres / 110_574
        let cosine = cosineDegrees(min(abs(latitude) + latitudeReach, 89.9))
        longitudeReach = cosine > 0.000_1 ? metres / (111_320 * cosine) : 360
    }

    func mayCover(_ point: GeoPoint) -> Bool {
        abs(point.latitude - latitude) <= latitudeReach && abs(point.longitude - longitude) <= longitudeReach
    }
}

/// cos of an angle in degrees in [0, 90], by a Taylor series (pure Swift, deterministic): the
/// coefficients are constants, so each term is a multiplication rather than a division.
func cosineDegrees(_ degrees: Double) -> Double {
    let x = degrees * Double.pi / 180
    let x2 = x * x
    // Horner's scheme over (-1)^k / (2k)!, k = 0...13 (error below 1e-15 on [0, pi/2]).
    var sum = 0.0
    for coefficient in cosineCoefficients.reversed() { sum = sum * x2 + coefficient }
    return sum
}

/// (-1)^k / (2k)! for k = 0...13.
private let cosineCoefficients: [Double] = {
    var coefficients: [Double] = [1]
    for k in 1...13 { coefficients.append(-coefficients[k - 1] / Double((2 * k - 1) * (2 * k))) }
    return coefficients
}()
