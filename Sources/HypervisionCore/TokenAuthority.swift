import Crypto

/// What a token allows. `subscribe:WALL` is per wall; the others are global.
public struct Scope: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let ingest = Scope(rawValue: "ingest")
    public static let query = Scope(rawValue: "query")
    public static let admin = Scope(rawValue: "admin")
    public static func subscribe(wall: String) -> Scope { Scope(rawValue: "subscribe:\(wall)") }

    /// Whether the string names a scope Hypervision knows.
    public var isKnown: Bool {
        [Scope.ingest, .query, .admin].contains(self) || (rawValue.hasPrefix("subscribe:") && rawValue.count > 10)
    }
}

/// One configured token: a name for logs, the SHA-256 of the secret, and its scopes. Only the
/// hash is ever configured, so a leaked configuration file does not leak a usable token.
public struct AccessToken: Sendable, Hashable {
    public var name: String
    public var sha256: [UInt8]
    public var scopes: Set<Scope>

    public init(name: String, sha256: [UInt8], scopes: Set<Scope>) {
        self.name = name
        self.sha256 = sha256
        self.scopes = scopes
    }

    /// Parses `NAME:SHA256HEX:SCOPE+SCOPE`, the form tokens take in the configuration.
    public init(specification: String) throws(TokenSpecificationError) {
        let parts = specification.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw TokenSpecificationError("token \"\(specification.prefix(20))…\" must be NAME:SHA256HEX:SCOPE+SCOPE")
        }
        let name = String(parts[0])
        guard !name.isEmpty else { throw TokenSpecificationError("token has an empty name") }
        guard let digest = Hex.decode(parts[1]), digest.count == 32 else {
            throw TokenSpecificationError("token \(name): the hash must be 64 hexadecimal digits (SHA-256 of the token)")
        }
        let scopes = parts[2].split(separator: "+").map { Scope(rawValue: String($0)) }
        guard !scopes.isEmpty else { throw TokenSpecificationError("token \(name) has no scopes") }
        if let unknown = scopes.first(where: { !$0.isKnown }) {
            throw TokenSpecificationError(
                "token \(name): unknown scope \"\(unknown)\" (ingest, query, admin, subscribe:WALL)")
        }
        self.init(name: name, sha256: digest, scopes: Set(scopes))
    }

    /// The hex SHA-256 of a secret, as it goes in the configuration.
    public static func hash(secret: String) -> String {
        Hex.encode(SHA256.hash(data: Array(secret.utf8)))
    }
}

/// A token specification that cannot be used, with the reason.
public struct TokenSpecificationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Decides what a presented secret may do. With no tokens configured, authentication is off
/// (the daemon then listens on loopback only).
public struct TokenAuthority: Sendable {
    public let tokens: [AccessToken]

    public init(tokens: [AccessToken]) { self.tokens = tokens }

    public var isEnabled: Bool { !tokens.isEmpty }

    /// The outcome of checking a request's credentials against a required scope.
    public enum Decision: Sendable, Equatable {
        case allowed(tokenName: String?)
        case unauthenticated(String)
        case forbidden(String)
    }

    public func authorize(secret: String?, for scope: Scope) -> Decision {
        guard isEnabled else { return .allowed(tokenName: nil) }
        guard let secret, !secret.isEmpty else { return .unauthenticated("a bearer token is required") }
        let digest = Array(SHA256.hash(data: Array(secret.utf8)))
        // Compare against every token, in constant time per token, so timing says nothing.
        var match: AccessToken?
        for token in tokens where constantTimeEqual(token.sha256, digest) { match = token }
        guard let match else { return .unauthenticated("unknown token") }
        guard match.scopes.contains(scope) || match.scopes.contains(.admin) else {
            return .forbidden("token \(match.name) lacks the \(scope) scope")
        }
        return .allowed(tokenName: match.name)
    }

    /// The token in an `Authorization: Bearer …` header value.
    public static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: " ")
    }
}

private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
