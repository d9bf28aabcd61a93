import HypervisionCore
import NIOSSL
import PostgresNIO

/// Where an external PostgreSQL server is and how to log in, read the way `psql` reads it:
/// a `postgres://` URL, with the libpq environment variables (`PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`) filling whatever the URL leaves out.
public struct DatabaseEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How hard to insist on TLS, with libpq's names and meanings.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// A TCP host name or address, or a directory holding the server's Unix socket.
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    public init(
        host: String, port: Int = 5432, user: String, password: String? = nil, database: String,
        sslMode: SSLMode = .prefer
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
    }

    /// True when ``host`` names a socket directory rather than a network host.
    public var isUnixSocket: Bool { host.hasPrefix("/") }

    /// The socket file libpq would use: `<dir>/.s.PGSQL.<port>`.
    public var unixSocketPath: String { "\(host)/.s.PGSQL.\(port)" }

    /// The endpoint without its password, for logs and error messages.
    public var description: String {
        let location = isUnixSocket ? "socket \(unixSocketPath)" : "\(host):\(port)"
        return "postgres user \(user) database \(database) at \(location) (sslmode \(sslMode.rawValue))"
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
        let host = parsed.host ?? env("PGHOST") ?? "/var/run/postgresql"
        let portText = parsed.port ?? env("PGPORT")
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65_535).contains(value) else {
                throw DatabaseEndpointError("port \"\(portText)\" is not a number between 1 and 65535")
            }
            port = value
        }
        let user = parsed.user ?? env("PGUSER") ?? currentUser
        let password = parsed.password ?? env("PGPASSWORD")
        let database = parsed.database ?? env("PGDATABASE") ?? user
        let modeText = parsed.sslMode ?? env("PGSSLMODE") ?? "prefer"
        guard let sslMode = SSLMode(rawValue: modeText) else {
            throw DatabaseEndpointError(
                "sslmode \"\(modeText)\" is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return DatabaseEndpoint(host: host, port: port, user: user, password: password, database: database, sslMode: sslMode)
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
        var host: String?
        var port: String?
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
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else {
                    throw DatabaseEndpointError("database URL has an unterminated [IPv6] host")
                }
                result.host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                if after.hasPrefix(":") { result.port = String(after.dropFirst()) }
            } else if let colon = rest.lastIndex(of: ":") {
                result.host = try decode(rest[..<colon])
                result.port = String(rest[rest.index(after: colon)...])
            } else if !rest.isEmpty {
                result.host = try decode(rest)
            }
            if result.host?.isEmpty == true { result.host = nil }
            if result.port?.isEmpty == true { result.port = nil }
            if !path.isEmpty { result.database = try decode(path) }
            for pair in query.split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1)
                let key = String(parts[0])
                let value = parts.count > 1 ? try decode(parts[1]) : ""
                switch key {
                case "sslmode": result.sslMode = value
                case "host": result.host = value
                case "port": result.port = value
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
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
