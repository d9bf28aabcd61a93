/// Why a JSON Patch could not be read or applied: a stable ``Kind``, the index of the failing
/// operation when there is one, and a message for people.
public struct JSONPatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, stable enough to test and count.
    public enum Kind: String, Sendable, Hashable {
        /// The patch document is not an array of well-formed operation objects.
        case malformedPatch = "malformed_patch"
        /// A path or from is not a JSON Pointer (RFC 6901): no leading `/`, or a `~` not followed by `0` or `1`.
        case invalidPointer = "invalid_pointer"
        /// The location named does not exist (a missing member, an index past the end, a scalar on the way).
        case targetNotFound = "target_not_found"
        /// An array index token is not a decimal number without leading zeros, or is `-` where only
        /// an existing element can be meant.
        case invalidArrayIndex = "invalid_array_index"
        /// A `test` operation found a different value.
        case testFailed = "test_failed"
        /// A `move` would put a value inside itself, or `remove` was asked to remove the whole document.
        case invalidOperation = "invalid_operation"
    }

    public var kind: Kind
    /// The 0-based index of the operation that failed, or nil when the patch document as a whole is malformed.
    public var operationIndex: Int?
    public var message: String

    public init(kind: Kind, operationIndex: Int? = nil, message: String) {
        self.kind = kind
        self.operationIndex = operationIndex
        self.message = message
    }

    public var description: String {
        if let operationIndex { return "JSON Patch operation \(operationIndex): \(message)" }
        return "JSON Patch: \(message)"
    }
}

/// A JSON Pointer (RFC 6901): the path of one location inside a JSON document, as reference tokens.
///
/// Tokens are kept unescaped (`"a/b"`), and ``description`` gives the escaped text (`/a~1b`), so a
/// scene key that contains `/` or `~` can never be misread as two levels.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens; empty for the whole document.
    public var tokens: [String]

    public init(tokens: [String] = []) { self.tokens = tokens }

    /// Parses pointer text: empty for the whole document, otherwise `/`-separated tokens in which
    /// `~1` stands for `/` and `~0` for `~`.
    public init(parsing text: String) throws(JSONPatchError) {
        guard !text.isEmpty else {
            self.tokens = []
            return
        }
        guard text.utf8.first == UInt8(ascii: "/") else {
            throw JSONPatchError(kind: .invalidPointer, message: "pointer \"\(text)\" does not start with '/'")
        }
        var tokens: [String] = []
        for raw in text.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard raw.contains(UInt8(ascii: "~")) else {
                tokens.append(String(decoding: raw, as: UTF8.self))
                continue
            }
            var token: [UInt8] = []
            var iterator = raw.makeIterator()
            while let byte = iterator.next() {
                guard byte == UInt8(ascii: "~") else {
                    token.append(byte)
                    continue
                }
                switch iterator.next() {
                case UInt8(ascii: "0"): token.append(UInt8(ascii: "~"))
                case UInt8(ascii: "1"): token.append(UInt8(ascii: "/"))
                default:
                    throw JSONPatchError(
                        kind: .invalidPointer, message: "pointer \"\(text)\" has '~' not followed by '0' or '1'")
                }
            }
            tokens.append(String(decoding: token, as: UTF8.self))
        }
        self.tokens = tokens
    }

    /// The escaped pointer text, e.g. `/tiles/cam~10042` for the tokens `tiles`, `cam/0042`.
    public var description: String {
        var text = ""
        for token in tokens {
            text.append("/")
            text.append(JSONPointer.escape(token))
        }
        return text
    }

    /// Escapes one reference token: `~` as `~0` first, then `/` as `~1` (the order RFC 6901 requires).
    public static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// This pointer with one more token.
    public func appending(_ token: String) -> JSONPointer { JSONPointer(tokens: tokens + [token]) }

    /// Whether `other` lies strictly inside the location this pointer names.
    public func isProperPrefix(of other: JSONPointer) -> Bool {
        tokens.count < other.tokens.count && Array(other.tokens.prefix(tokens.count)) == tokens
    }

    /// The value at this location in `document`, or nil when there is none.
    public func resolve(in document: JSONValue) -> JSONValue? {
        var current = document
        for token in tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let elements):
                guard let index = JSONPointer.arrayIndex(token), index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }

    /// A token as an array index: decimal digits without leading zeros (RFC 6901 §4); nil otherwise
    /// (including for `-`, which names the element after the last).
    static func arrayIndex(_ token: String) -> Int? {
        let utf8 = token.utf8
        guard let first = utf8.first, utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            first != UInt8(ascii: "0") || utf8.count == 1
        else { return nil }
        return Int(token)
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: Character, with replacement: String) -> String {
        var result = ""
        result.reserveCapacity(utf8.count + 4)
        for character in self {
            if character == target { result.append(replacement) } else { result.append(character) }
        }
        return result
    }
}

/// A JSON Patch (RFC 6902): a list of operations that turns one JSON document into another.
///
/// The scene hub sends these to renderers: each `patch` message carries one, and applying it to the
/// previous scene with any RFC 6902 library must give exactly the next scene. ``diff(from:to:)``
/// computes them; ``applied(to:)`` implements the full RFC so tests (and the hub, when composing
/// history) can check that promise.
public struct JSONPatch: Sendable, Hashable {
    /// One RFC 6902 operation. Paths are JSON Pointer text (RFC 6901), escaped.
    public enum Operation: Sendable, Hashable {
        case add(path: String, value: JSONValue)
        case remove(path: String)
        case replace(path: String, value: JSONValue)
        case move(from: String, path: String)
        case copy(from: String, path: String)
        case test(path: String, value: JSONValue)
    }

    public var operations: [Operation]

    public init(operations: [Operation] = []) { self.operations = operations }

    /// Whether the patch changes nothing (it has no operations).
    public var isEmpty: Bool { operations.isEmpty }

    /// This patch followed by `other`: applying the result equals applying both in turn. This is how
    /// the hub composes the patches from one sequence number to a later one.
    public func appending(_ other: JSONPatch) -> JSONPatch {
        JSONPatch(operations: operations + other.operations)
    }

    // MARK: Diff

    /// A patch that turns `from` into `to`, made only of `add`, `remove` and `replace`.
    ///
    /// - Objects are compared member by member, in canonical (bytewise UTF-8) key order so the same
    ///   pair of documents always gives the same patch: removed keys become `remove`, new keys
    ///   `add`, changed values are diffed recursively. This is why scenes key tiles, units and
    ///   incidents by id: a moved unit becomes one `replace` of its coordinates.
    /// - Arrays are compared index by index over their common length, then trailing elements are
    ///   removed (from the last) or appended. When that costs more bytes than the new array itself
    ///   (an insertion near the front shifts everything), the array is replaced whole instead.
    /// - Anything else that differs (a scalar, a change of type) is one `replace` (an `add`, which
    ///   means the same for an existing member, when the member is named `-`).
    public static func diff(from: JSONValue, to: JSONValue) -> JSONPatch {
        var operations: [Operation] = []
        diff(from, to, path: "", into: &operations)
        return JSONPatch(operations: operations)
    }

    /// Appends the operations of ``diff(from:to:)`` for two values found at `path` (escaped
    /// pointer text) of a larger document: how a typed diff (the scene's) hands a changed member
    /// to the generic one without building the whole document.
    public static func appendDiff(from: JSONValue, to: JSONValue, at path: String, into operations: inout [Operation]) {
        diff(from, to, path: path, into: &operations)
    }

    private static func diff(_ from: JSONValue, _ to: JSONValue, path: String, into operations: inout [Operation]) {
        switch (from, to) {
        case (.object(let old), .object(let new)):
            // Only the keys that differ are sorted (for a deterministic patch): a scene has hundreds
            // of units and a publish moves a few.
            var keys: [String] = []
            for (key, before) in old where new[key] != before { keys.append(key) }
            for key in new.keys where old[key] == nil { keys.append(key) }
            JSONValue.sortCanonically(&keys)
            for key in keys {
                let childPath = path + "/" + JSONPointer.escape(key)
                switch (old[key], new[key]) {
                case (let before?, let after?): diff(before, after, path: childPath, into: &operations)
                case (_?, nil): operations.append(.remove(path: childPath))
                case (nil, let after?): operations.append(.add(path: childPath, value: after))
                case (nil, nil): break
                }
            }
        case (.array(let old), .array(let new)):
            if old == new { return }
            var elementwise: [Operation] = []
            let common = min(old.count, new.count)
            for index in 0..<common {
                diff(old[index], new[index], path: path + "/" + String(index), into: &elementwise)
            }
            if old.count > new.count {
                for index in stride(from: old.count - 1, through: new.count, by: -1) {
                    elementwise.append(.remove(path: path + "/" + String(index)))
                }
            } else {
                for index in common..<new.count {
                    elementwise.append(.add(path: path + "/" + String(index), value: new[index]))
                }
            }
            if elementwise.count > 1 && encodedSize(of: elementwise) > encodedSize(of: to) + path.utf8.count + 32 {
                operations.append(replacement(at: path, with: to))
            } else {
                operations.append(contentsOf: elementwise)
            }
        default:
            if from != to { operations.append(replacement(at: path, with: to)) }
        }
    }

    private static func replacement(at path: String, with value: JSONValue) -> Operation {
        // An object member named "-": `add` replaces an existing member (RFC 6902 §4.1) and, unlike
        // `replace`, is accepted by libraries that read "-" as "end of array" even in objects
        // (Python's jsonpatch 1.33 does). Diff paths never use "-" as an array index.
        path.hasSuffix("/-") ? .add(path: path, value: value) : .replace(path: path, value: value)
    }

    private static func encodedSize(of operations: [Operation]) -> Int {
        var bytes: [UInt8] = []
        JSONPatch(operations: operations).json.encode(into: &bytes)
        return bytes.count
    }

    private static func encodedSize(of value: JSONValue) -> Int {
        var bytes: [UInt8] = []
        value.encode(into: &bytes)
        return bytes.count
    }

    // MARK: Apply

    /// The result of applying every operation in order to `document` (RFC 6902 §4, §5).
    ///
    /// Atomic: when an operation fails, the error says which and `document` is untouched (it is a
    /// value), so a caller never sees a half-applied patch.
    public func applied(to document: JSONValue) throws(JSONPatchError) -> JSONValue {
        var result = document
        try apply(to: &result)
        return result
    }

    /// Applies every operation in order to `document`, in place: a document held nowhere else is
    /// not copied, so applying many patches in a row to a large scene costs what they change.
    /// Not atomic: after an error, `document` holds the operations before the failing one.
    public func apply(to document: inout JSONValue) throws(JSONPatchError) {
        for (index, operation) in operations.enumerated() {
            do {
                try JSONPatch.apply(operation, to: &document)
            } catch var error {
                error.operationIndex = index
                throw error
            }
        }
    }

    /// Applies the patch encoded in `text` (an RFC 6902 array) to `document`, in place, one
    /// operation at a time: each pointer is read once, as its operation is applied, where
    /// `JSONPatch(json:)` then `apply(to:)` reads it twice. For a long run of patches, such as a
    /// relayed stream's. Not atomic, as ``apply(to:)``.
    public static func apply(encoded text: [UInt8], to document: inout JSONValue) throws {
        guard case .array(let elements) = try JSONValue(parsing: text) else {
            throw JSONPatchError(kind: .malformedPatch, message: "a patch must be a JSON array of operations")
        }
        for (index, element) in elements.enumerated() {
            do {
                try apply(Operation(json: element, checkingPointers: false), to: &document)
            } catch var error {
                error.operationIndex = index
                throw error
            }
        }
    }

    private static func apply(_ operation: Operation, to document: inout JSONValue) throws(JSONPatchError) {
        switch operation {
        case .add(let path, let value):
            try add(value, at: JSONPointer(parsing: path), in: &document)
        case .remove(let path):
            _ = try remove(at: JSONPointer(parsing: path), in: &document)
        case .replace(let path, let value):
            let pointer = try JSONPointer(parsing: path)
            guard !pointer.tokens.isEmpty else {
                document = value
                return
            }
            try withParent(of: pointer, in: &document) { (parent, token) throws(JSONPatchError) in
                if var members = takeObject(&parent) {
                    defer { parent = .object(members) }
                    guard members[token] != nil else { throw notFound(pointer) }
                    members[token] = value
                } else if var elements = takeArray(&parent) {
                    defer { parent = .array(elements) }
                    let index = try existingIndex(token, count: elements.count, pointer: pointer)
                    elements[index] = value
                } else {
                    throw notFound(pointer)
                }
            }
        case .move(let from, let path):
            let source = try JSONPointer(parsing: from)
            let target = try JSONPointer(parsing: path)
            guard !source.isProperPrefix(of: target) else {
                throw JSONPatchError(kind: .invalidOperation, message: "cannot move \"\(from)\" into its own child \"\(path)\"")
            }
            if source == target {
                guard source.resolve(in: document) != nil else { throw notFound(source) }
                return
            }
            let value = try remove(at: source, in: &document)
            try add(value, at: target, in: &document)
        case .copy(let from, let path):
            let source = try JSONPointer(parsing: from)
            guard let value = source.resolve(in: document) else { throw notFound(source) }
            try add(value, at: JSONPointer(parsing: path), in: &document)
        case .test(let path, let value):
            let pointer = try JSONPointer(parsing: path)
            guard let actual = pointer.resolve(in: document) else { throw notFound(pointer) }
            guard actual == value else {
                throw JSONPatchError(
                    kind: .testFailed, message: "test at \"\(path)\" expected \(value.encoded()), found \(actual.encoded())")
            }
        }
    }

    private static func add(_ value: JSONValue, at pointer: JSONPointer, in document: inout JSONValue) throws(JSONPatchError) {
        guard !pointer.tokens.isEmpty else {
            document = value
            return
        }
        try withParent(of: pointer, in: &document) { (parent, token) throws(JSONPatchError) in
            if var members = takeObject(&parent) {
                members[token] = value
                parent = .object(members)
            } else if var elements = takeArray(&parent) {
                defer { parent = .array(elements) }
                let index: Int
                if token == "-" {
                    index = elements.count
                } else {
                    guard let parsed = JSONPointer.arrayIndex(token) else { throw badIndex(token, pointer) }
                    guard parsed <= elements.count else { throw notFound(pointer) }
                    index = parsed
                }
                elements.insert(value, at: index)
            } else {
                throw notFound(pointer)
            }
        }
    }

    private static func remove(at pointer: JSONPointer, in document: inout JSONValue) throws(JSONPatchError) -> JSONValue {
        guard !pointer.tokens.isEmpty else {
            throw JSONPatchError(kind: .invalidOperation, message: "cannot remove the whole document")
        }
        return try withParent(of: pointer, in: &document) { (parent, token) throws(JSONPatchError) -> JSONValue in
            if var members = takeObject(&parent) {
                defer { parent = .object(members) }
                guard let removed = members.removeValue(forKey: token) else { throw notFound(pointer) }
                return removed
            } else if var elements = takeArray(&parent) {
                defer { parent = .array(elements) }
                let index = try existingIndex(token, count: elements.count, pointer: pointer)
                return elements.remove(at: index)
            } else {
                throw notFound(pointer)
            }
        }
    }

    /// Runs `body` on the container that holds the pointer's last token, in place.
    ///
    /// Each level is taken out of its parent (leaving `.null` behind) while it is modified, so the
    /// containers stay uniquely referenced and a patch of a large scene does not copy it level by level.
    private static func withParent<R>(
        of pointer: JSONPointer, in document: inout JSONValue,
        _ body: (inout JSONValue, String) throws(JSONPatchError) -> R
    ) throws(JSONPatchError) -> R {
        try descend(pointer.tokens[...], pointer: pointer, in: &document, body)
    }

    private static func descend<R>(
        _ tokens: ArraySlice<String>, pointer: JSONPointer, in value: inout JSONValue,
        _ body: (inout JSONValue, String) throws(JSONPatchError) -> R
    ) throws(JSONPatchError) -> R {
        let token = tokens.first!
        if tokens.count == 1 { return try body(&value, token) }
        let rest = tokens.dropFirst()
        if var members = takeObject(&value) {
            defer { value = .object(members) }
            guard members[token] != nil else { throw notFound(pointer) }
            return try descend(rest, pointer: pointer, in: &members[token]!, body)
        }
        if var elements = takeArray(&value) {
            defer { value = .array(elements) }
            let index = try existingIndex(token, count: elements.count, pointer: pointer)
            return try descend(rest, pointer: pointer, in: &elements[index], body)
        }
        throw notFound(pointer)
    }

    /// The members of an object, taken out of `value` (left `.null`; the caller puts them back).
    /// Taken in a function of their own: a `switch` on `value` keeps a second reference to them
    /// for its duration, and changing them would then copy the whole container, at every level
    /// and for every operation (a scene's thousand markers, per marker moved).
    private static func takeObject(_ value: inout JSONValue) -> [String: JSONValue]? {
        guard case .object(let members) = value else { return nil }
        value = .null
        return members
    }

    /// The elements of an array, taken out of `value` as ``takeObject(_:)`` takes members.
    private static func takeArray(_ value: inout JSONValue) -> [JSONValue]? {
        guard case .array(let elements) = value else { return nil }
        value = .null
        return elements
    }

    private static func existingIndex(_ token: String, count: Int, pointer: JSONPointer) throws(JSONPatchError) -> Int {
        guard let index = JSONPointer.arrayIndex(token) else { throw badIndex(token, pointer) }
        guard index < count else { throw notFound(pointer) }
        return index
    }

    private static func notFound(_ pointer: JSONPointer) -> JSONPatchError {
        JSONPatchError(kind: .targetNotFound, message: "no value at \"\(pointer)\"")
    }

    private static func badIndex(_ token: String, _ pointer: JSONPointer) -> JSONPatchError {
        JSONPatchError(kind: .invalidArrayIndex, message: "\"\(token)\" is not a valid array index in \"\(pointer)\"")
    }

    // MARK: JSON form

    /// The patch document: an array of operation objects, as sent on the wire
    /// (`[{"op":"replace","path":"/units/PN-1/lat","value":48.85}]`).
    public var json: JSONValue {
        .array(operations.map(\.json))
    }

    /// Appends the canonical text of ``json`` to `bytes`, written directly: the same bytes as
    /// `json.encode(into:)`, without building an object per operation (the scene hub encodes a
    /// patch every round).
    public func encode(into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "["))
        encodeElements(into: &bytes)
        bytes.append(UInt8(ascii: "]"))
    }

    /// Appends the operations' canonical texts separated by commas, without the brackets: a part
    /// to splice into a larger patch (operations shared by several documents are encoded once).
    public func encodeElements(into bytes: inout [UInt8]) {
        var first = true
        for operation in operations {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            operation.encode(into: &bytes)
        }
    }

    /// The canonical text of ``json``, as bytes.
    public var encodedBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 * operations.count + 2)
        encode(into: &bytes)
        return bytes
    }

    /// Reads a patch document. Members an operation does not define are ignored, as RFC 6902 §4
    /// requires; a missing or mistyped member, an unknown `op` or a malformed pointer is refused.
    public init(json: JSONValue) throws(JSONPatchError) {
        guard case .array(let elements) = json else {
            throw JSONPatchError(kind: .malformedPatch, message: "a patch must be a JSON array of operations")
        }
        var operations: [Operation] = []
        operations.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            do {
                operations.append(try Operation(json: element))
            } catch var error {
                error.operationIndex = index
                throw error
            }
        }
        self.operations = operations
    }
}

extension JSONPatch.Operation {
    /// The operation's name on the wire: `add`, `remove`, `replace`, `move`, `copy` or `test`.
    public var name: String {
        switch self {
        case .add: "add"
        case .remove: "remove"
        case .replace: "replace"
        case .move: "move"
        case .copy: "copy"
        case .test: "test"
        }
    }

    /// The operation's target location (its `path`).
    public var path: String {
        switch self {
        case .add(let path, _), .remove(let path), .replace(let path, _), .move(_, let path), .copy(_, let path),
            .test(let path, _):
            path
        }
    }

    /// The operation as its JSON object.
    public var json: JSONValue {
        switch self {
        case .add(let path, let value): ["op": "add", "path": .string(path), "value": value]
        case .remove(let path): ["op": "remove", "path": .string(path)]
        case .replace(let path, let value): ["op": "replace", "path": .string(path), "value": value]
        case .move(let from, let path): ["op": "move", "from": .string(from), "path": .string(path)]
        case .copy(let from, let path): ["op": "copy", "from": .string(from), "path": .string(path)]
        case .test(let path, let value): ["op": "test", "path": .string(path), "value": value]
        }
    }

    /// Appends the canonical text of ``json``: members in canonical key order, which for every
    /// operation is `from`, `op`, `path`, `value`.
    func encode(into bytes: inout [UInt8]) {
        func member(_ name: StaticString, _ text: String, first: Bool = false) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
            JSONValue.encodeString(text, into: &bytes)
        }
        func value(_ value: JSONValue) {
            bytes.append(contentsOf: #","value":"#.utf8)
            value.encode(into: &bytes)
        }
        bytes.append(UInt8(ascii: "{"))
        switch self {
        case .add(let path, let payload):
            member("op", "add", first: true); member("path", path); value(payload)
        case .remove(let path):
            member("op", "remove", first: true); member("path", path)
        case .replace(let path, let payload):
            member("op", "replace", first: true); member("path", path); value(payload)
        case .move(let from, let path):
            member("from", from, first: true); member("op", "move"); member("path", path)
        case .copy(let from, let path):
            member("from", from, first: true); member("op", "copy"); member("path", path)
        case .test(let path, let payload):
            member("op", "test", first: true); member("path", path); value(payload)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Reads one operation object, checking that its pointers are well formed.
    public init(json: JSONValue) throws(JSONPatchError) {
        try self.init(json: json, checkingPointers: true)
    }

    /// `checkingPointers` false: for an operation applied at once, whose pointers applying reads.
    init(json: JSONValue, checkingPointers: Bool) throws(JSONPatchError) {
        guard case .object(let members) = json else {
            throw JSONPatchError(kind: .malformedPatch, message: "an operation must be a JSON object")
        }
        func string(_ name: String) throws(JSONPatchError) -> String {
            guard let member = members[name] else {
                throw JSONPatchError(kind: .malformedPatch, message: "operation is missing \"\(name)\"")
            }
            guard case .string(let text) = member else {
                throw JSONPatchError(kind: .malformedPatch, message: "\"\(name)\" must be a string")
            }
            return text
        }
        func pointer(_ name: String) throws(JSONPatchError) -> String {
            let text = try string(name)
            if checkingPointers { _ = try JSONPointer(parsing: text) }
            return text
        }
        func value() throws(JSONPatchError) -> JSONValue {
            // A JSON null is a value like any other: only a missing member is an error.
            guard let value = members["value"] else {
                throw JSONPatchError(kind: .malformedPatch, message: "operation is missing \"value\"")
            }
            return value
        }
        switch try string("op") {
        case "add": self = .add(path: try pointer("path"), value: try value())
        case "remove": self = .remove(path: try pointer("path"))
        case "replace": self = .replace(path: try pointer("path"), value: try value())
        case "move": self = .move(from: try pointer("from"), path: try pointer("path"))
        case "copy": self = .copy(from: try pointer("from"), path: try pointer("path"))
        case "test": self = .test(path: try pointer("path"), value: try value())
        case let other: throw JSONPatchError(kind: .malformedPatch, message: "unknown op \"\(other)\"")
        }
    }
}

/// Writes `add`, `remove` and `replace` operations straight to their canonical text, byte for
/// byte what ``JSONPatch/encodeElements(into:)`` writes for the same operations, without making
/// them: a wall round moves hundreds of markers, and each operation made as a value cost a path
/// string, an array slot, and freeing both once its version left the scene hub.
///
/// A path is given as a base (already a JSON pointer) and an optional last member, so that
/// `/units/PN-75-0117` and `lat` are written as `/units/PN-75-0117/lat` without joining them.
public struct JSONPatchText: Sendable {
    /// The operations' texts separated by commas, without brackets.
    public private(set) var bytes: [UInt8] = []
    public private(set) var count = 0

    public init() {}

    public mutating func add(path: String, member: StaticString? = nil, value: JSONValue) {
        operation("add", path: path, member: member, value: value)
    }

    public mutating func remove(path: String, member: StaticString? = nil) {
        operation("remove", path: path, member: member, value: nil)
    }

    public mutating func replace(path: String, member: StaticString? = nil, value: JSONValue) {
        operation("replace", path: path, member: member, value: value)
    }

    private mutating func operation(_ op: StaticString, path: String, member: StaticString?, value: JSONValue?) {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        count += 1
        bytes.append(contentsOf: #"{"op":""#.utf8)
        bytes.append(contentsOf: UnsafeBufferPointer(start: op.utf8Start, count: op.utf8CodeUnitCount))
        bytes.append(contentsOf: #"","path":"#.utf8)
        JSONValue.encodeString(path, into: &bytes)
        if let member {
            // A member name is plain ASCII with nothing to escape: it goes inside the quotes.
            bytes.removeLast()
            bytes.append(UInt8(ascii: "/"))
            bytes.append(contentsOf: UnsafeBufferPointer(start: member.utf8Start, count: member.utf8CodeUnitCount))
            bytes.append(UInt8(ascii: "\""))
        }
        if let value {
            bytes.append(contentsOf: #","value":"#.utf8)
            value.encode(into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}
