import HypervisionCore
import HypervisionLive
import HypervisionStore
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps this daemon's cameras, camera events and active incidents equal to the database's when
/// other daemons (or tools) change them: the tables' triggers notify `E1 <table>` on the live
/// feed (migration 4), and the table is read again, a quarter of a second after the first
/// notice so that a burst costs one reading. Everything is read again when the daemon (re)joins
/// the feed, since notices sent meanwhile were missed.
final class SharedStateRefresher: Service, Sendable {
    enum Table: String, CaseIterable, Sendable {
        case cameras
        case cameraEvents = "camera_events"
        case incidents
    }

    let live: LiveState
    let cameras: CameraStore
    let incidents: IncidentStore
    let logger: Logger
    private let dirty = Mutex<Set<Table>>([])
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(live: LiveState, cameras: CameraStore, incidents: IncidentStore, logger: Logger) {
        self.live = live
        self.cameras = cameras
        self.incidents = incidents
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Takes an `E1 <table>` payload; false when the payload is not one.
    func heard(_ payload: String) -> Bool {
        guard payload.hasPrefix("E1 ") else { return false }
        guard let table = Table(rawValue: String(payload.dropFirst(3))) else {
            logger.warning("cluster: a change notice names an unknown table", metadata: ["payload": "\(payload.prefix(80))"])
            return true
        }
        mark([table])
        return true
    }

    /// Everything is to be read again (the daemon joined the feed).
    func markAll() { mark(Set(Table.allCases)) }

    private func mark(_ tables: Set<Table>) {
        dirty.withLock { $0.formUnion(tables) }
        wake.yield()
    }

    func run() async throws {
        for await _ in wakes.cancelOnGracefulShutdown() {
            try? await Task.sleep(for: .milliseconds(250))
            let tables = dirty.withLock { dirty in
                defer { dirty.removeAll() }
                return dirty
            }
            for table in Table.allCases where tables.contains(table) {
                do {
                    try await refresh(table)
                } catch {
                    logger.warning("cluster: cannot read \(table.rawValue) again; retrying", metadata: ["error": "\(DatabaseErrors.describe(error))"])
                    try? await Task.sleep(for: .seconds(1))
                    mark([table])
                }
            }
        }
    }

    private func refresh(_ table: Table) async throws {
        switch table {
        case .cameras:
            live.replaceCameras(with: try await cameras.all().map { ($0.camera, $0.statusSince) })
        case .cameraEvents:
            live.replaceEvents(with: try await cameras.activeEvents(at: .now(), limit: live.maximumEvents))
        case .incidents:
            var filter = IncidentFilter()
            filter.statuses = [.open, .acknowledged]
            filter.limit = 100_000
            live.picture.replaceIncidents(with: try await incidents.list(filter))
        }
    }
}
