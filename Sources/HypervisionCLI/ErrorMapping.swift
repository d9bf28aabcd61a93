import HypervisionCore

/// Why a request never got an answer, as the transport reports it.
public enum TransportProblem: Sendable, Hashable {
    case connectionRefused
    case timedOut(seconds: Double)
    case hostNotFound
    case other(String)
}

/// The failure for a request that got no answer: "cannot reach hypervisiond at http://…: connection refused".
public func unreachable(_ baseURL: String, _ problem: TransportProblem) -> Failure {
    let reason: String
    switch problem {
    case .connectionRefused: reason = "connection refused (is hypervisiond running, and on this port?)"
    case .timedOut(let seconds): reason = "no answer within \(formatCoordinate(seconds)) s (see --timeout)"
    case .hostNotFound: reason = "unknown host"
    case .other(let text): reason = text
    }
    return Failure(exitStatus: Failure.unreachable, "cannot reach hypervisiond at \(baseURL): \(reason)")
}

/// The failure for an HTTP answer, or nil for a 2xx status.
///
/// Uses the daemon's error body `{"error":{"code":…,"message":…}}` when there is one, else the
/// start of the body as text. `settings` says whether a token was sent and where it came from.
public func failure(status: Int, body: [UInt8], settings: ConnectionSettings) -> Failure? {
    guard !(200..<300).contains(status) else { return nil }
    let detail = serverMessage(body) ?? reasonPhrase(status)
    switch status {
    case 401:
        guard let source = settings.tokenSource else {
            return Failure(
                exitStatus: Failure.refused,
                "no token given, and hypervisiond wants one (401): \(detail); "
                    + "pass --token, set HYPERVISION_TOKEN or add `token:` to ~/.config/hypervision/ctl.yaml")
        }
        return Failure(exitStatus: Failure.refused, "the token was refused (401): \(detail) (token from \(source))")
    case 403:
        return Failure(
            exitStatus: Failure.refused,
            "the token was refused (403): \(detail) (it lacks the scope for this; query is needed to read)")
    case 404:
        return Failure(exitStatus: Failure.notFound, "not found (404): \(detail)")
    case 400..<500:
        return Failure(exitStatus: Failure.daemonError, "hypervisiond refused the request (\(status)): \(detail)")
    default:
        return Failure(exitStatus: Failure.daemonError, "hypervisiond failed (\(status)): \(detail)")
    }
}

/// The `message` (and `code`) of the daemon's error body; else the body's first line when it is
/// short printable text; else nil.
func serverMessage(_ body: [UInt8]) -> String? {
    if let document = try? JSONValue(parsing: body), let error = document["error"] {
        let message = error["message"]?.stringValue
        let code = error["code"]?.stringValue
        switch (message, code) {
        case (let message?, let code?) where !message.isEmpty: return "\(message) [\(code)]"
        case (let message?, nil) where !message.isEmpty: return message
        case (_, let code?): return code
        default: break
        }
    }
    let text = String(decoding: body.prefix(200), as: UTF8.self).trimmed
    guard !text.isEmpty, !text.contains("\u{FFFD}") else { return nil }
    let firstLine = text.split(separator: "\n").first.map(String.init) ?? text
    return body.count > 200 || firstLine != text ? firstLine + " …" : firstLine
}

func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 400: "bad request"
    case 401: "unauthorized"
    case 403: "forbidden"
    case 404: "not found"
    case 405: "method not allowed"
    case 409: "conflict"
    case 413: "request too large"
    case 422: "unprocessable request"
    case 429: "too many requests"
    case 500: "internal error"
    case 502: "bad gateway"
    case 503: "service unavailable"
    case 504: "gateway timeout"
    default: "HTTP \(status)"
    }
}
