#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOPosix
import Synchronization

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
    public static func resolve(_ host: String) -> HostNameCheck {
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

    /// The check of each server of `endpoint`, in order, made by `resolver` on a thread of
    /// NIO's pool (a resolver blocks, for seconds when no DNS server answers).
    ///
    /// Cancellation ends the wait at once, with every server `undecided`: a daemon told to stop
    /// while it starts does not wait for a resolver's timeouts (the lookup itself finishes on its
    /// thread, unread).
    public static func check(
        _ endpoint: DatabaseEndpoint, resolver: @escaping @Sendable (String) -> HostNameCheck = resolve
    ) async -> [(server: String, check: HostNameCheck)] {
        let hosts = endpoint.servers.map(\.host)
        let checks = await answered(hosts, resolver: resolver)
            ?? hosts.map { _ in .undecided(reason: "the resolver was not asked, or not waited for") }
        return zip(endpoint.candidates, checks).map { ($0.serverDescription, $1) }
    }

    /// The answers, or nil when the task was cancelled first (or the pool is stopped).
    private static func answered(_ hosts: [String], resolver: @escaping @Sendable (String) -> HostNameCheck) async -> [HostNameCheck]? {
        enum Wait {
            case notYet
            case waiting(CheckedContinuation<[HostNameCheck]?, Never>)
            case over
        }
        let wait = Mutex(Wait.notYet)
        @Sendable func finish(_ answers: [HostNameCheck]?) {
            let continuation: CheckedContinuation<[HostNameCheck]?, Never>? = wait.withLock { wait in
                defer { wait = .over }
                if case .waiting(let continuation) = wait { return continuation }
                return nil
            }
            continuation?.resume(returning: answers)
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelled = wait.withLock { wait -> Bool in
                    if case .over = wait { return true }
                    wait = .waiting(continuation)
                    return false
                }
                if cancelled {
                    continuation.resume(returning: nil)
                    return
                }
                NIOThreadPool.singleton.submit { state in
                    finish(state == .active ? hosts.map(resolver) : nil)
                }
            }
        } onCancel: {
            finish(nil)
        }
    }
}
