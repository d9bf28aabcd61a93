import Hummingbird
import HypervisionCore
import HypervisionStore
import Logging
import NIOCore

/// The last word on every error a route lets escape: each one becomes the documented JSON error
/// body, `{"error":{"code":…,"message":…}}`, never Hummingbird's default of an empty 500.
///
/// - A database that ended the statement at `statement_timeout` (SQLSTATE 57014): 503
///   `query_timeout`; one that did not answer within the call's deadline, or could not be
///   reached: 503 `database_unavailable`. Both with `Retry-After`: the request was fine, the
///   moment was not.
/// - A ``ValidationError``: 400 with its code.
/// - Hummingbird's own errors (no such route, a malformed parameter): their status, with a code
///   named after it (`not_found`, `bad_request`…).
/// - Anything else is a defect: 500 `internal_error`, and a log line with the error, the method
///   and the path so it can be found and fixed.
public struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let answer = APIFailure(error)
            if answer.status == .internalServerError {
                context.logger.error(
                    "request failed",
                    metadata: [
                        "error": "\(answer.logDescription)", "method": "\(request.method)",
                        "path": "\(request.uri.path.prefix(200))",
                    ])
            } else if answer.status == .serviceUnavailable {
                context.logger.warning(
                    "request refused: database", metadata: ["error": "\(answer.logDescription)", "path": "\(request.uri.path.prefix(200))"])
            }
            return answer.response
        }
    }
}

/// An error sorted into the answer a client gets (see ``APIErrorMiddleware``).
struct APIFailure {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]
    /// What the log says: the server's own message for database errors (postgres-nio redacts
    /// its description).
    var logDescription: String

    /// Seconds a client should wait before asking again after a 503.
    static let retryAfterUnavailable = "1"
    static let retryAfterTimeout = "5"

    init(_ error: any Error) {
        let unwrapped = DatabaseErrors.unwrap(error)
        logDescription = DatabaseErrors.describe(unwrapped)
        if let refusal = unwrapped as? ValidationError {
            (status, code, message) = (.badRequest, refusal.code.rawValue, refusal.message)
        } else if DatabaseErrors.sqlState(unwrapped) == "57014" {
            (status, code) = (.serviceUnavailable, "query_timeout")
            message = "the query ran longer than the database allows (statement_timeout) and was stopped; narrow it or retry later"
            headers[.retryAfter] = Self.retryAfterTimeout
        } else if Self.isDatabaseUnavailable(unwrapped) {
            (status, code) = (.serviceUnavailable, "database_unavailable")
            message = "the database did not answer in time (\(unwrapped)); retry later"
            headers[.retryAfter] = Self.retryAfterUnavailable
        } else if unwrapped is NIOTooManyBytesError {
            (status, code, message) = (.contentTooLarge, "body_too_large", "the body is larger than this endpoint accepts")
        } else if let http = unwrapped as? any HTTPResponseError {
            status = http.status
            code = Self.code(for: http.status)
            message = (unwrapped as? HTTPError)?.body ?? http.status.reasonPhrase
            if let http = unwrapped as? HTTPError { headers = http.headers }
        } else {
            (status, code) = (.internalServerError, "internal_error")
            message = "the server failed to answer this request; it has been logged"
        }
    }

    /// A database call past its deadline, a connection that closed or could not be opened: the
    /// database, not the request, is at fault. Errors from elsewhere are not guessed at.
    static func isDatabaseUnavailable(_ error: any Error) -> Bool {
        if error is DatabaseTimeout || error is DatabaseConnectionClosed { return true }
        return DatabaseErrors.isPostgresError(error) && DatabaseErrors.isConnectivity(error)
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: return "not_found"
        case .methodNotAllowed: return "method_not_allowed"
        case .contentTooLarge: return "body_too_large"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .unsupportedMediaType: return "unsupported_media_type"
        case .badRequest: return "bad_request"
        default:
            return status.code >= 500 ? "internal_error" : "bad_request"
        }
    }

    var response: Response {
        var response = APIError.response(status, code, message)
        for field in headers where field.name != .contentType && field.name != .contentLength { response.headers.append(field) }
        return response
    }
}
