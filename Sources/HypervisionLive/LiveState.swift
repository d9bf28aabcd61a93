import HypervisionCore
import Synchronization

/// Everything live that the walls and queries read, beside the units' positions: since when
/// each camera has its reported status (the layout's offline grace counts from there) and the
/// camera events still active. Updated by the HTTP routes after their database write commits.
public final class LiveState: Sendable {
    public let picture: LivePicture
    private let statusSince = Mutex<[String: Timestamp]>([:])
    /// Counts the changes to the cameras (see ``camerasRevision``).
    private let cameraChanges = Atomic<UInt64>(0)
    private let events = Mutex<[CameraEvent]>([])
    /// Active events held at most; the oldest go first (a flood of motion events must not grow memory).
    public let maximumEvents: Int

    public init(picture: LivePicture, maximumEvents: Int = 10_000) {
        self.picture = picture
        self.maximumEvents = maximumEvents
    }

    /// A number that changes after every change to the cameras or to since when they have
    /// their status: a reader that saw the same number before has seen these cameras (the walls
    /// keep what they derive from the cameras while it stays the same).
    public var camerasRevision: UInt64 { cameraChanges.load(ordering: .acquiring) }

    /// A camera as stored, with since when it has its reported status.
    public func upsert(camera: Camera, statusSince since: Timestamp) {
        picture.upsert(camera: camera)
        statusSince.withLock { $0[camera.id] = since }
        cameraChanges.add(1, ordering: .releasing)
    }

    /// A camera imported or replaced without its history at hand: its status counts from `now`
    /// unless it is unchanged.
    public func upsert(camera: Camera, now: Timestamp) {
        let unchanged = picture.camera(id: camera.id)?.status == camera.status
        picture.upsert(camera: camera)
        statusSince.withLock { since in
            if !unchanged || since[camera.id] == nil { since[camera.id] = now }
        }
        cameraChanges.add(1, ordering: .releasing)
    }

    public func removeCamera(id: String) {
        picture.removeCamera(id: id)
        statusSince.withLock { $0[id] = nil }
        events.withLock { $0.removeAll { $0.cameraID == id } }
        cameraChanges.add(1, ordering: .releasing)
    }

    /// Every camera with since when it has its status.
    public func cameras() -> [(camera: Camera, statusSince: Timestamp)] {
        let since = statusSince.withLock { $0 }
        return picture.allCameras().map { ($0, since[$0.id] ?? Timestamp(microseconds: 0)) }
    }

    /// Makes `stored` the whole set of cameras, each with since when it has its status (as read
    /// again from the database after another daemon changed them); the others are removed.
    public func replaceCameras(with stored: [(camera: Camera, statusSince: Timestamp)]) {
        let kept = Set(stored.map(\.camera.id))
        for camera in picture.allCameras() where !kept.contains(camera.id) { removeCamera(id: camera.id) }
        for (camera, since) in stored {
            if picture.camera(id: camera.id) == camera, statusSince.withLock({ $0[camera.id] }) == since { continue }
            upsert(camera: camera, statusSince: since)
        }
    }

    /// Makes `active` the active camera events (as read again from the database), oldest first.
    public func replaceEvents(with active: [CameraEvent]) {
        let kept = active.sorted { $0.occurredAt < $1.occurredAt }.suffix(maximumEvents)
        events.withLock { $0 = Array(kept) }
    }

    public func add(event: CameraEvent) {
        events.withLock { events in
            events.append(event)
            if events.count > maximumEvents { events.removeFirst(events.count - maximumEvents) }
        }
    }

    /// Events active at `now`; expired ones are dropped.
    public func activeEvents(at now: Timestamp) -> [CameraEvent] {
        events.withLock { events in
            events.removeAll { $0.expiresAt <= now }
            return events.filter { $0.isActive(at: now) }
        }
    }
}
