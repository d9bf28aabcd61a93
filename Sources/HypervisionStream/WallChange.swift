import HypervisionCore
import HypervisionLayout

/// An operator's change to a wall, made on one daemon, that the other daemons of a cluster
/// apply too: whichever daemon lays the wall out shows it, and still shows it after taking the
/// wall over. Travels as `A1 <node> <wall>` and a JSON body (``encode(node:)``, ``decode(_:)``).
public enum WallChange: Sendable, Hashable {
    case pinned(wall: String, Pin)
    case unpinned(wall: String, camera: String)
    case tourStarted(wall: String, GuardTour)
    case tourStopped(wall: String, tour: String)
    /// Defined or replaced through the API, and stored: the others read it from the database.
    case stored(wall: String)
    /// Removed through the API.
    case forgotten(wall: String)

    public var wall: String {
        switch self {
        case .pinned(let wall, _), .unpinned(let wall, _), .tourStarted(let wall, _), .tourStopped(let wall, _), .stored(let wall),
            .forgotten(let wall):
            wall
        }
    }

    static let tag = "A1"

    /// The payload, or nil when the wall's id cannot travel in a header.
    public func encode(node: String) -> String? {
        guard SceneRelayCodec.canCarry(wall) else { return nil }
        func time(_ value: Timestamp?) -> JSONValue { value.map { .number(Double($0.microseconds)) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        let body: [String: JSONValue]
        switch self {
        case .pinned(_, let pin):
            body = [
                "change": "pinned", "camera": .string(pin.camera), "region": text(pin.region), "pinnedAt": time(pin.pinnedAt),
                "expiresAt": time(pin.expiresAt), "pinnedBy": text(pin.pinnedBy),
            ]
        case .unpinned(_, let camera): body = ["change": "unpinned", "camera": .string(camera)]
        case .tourStarted(_, let tour):
            body = [
                "change": "tourStarted", "id": .string(tour.id), "cameras": .array(tour.cameras.map { .string($0) }),
                "dwellSeconds": .number(tour.dwellSeconds), "startedAt": time(tour.startedAt), "region": text(tour.region),
            ]
        case .tourStopped(_, let tour): body = ["change": "tourStopped", "id": .string(tour)]
        case .stored: body = ["change": "stored"]
        case .forgotten: body = ["change": "forgotten"]
        }
        return "\(Self.tag) \(node) \(wall)\n" + JSONValue.object(body).encoded()
    }

    /// The sender and the change of an `A1` payload.
    public static func decode(_ payload: String) throws(SceneRelayCodec.Unreadable) -> (node: String, change: WallChange) {
        let parts = payload.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let header = parts[0].split(separator: " ", omittingEmptySubsequences: false)
        guard header.count == 3, header[0] == tag, parts.count == 2 else { throw .init(reason: "not a wall change") }
        let wall = String(header[2])
        guard let body = (try? JSONValue(parsing: String(parts[1])))?.objectValue else { throw .init(reason: "the body is not a JSON object") }
        func time(_ name: String) -> Timestamp? { body[name]?.doubleValue.map { Timestamp(microseconds: Int64($0)) } }
        func text(_ name: String) -> String? { body[name]?.stringValue }
        let change: WallChange
        switch text("change") {
        case "pinned":
            guard let camera = text("camera"), let pinnedAt = time("pinnedAt") else { throw .init(reason: "a pin without camera or time") }
            change = .pinned(
                wall: wall, Pin(camera: camera, region: text("region"), pinnedAt: pinnedAt, expiresAt: time("expiresAt"), pinnedBy: text("pinnedBy")))
        case "unpinned":
            guard let camera = text("camera") else { throw .init(reason: "an unpin without camera") }
            change = .unpinned(wall: wall, camera: camera)
        case "tourStarted":
            guard let id = text("id"), let cameras = body["cameras"]?.arrayValue?.compactMap(\.stringValue),
                let dwell = body["dwellSeconds"]?.doubleValue, let startedAt = time("startedAt")
            else { throw .init(reason: "an incomplete tour") }
            change = .tourStarted(wall: wall, GuardTour(id: id, cameras: cameras, dwellSeconds: dwell, startedAt: startedAt, region: text("region")))
        case "tourStopped":
            guard let id = text("id") else { throw .init(reason: "a tour stop without id") }
            change = .tourStopped(wall: wall, tour: id)
        case "stored": change = .stored(wall: wall)
        case "forgotten": change = .forgotten(wall: wall)
        default: throw .init(reason: "unknown change \(text("change") ?? "none")")
        }
        return (String(header[1]), change)
    }
}
