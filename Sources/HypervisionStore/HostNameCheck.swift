#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOPosix

/// What the resolver says of a server's host name, told apart the way a configuration check
/// needs: a name that does not exist (a typo, a host never created) is a mistake that no retry
/// mends, while a resolver that cannot answer now (no network yet at boot, a DNS server down)
/// is a wait like any other.
public enum HostNameCheck: Sendable, Equatable {
    /// The name resolves, or is an address or a socket directory.
    case known
    /// The resolver answered that the name does not exist (`EAI_NONAME`).
    case unknown(reason: String)
    /// The resolver could not tell now (`EAI_AGAIN` and the like).
    case undecided(reason: String)

    /// Asks the system resolver (`getaddrinfo`, as NIO does when it connects) about `host`.
    /// Blocking; ``check(_:)`` runs it off the cooperative pool.
    static func resolve(_ host: String) -> HostNameCheck {
        if host.hasPrefix("/") || host.isEmpty { return .known }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        if let result { freeaddrinfo(result) }
        switch status {
        case 0: return .known
        case EAI_NONAME: return .unknown(reason: String(cString: gai_strerror(status)))
        default: return .undecided(reason: String(cString: gai_strerror(status)))
        }
    }

    /// The check of each server of `endpoint`, in order.
    public static func check(_ endpoint: DatabaseEndpoint) async -> [(server: String, check: HostNameCheck)] {
        let hosts = endpoint.servers.map(\.host)
        let checks = (try? await NIOThreadPool.singleton.runIfActive { hosts.map(resolve) })
            ?? hosts.map { _ in .undecided(reason: "the resolver could not be asked") }
        return zip(endpoint.candidates, checks).map { ($0.serverDescription, $1) }
    }
}
