import HypervisionCore
import NIOSSL
import PostgresNIO

/// Where an external PostgreSQL server is and how to log in, read the way `psql` reads it:
/// a `postgres://` URL, with the libpq environment variables (`PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGTARGETSESSIONATTRS`) filling whatever the URL
/// leaves out.
///
/// Several hosts may be given, as libpq takes them (`postgresql://a:5432,b:5432/db` or
/// `host=a,b&port=5432,5433`, `PGHOST=a,b`): the daemon connects to the first that answers, or
/// with `target_session_attrs=read-write` (or `primary`) to the first that takes writes, and
/// looks again when it loses it (a failover: see ``Database``).
public struct DatabaseEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How hard to insist on TLS, with libpq's names and meanings.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// Which server of several to use, with libpq's names.
    public enum TargetSession: String, Sendable, Hashable, CaseIterable {
        /// The first that answers.
        case any
        /// The first that is not read-only (a primary).
        case readWrite = "read-write"
        /// The same, in libpq's newer spelling.
        case primary
    }

    /// One server: a TCP host name or address, or a directory holding its Unix socket.
    public struct Server: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int = 5432) {
            self.host = host
            self.port = port
        }
    }

    /// The servers, in the order they are tried; never empty.
    public var servers: [Server]
    public var targetSession: TargetSession = .any
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    public init(
        host: String, port: Int = 5432, user: String, password: String? = nil, database: String,
        sslMode: SSLMode = .prefer
    ) {
        self.servers = [Server(host: host, port: port)]
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
    }

    /// The first server's host (the only one, usually).
    public var host: String {
        get { servers[0].host }
        set { servers[0].host = newValue }
    }

    /// The first server's port.
    public var port: Int {
        get { servers[0].port }
        set { servers[0].port = newValue }
    }

    /// The first server, for logs: `host:port` or its socket.
    public var serverDescription: String { isUnixSocket ? "socket \(unixSocketPath)" : "\(host):\(port)" }

    /// This endpoint for each of its servers, in order.
    public var candidates: [DatabaseEndpoint] {
        servers.map { server in
            var one = self
            one.servers = [server]
            return one
        }
    }

    /// True when ``host`` names a socket directory rather than a network host.
    public var isUnixSocket: Bool { host.hasPrefix("/") }

    /// The socket file libpq would use: `<dir>/.s.PGSQL.<port>`.
    public var unixSocketPath: String { "\(host)/.s.PGSQL.\(port)" }

    /// The endpoint without its password, for logs and error messages.
    public var description: String {
        let locations = servers.map { $0.host.hasPrefix("/") ? "socket \($0.host)/.s.PGSQL.\($0.port)" : "\($0.host):\($0.port)" }
        let target = servers.count > 1 || targetSession != .any ? ", target_session_attrs \(targetSession.rawValue)" : ""
        return "postgres user \(user) database \(database) at \(locations.joined(separator: ", ")) (sslmode \(sslMode.rawValue)\(target))"
    }

    /// Whether the environment names an external server on its own (`PGHOST` set).
    public static func environmentSelectsServer(_ environment: [String: String]) -> Bool {
        environment["PGHOST"].map { !$0.isEmpty } ?? false
    }

    /// Builds an endpoint from an optional URL and the environment, as libpq does: the URL's
    /// parts win, the environment fills the rest, then libpq's defaults (socket directory
    /// `/var/run/postgresql`, port 5432, the operating-system user, a database named like the user).
    public static func resolve(
        url: String?, environment: [String: String], currentUser: String
    ) throws(DatabaseEndpointError) -> DatabaseEndpoint {
        var parsed = ParsedURL()
        if let url, !url.isEmpty { parsed = try ParsedURL.parse(url) }
        func env(_ key: String) -> String? {
            guard let value = environment[key], !value.isEmpty else { return nil }
            return value
        }
        let hostList = parsed.hosts ?? env("PGHOST").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            ?? ["/var/run/postgresql"]
        let portList = parsed.ports ?? env("PGPORT").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        // As libpq: one port for every host, or one port per host; an empty entry is the default.
        guard portList.count <= 1 || portList.count == hostList.count else {
            throw DatabaseEndpointError("\(hostList.count) hosts but \(portList.count) ports: give one port, or one per host")
        }
        var servers: [Server] = []
        for (index, host) in hostList.enumerated() {
            let portText = portList.isEmpty ? "" : portList[portList.count == 1 ? 0 : index]
            var port = 5432
            if !portText.isEmpty {
                guard let value = Int(portText), (1...65_535).contains(value) else {
                    throw DatabaseEndpointError("port \"\(portText)\" is not a number between 1 and 65535")
                }
                port = value
            }
            servers.append(Server(host: host.isEmpty ? "/var/run/postgresql" : host, port: port))
        }
        let user = parsed.user ?? env("PGUSER") ?? currentUser
        let password = parsed.password ?? env("PGPASSWORD")
        let database = parsed.database ?? env("PGDATABASE") ?? user
        let modeText = parsed.sslMode ?? env("PGSSLMODE") ?? "prefer"
        guard let sslMode = SSLMode(rawValue: modeText) else {
            throw DatabaseEndpointError(
                "sslmode \"\(modeText)\" is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let targetText = parsed.targetSession ?? env("PGTARGETSESSIONATTRS") ?? "any"
        guard let targetSession = TargetSession(rawValue: targetText) else {
            throw DatabaseEndpointError(
                "target_session_attrs \"\(targetText)\" is not one of \(TargetSession.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var endpoint = DatabaseEndpoint(host: "", user: user, password: password, database: database, sslMode: sslMode)
        endpoint.servers = servers
        endpoint.targetSession = targetSession
        return endpoint
    }

    private enum TLSChoice {
        case disable
        case prefer(TLSConfiguration)
        case require(TLSConfiguration)
    }

    /// libpq's sslmode as a TLS decision: prefer/require encrypt without checking the
    /// certificate, verify-ca checks the chain, verify-full the chain and the host name.
    private var tlsChoice: TLSChoice {
        var client = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable, .allow:
            return .disable
        case .prefer:
            client.certificateVerification = .none
            return .prefer(client)
        case .require:
            client.certificateVerification = .none
            return .require(client)
        case .verifyCA:
            client.certificateVerification = .noHostnameVerification
            return .require(client)
        case .verifyFull:
            return .require(client)
        }
    }

    /// The postgres-nio client (pool) configuration for this endpoint.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if isUnixSocket {
            configuration = .init(unixSocketPath: unixSocketPath, username: user, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch tlsChoice {
            case .disable: tls = .disable
            case .prefer(let context): tls = .prefer(context)
            case .require(let context): tls = .require(context)
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// A single-connection configuration, for probes that must fail fast with the real reason
    /// (a pool keeps retrying and makes callers wait instead).
    public func connectionConfiguration() -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if isUnixSocket {
            configuration = .init(unixSocketPath: unixSocketPath, username: user, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch tlsChoice {
            case .disable: tls = .disable
            case .prefer(let context): tls = try! .prefer(.init(configuration: context))
            case .require(let context): tls = try! .require(.init(configuration: context))
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    private struct ParsedURL {
        var hosts: [String]?
        var ports: [String]?
        var targetSession: String?
        var user: String?
        var password: String?
        var database: String?
        var sslMode: String?

        static func parse(_ url: String) throws(DatabaseEndpointError) -> ParsedURL {
            var result = ParsedURL()
            var rest: Substring
            if url.hasPrefix("postgres://") {
                rest = url.dropFirst("postgres://".count)
            } else if url.hasPrefix("postgresql://") {
                rest = url.dropFirst("postgresql://".count)
            } else {
                throw DatabaseEndpointError("database URL must start with postgres:// or postgresql://")
            }
            var query: Substring = ""
            if let q = rest.firstIndex(of: "?") {
                query = rest[rest.index(after: q)...]
                rest = rest[..<q]
            }
            var path: Substring = ""
            if let slash = rest.firstIndex(of: "/") {
                path = rest[rest.index(after: slash)...]
                rest = rest[..<slash]
            }
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                if let colon = credentials.firstIndex(of: ":") {
                    result.user = try decode(credentials[..<colon])
                    result.password = try decode(credentials[credentials.index(after: colon)...])
                } else {
                    result.user = try decode(credentials)
                }
            }
            // Hosts: `a`, `a:5432`, `[::1]:5432`, several separated by commas.
            if !rest.isEmpty {
                var hosts: [String] = []
                var ports: [String] = []
                for part in Self.splitHosts(rest) {
                    var host: Substring = part
                    var port: Substring = ""
                    if part.hasPrefix("[") {
                        guard let close = part.firstIndex(of: "]") else {
                            throw DatabaseEndpointError("database URL has an unterminated [IPv6] host")
                        }
                        host = part[part.index(after: part.startIndex)..<close]
                        let after = part[part.index(after: close)...]
                        if after.hasPrefix(":") { port = after.dropFirst() }
                    } else if let colon = part.lastIndex(of: ":") {
                        host = part[..<colon]
                        port = part[part.index(after: colon)...]
                    }
                    hosts.append(try decode(host))
                    ports.append(String(port))
                }
                if hosts.contains(where: { !$0.isEmpty }) { result.hosts = hosts }
                if ports.contains(where: { !$0.isEmpty }) { result.ports = ports }
            }
            if !path.isEmpty { result.database = try decode(path) }
            for pair in query.split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1)
                let key = String(parts[0])
                let value = parts.count > 1 ? try decode(parts[1]) : ""
                switch key {
                case "sslmode": result.sslMode = value
                case "host": result.hosts = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                case "port": result.ports = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                case "target_session_attrs": result.targetSession = value
                case "user": result.user = value
                case "password": result.password = value
                case "dbname": result.database = value
                case "application_name", "connect_timeout": break
                default:
                    throw DatabaseEndpointError("database URL parameter \"\(key)\" is not supported")
                }
            }
            return result
        }

        /// Splits `a:1,[::1]:2,b` at the commas that separate hosts (not those inside brackets).
        static func splitHosts(_ text: Substring) -> [Substring] {
            var parts: [Substring] = []
            var start = text.startIndex
            var inBrackets = false
            var index = text.startIndex
            while index < text.endIndex {
                switch text[index] {
                case "[": inBrackets = true
                case "]": inBrackets = false
                case "," where !inBrackets:
                    parts.append(text[start..<index])
                    start = text.index(after: index)
                default: break
                }
                index = text.index(after: index)
            }
            parts.append(text[start...])
            return parts
        }

        static func decode(_ text: Substring) throws(DatabaseEndpointError) -> String {
            var bytes: [UInt8] = []
            var iterator = Array(text.utf8).makeIterator()
            while let byte = iterator.next() {
                if byte == UInt8(ascii: "%") {
                    guard let h = iterator.next(), let l = iterator.next(), let hi = Hex.value(of: h), let lo = Hex.value(of: l) else {
                        throw DatabaseEndpointError("database URL has a malformed %-escape")
                    }
                    bytes.append(hi << 4 | lo)
                } else {
                    bytes.append(byte)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// A database URL or libpq variable that cannot be used, with the reason.
public struct DatabaseEndpointError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// Every server named answered, and every one is a standby: a failover under way, or (if it
    /// lasts) a connection string that names no primary.
    public var everyServerIsAStandby = false
    public init(_ message: String, everyServerIsAStandby: Bool = false) {
        self.message = message
        self.everyServerIsAStandby = everyServerIsAStandby
    }
    public var description: String { message }
}
