import Foundation
import HypervisionHTTP
import HypervisionNetwork
import HypervisionStore
import HypervisionStream
import ServiceLifecycle

/// Announces this daemon to the others every ``ClusterDirectory/heartbeatInterval``: where it is
/// reached and which walls it lays out (see ``ClusterDirectory``), and notes itself there too.
struct ClusterHeartbeat: Service {
    let node: String
    let http: String
    let subscriptions: String
    let ownership: WallOwnership
    let directory: ClusterDirectory
    let publisher: LiveFeedPublisher

    /// The addresses announced, from `cluster.advertise` (or the host name) and the ports.
    init(
        configuration: DaemonConfiguration, ownership: WallOwnership, directory: ClusterDirectory, publisher: LiveFeedPublisher
    ) {
        let host = configuration.cluster.advertise.isEmpty ? ProcessInfo.processInfo.hostName : configuration.cluster.advertise
        let bracketed = host.contains(":") ? "[\(host)]" : host
        node = configuration.cluster.node
        http = "\(configuration.api.tls.isEnabled ? "https" : "http")://\(bracketed):\(configuration.api.port)"
        subscriptions = "\(bracketed):\(configuration.stream.subscriptions.port)"
        self.ownership = ownership
        self.directory = directory
        self.publisher = publisher
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let me = ClusterDirectory.Member(
                node: node, http: http, subscriptions: subscriptions, walls: ownership.ownedWalls.sorted())
            directory.note(me)
            publisher.offer(messages: [ClusterDirectory.announcement(me)])
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: ClusterDirectory.heartbeatInterval) }
        }
    }
}
