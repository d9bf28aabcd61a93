/// One position report of a unit, validated and normalised.
///
/// Units: metres, metres per second, degrees true. Optional fields are nil when the sender did
/// not report them (never a sentinel such as 0 or 9999999).
public struct Ping: Sendable, Hashable {
    public var unit: UnitID
    /// Device time: when the position was measured.
    public var time: Timestamp
    public var position: GeoPoint
    public var altitude: Double?
    public var speed: Double?
    public var heading: Double?
    public var accuracy: Double?
    public var status: UnitStatus?
    /// Battery level in percent [0, 100].
    public var battery: Int?
    /// When Hypervision received it.
    public var receivedAt: Timestamp

    public init(
        unit: UnitID, time: Timestamp, position: GeoPoint, altitude: Double? = nil, speed: Double? = nil,
        heading: Double? = nil, accuracy: Double? = nil, status: UnitStatus? = nil, battery: Int? = nil,
        receivedAt: Timestamp
    ) {
        self.unit = unit
        self.time = time
        self.position = position
        self.altitude = altitude
        self.speed = speed
        self.heading = heading
        self.accuracy = accuracy
        self.status = status
        self.battery = battery
        self.receivedAt = receivedAt
    }

    /// The identity under which a ping is stored once: the same unit at the same device time.
    public struct Key: Sendable, Hashable {
        public var unit: UnitID
        public var time: Timestamp
        public init(unit: UnitID, time: Timestamp) {
            self.unit = unit
            self.time = time
        }
    }

    public var key: Key { Key(unit: unit, time: time) }
}

/// A ping as a decoder read it, before validation: every field as the sender wrote it.
public struct RawPing: Sendable, Hashable {
    public var unit: String?
    public var time: String?
    public var latitude: Double?
    public var longitude: Double?
    public var altitude: Double?
    public var speed: Double?
    public var heading: Double?
    public var accuracy: Double?
    public var status: String?
    public var battery: Double?
    /// The name people know the unit by, when the protocol carries it (Cursor-on-Target
    /// `contact@callsign`). Not part of the stored ping: it updates the unit's registry entry.
    public var callsign: String?

    public init(
        unit: String? = nil, time: String? = nil, latitude: Double? = nil, longitude: Double? = nil,
        altitude: Double? = nil, speed: Double? = nil, heading: Double? = nil, accuracy: Double? = nil,
        status: String? = nil, battery: Double? = nil, callsign: String? = nil
    ) {
        self.callsign = callsign
        self.unit = unit
        self.time = time
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.speed = speed
        self.heading = heading
        self.accuracy = accuracy
        self.status = status
        self.battery = battery
    }
}

/// The rules a ping must pass before it is stored. Pure: the current time is passed in.
public struct PingValidator: Sendable {
    /// How far ahead of the receiver's clock a device time may be (device clocks drift).
    public var maximumFutureSkew: Double = 300
    /// How old a device time may be; older pings would fall outside the retention window.
    public var maximumAge: Double = 30 * 86_400
    /// The largest plausible speed, in m/s (a helicopter at full speed is about 90 m/s).
    public var maximumSpeed: Double = 350
    public var altitudeRange: ClosedRange<Double> = -500...20_000
    public var maximumAccuracy: Double = 100_000

    public init() {}

    /// Validates and normalises one ping. Heading 360 is folded to 0.
    public func validate(_ raw: RawPing, now: Timestamp) throws(ValidationError) -> Ping {
        guard let unitText = raw.unit else { throw ValidationError(.fieldMissing, "unit is required") }
        let unit = try UnitID(unitText)
        guard let timeText = raw.time else { throw ValidationError(.fieldMissing, "time is required") }
        guard let time = Timestamp(rfc3339: timeText) else {
            throw ValidationError(.timeInvalid, "time \"\(timeText.prefix(40))\" is not an RFC 3339 date-time")
        }
        return try validate(raw, unit: unit, time: time, now: now)
    }

    /// Validates a ping whose unit and time were already parsed (binary protocols, CoT, NMEA).
    public func validate(_ raw: RawPing, unit: UnitID, time: Timestamp, now: Timestamp) throws(ValidationError) -> Ping {
        if time.microseconds > now.microseconds + Int64(maximumFutureSkew * 1_000_000) {
            throw ValidationError(
                .timeInFuture,
                "time \(time.rfc3339) is more than \(Int(maximumFutureSkew)) s ahead of the server clock (\(now.rfc3339))")
        }
        if time.microseconds < now.microseconds - Int64(maximumAge * 1_000_000) {
            throw ValidationError(
                .timeTooOld, "time \(time.rfc3339) is older than the retention window of \(Int(maximumAge / 86_400)) days")
        }
        guard let lat = raw.latitude else { throw ValidationError(.fieldMissing, "lat is required") }
        guard let lon = raw.longitude else { throw ValidationError(.fieldMissing, "lon is required") }
        let position = try GeoPoint.validated(latitude: lat, longitude: lon)

        if let alt = raw.altitude {
            try finite(alt, "alt")
            guard altitudeRange.contains(alt) else {
                throw ValidationError(.altitudeOutOfRange, "alt \(alt) m is outside [\(altitudeRange.lowerBound), \(altitudeRange.upperBound)]")
            }
        }
        if let speed = raw.speed {
            try finite(speed, "speed")
            guard speed >= 0, speed <= maximumSpeed else {
                throw ValidationError(.speedOutOfRange, "speed \(speed) m/s is outside [0, \(maximumSpeed)]")
            }
        }
        var heading = raw.heading
        if let h = heading {
            try finite(h, "heading")
            guard h >= 0, h <= 360 else {
                throw ValidationError(.headingOutOfRange, "heading \(h) is outside [0, 360]")
            }
            heading = h == 360 ? 0 : h
        }
        if let accuracy = raw.accuracy {
            try finite(accuracy, "accuracy")
            guard accuracy >= 0, accuracy <= maximumAccuracy else {
                throw ValidationError(.accuracyOutOfRange, "accuracy \(accuracy) m is outside [0, \(maximumAccuracy)]")
            }
        }
        var battery: Int?
        if let b = raw.battery {
            try finite(b, "battery")
            guard b >= 0, b <= 100 else {
                throw ValidationError(.batteryOutOfRange, "battery \(b) is outside [0, 100]")
            }
            battery = Int(b.rounded())
        }
        var status: UnitStatus?
        if let s = raw.status {
            guard let parsed = UnitStatus(rawValue: s) else {
                throw ValidationError(.statusInvalid, "status must be a lowercase token of at most 32 characters [a-z0-9_]")
            }
            status = parsed
        }
        return Ping(
            unit: unit, time: time, position: position, altitude: raw.altitude, speed: raw.speed, heading: heading,
            accuracy: raw.accuracy, status: status, battery: battery, receivedAt: now)
    }

    private func finite(_ value: Double, _ name: String) throws(ValidationError) {
        guard value.isFinite else { throw ValidationError(.notFinite, "\(name) is not a finite number") }
    }
}
