/// A field team: car, motorbike, foot patrol, boat, helicopter.
public struct Unit: Sendable, Hashable {
    /// The kind of vehicle or team, an open set like ``UnitStatus``.
    public struct Kind: Sendable, Hashable, RawRepresentable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let car = Kind(rawValue: "car")
        public static let motorbike = Kind(rawValue: "motorbike")
        public static let foot = Kind(rawValue: "foot")
        public static let boat = Kind(rawValue: "boat")
        public static let helicopter = Kind(rawValue: "helicopter")
    }

    /// The force a unit belongs to.
    public struct Agency: Sendable, Hashable, RawRepresentable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let policeNationale = Agency(rawValue: "police_nationale")
        public static let gendarmerie = Agency(rawValue: "gendarmerie")
        public static let policeMunicipale = Agency(rawValue: "police_municipale")
    }

    public var id: UnitID
    public var callsign: String?
    public var kind: Kind?
    public var agency: Agency?

    public init(id: UnitID, callsign: String? = nil, kind: Kind? = nil, agency: Agency? = nil) {
        self.id = id
        self.callsign = callsign
        self.kind = kind
        self.agency = agency
    }
}

/// A video source with a position and a field of view.
public struct Camera: Sendable, Hashable {
    /// Whether the stream is up. `degraded` means up with errors (low frame rate, artefacts).
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case online, offline, degraded
    }

    /// One way to play the camera: a protocol, a quality and its URL.
    public struct Stream: Sendable, Hashable {
        public enum Transport: String, Sendable, Hashable, CaseIterable {
            case rtsp, hls, webrtc, mjpeg
        }
        public var transport: Transport
        /// `main`, `sub`, `low`… as the VMS names them.
        public var quality: String
        public var url: String
        public init(transport: Transport, quality: String, url: String) {
            self.transport = transport
            self.quality = quality
            self.url = url
        }
    }

    public var id: String
    public var name: String
    public var position: GeoPoint
    /// Direction the camera looks, degrees true.
    public var heading: Double
    /// Horizontal field of view, degrees (360 for a dome camera).
    public var fieldOfView: Double
    /// How far the camera usefully sees, metres.
    public var range: Double
    public var streams: [Stream]
    public var status: Status
    public var tags: [String]

    public init(
        id: String, name: String, position: GeoPoint, heading: Double, fieldOfView: Double, range: Double,
        streams: [Stream] = [], status: Status = .online, tags: [String] = []
    ) {
        self.id = id
        self.name = name
        self.position = position
        self.heading = heading
        self.fieldOfView = fieldOfView
        self.range = range
        self.streams = streams
        self.status = status
        self.tags = tags
    }

    /// Whether `point` lies inside the camera's field-of-view wedge (within range and within
    /// half the field of view either side of the heading).
    public func covers(_ point: GeoPoint) -> Bool {
        let inverse = Geodesy.inverse(position, point)
        guard inverse.distance <= range else { return false }
        if fieldOfView >= 360 || inverse.distance == 0 { return true }
        var offset = abs(inverse.initialBearing - heading).truncatingRemainder(dividingBy: 360)
        if offset > 180 { offset = 360 - offset }
        return offset <= fieldOfView / 2
    }
}

/// Something happening at a place that operators follow.
public struct Incident: Sendable, Hashable {
    /// Lifecycle of an incident.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case open, acknowledged, closed
    }

    public var id: String
    public var category: String
    /// 1 is the most urgent; 5 the least.
    public var priority: Int
    public var location: GeoPoint
    public var status: Status
    public var openedAt: Timestamp
    public var closedAt: Timestamp?
    public var summary: String?

    public init(
        id: String, category: String, priority: Int, location: GeoPoint, status: Status = .open,
        openedAt: Timestamp, closedAt: Timestamp? = nil, summary: String? = nil
    ) {
        self.id = id
        self.category = category
        self.priority = priority
        self.location = location
        self.status = status
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.summary = summary
    }
}
