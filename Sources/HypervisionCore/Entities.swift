import Foundation

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
    public func covers(_ point: GeoPoint) -> Bool { coveringDistance(to: point) != nil }

    /// The geodesic distance to `point` in metres when the camera covers it, else nil: one
    /// geodesic computation for both answers.
    public func coveringDistance(to point: GeoPoint) -> Double? {
        let inverse = Geodesy.inverse(position, point)
        guard inverse.distance <= range else { return nil }
        if fieldOfView >= 360 || inverse.distance == 0 { return inverse.distance }
        var offset = abs(inverse.initialBearing - heading).truncatingRemainder(dividingBy: 360)
        if offset > 180 { offset = 360 - offset }
        return offset <= fieldOfView / 2 ? inverse.distance : nil
    }
}

/// A camera as a client described it, before validation (every field as sent).
public struct RawCamera: Sendable, Hashable {
    public var id: String?
    public var name: String?
    public var latitude: Double?
    public var longitude: Double?
    public var heading: Double?
    public var fieldOfView: Double?
    public var range: Double?
    public var streams: [(transport: String, quality: String, url: String)] = []
    public var status: String?
    public var tags: [String] = []

    public init() {}

    public static func == (lhs: RawCamera, rhs: RawCamera) -> Bool {
        lhs.id == rhs.id && lhs.name == rhs.name && lhs.latitude == rhs.latitude && lhs.longitude == rhs.longitude
            && lhs.heading == rhs.heading && lhs.fieldOfView == rhs.fieldOfView && lhs.range == rhs.range
            && lhs.streams.map { [$0.transport, $0.quality, $0.url] } == rhs.streams.map { [$0.transport, $0.quality, $0.url] }
            && lhs.status == rhs.status && lhs.tags == rhs.tags
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// The rules a camera must pass before it is stored. Defaults fill what registries often omit:
/// a 360° field of view (dome) and a 100 m range.
public struct CameraValidator: Sendable {
    public var maximumRange: Double = 10_000
    public var maximumStreams = 8
    public var maximumTags = 32
    public var maximumTextBytes = 256
    public var maximumURLBytes = 2_048

    public init() {}

    public func validate(_ raw: RawCamera) throws(ValidationError) -> Camera {
        guard let idText = raw.id, !idText.isEmpty else { throw ValidationError(.fieldMissing, "id is required") }
        // Camera ids follow the unit id alphabet: safe in URLs and scene paths (/tiles/cam-0042).
        let id: UnitID
        do {
            id = try UnitID(idText)
        } catch {
            throw ValidationError(.valueInvalid, "camera " + error.message.replacingOccurrences(of: "unit id", with: "id"))
        }
        guard let lat = raw.latitude else { throw ValidationError(.fieldMissing, "lat is required") }
        guard let lon = raw.longitude else { throw ValidationError(.fieldMissing, "lon is required") }
        let position = try GeoPoint.validated(latitude: lat, longitude: lon)
        var heading = raw.heading ?? 0
        guard heading.isFinite, (0...360).contains(heading) else {
            throw ValidationError(.headingOutOfRange, "heading \(heading) is outside [0, 360]")
        }
        if heading == 360 { heading = 0 }
        let fieldOfView = raw.fieldOfView ?? 360
        guard fieldOfView.isFinite, fieldOfView > 0, fieldOfView <= 360 else {
            throw ValidationError(.valueInvalid, "fov \(fieldOfView) is outside (0, 360]")
        }
        let range = raw.range ?? 100
        guard range.isFinite, range > 0, range <= maximumRange else {
            throw ValidationError(.valueInvalid, "range \(range) m is outside (0, \(Int(maximumRange))]")
        }
        let name = raw.name ?? idText
        guard name.utf8.count <= maximumTextBytes else {
            throw ValidationError(.valueInvalid, "name is longer than \(maximumTextBytes) bytes")
        }
        // Stored as PostgreSQL text (which cannot hold NUL) and shown on walls: one clean line.
        try InputText.check(name, field: "name")
        guard raw.streams.count <= maximumStreams else {
            throw ValidationError(.valueInvalid, "more than \(maximumStreams) streams")
        }
        var streams: [Camera.Stream] = []
        for (index, stream) in raw.streams.enumerated() {
            guard let transport = Camera.Stream.Transport(rawValue: stream.transport) else {
                throw ValidationError(
                    .valueInvalid,
                    "streams[\(index)].protocol \"\(stream.transport.prefix(16))\" is not one of \(Camera.Stream.Transport.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try InputText.check(stream.url, field: "streams[\(index)].url")
            try InputText.check(stream.quality, field: "streams[\(index)].quality")
            let schemes = ["rtsp://", "rtsps://", "http://", "https://", "wss://", "ws://"]
            guard stream.url.utf8.count <= maximumURLBytes, schemes.contains(where: { stream.url.lowercased().hasPrefix($0) }) else {
                throw ValidationError(.valueInvalid, "streams[\(index)].url must be an rtsp, http(s) or ws(s) URL of at most \(maximumURLBytes) bytes")
            }
            guard !stream.quality.isEmpty, stream.quality.utf8.count <= 32 else {
                throw ValidationError(.valueInvalid, "streams[\(index)].quality must be 1 to 32 characters")
            }
            streams.append(Camera.Stream(transport: transport, quality: stream.quality, url: stream.url))
        }
        var status = Camera.Status.online
        if let text = raw.status {
            guard let parsed = Camera.Status(rawValue: text) else {
                throw ValidationError(.statusInvalid, "status must be online, offline or degraded")
            }
            status = parsed
        }
        guard raw.tags.count <= maximumTags, raw.tags.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 64 }) else {
            throw ValidationError(.valueInvalid, "tags: at most \(maximumTags), each 1 to 64 characters")
        }
        for (index, tag) in raw.tags.enumerated() { try InputText.check(tag, field: "tags[\(index)]") }
        return Camera(
            id: id.rawValue, name: name, position: position, heading: heading, fieldOfView: fieldOfView, range: range,
            streams: streams, status: status, tags: raw.tags)
    }
}
