import HypervisionCore

/// Splits a TCP byte stream into events: TAK clients send `<event>…</event>` back to back with no delimiter.
///
/// The only way to find where an event ends is to read its markup: the framer follows XML's
/// lexical structure (tags, quoted attribute values, comments, CDATA sections, processing
/// instructions) and counts `<event>` start and end tags, so a `</event>` inside an attribute
/// value or a comment does not end the event. It does not check well-formedness — that is
/// ``CoTDecoder``'s job, one event at a time, so a malformed event costs only itself.
///
/// It keeps its place between calls and reads every byte once, so the work is linear in the
/// stream however the bytes are split into reads; the buffer is compacted only when at least
/// half of it has been handed out.
///
/// Failures are for the connection, not one event: after one, the stream can no longer be
/// split reliably, and every later call throws the same error.
public struct CoTFramer: Sendable {
    /// The largest event (and the largest prolog, comment or instruction between events), in bytes.
    public let maximumEventBytes: Int

    private var pending: [UInt8] = []
    /// Bytes at the start of `pending` already handed out or skipped (whitespace between events).
    private var consumed = 0
    /// Where scanning resumes.
    private var position = 0
    private var state = State.between
    /// Inside an event (as opposed to a prolog or comment between events).
    private var inEvent = false
    /// Where the current event, or the prolog or comment between events, begins.
    private var unitStart = 0
    /// Where the current tag's name, or the current comment's, CDATA's or instruction's body, begins.
    private var markStart = 0
    /// The tag being read is `<event` or `</event`.
    private var isEventTag = false
    /// Open `<event>` elements: the root's, plus any nested ones.
    private var eventDepth = 0
    /// Stream offset of `pending[0]`, for messages.
    private var discarded = 0
    private var failure: ValidationError?

    private enum State: Equatable {
        case between, content, tagName, tagBody, quoted(UInt8), endTagName, endTagBody, comment, cdata, instruction
    }

    public init(maximumEventBytes: Int = 65_536) {
        self.maximumEventBytes = maximumEventBytes
    }

    /// Bytes received and not yet returned as part of an event: an incomplete event, or the
    /// start of one.
    public var bufferedByteCount: Int { pending.count - consumed }

    /// Appends bytes; returns complete events found (each as bytes), keeping an incomplete tail.
    /// Whitespace and XML prologs between events are allowed. Throws (typed) when the pending
    /// data exceeds the limit without a complete event, or when garbage precedes `<event`.
    ///
    /// Each event is returned from its `<` to the `>` of its `</event>` (or `/>`); prologs,
    /// comments and whitespace between events are dropped. Errors: `xml_invalid` for anything
    /// but those before `<event` (the message gives the stream offset), `xml_forbidden` for a
    /// `<!DOCTYPE` or other declaration (which could not be framed safely), `event_too_large`.
    /// When events complete in the same call before the problem, they are returned and the
    /// error is thrown by the next call: they were framed correctly and should not be lost.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(ValidationError) -> [[UInt8]] {
        if let failure { throw failure }
        pending.append(contentsOf: bytes)
        var events: [[UInt8]] = []
        // Swapped out so that the scan can read the buffer while updating the framer's state.
        var buffer: [UInt8] = []
        swap(&buffer, &pending)
        let result = buffer.withUnsafeBufferPointer { bytes in
            Result { () throws(ValidationError) in try scan(bytes, into: &events) }
        }
        swap(&buffer, &pending)
        if case .failure(let error) = result {
            failure = error
            pending = []
            if events.isEmpty { throw error }
            return events
        }
        compact()
        return events
    }

    /// Appends bytes held in an array.
    public mutating func append(_ bytes: [UInt8]) throws(ValidationError) -> [[UInt8]] {
        try bytes.withUnsafeBytes { buffer in Result { () throws(ValidationError) in try append(buffer) } }.get()
    }

    /// Checks that the stream ended cleanly: throws a failure kept from the last ``append(_:)``,
    /// or `xml_invalid` when an event (or anything else but whitespace) was left incomplete.
    public func finish() throws(ValidationError) {
        if let failure { throw failure }
        if bufferedByteCount > 0 {
            throw ValidationError(
                .xmlInvalid,
                "the stream ended inside an event: \(bufferedByteCount) bytes after stream byte"
                    + " \(discarded + consumed) are incomplete")
        }
    }

    // MARK: Scanning

    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, into events: inout [[UInt8]]) throws(ValidationError) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var p = position
        defer { position = p }
        // Scanning never goes past this, so one huge read costs no more than the limit before it fails.
        var stop = min(count, unitStart &+ maximumEventBytes)

        /// The current unit (event, or thing between events) ran out of bytes at `stop`: wait
        /// for more if the stream did, fail if the limit did.
        func exhausted() throws(ValidationError) {
            if stop < count { throw tooLarge() }
        }

        func tooLarge() -> ValidationError {
            let unit = inEvent ? "event" : "prolog or comment"
            return ValidationError(
                .eventTooLarge,
                "more than \(maximumEventBytes) bytes (limit) from stream byte \(discarded + unitStart) without a complete \(unit)")
        }

        func begin(at start: Int) {
            unitStart = start
            stop = min(count, start &+ maximumEventBytes)
        }

        /// The unit ends before `end`: hand out an event, drop anything else.
        func complete(at end: Int) {
            if inEvent {
                events.append(Array(UnsafeBufferPointer(start: base + unitStart, count: end - unitStart)))
                inEvent = false
            }
            consumed = end
            state = .between
        }

        func matches(_ pattern: StaticString, at i: Int) -> Bool? {
            let n = pattern.utf8CodeUnitCount
            for k in 0..<n {
                if i + k >= count { return nil }  // undecided: wait for more bytes
                if base[i + k] != pattern.utf8Start[k] { return false }
            }
            return true
        }

        while true {
            switch state {
            case .between:
                while p < count && isXMLWhitespace(base[p]) { p += 1 }
                consumed = p
                guard p < count else { return }
                guard base[p] == UInt8(ascii: "<") else { throw garbage(base, count, at: p) }
                guard p + 1 < count else { return }
                begin(at: p)
                let next = base[p + 1]
                if next == UInt8(ascii: "?") {
                    markStart = p + 2
                    p += 2
                    state = .instruction
                } else if next == UInt8(ascii: "!") {
                    switch matches("<!--", at: p) {
                    case nil: return
                    case true?:
                        markStart = p + 4
                        p += 4
                        state = .comment
                    case false?:
                        throw ValidationError(
                            .xmlForbidden,
                            "markup declarations (<!DOCTYPE, <!ENTITY, …) are refused (at stream byte \(discarded + p))")
                    }
                } else if next == UInt8(ascii: "/") {
                    throw garbage(base, count, at: p)
                } else {
                    // The name is checked to be `event` when it ends.
                    inEvent = true
                    eventDepth = 0
                    markStart = p + 1
                    p += 1
                    state = .tagName
                }

            case .content:
                while p < stop && base[p] != UInt8(ascii: "<") { p += 1 }
                guard p < stop else { return try exhausted() }
                guard p + 1 < count else { return }
                switch base[p + 1] {
                case UInt8(ascii: "/"):
                    markStart = p + 2
                    p += 2
                    state = .endTagName
                case UInt8(ascii: "?"):
                    markStart = p + 2
                    p += 2
                    state = .instruction
                case UInt8(ascii: "!"):
                    if let comment = matches("<!--", at: p), comment {
                        markStart = p + 4
                        p += 4
                        state = .comment
                    } else if let cdata = matches("<![CDATA[", at: p), cdata {
                        markStart = p + 9
                        p += 9
                        state = .cdata
                    } else if matches("<!--", at: p) == nil || matches("<![CDATA[", at: p) == nil {
                        return  // could still be either
                    } else {
                        throw ValidationError(
                            .xmlForbidden,
                            "markup declarations (<!DOCTYPE, <!ENTITY, …) are refused (at stream byte \(discarded + p))")
                    }
                default:
                    markStart = p + 1
                    p += 1
                    state = .tagName
                }

            case .tagName:
                while p < stop && !isNameEnd(base[p]) { p += 1 }
                guard p < stop else { return try exhausted() }
                isEventTag = isEvent(base, from: markStart, to: p)
                if eventDepth == 0 && !isEventTag { throw garbage(base, count, at: markStart - 1) }
                state = .tagBody

            case .tagBody:
                while p < stop {
                    let b = base[p]
                    if b == UInt8(ascii: ">") || b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") { break }
                    p += 1
                }
                guard p < stop else { return try exhausted() }
                let b = base[p]
                p += 1
                if b != UInt8(ascii: ">") {
                    state = .quoted(b)
                    continue
                }
                state = .content
                // Outside quotes, a '/' just before '>' can only be the empty-element mark.
                let empty = base[p - 2] == UInt8(ascii: "/")
                if isEventTag {
                    if !empty {
                        eventDepth += 1
                    } else if eventDepth == 0 {
                        complete(at: p)  // `<event …/>`: no point, but the decoder will say so
                    }
                }

            case .quoted(let quote):
                while p < stop && base[p] != quote { p += 1 }
                guard p < stop else { return try exhausted() }
                p += 1
                state = .tagBody

            case .endTagName:
                while p < stop && !isNameEnd(base[p]) { p += 1 }
                guard p < stop else { return try exhausted() }
                isEventTag = isEvent(base, from: markStart, to: p)
                state = .endTagBody

            case .endTagBody:
                while p < stop && base[p] != UInt8(ascii: ">") { p += 1 }
                guard p < stop else { return try exhausted() }
                p += 1
                state = .content
                if isEventTag {
                    eventDepth -= 1
                    if eventDepth == 0 { complete(at: p) }
                }

            case .comment, .cdata, .instruction:
                // The end is `-->`, `]]>` or `?>`: a '>' after the closing characters, which
                // must lie in the body (so `<!-->` does not end a comment).
                let (closer, length): (UInt8, Int) =
                    switch state {
                    case .comment: (UInt8(ascii: "-"), 2)
                    case .cdata: (UInt8(ascii: "]"), 2)
                    default: (UInt8(ascii: "?"), 1)
                    }
                var found = false
                while p < stop {
                    if base[p] == UInt8(ascii: ">") && p - length >= markStart && base[p - 1] == closer
                        && base[p - length] == closer
                    {
                        found = true
                        break
                    }
                    p += 1
                }
                guard found else { return try exhausted() }
                p += 1
                if inEvent {
                    state = .content
                } else {
                    complete(at: p)
                }
            }
        }
    }

    /// Drops the bytes handed out once they are at least half the buffer, so each byte is
    /// moved at most a bounded number of times however small the reads are.
    private mutating func compact() {
        guard consumed > 0 else { return }
        if consumed == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= 2 * maximumEventBytes)
        } else if consumed >= pending.count - consumed {
            pending.removeFirst(consumed)
        } else {
            return
        }
        discarded += consumed
        position -= consumed
        unitStart -= consumed
        markStart -= consumed
        consumed = 0
    }

    private func garbage(_ base: UnsafePointer<UInt8>, _ count: Int, at p: Int) -> ValidationError {
        var shown = ""
        for i in p..<min(count, p + 16) {
            let b = base[i]
            shown += b >= 0x20 && b < 0x7F ? String(Character(Unicode.Scalar(b))) : "\\u{\(String(b, radix: 16))}"
        }
        return ValidationError(
            .xmlInvalid, "expected <event> at stream byte \(discarded + p), found \"\(shown)\"\(count - p > 16 ? "…" : "")")
    }
}

@inline(__always) private func isNameEnd(_ b: UInt8) -> Bool {
    isXMLWhitespace(b) || b == UInt8(ascii: ">") || b == UInt8(ascii: "/")
}

@inline(__always) private func isEvent(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Bool {
    end - start == 5 && base[start] == UInt8(ascii: "e") && base[start + 1] == UInt8(ascii: "v")
        && base[start + 2] == UInt8(ascii: "e") && base[start + 3] == UInt8(ascii: "n")
        && base[start + 4] == UInt8(ascii: "t")
}
