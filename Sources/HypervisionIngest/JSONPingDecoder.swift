import HypervisionCore

/// Decodes pings sent as JSON: one object, an array of objects, or newline-delimited JSON.
///
/// Hand-written instead of built on Foundation's `JSONSerialization` or `JSONDecoder`: those
/// build an object tree or go through Codable containers for every ping, several times the
/// ingest budget. This reads the bytes once, in place, and allocates only the strings a ping
/// keeps (unit, time, status).
///
/// The decoder is strict about JSON (RFC 8259: number grammar, escapes, UTF-8) because a
/// lenient parser accepts bodies that other tools in the chain would read differently. It is
/// not a validator: it reports each ping as the sender wrote it (``RawPing``) and leaves
/// presence and ranges to ``PingValidator``.
///
/// Failures are split by blast radius, so one bad item never sinks its batch: a problem inside
/// one item (a field of the wrong type, an element that is not an object, a string over the
/// limit) becomes an ``Item/invalid(_:)`` at that item's position; only what makes the whole
/// body unreadable (broken JSON syntax, nesting beyond the limit, too many items) throws a
/// ``DocumentError``. In NDJSON every line stands alone, so even a syntax error only costs its
/// own line.
public struct JSONPingDecoder: Sendable {
    /// Bounds on the work one body can cause, so a hostile or broken sender can neither make the
    /// decoder allocate without limit nor recurse until the stack overflows.
    public struct Limits: Sendable, Equatable {
        /// The most items one body may hold. A body with more is refused whole (rather than
        /// truncated) so that no sender believes a ping it sent was accepted when it was not read.
        public var maximumItems: Int
        /// The longest string kept from a ping (unit, time, status, or an integer unit's digits),
        /// in bytes after unescaping. Strings of unknown fields are checked but never stored, so
        /// they cost no memory and are not limited.
        public var maximumStringBytes: Int
        /// The deepest nesting of objects and arrays, counting the body's own array or object.
        /// It bounds the decoder's recursion.
        public var maximumDepth: Int

        public init(maximumItems: Int = 10_000, maximumStringBytes: Int = 256, maximumDepth: Int = 16) {
            self.maximumItems = maximumItems
            self.maximumStringBytes = maximumStringBytes
            self.maximumDepth = maximumDepth
        }
    }

    public var limits: Limits

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    /// One decoded item, at its position in the input: a ping as written, or why it is not one.
    ///
    /// Positions matter because ingest answers name failures by index; an invalid item therefore
    /// holds its place instead of being dropped.
    public enum Item: Sendable, Equatable {
        case ping(RawPing)
        case invalid(ValidationError)
    }

    /// A whole body that cannot be decoded at all (not JSON, not an object or array, nested too
    /// deep, too many items): nothing in it can be trusted to be a ping, so no item is returned.
    public struct DocumentError: Error, Sendable, Equatable, CustomStringConvertible {
        /// ``ValidationError/Code/jsonInvalid``, ``ValidationError/Code/notAnObject``,
        /// ``ValidationError/Code/nestingTooDeep`` or ``ValidationError/Code/tooManyItems``.
        public var code: ValidationError.Code
        /// For people: says what was expected and at which byte.
        public var message: String

        public init(code: ValidationError.Code, message: String) {
            self.code = code
            self.message = message
        }

        public var description: String { "\(code): \(message)" }
    }

    // MARK: Documents

    /// Decodes a JSON object (one item) or an array of objects (one item each).
    ///
    /// An element that is not an object, or an object with a field of the wrong type, is one
    /// `.invalid` item and the others still decode. Malformed JSON anywhere in the body throws
    /// (`json_invalid`, with the byte offset), as do nesting beyond ``Limits/maximumDepth``
    /// (`nesting_too_deep`), more than ``Limits/maximumItems`` elements (`too_many_items`) and a
    /// body that is a bare string, number, boolean or null (`not_an_object`).
    public func decodeDocument(_ bytes: UnsafeRawBufferPointer) throws(DocumentError) -> [Item] {
        var cursor = JSONCursor(bytes, limits: limits)
        do throws(DecodeFailure) {
            var items: [Item] = []
            cursor.skipWhitespace()
            switch cursor.current {
            case ASCII.openBrace:
                guard limits.maximumItems >= 1 else { throw DecodeFailure.tooManyItems(limits.maximumItems) }
                items.append(try cursor.parsePingObject())
            case ASCII.openBracket:
                try cursor.parseArrayOfPings(into: &items)
            default:
                let start = cursor.position
                let kind = cursor.currentKind
                try cursor.skipValue()
                try cursor.expectEnd()
                throw DecodeFailure(
                    code: .notAnObject, offset: start,
                    reason: "the body must be a JSON object or an array of objects, found \(kind.phrase)")
            }
            try cursor.expectEnd()
            return items
        } catch {
            throw DocumentError(code: error.code, message: error.message(line: nil))
        }
    }

    /// Decodes a JSON object or an array of objects held in an array of bytes.
    public func decodeDocument(_ bytes: [UInt8]) throws(DocumentError) -> [Item] {
        // Array.withUnsafeBytes rethrows untyped errors, so the result crosses it as a Result.
        try bytes.withUnsafeBytes { buffer in Result { () throws(DocumentError) in try decodeDocument(buffer) } }.get()
    }

    // MARK: NDJSON

    /// Decodes one NDJSON line (without its newline). Never throws: a line that is not a ping
    /// object, for whatever reason, is an `.invalid` item, because lines are independent.
    public func decodeLine(_ bytes: UnsafeRawBufferPointer) -> Item {
        decodeLine(bytes, lineNumber: nil) ?? .invalid(
            ValidationError(.jsonInvalid, "invalid JSON at byte \(bytes.count): expected a value, found the end of the line"))
    }

    /// Decodes one NDJSON line held in an array of bytes.
    public func decodeLine(_ bytes: [UInt8]) -> Item {
        bytes.withUnsafeBytes { decodeLine($0) }
    }

    /// Decodes a whole NDJSON body: one item per non-blank line, in order.
    ///
    /// Lines end with `\n`; a `\r` before it is JSON whitespace and so ignored, as are lines of
    /// only whitespace (they are not items and do not count towards the limit). A bad line is an
    /// `.invalid` item whose message names its line number; the other lines still decode. Throws
    /// only for more than ``Limits/maximumItems`` items, which refuses the body whole.
    public func decodeNDJSON(_ bytes: UnsafeRawBufferPointer) throws(DocumentError) -> [Item] {
        var items: [Item] = []
        guard let base = bytes.baseAddress else { return items }
        let count = bytes.count
        var lineStart = 0
        var lineNumber = 1
        while lineStart < count {
            let lineEnd = findNewline(base, from: lineStart, count: count)
            let line = UnsafeRawBufferPointer(start: base + lineStart, count: lineEnd - lineStart)
            if let item = decodeLine(line, lineNumber: lineNumber) {
                guard items.count < limits.maximumItems else {
                    let failure = DecodeFailure.tooManyItems(limits.maximumItems)
                    throw DocumentError(code: failure.code, message: failure.message(line: nil))
                }
                items.append(item)
            }
            lineStart = lineEnd + 1
            lineNumber += 1
        }
        return items
    }

    /// Decodes a whole NDJSON body held in an array of bytes.
    public func decodeNDJSON(_ bytes: [UInt8]) throws(DocumentError) -> [Item] {
        try bytes.withUnsafeBytes { buffer in Result { () throws(DocumentError) in try decodeNDJSON(buffer) } }.get()
    }

    /// Decodes one line; nil when it is blank (only whitespace), which NDJSON skips.
    private func decodeLine(_ bytes: UnsafeRawBufferPointer, lineNumber: Int?) -> Item? {
        var cursor = JSONCursor(bytes, limits: limits)
        do throws(DecodeFailure) {
            cursor.skipWhitespace()
            if cursor.atEnd { return nil }
            let item: Item
            if cursor.current == ASCII.openBrace {
                item = try cursor.parsePingObject()
            } else {
                let kind = cursor.currentKind
                try cursor.skipValue()
                item = .invalid(ValidationError(.notAnObject, "the line must be a JSON object, found \(kind.phrase)"))
            }
            try cursor.expectEnd()
            return item
        } catch {
            return .invalid(ValidationError(error.code, error.message(line: lineNumber)))
        }
    }
}

/// The offset of the next `\n` at or after `start`, or `count` when there is none.
///
/// Reads eight bytes at a time: NDJSON lines are a couple of hundred bytes and this runs once
/// per line before the parser reads it again, so a byte loop would be a visible share of the cost.
private func findNewline(_ base: UnsafeRawPointer, from start: Int, count: Int) -> Int {
    var i = start
    while i + 8 <= count {
        let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        let found = SWAR.zeroBytes(word ^ SWAR.broadcast(ASCII.newline))
        if found != 0 { return i + found.trailingZeroBitCount >> 3 }
        i += 8
    }
    while i < count {
        if base.load(fromByteOffset: i, as: UInt8.self) == ASCII.newline { return i }
        i += 1
    }
    return count
}
