import NIOCore
// SocketAddress hands out sockaddr_in/sockaddr_in6 as the C module NIO imported them through.
#if canImport(CNIOLinux)
import CNIOLinux
#endif

/// The key a client is counted under by the per-address limits.
///
/// IPv4 clients count by their address. IPv6 clients count by their /64: one host usually gets a
/// whole /64, so counting single IPv6 addresses would let one host take any number of slots.
/// IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) count as the IPv4 address they carry, and Unix
/// domain sockets all count as one local client.
public enum ClientAddress: Sendable, Hashable, CustomStringConvertible {
    case ipv4(UInt32)
    /// The first 64 bits of the address.
    case ipv6Prefix(UInt64)
    case local

    public init(_ address: SocketAddress?) {
        switch address {
        case .v4(let v4)?:
            self = .ipv4(UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6)?:
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            // ::ffff:a.b.c.d
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                self = .ipv4(bytes[12...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            } else {
                self = .ipv6Prefix(bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            }
        case .unixDomainSocket?, nil:
            self = .local
        }
    }

    public var description: String {
        switch self {
        case .ipv4(let value):
            return [24, 16, 8, 0].map { String((value >> $0) & 0xFF) }.joined(separator: ".")
        case .ipv6Prefix(let value):
            let groups = [48, 32, 16, 0].map { String((value >> $0) & 0xFFFF, radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        case .local:
            return "local"
        }
    }
}
