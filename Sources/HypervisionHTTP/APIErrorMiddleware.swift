import Hummingbird
import HypervisionCore
import HypervisionStore
import HypervisionStream
import Logging
import NIOCore
import HypervisionLayout

/// The last word on every error a route lets escape: each one becomes the documented JSON error
/// body, `{"error":{"code":…,"message":…}}`, never Hummingbird's default of an empty 500. This is
/// the one place where errors become answers; handlers throw and never build error responses.
///
/// - An ``APIError``: as it is (status, code, message, details, headers).
/// - Domain errors: a ``ValidationError`` is 400 with its code; a ``WallServiceError`` is 404
///   `not_found`, 409 `defined_by_file` or 400 `wall_invalid` with its `problems`; an
///   `IncidentStoreError` is 409 `duplicate_id`, 404 `not_found` or 409 `incident_closed`; a
///   refused ping write is 503 (`Retry-After: 1`), or 500 `rejected_by_database`.
/// - A database that ended the statement at `statement_timeout` (SQLSTATE 57014): 503
///   `query_timeout`; one that did not answer within the call's deadline, or could not be
///   reached: 503 `database_unavailable`. Both with `Retry-After`: the request was fine, the
///   moment was not.
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
            if answer.isDefect {
                context.logger.error(
                    "request failed",
                    metadata: [
                        "error": "\(answer.logDescription)", "method": "\(request.method)",
                        "path": "\(request.uri.path.prefix(200))",
                    ])
            } else if answer.isDatabaseRefusal {
                context.logger.warning(
                    "request refused: database", metadata: ["error": "\(answer.logDescription)", "path": "\(request.uri.path.prefix(200))"])
            }
            return answer.error.response
        }
    }
}

/// An error sorted into the answer a client gets (see ``APIErrorMiddleware``).
struct APIFailure {
    var error: APIError
    /// What the log says: the server's own message for database errors (postgres-nio redacts
    /// its description).
    var logDescription: String
    /// A 500 nobody meant: logged as a defect.
    var isDefect = false
    /// A 503 because of the database: logged as a warning.
    var isDatabaseRefusal = false

    /// Seconds a client should wait before asking again after a 503.
    static let retryAfterUnavailable = "1"
    static let retryAfterTimeout = "5"

    init(_ thrown: any Error) {
        let unwrapped = DatabaseErrors.unwrap(thrown)
        logDescription = DatabaseErrors.describe(unwrapped)
        if let answer = unwrapped as? APIError {
            error = answer
        } else if let refusal = unwrapped as? ValidationError {
            error = APIError(refusal)
        } else if let refusal = unwrapped as? WallServiceError {
            error = Self.answer(refusal)
        } else if let refusal = unwrapped as? IncidentStoreError {
            error = Self.answer(refusal)
        } else if let refusal = unwrapped as? PingWriterError {
            error = Self.answer(refusal)
        } else if DatabaseErrors.sqlState(unwrapped) == "57014" {
            error = APIError(
                .serviceUnavailable, "query_timeout",
                "the query ran longer than the database allows (statement_timeout) and was stopped; narrow it or retry later",
                headers: [.retryAfter: Self.retryAfterTimeout])
            isDatabaseRefusal = true
        } else if Self.isDatabaseUnavailable(unwrapped) {
            error = APIError(
                .serviceUnavailable, "database_unavailable", "the database did not answer in time (\(unwrapped)); retry later",
                headers: [.retryAfter: Self.retryAfterUnavailable])
            isDatabaseRefusal = true
        } else if unwrapped is NIOTooManyBytesError {
            error = .tooLarge("the body is larger than this endpoint accepts")
        } else if let http = unwrapped as? any HTTPResponseError {
            error = APIError(
                http.status, Self.code(for: http.status), (unwrapped as? HTTPError)?.body ?? http.status.reasonPhrase,
                headers: (unwrapped as? HTTPError)?.headers ?? [:])
            isDefect = http.status == .internalServerError
        } else {
            error = APIError(.internalServerError, "internal_error", "the server failed to answer this request; it has been logged")
            isDefect = true
        }
    }

    static func answer(_ refusal: WallServiceError) -> APIError {
        switch refusal {
        case .unknownWall: return .notFound(refusal.description)
        case .definedByFile: return APIError(.conflict, "defined_by_file", refusal.description)
        case .invalid(let problems):
            return APIError(
                .badRequest, "wall_invalid", problems.description,
                details: [
                    "problems": .array(
                        problems.problems.map { .object(["code": .string($0.code.rawValue), "path": .string($0.path), "message": .string($0.message)]) })
                ])
        }
    }

    static func answer(_ refusal: IncidentStoreError) -> APIError {
        switch refusal {
        case .duplicateID: return APIError(.conflict, "duplicate_id", refusal.description)
        case .notFound: return .notFound(refusal.description)
        case .closed: return APIError(.conflict, "incident_closed", refusal.description)
        }
    }

    /// A ping write that could not be made durable: the database refused the rows (a defect
    /// of ours or of the data: 500 with its code), or it and the spool are unavailable (503).
    static func answer(_ refusal: PingWriterError) -> APIError {
        if refusal.code == .rejectedByDatabase { return APIError(.internalServerError, refusal.code.rawValue, refusal.message) }
        return APIError(.serviceUnavailable, refusal.code.rawValue, refusal.message, headers: [.retryAfter: "1"])
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
}
