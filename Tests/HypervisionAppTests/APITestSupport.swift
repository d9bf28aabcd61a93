import Foundation
import HypervisionTestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange with every part a test may check: status, headers, raw body, parsed JSON.
struct APIExchange: CustomStringConvertible {
    var status: Int
    var headers: [String: String]
    var body: Data
    var json: Any?
    var elapsed: Duration

    var text: String { String(decoding: body, as: UTF8.self) }
    /// `error.code` of a JSON error body, or nil when the body is not one.
    var errorCode: String? { field(json, "error", "code") as? String }
    /// Whether the body is the documented error body: `{"error":{"code":"…","message":"…"}}`.
    var isErrorBody: Bool { errorCode != nil && field(json, "error", "message") is String }

    var description: String { "\(status) \(text.prefix(300))" }
}

extension APIDaemon {
    /// Sends `body` exactly as given (any bytes, not only UTF-8 text) and keeps the headers.
    func exchange(
        _ method: String, _ path: String, body: Data? = nil, token: String? = "admin-secret", contentType: String = "application/json"
    ) async throws -> APIExchange {
        guard let url = URL(string: "http://127.0.0.1:\(port)\(path)") else { throw TestFailure("not a URL path: \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let start = ContinuousClock.now
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return APIExchange(
            status: http.statusCode, headers: headers, body: data, json: try? JSONSerialization.jsonObject(with: data),
            elapsed: ContinuousClock.now - start)
    }

    func exchange(_ method: String, _ path: String, _ text: String, token: String? = "admin-secret") async throws -> APIExchange {
        try await exchange(method, path, body: Data(text.utf8), token: token)
    }
}
