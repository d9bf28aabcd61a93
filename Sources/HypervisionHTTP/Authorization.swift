import Hummingbird
import HypervisionCore

/// What a route asks of the caller's token.
public enum AccessRequirement: Sendable, Hashable {
    /// A bearer token with this scope (or `admin`).
    case scope(Scope)
    /// A renderer's token for the wall named by the path parameter (`subscribe:WALL`), or an
    /// operator's (`query`). The token may also come as `?token=`: a browser page cannot set
    /// headers on every request it makes.
    case wallReader(parameter: String)
}

/// Authentication and scopes as middleware: a request whose token does not meet the route's
/// ``AccessRequirement`` is answered 401 or 403 before its handler runs (and before its body is
/// read). Routes are added to a group per requirement:
///
/// ```swift
/// let operators = router.group().add(middleware: RequireAccess(authority, .scope(.query)))
/// operators.get("/api/v1/walls") { … }
/// ```
public struct RequireAccess<Context: RequestContext>: RouterMiddleware {
    let authority: TokenAuthority
    let requirement: AccessRequirement

    public init(_ authority: TokenAuthority, _ requirement: AccessRequirement) {
        self.authority = authority
        self.requirement = requirement
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try authority.check(request, parameters: context.parameters, requirement)
        return try await next(request, context)
    }
}

extension TokenAuthority {
    /// Throws the 401 or 403 ``APIError`` when the request's token does not meet `requirement`.
    func check(_ request: Request, parameters: Parameters, _ requirement: AccessRequirement) throws(APIError) {
        let bearer = TokenAuthority.bearer(request.headers[.authorization])
        switch requirement {
        case .scope(let scope):
            if let refusal = Self.refusal(authorize(secret: bearer, for: scope)) { throw refusal }
        case .wallReader(let parameter):
            let wall = parameters.get(parameter) ?? ""
            let secret = bearer ?? request.uri.queryParameters["token"].map(String.init)
            if case .allowed = authorize(secret: secret, for: .subscribe(wall: wall)) { return }
            switch authorize(secret: secret, for: .query) {
            case .allowed: return
            case .unauthenticated(let reason): throw APIError(.unauthorized, "unauthorized", reason)
            case .forbidden: throw APIError(.forbidden, "forbidden", "the token lacks subscribe:\(wall) and query")
            }
        }
    }

    /// The one place a decision becomes an answer: nil when allowed, else 401 `unauthorized`
    /// (no token, or an unknown one) or 403 `forbidden` (a known token without the scope).
    static func refusal(_ decision: Decision) -> APIError? {
        switch decision {
        case .allowed: return nil
        case .unauthenticated(let reason): return APIError(.unauthorized, "unauthorized", reason)
        case .forbidden(let reason): return APIError(.forbidden, "forbidden", reason)
        }
    }

    /// The 401 or 403 answer for a request whose bearer token does not grant `scope`, or nil
    /// when it does. For code outside a router (a protocol adapter); routes use ``RequireAccess``.
    func refusal(of request: Request, for scope: Scope) -> Response? {
        Self.refusal(authorize(secret: TokenAuthority.bearer(request.headers[.authorization]), for: scope))?.response
    }
}

extension RouterMethods {
    /// A group of routes that all require `requirement` of the caller's token.
    func requiring(_ requirement: AccessRequirement, of authority: TokenAuthority) -> RouterGroup<Context> {
        group().add(middleware: RequireAccess<Context>(authority, requirement))
    }
}
