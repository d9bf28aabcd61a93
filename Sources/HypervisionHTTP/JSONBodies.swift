import Foundation
import Hummingbird
import HypervisionCore
import NIOCore

/// Reads a request body of at most `limit` bytes as one JSON object, or the 413/400 answer to send.
///
/// The parser is ``JSONValue``'s, strict RFC 8259: no `NaN`, no numbers beyond a `Double`, no
/// duplicate keys, no malformed UTF-8, nesting bounded. What it accepts has one meaning, so the
/// field readers (``JSONFields``) can be exact about types.
func readJSONObject(_ request: Request, limit: Int) async -> Result<JSONFields, ResponseError> {
    let body: ByteBuffer
    do {
        body = try await request.body.collect(upTo: limit)
    } catch {
        return .failure(ResponseError(APIError.response(.contentTooLarge, "body_too_large", "the body is larger than the limit of \(limit) bytes")))
    }
    let document: JSONValue
    do {
        document = try JSONValue(parsing: body.readableBytesView)
    } catch {
        return .failure(ResponseError(APIError.response(.badRequest, "json_invalid", "the body is not valid JSON: \(error)")))
    }
    guard let object = document.objectValue else {
        return .failure(ResponseError(APIError.response(.badRequest, "not_an_object", "the body must be a JSON object")))
    }
    return .success(JSONFields(object))
}

/// Typed reads of a JSON object's members. `null` counts as absent; a member of another type
/// than the one asked for is refused with `field_type_invalid`, naming it: `"lat":"48.8"` is a
/// mistake to report, not a number to guess.
struct JSONFields: Sendable {
    let object: [String: JSONValue]
    /// Prepended to member names in messages (`incident.`, `streams[2].`).
    let path: String

    init(_ object: [String: JSONValue], path: String = "") {
        self.object = object
        self.path = path
    }

    var keys: Dictionary<String, JSONValue>.Keys { object.keys }

    func has(_ key: String) -> Bool { !(object[key]?.isNull ?? true) }

    private func present(_ key: String) -> JSONValue? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    private func wrongType(_ key: String, _ expected: String) -> ValidationError {
        ValidationError(.fieldTypeInvalid, "\(path)\(key) must be \(expected)")
    }

    func string(_ key: String) throws(ValidationError) -> String? {
        guard let value = present(key) else { return nil }
        guard let text = value.stringValue else { throw wrongType(key, "a string") }
        return text
    }

    func number(_ key: String) throws(ValidationError) -> Double? {
        guard let value = present(key) else { return nil }
        guard let number = value.doubleValue else { throw wrongType(key, "a number") }
        return number
    }

    /// A number that must be whole (`priority`), within ±2^53 so it converts exactly.
    func integer(_ key: String) throws(ValidationError) -> Int? {
        guard let number = try number(key) else { return nil }
        guard number == number.rounded(), abs(number) <= 9_007_199_254_740_992 else { throw wrongType(key, "a whole number") }
        return Int(number)
    }

    func fields(_ key: String) throws(ValidationError) -> JSONFields? {
        guard let value = present(key) else { return nil }
        guard let object = value.objectValue else { throw wrongType(key, "an object") }
        return JSONFields(object, path: path + key + ".")
    }

    func array(_ key: String) throws(ValidationError) -> [JSONValue]? {
        guard let value = present(key) else { return nil }
        guard let array = value.arrayValue else { throw wrongType(key, "an array") }
        return array
    }

    func strings(_ key: String) throws(ValidationError) -> [String]? {
        guard let array = try array(key) else { return nil }
        var strings: [String] = []
        for (index, item) in array.enumerated() {
            guard let text = item.stringValue else { throw ValidationError(.fieldTypeInvalid, "\(path)\(key)[\(index)] must be a string") }
            strings.append(text)
        }
        return strings
    }
}

/// A JSON answer with sorted keys, typed `application/geo+json` when it is a GeoJSON Feature or
/// FeatureCollection (so GIS tools recognise it).
func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    let type = value["type"]?.stringValue
    let contentType = type == "Feature" || type == "FeatureCollection" ? "application/geo+json" : "application/json"
    return Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: value.encoded())))
}

/// A GeoJSON answer (`application/geo+json`) from a JSON document.
func geoJSONResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/geo+json"], body: .init(byteBuffer: ByteBuffer(string: value.encoded())))
}

extension JSONValue {
    /// A JSON number from an integer (counts, ids).
    static func integer(_ value: some BinaryInteger) -> JSONValue { .number(Double(value)) }
}
