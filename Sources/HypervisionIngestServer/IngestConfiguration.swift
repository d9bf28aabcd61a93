import HypervisionConfiguration
import HypervisionNetwork
import NIOCore

/// The TCP, UDP and Cursor-on-Target ingest ports' configuration section: `ingest.tcp.*`,
/// `ingest.udp.*`, `ingest.cot.*`. (The HTTP ingest and OsmAnd ports are the HTTP module's.)
public struct IngestConfiguration: ConfigurationSection, Hashable {
    public var tcpEnabled = true
    public var tcp = NDJSONIngestConfiguration()
    public var tcpTLS = TLSFiles(prefix: "ingest.tcp.tls")
    public var udpEnabled = true
    public var udp = UDPIngestConfiguration()
    public var cotEnabled = true
    public var cot = CoTIngestConfiguration()
    public var cotTLS = TLSFiles(prefix: "ingest.cot.tls")

    public init() {}

    public static let keys = TLSFiles.keys("ingest.tcp.tls") + TLSFiles.keys("ingest.cot.tls") + [
        "ingest.tcp.enabled", "ingest.tcp.port", "ingest.tcp.maxLineBytes", "ingest.tcp.idleTimeoutSeconds",
        "ingest.tcp.maxConnections", "ingest.tcp.maxUnauthenticated", "ingest.tcp.maxConnectionsPerAddress",
        "ingest.tcp.maxUnauthenticatedPerAddress", "ingest.tcp.authTimeoutSeconds", "ingest.udp.enabled", "ingest.udp.port",
        "ingest.udp.allowedNetworks", "ingest.cot.enabled", "ingest.cot.port", "ingest.cot.allowedNetworks",
        "ingest.cot.maxConnections", "ingest.cot.maxConnectionsPerAddress", "ingest.cot.idleTimeoutSeconds",
    ]

    public init(reader r: SectionReader) throws(ConfigurationError) {
        tcpEnabled = try r.bool("ingest.tcp.enabled", default: tcpEnabled)
        tcp.port = try r.int("ingest.tcp.port", default: tcp.port, in: 0...65_535)
        tcp.maximumLineBytes = try r.int("ingest.tcp.maxLineBytes", default: tcp.maximumLineBytes, in: 256...(16 << 20))
        tcp.idleTimeout = .seconds(Int64(try r.int("ingest.tcp.idleTimeoutSeconds", default: 300, in: 1...86_400)))
        tcp.maximumConnections = try r.int("ingest.tcp.maxConnections", default: tcp.maximumConnections, in: 1...100_000)
        tcp.maximumUnauthenticated = try r.int("ingest.tcp.maxUnauthenticated", default: tcp.maximumUnauthenticated, in: 1...100_000)
        tcp.maximumConnectionsPerAddress = try r.int(
            "ingest.tcp.maxConnectionsPerAddress", default: tcp.maximumConnectionsPerAddress, in: 1...100_000)
        tcp.maximumUnauthenticatedPerAddress = try r.int(
            "ingest.tcp.maxUnauthenticatedPerAddress", default: tcp.maximumUnauthenticatedPerAddress, in: 1...100_000)
        tcp.authenticationTimeout = .seconds(Int64(try r.int("ingest.tcp.authTimeoutSeconds", default: 10, in: 1...600)))
        tcpTLS = try TLSFiles(r, prefix: tcpTLS.prefix)
        cotEnabled = try r.bool("ingest.cot.enabled", default: cotEnabled)
        cot.port = try r.int("ingest.cot.port", default: cot.port, in: 0...65_535)
        cotTLS = try TLSFiles(r, prefix: cotTLS.prefix)
        cot.maximumConnections = try r.int("ingest.cot.maxConnections", default: cot.maximumConnections, in: 1...100_000)
        cot.maximumConnectionsPerAddress = try r.int(
            "ingest.cot.maxConnectionsPerAddress", default: cot.maximumConnectionsPerAddress, in: 1...100_000)
        cot.idleTimeout = .seconds(Int64(try r.int("ingest.cot.idleTimeoutSeconds", default: 300, in: 1...86_400)))
        if let networks = try AllowedNetworks.read(r, "ingest.cot.allowedNetworks") { cot.allowedNetworks = networks }
        udpEnabled = try r.bool("ingest.udp.enabled", default: udpEnabled)
        udp.port = try r.int("ingest.udp.port", default: udp.port, in: 0...65_535)
        if let networks = try AllowedNetworks.read(r, "ingest.udp.allowedNetworks") { udp.allowedNetworks = networks }
    }

    /// The UDP side of the CoT port: TAK clients send the same events as datagrams.
    public var cotDatagrams: UDPIngestConfiguration {
        var datagrams = UDPIngestConfiguration()
        datagrams.host = cot.host
        datagrams.port = cot.port
        datagrams.allowedNetworks = cot.allowedNetworks
        datagrams.format = .cursorOnTarget
        datagrams.name = "ingest.cot"
        return datagrams
    }

    /// Every listener on `host` (the daemon narrows it to loopback when no token is configured).
    public func listening(on host: String) -> IngestConfiguration {
        var copy = self
        copy.tcp.host = host
        copy.udp.host = host
        copy.cot.host = host
        return copy
    }
}

extension AllowedNetworks {
    /// The networks listed under `key`, nil when none are (the port's default stands).
    public static func read(_ r: SectionReader, _ key: String) throws(ConfigurationError) -> AllowedNetworks? {
        let specifications = r.strings(key)
        guard !specifications.isEmpty else { return nil }
        do {
            return try AllowedNetworks(specifications)
        } catch {
            throw ConfigurationError(key: key, problem: error.message)
        }
    }
}
