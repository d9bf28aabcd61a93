import HypervisionCore
import HypervisionHTTP
import HypervisionIngestServer
import HypervisionLive
import HypervisionStore
import Logging
import ServiceLifecycle
import Synchronization

/// `--demo`: a simulated city (``DemoCity``) fed through the same paths as real sources: pings
/// through the ingest intake (validated, live picture, durable writer), cameras, camera events
/// and incidents through their stores and the live state. Starts once the live picture is loaded.
public struct DemoFeed: Service {
    let intake: PingIntake
    let cameras: CameraStore
    let incidents: IncidentDesk
    let history: HistoryStore
    let live: LiveState
    /// Whether the live picture has been rebuilt from PostGIS (the city starts after it).
    let isReady: @Sendable () -> Bool
    let logger: Logger
    /// Where the cameras' test video comes from (`scripts/demo-video`).
    let video: DemoVideo
    /// Where the city's street network is published for the maps' basemap.
    let overlays: BasemapOverlays?

    public init(
        intake: PingIntake, cameras: CameraStore, incidents: IncidentDesk, history: HistoryStore, live: LiveState,
        isReady: @escaping @Sendable () -> Bool, logger: Logger, video: DemoVideo = DemoVideo(port: 0, ports: 1),
        overlays: BasemapOverlays? = nil
    ) {
        self.intake = intake
        self.cameras = cameras
        self.incidents = incidents
        self.history = history
        self.live = live
        self.isReady = isReady
        self.logger = logger
        self.video = video
        self.overlays = overlays
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !isReady() && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(100)) }
            await self.simulate()
        }
    }

    private func simulate() async {
        var city = DemoCity(seed: UInt64(Timestamp.now().seconds), start: .now())
        overlays?.set(id: "demo-streets", title: "Demo city streets", geoJSON: city.streetMap)
        do {
            try await history.register(city.units)
            live.picture.upsert(units: city.units)
            let now = Timestamp.now()
            _ = try await cameras.upsert(city.cameras.map(video.applied(to:)), at: now)
            for camera in try await cameras.all() where camera.camera.id.hasPrefix("cam-") {
                live.upsert(camera: camera.camera, statusSince: camera.statusSince)
            }
        } catch {
            logger.error("demo: cannot register its units and cameras", metadata: ["error": "\(DatabaseErrors.describe(error))"])
        }
        logger.notice("demo city running", metadata: ["units": "\(city.units.count)", "cameras": "\(city.cameras.count)"])
        var incidentIDs: [String?] = []
        while !Task.isCancelled {
            let step = city.advance(to: .now())
            do {
                _ = try await intake.submit(validated: step.pings)
            } catch {
                logger.warning("demo: pings refused", metadata: ["error": "\(error)"])
            }
            for incident in step.openedIncidents {
                incidentIDs.append(try? await incidents.open(incident).id)
            }
            for update in step.incidentUpdates where update.index < incidentIDs.count {
                guard let id = incidentIDs[update.index] else { continue }
                _ = try? await incidents.update(
                    id: id, changes: IncidentChanges(priority: update.priority, status: update.status), at: update.time)
            }
            for event in step.cameraEvents {
                if let stored = try? await cameras.add(event) { live.add(event: stored) }
            }
            for change in step.cameraStatusChanges {
                if let stored = try? await cameras.updateStatus(id: change.cameraID, to: change.status, at: change.time) {
                    live.upsert(camera: stored.camera, statusSince: stored.statusSince)
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
