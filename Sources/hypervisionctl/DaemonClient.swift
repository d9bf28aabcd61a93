import HypervisionCLI
import HypervisionCore
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Sends ``APIRequest``s to hypervisiond over HTTP and turns every way that can fail into a
/// ``Failure`` with a message for the operator. The one HTTP path of the command line.
struct DaemonClient: Sendable {
    var settings: ConnectionSettings
    var timeout: Double

    /// Sends a request and returns the status and body, whatever the status.
    func send(_ request: APIRequest) async throws(Failure) -> (status: Int, body: [UInt8]) {
        let target = request.url(base: settings.baseURL)
        guard let url = URL(string: target) else { throw .usage("\(target) is not a URL") }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method.rawValue
        urlRequest.timeoutInterval = timeout
        urlRequest.setValue("application/geo+json, application/json;q=0.9, */*;q=0.1", forHTTPHeaderField: "Accept")
        if let token = settings.token { urlRequest.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body = request.body {
            urlRequest.httpBody = Data(body)
            urlRequest.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        do {
            let (data, response) = try await URLSession.shared.data(for: urlRequest)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, Array(data))
        } catch let error as URLError {
            throw unreachable(settings.baseURL, problem(error))
        } catch {
            throw unreachable(settings.baseURL, .other(error.localizedDescription))
        }
    }

    /// Sends a request and returns its JSON answer, or throws the failure its status means.
    func fetch(_ request: APIRequest) async throws(Failure) -> (document: JSONValue, body: [UInt8]) {
        let (status, body) = try await send(request)
        if let failure = failure(status: status, body: body, settings: settings) { throw failure }
        do {
            return (try JSONValue(parsing: body), body)
        } catch {
            throw Failure(
                exitStatus: Failure.daemonError, "hypervisiond answered \(status) with a body that is not JSON: \(error)")
        }
    }

    private func problem(_ error: URLError) -> TransportProblem {
        switch error.code {
        case .cannotConnectToHost: .connectionRefused
        case .timedOut: .timedOut(seconds: timeout)
        case .cannotFindHost, .dnsLookupFailed: .hostNotFound
        default: .other(error.localizedDescription)
        }
    }
}
