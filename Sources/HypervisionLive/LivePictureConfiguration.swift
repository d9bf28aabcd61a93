import HypervisionConfiguration

/// How the live picture behaves: when a unit counts as stale, how many units it holds and when
/// it forgets them, and the grain of its spatial index.
public struct LivePictureConfiguration: Sendable, Hashable {
    /// Seconds of silence (by receive time) after which a unit is stale. Five minutes by default:
    /// trackers report every 1–30 s, so five silent minutes means a dead battery, a tunnel or a
    /// switched-off terminal, which the command room wants to see greyed out.
    public var staleAfter: Double

    /// Cell size of the spatial index, in equatorial degrees (0.01° ≈ 1.1 km). Small enough that a
    /// 1 km radius touches about nine cells, large enough that a city is a few hundred of them.
    public var cellDegrees: Double

    /// Cell size of the camera index. Cameras see 50–500 m, so cells the size of the unit grid
    /// keep a covering query to a handful of cells.
    public var cameraCellDegrees: Double

    /// How many pings ``LivePicture/apply(_:)`` applies per lock acquisition:
    /// a 10,000-ping batch lets readers in between slices instead of making them wait ~1 ms.
    public var applySliceSize: Int

    /// Most located units held. A new unit beyond it makes room by forgetting the unit heard
    /// from longest ago (which may be the newcomer itself, when it was heard earlier still). A
    /// stream of made-up unit ids must not grow memory without bound; 200,000 is several times
    /// the fleet of a national command room, at under 1 KiB each.
    public var maximumUnits: Int

    /// Seconds of silence (by receive time) after which ``LivePicture/forgetSilentUnits()``
    /// forgets a unit; nil never forgets on silence alone. A day by default: a shift's units
    /// come back tomorrow, a tracker that was tried once does not.
    public var forgetAfter: Double?

    public init(
        staleAfter: Double = 300, cellDegrees: Double = 0.01, cameraCellDegrees: Double = 0.01, applySliceSize: Int = 256,
        maximumUnits: Int = 200_000, forgetAfter: Double? = 86_400
    ) {
        precondition(staleAfter >= 0, "staleAfter must not be negative")
        precondition(maximumUnits > 0, "maximumUnits must be positive")
        precondition(forgetAfter.map { $0 > 0 } ?? true, "forgetAfter must be positive (nil: never)")
        self.maximumUnits = maximumUnits
        self.forgetAfter = forgetAfter
        precondition(cellDegrees > 0 && cellDegrees <= 10, "cellDegrees must be in (0, 10]")
        precondition(cameraCellDegrees > 0 && cameraCellDegrees <= 10, "cameraCellDegrees must be in (0, 10]")
        precondition(applySliceSize > 0, "applySliceSize must be positive")
        self.staleAfter = staleAfter
        self.cellDegrees = cellDegrees
        self.cameraCellDegrees = cameraCellDegrees
        self.applySliceSize = applySliceSize
    }
}

extension LivePictureConfiguration: ConfigurationSection {
    public static let keys = ["units.staleSeconds", "units.maxLive", "units.forgetAfterHours"]

    /// Reads `units.*`: staleness in seconds, the most live units, and the hours of silence after
    /// which a unit is forgotten (0: never on silence alone).
    public init(reader r: SectionReader) throws(ConfigurationError) {
        let forgetHours = try r.int("units.forgetAfterHours", default: 24, in: 0...24 * 366)
        self.init(
            staleAfter: Double(try r.int("units.staleSeconds", default: 300, in: 1...86_400 * 7)),
            maximumUnits: try r.int("units.maxLive", default: 200_000, in: 1...10_000_000),
            forgetAfter: forgetHours == 0 ? nil : Double(forgetHours) * 3_600)
    }
}
