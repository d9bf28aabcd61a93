import Foundation
import Hummingbird
import HypervisionCore
import NIOCore

/// Reads a request body of at most `limit` bytes as one JSON object, or the 413/400 answer to send.
func readJSONObject(_ request: Request, limit: Int) async -> Result<[String: Any], ResponseError> {
    let body: ByteBuffer
    do {
        body = try await request.body.collect(upTo: limit)
    } catch {
        return .failure(ResponseError(APIError.response(.contentTooLarge, "body_too_large", "the body is larger than the limit of \(limit) bytes")))
    }
    guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] else {
        return .failure(ResponseError(APIError.response(.badRequest, "json_invalid", "the body must be a JSON object")))
    }
    return .success(object)
}

/// A JSON answer with sorted keys, typed `application/geo+json` when it is a GeoJSON Feature or
/// FeatureCollection (so GIS tools recognise it).
func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    let type = (object as? [String: Any])?["type"] as? String
    let contentType = type == "Feature" || type == "FeatureCollection" ? "application/geo+json" : "application/json"
    return Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// The number in a value from `JSONSerialization`, or nil for anything else (strings, `true`).
///
/// Foundation on Linux bridges `NSNumber(1)` to `Bool` as well, so `value is Bool` would take a
/// `1` for a boolean; the stored type code tells booleans (`c`) from numbers.
func jsonNumber(_ value: Any?) -> Double? {
    guard let number = value as? NSNumber else { return nil }
    if String(cString: number.objCType) == "c" { return nil }
    return number.doubleValue
}

/// A GeoJSON answer (`application/geo+json`) from a JSON document.
func geoJSONResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/geo+json"], body: .init(byteBuffer: ByteBuffer(string: value.encoded())))
}
