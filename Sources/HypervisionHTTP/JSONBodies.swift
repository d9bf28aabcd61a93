import Foundation
import Hummingbird
import HypervisionCore
import NIOCore

// MARK: Requests

/// A request body decoded into a typed value from strict JSON.
///
/// Requests are read by Core's parser (``JSONValue``), strict RFC 8259 with byte offsets in its
/// messages: no `NaN`, no numbers beyond a `Double`, no duplicate keys, no malformed UTF-8,
/// nesting bounded; then the members are read by type (``JSONFields``), each wrong type refused
/// with `field_type_invalid` naming it. Foundation's `JSONDecoder` would accept some of that
/// (a duplicate key, `1e400` as infinity) and report none of it with these codes.
protocol JSONRequestBody: Sendable {
    init(fields: JSONFields) throws(ValidationError)
}

/// How a body that cannot be read as a JSON object is refused: the codes are the same on every
/// endpoint (413 `body_too_large`, 400 `json_invalid`, 400 `not_an_object`), the messages say
/// what the endpoint expected.
struct JSONBodyRules: Sendable {
    var limit: Int
    var tooLarge: String
    /// The message of `json_invalid`, from the parser's (which names the byte offset).
    var invalid: @Sendable (String) -> String
    var notAnObject: (code: String, message: String)

    /// The rules of most endpoints.
    static func standard(limit: Int) -> JSONBodyRules {
        JSONBodyRules(
            limit: limit, tooLarge: "the body is larger than the limit of \(limit) bytes", invalid: { "the body is not valid JSON: \($0)" },
            notAnObject: ("not_an_object", "the body must be a JSON object"))
    }
}

extension Request {
    /// The body as one JSON document, refused as `rules` say.
    func jsonDocument(_ rules: JSONBodyRules) async throws(APIError) -> JSONValue {
        let body: ByteBuffer
        do {
            body = try await self.body.collect(upTo: rules.limit)
        } catch {
            throw .tooLarge(rules.tooLarge)
        }
        do {
            return try JSONValue(parsing: body.readableBytesView)
        } catch {
            throw .badRequest("json_invalid", rules.invalid("\(error)"))
        }
    }

    /// The body as one JSON object, refused as `rules` say.
    func jsonObject(_ rules: JSONBodyRules) async throws(APIError) -> JSONFields {
        let document = try await jsonDocument(rules)
        guard let object = document.objectValue else { throw .badRequest(rules.notAnObject.code, rules.notAnObject.message) }
        return JSONFields(object)
    }

    /// The body decoded as `type`; every refusal is an ``APIError``.
    func decode<Body: JSONRequestBody>(_ type: Body.Type, _ rules: JSONBodyRules) async throws(APIError) -> Body {
        let fields = try await jsonObject(rules)
        do {
            return try Body(fields: fields)
        } catch {
            throw APIError(error)
        }
    }
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

// MARK: Responses

/// A response body of a fixed shape: a Codable type, written by the API's one JSON encoder
/// (keys sorted, slashes unescaped) as `application/json`. A handler returns it, or
/// `EditedResponse(status: .created, response: body)`.
protocol JSONResponseBody: Encodable, ResponseGenerator, Sendable {}

extension JSONResponseBody {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIJSON.response(self)
    }
}

enum APIJSON {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A JSON document built as a ``JSONValue`` (GeoJSON features and collections, a wall's
/// definition, a scene from the log): written canonically, and typed `application/geo+json`
/// when it is a GeoJSON Feature or FeatureCollection (so GIS tools recognise it).
struct JSONDocument: ResponseGenerator, Sendable {
    var value: JSONValue
    var status: HTTPResponse.Status

    init(_ value: JSONValue, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    var contentType: String {
        let type = value["type"]?.stringValue
        return type == "Feature" || type == "FeatureCollection" ? "application/geo+json" : "application/json"
    }

    func response(from request: Request, context: some RequestContext) -> Response { response }

    var response: Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: value.encoded())))
    }
}

/// A ``JSONValue`` inside a Codable answer (a wall's title, its definition as given).
struct AnyJSON: Encodable, Sendable {
    var value: JSONValue

    init(_ value: JSONValue) { self.value = value }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        switch value {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .number(let number):
            var container = encoder.singleValueContainer()
            // Whole numbers as integers (`3`, not `3.0`), as the canonical encoder writes them.
            if number == number.rounded(), abs(number) <= 9_007_199_254_740_992 {
                try container.encode(Int64(number))
            } else {
                try container.encode(number)
            }
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(AnyJSON(item)) }
        case .object(let members):
            var container = encoder.container(keyedBy: Key.self)
            for (key, member) in members { try container.encode(AnyJSON(member), forKey: Key(stringValue: key)) }
        }
    }
}

extension JSONValue {
    /// A JSON number from an integer (counts, ids).
    static func integer(_ value: some BinaryInteger) -> JSONValue { .number(Double(value)) }
}
