import HypervisionLive
import Logging
import Metrics
import ServiceLifecycle

/// The live picture's size as metrics: `hypervision_live_units` (located units) and
/// `hypervision_live_units_evicted_total{reason="capacity"|"silent"}`. Handles are made once;
/// ``observe(_:)`` is what the picture calls when its count changes.
public final class LiveUnitMetrics: Sendable {
    private let live: Gauge
    private let evictedAtCapacity: Counter
    private let evictedSilent: Counter

    public init(factory: any MetricsFactory) {
        live = Gauge(label: "hypervision_live_units", factory: factory)
        evictedAtCapacity = Counter(label: "hypervision_live_units_evicted_total", dimensions: [("reason", "capacity")], factory: factory)
        evictedSilent = Counter(label: "hypervision_live_units_evicted_total", dimensions: [("reason", "silent")], factory: factory)
        live.record(0)
        evictedAtCapacity.increment(by: 0)
        evictedSilent.increment(by: 0)
    }

    /// For ``LivePicture``'s `onUnitCountChange`.
    public func observe(_ change: LiveUnitCountChange) {
        live.record(change.count)
        if change.forgotten.atCapacity > 0 { evictedAtCapacity.increment(by: change.forgotten.atCapacity) }
        if change.forgotten.silent > 0 { evictedSilent.increment(by: change.forgotten.silent) }
    }
}

/// Forgets the live picture's silent units now and then (``LivePicture/forgetSilentUnits()``).
///
/// Every quarter of `forgetAfter`, at most every minute: a unit is forgotten at most that long
/// after it qualifies, and a pass costs one scan of the receive times (a fraction of a
/// millisecond for 200,000 units).
public struct LiveUnitKeeper: Service {
    let picture: LivePicture
    let logger: Logger

    public init(picture: LivePicture, logger: Logger) {
        self.picture = picture
        self.logger = logger
    }

    /// The time between passes for a `forgetAfter` in seconds.
    static func interval(forgetAfter: Double) -> Duration {
        .milliseconds(Int64(min(60, max(1, forgetAfter / 4)) * 1_000))
    }

    public func run() async throws {
        guard let forgetAfter = picture.configuration.forgetAfter else {
            try? await gracefulShutdown()
            return
        }
        let interval = Self.interval(forgetAfter: forgetAfter)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let forgotten = picture.forgetSilentUnits()
            if forgotten > 0 {
                logger.info(
                    "live picture: silent units forgotten",
                    metadata: ["units": "\(forgotten)", "silentFor": "\(Int(forgetAfter)) s", "live": "\(picture.unitCount)"])
            }
            // Ends early at a graceful shutdown: a stop never waits for the next pass.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
