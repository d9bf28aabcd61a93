import HypervisionIngestServer
import NIOCore
import Testing

@Suite struct AllowedNetworksTests {
    func allows(_ networks: AllowedNetworks, _ ip: String) throws -> Bool {
        networks.contains(try SocketAddress(ipAddress: ip, port: 1))
    }

    @Test func blocksMatchByPrefix() throws {
        let networks = try AllowedNetworks(["10.20.0.0/16", "2001:db8::/32", "192.168.1.7"])
        #expect(try allows(networks, "10.20.5.1"))
        #expect(try !allows(networks, "10.21.0.1"))
        #expect(try allows(networks, "2001:db8:1::5"))
        #expect(try !allows(networks, "2001:db9::1"))
        #expect(try allows(networks, "::ffff:10.20.0.9"))  // IPv4-mapped IPv6
        #expect(try allows(networks, "192.168.1.7") && !allows(networks, "192.168.1.8"))
        #expect(try allows(.loopback, "127.0.0.1") && allows(.loopback, "::1") && !allows(.loopback, "10.0.0.1"))
        #expect(!networks.contains(nil))
    }

    @Test func badBlocksSayWhy() {
        #expect(throws: AllowedNetworksError.self) { try AllowedNetworks(["10.0.0.0/33"]) }
        #expect(throws: AllowedNetworksError.self) { try AllowedNetworks(["example.org/8"]) }
        // These trapped (an empty entry has no address part to read) instead of being refused.
        #expect(throws: AllowedNetworksError.self) { try AllowedNetworks([""]) }
        #expect(throws: AllowedNetworksError.self) { try AllowedNetworks(["  "]) }
        #expect(throws: AllowedNetworksError.self) { try AllowedNetworks(["/8"]) }
        #expect(throws: AllowedNetworksError.self) { try AllowedNetworks(["10.0.0.0/"]) }
    }

    @Test func theRateLimitedLogHoldsBackAndCounts() {
        let log = RateLimitedLog(interval: .seconds(60))
        var emitted: [Int] = []
        for _ in 0..<5 { log.log { emitted.append($0) } }
        #expect(emitted == [0])
    }
}
