import Hummingbird
import HypervisionCore
import NIOCore

/// An error answer of the HTTP API, thrown by handlers and middleware and written once, by
/// ``APIErrorMiddleware``, as the documented body `{"error":{"code":…,"message":…}}`.
///
/// `code` is stable (clients and tests match on it); `message` is for people. `details` are
/// further members of the error object (a wall's `problems`), `headers` go with the answer
/// (`Retry-After`).
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var details: [String: JSONValue]
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ code: String, _ message: String, details: [String: JSONValue] = [:], headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    /// A refusal of the validator or a decoder: 400 with its code.
    public init(_ error: ValidationError) {
        self.init(.badRequest, error.code.rawValue, error.message)
    }

    public static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }

    public static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }

    /// 413 `body_too_large`: the body is over the endpoint's limit.
    public static func tooLarge(_ message: String) -> APIError { APIError(.contentTooLarge, "body_too_large", message) }

    /// 413 with its own code: what the body asks for is over a limit (`too_many_items`).
    public static func tooLarge(_ code: String, _ message: String) -> APIError { APIError(.contentTooLarge, code, message) }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// The error object's JSON, canonical (keys sorted).
    public var body: JSONValue {
        var error = details
        error["code"] = .string(code)
        error["message"] = .string(message)
        return .object(["error": .object(error)])
    }

    public func response(from request: Request, context: some RequestContext) -> Response { response }

    /// The answer: status, the JSON error body, and the headers.
    public var response: Response {
        var fields: HTTPFields = [.contentType: "application/json"]
        for field in headers where field.name != .contentType && field.name != .contentLength { fields.append(field) }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body.encoded())))
    }

    /// The error body as a response, for code that answers rather than throws (a protocol
    /// adapter, a middleware that stops a request).
    public static func response(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        APIError(status, code, message).response
    }
}
