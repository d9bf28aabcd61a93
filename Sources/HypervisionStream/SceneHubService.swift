import ServiceLifecycle

/// Runs the hub's timers (coalesced updates, heartbeats, stalled subscribers) and closes every
/// subscriber with `shutting_down` when the daemon stops.
public struct SceneHubService: Service {
    public let hub: SceneHub
    /// How often the timers are checked; the coalescing slot and heartbeat resolution.
    public var interval: Duration

    public init(hub: SceneHub, interval: Duration = .milliseconds(10)) {
        self.hub = hub
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            hub.tick()
        }
        hub.shutdown()
    }
}
