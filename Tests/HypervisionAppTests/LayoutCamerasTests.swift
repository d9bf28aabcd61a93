import HypervisionCore
import HypervisionLayout
import HypervisionLive
import Testing

@testable import HypervisionApp
import HypervisionStream

/// The walls' cameras are made again only when the live state's cameras change, and every
/// change to them is seen.
@Suite struct LayoutCamerasTests {
    static let t0 = Timestamp(seconds: 1_795_428_000)

    static func camera(_ id: String, status: Camera.Status = .online) -> Camera {
        Camera(
            id: id, name: "Camera \(id)", position: GeoPoint(latitude: 48.8566, longitude: 2.3522), heading: 90, fieldOfView: 60,
            range: 150, status: status)
    }

    @Test func everyCameraChangeMovesTheRevisionAndReachesTheWalls() {
        let live = LiveState(picture: LivePicture(clock: { Self.t0 }))
        let cameras = LayoutCameras()
        let empty = live.layoutInputs(at: Self.t0, unitsSince: nil, cameras: cameras)
        #expect(empty.cameras.isEmpty)

        live.upsert(camera: Self.camera("cam-1"), statusSince: Self.t0)
        let one = live.layoutInputs(at: Self.t0, unitsSince: nil, cameras: cameras)
        #expect(one.camerasRevision != empty.camerasRevision)
        #expect(one.cameras["cam-1"]?.camera.name == "Camera cam-1")

        // Nothing changed: the same revision, and the same cameras.
        let again = live.layoutInputs(at: Self.t0, unitsSince: nil, cameras: cameras)
        #expect(again.camerasRevision == one.camerasRevision)
        #expect(again.cameras == one.cameras)

        // A status change, with its start.
        live.upsert(camera: Self.camera("cam-1", status: .offline), now: Self.t0.adding(seconds: 5))
        let offline = live.layoutInputs(at: Self.t0, unitsSince: nil, cameras: cameras)
        #expect(offline.camerasRevision != one.camerasRevision)
        #expect(offline.cameras["cam-1"]?.camera.status == .offline)
        #expect(offline.cameras["cam-1"]?.statusSince == Self.t0.adding(seconds: 5))

        live.removeCamera(id: "cam-1")
        let gone = live.layoutInputs(at: Self.t0, unitsSince: nil, cameras: cameras)
        #expect(gone.camerasRevision != offline.camerasRevision)
        #expect(gone.cameras.isEmpty)
    }
}
