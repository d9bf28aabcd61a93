import Hummingbird
import HypervisionCore
import HypervisionStore

/// `GET /api/v1/cluster` (`query`): the daemons sharing this database (`cluster.node`), where
/// each is reached (its HTTP API and its scene subscription port) and which walls it lays out.
/// A renderer is given this list: when its daemon is lost it subscribes to another with `since`.
/// A daemon alone answers `"node": null` and no members.
public struct ClusterRoutes<Context: RequestContext>: Sendable {
    let node: String?
    let directory: ClusterDirectory?
    let authority: TokenAuthority

    public init(node: String?, directory: ClusterDirectory?, authority: TokenAuthority) {
        self.node = node
        self.directory = directory
        self.authority = authority
    }

    public var routes: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        let readers = routes.requiring(.scope(.query), of: authority)
        readers.get("/api/v1/cluster") { _, _ in
            let now = ContinuousClock.now
            let members: [JSONValue] = (directory?.current ?? []).map { member in
                let age = now - member.heardAt
                return .object([
                    "node": .string(member.node), "http": .string(member.http), "subscriptions": .string(member.subscriptions),
                    "walls": .array(member.walls.map { .string($0) }),
                    "heardSecondsAgo": .number((Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18).rounded(toPlaces: 1)),
                ])
            }
            return JSONDocument(.object(["node": node.map { .string($0) } ?? .null, "members": .array(members)]))
        }
        return routes
    }

    public func addRoutes(to router: Router<Context>) {
        router.addRoutes(routes)
    }
}

extension Double {
    fileprivate func rounded(toPlaces places: Int) -> Double {
        let scale = Double(Array(repeating: 10, count: places).reduce(1, *))
        return (self * scale).rounded() / scale
    }
}
