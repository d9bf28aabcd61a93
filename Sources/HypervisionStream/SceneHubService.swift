import ServiceLifecycle

/// Runs the hub's timers (coalesced updates, heartbeats, stalled subscribers) and closes every
/// subscriber with `shutting_down` when the daemon stops.
public struct SceneHubService: Service {
    public let hub: SceneHub
    /// The longest the timers sleep; they wake earlier when a subscriber's slot, heartbeat or
    /// stall deadline is due sooner.
    public var interval: Duration

    public init(hub: SceneHub, interval: Duration = .milliseconds(10)) {
        self.hub = hub
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await hub.waitForTimers(next: hub.tick(), longest: interval)
        }
        hub.shutdown()
    }
}
