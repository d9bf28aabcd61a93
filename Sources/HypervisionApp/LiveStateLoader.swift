import HypervisionCore
import HypervisionLayout
import HypervisionLive
import HypervisionStore
import HypervisionStream
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Rebuilds the live picture, so a restarted daemon shows at least what it showed before: first,
/// at once, the pings held in the spool (acknowledged, not yet in PostGIS, and perhaps the newest
/// of all), then from PostGIS once the schema is ready: latest positions, unit registry data,
/// cameras, active incidents and camera events, and the walls defined through the API. Nothing
/// loaded moves a unit back in time, so the order of the two, and pings arriving meanwhile, are
/// safe.
public struct LiveStateLoader: Service {
    let live: LiveState
    let status: DatabaseStatus
    let spool: Spool
    let history: HistoryStore
    let cameras: CameraStore
    let incidents: IncidentStore
    let walls: WallService
    let logger: Logger
    /// Called once everything is loaded (the demo feed waits for it).
    let onLoaded: @Sendable () -> Void

    public init(
        live: LiveState, status: DatabaseStatus, spool: Spool, history: HistoryStore, cameras: CameraStore, incidents: IncidentStore,
        walls: WallService, logger: Logger, onLoaded: @escaping @Sendable () -> Void = {}
    ) {
        self.live = live
        self.status = status
        self.spool = spool
        self.history = history
        self.cameras = cameras
        self.incidents = incidents
        self.walls = walls
        self.logger = logger
        self.onLoaded = onLoaded
    }

    public func run() async throws {
        await loadSpool()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if status.isSchemaReady {
                do {
                    try await load()
                    onLoaded()
                    break
                } catch {
                    logger.warning("loading the live picture failed; retrying", metadata: ["error": "\(DatabaseErrors.describe(error))"])
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        // A service that returns early would end the group: wait for shutdown instead.
        try? await gracefulShutdown()
    }

    /// Puts the spool's pings on the live picture, off the cooperative pool (a full spool is a
    /// few seconds of reading).
    func loadSpool() async {
        guard !spool.isEmpty else { return }
        let spool = self.spool, live = self.live
        let count = try? await NIOThreadPool.singleton.runIfActive { () -> Int in
            var count = 0
            spool.forEachRecord { pings in
                live.picture.apply(pings)
                count += pings.count
            }
            return count
        }
        logger.notice("live picture: pings from the spool shown", metadata: ["pings": "\(count ?? 0)"])
    }

    func load() async throws {
        let now = Timestamp.now()
        live.picture.upsert(units: try await history.registeredUnits())
        // Only the units the live picture would keep: heard within forgetAfter, at most its cap.
        let settings = live.picture.configuration
        let positions = try await history.latestPositions(
            heardSince: settings.forgetAfter.map { now.adding(seconds: -$0) }, limit: settings.maximumUnits)
        live.picture.load(positions: positions)
        let stored = try await cameras.all()
        for camera in stored { live.upsert(camera: camera.camera, statusSince: camera.statusSince) }
        var filter = IncidentFilter()
        filter.statuses = [.open, .acknowledged]
        filter.limit = 100_000
        live.picture.upsert(incidents: try await incidents.list(filter))
        for event in try await cameras.activeEvents(at: now, limit: live.maximumEvents).reversed() { live.add(event: event) }
        for (id, error) in try await walls.loadStored() {
            logger.error("a stored wall definition is refused", metadata: ["wall": "\(id)", "error": "\(error)"])
        }
        logger.notice(
            "live picture loaded",
            metadata: ["units": "\(positions.count)", "cameras": "\(stored.count)", "incidents": "\(live.picture.activeIncidents().count)"])
    }
}

/// A condition that becomes true once (the live picture has been rebuilt): `/readyz` and the
/// demo feed read it.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
