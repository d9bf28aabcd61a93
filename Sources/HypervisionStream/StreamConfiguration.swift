import HypervisionConfiguration
import HypervisionNetwork
import NIOCore

/// The stream's configuration section: the scene subscription port (`subscriptions.*`, also
/// the limits of WebSocket subscribers) and the walls' layout loop (`walls.*`).
public struct StreamConfiguration: ConfigurationSection {
    public var subscriptionsEnabled = true
    /// The TCP subscription port; its `tls` is filled in from ``tls`` when the daemon starts.
    public var subscriptions = SubscriptionServerConfiguration()
    public var tls = TLSFiles(prefix: "subscriptions.tls")
    public var hub = SceneHub.Configuration()
    public var walls = WallService.Configuration()
    /// Wall definitions: every `*.json`, `*.yaml` or `*.yml` file in this directory.
    public var wallsDirectory = ""

    public init() {
        hub.maximumSubscribers = subscriptions.maximumConnections * 2
    }

    public static let keys = TLSFiles.keys("subscriptions.tls") + [
        "subscriptions.enabled", "subscriptions.port", "subscriptions.maxConnections", "subscriptions.maxUnsubscribed",
        "subscriptions.maxUnsubscribedPerAddress", "subscriptions.maxConnectionsPerAddress", "subscriptions.subscribeTimeoutSeconds",
        "subscriptions.history.maxPatches", "subscriptions.history.maxBytes", "subscriptions.maxMessagesPerSecond",
        "subscriptions.heartbeatSeconds", "walls.directory", "walls.intervalMs", "walls.keyframeSeconds", "walls.realtime",
    ]

    public init(reader r: SectionReader) throws(ConfigurationError) {
        self.init()
        subscriptionsEnabled = try r.bool("subscriptions.enabled", default: subscriptionsEnabled)
        subscriptions.port = try r.int("subscriptions.port", default: subscriptions.port, in: 0...65_535)
        tls = try TLSFiles(r, prefix: tls.prefix)
        subscriptions.maximumConnections = try r.int(
            "subscriptions.maxConnections", default: subscriptions.maximumConnections, in: 1...100_000)
        subscriptions.maximumUnsubscribed = try r.int(
            "subscriptions.maxUnsubscribed", default: subscriptions.maximumUnsubscribed, in: 1...100_000)
        subscriptions.maximumConnectionsPerAddress = try r.int(
            "subscriptions.maxConnectionsPerAddress", default: subscriptions.maximumConnectionsPerAddress, in: 1...100_000)
        subscriptions.maximumUnsubscribedPerAddress = try r.int(
            "subscriptions.maxUnsubscribedPerAddress", default: subscriptions.maximumUnsubscribedPerAddress, in: 1...100_000)
        subscriptions.subscribeTimeout = .seconds(Int64(try r.int("subscriptions.subscribeTimeoutSeconds", default: 10, in: 1...600)))
        hub.maximumSubscribers = subscriptions.maximumConnections * 2
        hub.history = SceneHistory.Limits(
            maximumPatches: try r.int("subscriptions.history.maxPatches", default: hub.history.maximumPatches, in: 1...1_000_000),
            maximumBytes: try r.int("subscriptions.history.maxBytes", default: hub.history.maximumBytes, in: 1_024...(1 << 34)))
        hub.subscriber = SubscriberStateMachine.Configuration(
            maximumMessagesPerSecond: Double(try r.int("subscriptions.maxMessagesPerSecond", default: 10, in: 1...1_000)),
            heartbeatInterval: .seconds(try r.int("subscriptions.heartbeatSeconds", default: 2, in: 1...60)))
        wallsDirectory = r.string("walls.directory", default: "")
        walls.interval = try r.duration("walls.intervalMs", default: 100, in: 10...60_000, unit: .milliseconds(1))
        walls.keyframeInterval = try r.duration("walls.keyframeSeconds", default: 60, in: 1...86_400)
        walls.realTimeRounds = try r.bool("walls.realtime", default: walls.realTimeRounds)
    }
}
