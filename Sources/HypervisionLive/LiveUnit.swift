public import HypervisionCore

/// What the live picture knows about one unit now: its latest position (by device time), the
/// telemetry that came with it, its metadata, when it was last heard, and whether it is stale.
///
/// Optional numbers are stored without Optional's tag byte (a sentinel stands for nil), which
/// takes the type from 208 to 160 bytes: a box query copies thousands of these, and the copy is
/// bound by memory traffic (a Paris box of 14,000 units: p50 1.05 ms at 208 bytes, 0.96 ms at
/// 160, LiveBenchmarks).
public struct LiveUnit: Sendable, Hashable {
    public var id: UnitID
    public var callsign: String?
    public var kind: Unit.Kind?
    public var agency: Unit.Agency?
    /// The last status the unit reported. A newer ping without a status keeps it: trackers that
    /// send positions only (OsmAnd, NMEA) must not erase the status a terminal set.
    public var status: UnitStatus?
    /// The position of the newest ping by device time.
    public var position: GeoPoint
    /// Device time of ``position``.
    public var time: Timestamp
    /// When Hypervision last received any ping of the unit, even one too old to move it: a late
    /// burst from a tracker's buffer still proves the unit is alive.
    public var lastHeard: Timestamp
    /// ``staleSince``, `.min` for nil.
    private var staleSinceMicroseconds: Int64 = .min
    @StoredWithoutTag public var altitude: Double?
    @StoredWithoutTag public var speed: Double?
    @StoredWithoutTag public var heading: Double?
    @StoredWithoutTag public var accuracy: Double?
    /// ``battery``, `.min` for nil.
    private var storedBattery: Int16 = .min

    /// The last battery level reported, kept like ``status`` when a newer ping omits it. Levels
    /// are 0–100 (checked at ingest, a `smallint` in the database); one beyond `Int16` would be
    /// clamped.
    public var battery: Int? {
        get { storedBattery == .min ? nil : Int(storedBattery) }
        set { storedBattery = newValue.map { Int16(clamping: $0) } ?? .min }
    }
    /// When the unit became stale (``lastHeard`` plus the configured silence), or nil while it
    /// is fresh. Computed at the moment of the query, so it never lags a sweep.
    public var staleSince: Timestamp? {
        get { staleSinceMicroseconds == .min ? nil : Timestamp(microseconds: staleSinceMicroseconds) }
        set { staleSinceMicroseconds = newValue?.microseconds ?? .min }
    }

    /// Whether the unit has been silent for longer than the configured threshold.
    public var isStale: Bool { staleSince != nil }

    public init(
        id: UnitID, callsign: String? = nil, kind: Unit.Kind? = nil, agency: Unit.Agency? = nil, position: GeoPoint,
        time: Timestamp, altitude: Double? = nil, speed: Double? = nil, heading: Double? = nil,
        accuracy: Double? = nil, status: UnitStatus? = nil, battery: Int? = nil, lastHeard: Timestamp,
        staleSince: Timestamp? = nil
    ) {
        self.id = id
        self.callsign = callsign
        self.kind = kind
        self.agency = agency
        self.status = status
        self.position = position
        self.time = time
        self.lastHeard = lastHeard
        self.altitude = altitude
        self.speed = speed
        self.heading = heading
        self.accuracy = accuracy
        self.battery = battery
        self.staleSince = staleSince
    }

    // As the synthesised conformance would be over the public properties (a NaN is unequal to
    // itself, as in a `Double?`), not over the sentinels.
    public static func == (lhs: LiveUnit, rhs: LiveUnit) -> Bool {
        lhs.id == rhs.id && lhs.callsign == rhs.callsign && lhs.kind == rhs.kind && lhs.agency == rhs.agency
            && lhs.status == rhs.status && lhs.position == rhs.position && lhs.time == rhs.time && lhs.lastHeard == rhs.lastHeard
            && lhs.staleSince == rhs.staleSince && lhs.altitude == rhs.altitude && lhs.speed == rhs.speed && lhs.heading == rhs.heading
            && lhs.accuracy == rhs.accuracy && lhs.battery == rhs.battery
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(callsign)
        hasher.combine(kind)
        hasher.combine(agency)
        hasher.combine(status)
        hasher.combine(position)
        hasher.combine(time)
        hasher.combine(lastHeard)
        hasher.combine(staleSince)
        hasher.combine(altitude)
        hasher.combine(speed)
        hasher.combine(heading)
        hasher.combine(accuracy)
        hasher.combine(battery)
    }
}

/// A `Double?` in the eight bytes of a `Double`: a NaN with a payload of its own stands for
/// nil (an ordinary NaN stays a number). Telemetry is finite, checked at ingest.
@propertyWrapper
public struct StoredWithoutTag: Sendable {
    private static let absentBits: UInt64 = 0x7FF8_D1E5_0000_0001
    private var stored: Double

    public init(wrappedValue: Double?) { stored = wrappedValue ?? Double(bitPattern: Self.absentBits) }

    public var wrappedValue: Double? {
        @inline(__always) get { stored.bitPattern == Self.absentBits ? nil : stored }
        @inline(__always) set { stored = newValue ?? Double(bitPattern: Self.absentBits) }
    }
}

/// One answer of a unit query: the unit and, when the query had a point, its geodesic distance.
public struct LiveUnitResult: Sendable, Hashable {
    public var unit: LiveUnit
    /// Metres from the query point on the WGS 84 ellipsoid (Vincenty), or nil for box and polygon
    /// queries.
    public var distance: Double?

    public init(unit: LiveUnit, distance: Double? = nil) {
        self.unit = unit
        self.distance = distance
    }
}

/// Which units a query returns. Each criterion left nil accepts everything; a set criterion
/// excludes units that have no value for it (a unit without a status does not match
/// `statuses: [.available]`).
public struct LiveUnitFilter: Sendable, Hashable {
    public var statuses: Set<UnitStatus>?
    public var agencies: Set<Unit.Agency>?
    public var kinds: Set<Unit.Kind>?
    /// true: only stale units; false: only fresh ones; nil: both.
    public var stale: Bool?

    public init(
        statuses: Set<UnitStatus>? = nil, agencies: Set<Unit.Agency>? = nil, kinds: Set<Unit.Kind>? = nil,
        stale: Bool? = nil
    ) {
        self.statuses = statuses
        self.agencies = agencies
        self.kinds = kinds
        self.stale = stale
    }

    /// Every unit.
    public static let all = LiveUnitFilter()

    /// Whether no criterion is set, so queries can skip the per-unit checks.
    public var acceptsAll: Bool { statuses == nil && agencies == nil && kinds == nil && stale == nil }

    @inline(__always)
    func accepts(_ unit: LiveUnit, staleBefore: Timestamp) -> Bool {
        if let stale, stale != (unit.lastHeard <= staleBefore) { return false }
        if let statuses {
            guard let status = unit.status, statuses.contains(status) else { return false }
        }
        if let agencies {
            guard let agency = unit.agency, agencies.contains(agency) else { return false }
        }
        if let kinds {
            guard let kind = unit.kind, kinds.contains(kind) else { return false }
        }
        return true
    }
}

/// Where a paged or counted unit query looks.
public enum LiveUnitArea: Sendable, Hashable {
    /// Inside a box, edges included (see ``BoundingBox``).
    case box(BoundingBox)
    /// Covered by a polygon, planar in degrees, boundary included.
    case polygon(GeoPolygon)
}

extension LiveUnitArea {
    /// The grid range that holds the area.
    var range: QueryRange {
        switch self {
        case .box(let box): QueryRange(box)
        case .polygon(let polygon): QueryRange(polygon.bounds)
        }
    }

    /// What a position in ``range`` must also pass to be inside (nil: nothing more). It runs
    /// under the lock on the grid's coordinates (tens of ns with the polygon's band index), so a
    /// unit in the polygon's box but outside it is never copied.
    var positionTest: ((Double, Double) -> Bool)? {
        switch self {
        case .box: nil
        case .polygon(let polygon): { polygon.covers(GeoPoint(latitude: $0, longitude: $1)) }
        }
    }
}

/// One page of a unit query in unit-id order (``LivePicture/page(in:filter:after:limit:)``).
public struct LiveUnitPage: Sendable, Hashable {
    /// The units of this page, by ascending id.
    public var units: [LiveUnit]
    /// How many units the query matched in all, on this page or not (before `after` included).
    public var matched: Int
    /// Whether units after the last one of this page match too: ask again with `after` set to
    /// the last id of this page.
    public var hasMore: Bool

    public init(units: [LiveUnit], matched: Int, hasMore: Bool) {
        self.units = units
        self.matched = matched
        self.hasMore = hasMore
    }
}

/// What ``LivePicture/apply(_:)`` did with a batch.
public struct LiveApplyResult: Sendable, Hashable {
    /// For each ping in input order: true when it became its unit's live position; false when it
    /// was no newer (by device time) than what the picture already held.
    public var applied: [Bool]

    public var appliedCount: Int { applied.reduce(0) { $0 + ($1 ? 1 : 0) } }
    public var ignoredCount: Int { applied.count - appliedCount }

    public init(applied: [Bool]) { self.applied = applied }
}

/// The answer of ``LivePicture/unitChanges(since:)``.
public struct LiveUnitChanges: Sendable, Hashable {
    /// Pass this to the next call to get what changes after this answer.
    public var revision: UInt64
    /// `units` holds every located unit (not only those that changed), and `removed` is empty.
    public var isComplete: Bool
    /// The current state of each unit that changed (of every unit when ``isComplete``).
    public var units: [LiveUnit] = []
    /// Units that changed and are no longer located (forgotten).
    public var removed: [UnitID] = []

    public init(revision: UInt64, isComplete: Bool, units: [LiveUnit] = [], removed: [UnitID] = []) {
        self.revision = revision
        self.isComplete = isComplete
        self.units = units
        self.removed = removed
    }
}
