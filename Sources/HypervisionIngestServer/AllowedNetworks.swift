import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Source networks allowed to send on a port that has no authentication of its own (UDP,
/// OsmAnd, Cursor-on-Target), as CIDR blocks such as `10.20.0.0/16` or `2001:db8::/32`.
public struct AllowedNetworks: Sendable, Hashable {
    struct Block: Sendable, Hashable {
        var address: [UInt8]
        var prefix: Int
    }

    var blocks: [Block]

    /// Loopback only: what a port without authentication accepts by default.
    public static let loopback = try! AllowedNetworks(["127.0.0.0/8", "::1/128"])
    /// Everyone (for a port deliberately left open).
    public static let anywhere = try! AllowedNetworks(["0.0.0.0/0", "::/0"])

    public init(_ specifications: [String]) throws(AllowedNetworksError) {
        blocks = []
        for specification in specifications {
            // An empty entry (`allowedNetworks: [""]`, a stray comma) is a mistake, not "nothing":
            // it is refused like any other bad entry rather than trapping on its missing parts.
            guard !specification.allSatisfy({ $0 == " " || $0 == "\t" }) else {
                throw AllowedNetworksError("an empty entry is not a network (write a CIDR block such as 10.20.0.0/16, or remove it)")
            }
            let parts = specification.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let address = Self.bytes(String(parts[0])) else {
                throw AllowedNetworksError("\"\(specification)\" is not an IPv4 or IPv6 network (e.g. 10.20.0.0/16)")
            }
            var prefix = address.count * 8
            if parts.count == 2 {
                guard let value = Int(parts[1]), (0...address.count * 8).contains(value) else {
                    throw AllowedNetworksError("\"\(specification)\" has a prefix length outside 0...\(address.count * 8)")
                }
                prefix = value
            }
            blocks.append(Block(address: address, prefix: prefix))
        }
    }

    /// Whether the sender's address falls in one of the blocks (IPv4-mapped IPv6 counts as IPv4).
    public func contains(_ address: SocketAddress?) -> Bool {
        guard let text = address?.ipAddress, var bytes = Self.bytes(text) else { return false }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        return blocks.contains { block in
            guard block.address.count == bytes.count else { return false }
            var remaining = block.prefix
            for i in 0..<bytes.count where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if bytes[i] & mask != block.address[i] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

/// A network specification that cannot be used, with the reason.
public struct AllowedNetworksError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Logs at most one line per interval and counts what it held back, so a flood of bad
/// datagrams cannot flood the journal.
public final class RateLimitedLog: Sendable {
    private let state = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))
    private let interval: Duration

    public init(interval: Duration = .seconds(10)) { self.interval = interval }

    /// Calls `emit` with the number of lines held back since the last one, or does nothing.
    public func log(_ emit: (_ suppressed: Int) -> Void) {
        let now = ContinuousClock.now
        let suppressed = state.withLock { state -> Int? in
            if let last = state.last, now - last < interval {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        if let suppressed { emit(suppressed) }
    }
}
