import HypervisionCore
import HypervisionLayout
import HypervisionLive
import HypervisionStream
import Synchronization

/// What the walls are computed from, taken from the live picture: the one thing the wall loop
/// needs of live state, so that the stream module knows nothing of ``LiveState``.
final class WallInputs: Sendable {
    private let live: LiveState
    private let cameras = LayoutCameras()

    init(live: LiveState) { self.live = live }

    /// Cameras, incidents and events whole; units changed since `unitsSince` (all of them when
    /// nil or too far behind).
    func inputs(unitsSince: UInt64?) -> LiveInputs {
        live.layoutInputs(at: .now(), unitsSince: unitsSince, cameras: cameras)
    }
}

/// The cameras as the walls take them, made again only when the live state's cameras change:
/// a wall round runs many times a second, a camera changes now and then.
final class LayoutCameras: Sendable {
    private let cached = Mutex<(cameras: [String: CameraState], revision: UInt64)?>(nil)

    func cameras(of live: LiveState) -> (cameras: [String: CameraState], revision: UInt64) {
        // Read before the cameras: a change made while they are read moves the revision on,
        // and the next round reads them again.
        let revision = live.camerasRevision
        if let cached = cached.withLock({ $0 }), cached.revision == revision { return cached }
        var cameras: [String: CameraState] = [:]
        for (camera, since) in live.cameras() { cameras[camera.id] = CameraState(camera: camera, statusSince: since) }
        cached.withLock { $0 = (cameras, revision) }
        return (cameras, revision)
    }
}

extension LiveState {
    /// What the walls are computed from: cameras, incidents and events whole, units changed since
    /// `unitsSince` (all of them when nil or too far behind).
    func layoutInputs(at now: Timestamp, unitsSince: UInt64?, cameras layoutCameras: LayoutCameras) -> LiveInputs {
        let (cameras, camerasRevision) = layoutCameras.cameras(of: self)
        let changes = picture.unitChanges(since: unitsSince)
        var units: [UnitID: LayoutUnit] = [:]
        units.reserveCapacity(changes.units.count)
        for unit in changes.units {
            units[unit.id] = LayoutUnit(
                id: unit.id, callsign: unit.callsign, kind: unit.kind, position: unit.position, heading: unit.heading, status: unit.status,
                time: unit.time)
        }
        return LiveInputs(
            cameras: cameras, camerasRevision: camerasRevision, units: units, removedUnits: changes.removed, unitsAreComplete: changes.isComplete,
            unitsRevision: changes.revision, incidents: picture.activeIncidents(), events: activeEvents(at: now))
    }
}
