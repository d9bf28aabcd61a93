import HypervisionCore

/// Why XML decoding stopped.
///
/// Internal and cheap to throw (typed throws, no existential); turned into a ``ValidationError``
/// only at the public boundary, so the message is built once, for the failure that is reported.
struct XMLFailure: Error {
    var code: ValidationError.Code
    /// The byte offset in the event; nil when the failure has no single place (a missing element).
    var offset: Int?
    var reason: String

    var validationError: ValidationError {
        guard let offset else { return ValidationError(code, reason) }
        if code == .xmlInvalid { return ValidationError(code, "invalid XML at byte \(offset): \(reason)") }
        return ValidationError(code, "\(reason) (at byte \(offset))")
    }
}

/// An element or attribute name as scanned.
struct XMLName {
    var start: Int
    var length: Int
    /// The name's bytes packed little-endian, first byte lowest, so that matching a known name is
    /// one integer comparison; 0 (which no name packs to) when the name is longer than 8 bytes or
    /// not ASCII, since no name the decoder looks for is either.
    var packed: UInt64
}

/// An attribute as scanned: its name and where its value's raw bytes are, already checked.
struct XMLAttribute {
    var name: XMLName
    var valueStart: Int
    var valueEnd: Int
    /// The value holds `&…;` references, so its text differs from its bytes.
    var hasReferences: Bool
    /// The value holds tabs or line breaks, which XML reads as spaces in attribute values.
    var hasLineBreaks: Bool
}

/// What ``XMLScanner/next()`` found. Text, comments, CDATA and processing instructions are
/// checked and skipped, never returned: nothing in a CoT position event lives in them.
enum XMLMarkup {
    /// A start tag; its attributes follow through ``XMLScanner/nextAttribute()``.
    case start(XMLName)
    /// An end tag, or the end of an empty-element tag (`<point …/>`).
    case end
    /// The root element is closed and only whitespace, comments and processing instructions follow.
    case finished
}

/// A minimal, strict, non-recursive XML 1.0 scanner over one document held in memory.
///
/// Written by hand instead of using Foundation's `XMLParser` for two reasons. Safety: libxml2
/// underneath expands entities and reads DTDs, the road to "billion laughs" and external entity
/// attacks; here any markup declaration and any entity other than XML's five predefined ones is
/// refused outright. Speed: a CoT position is a few hundred bytes and one event per datagram,
/// so the per-document setup and callbacks of a general parser would dominate.
///
/// It checks well-formedness as far as a document without a DTD can break it: names, matching
/// end tags, one root element, quoting, duplicate attributes, references, UTF-8, and the
/// characters XML allows. Being strict matters because a lenient reader accepts documents that
/// other tools in a TAK chain would read differently. Open elements live in a caller-provided
/// buffer bounded by the depth limit, so hostile nesting cannot grow the stack.
struct XMLScanner {
    let base: UnsafeRawPointer
    let count: Int
    private(set) var position = 0
    let maximumDepth: Int
    let maximumAttributes: Int
    let maximumValueBytes: Int

    /// (start, length) of each open element's name, outermost first: end tags must match them.
    private let openNames: UnsafeMutablePointer<Int>
    private let openCapacity: Int
    /// How many elements are open: 1 inside the root element.
    private(set) var depth = 0

    /// (start, length, packed) of the names read so far in the current start tag, to refuse duplicates.
    private let attributeNames: UnsafeMutablePointer<Int>
    private let attributeCapacity: Int
    private var attributeCount = 0

    /// Inside a start tag whose attributes have not all been read.
    private var inStartTag = false
    /// An empty-element tag (`<a/>`) was read: its end is the next markup to report.
    private var closePending = false
    private var rootSeen = false
    private var rootClosed = false
    /// Any markup read yet: the XML declaration must come before all of it.
    private var markupSeen = false

    /// - Parameter scratch: room for ``scratchCount(openCapacity:attributeCapacity:)`` integers.
    init(
        _ bytes: UnsafeRawBufferPointer, limits: CoTDecoder.Limits, scratch: UnsafeMutablePointer<Int>,
        openCapacity: Int, attributeCapacity: Int
    ) {
        base = bytes.baseAddress!
        count = bytes.count
        maximumDepth = limits.maximumDepth
        maximumAttributes = limits.maximumAttributes
        maximumValueBytes = limits.maximumValueBytes
        openNames = scratch
        self.openCapacity = openCapacity
        attributeNames = scratch + 2 * openCapacity
        self.attributeCapacity = attributeCapacity
        // A UTF-8 byte order mark is allowed before everything and means nothing.
        if count >= 3 && byte(0) == 0xEF && byte(1) == 0xBB && byte(2) == 0xBF { position = 3 }
    }

    /// How many integers of scratch space the scanner needs.
    static func scratchCount(openCapacity: Int, attributeCapacity: Int) -> Int {
        2 * openCapacity + 3 * attributeCapacity
    }

    /// The byte at `offset`, or 0 past the end. XML forbids U+0000, so 0 is a safe end marker:
    /// every scanning loop stops on it without a separate bounds check and then asks which it was.
    @inline(__always) func byte(_ offset: Int) -> UInt8 {
        offset < count ? base.load(fromByteOffset: offset, as: UInt8.self) : 0
    }

    // MARK: Markup

    /// The next start tag or end tag, skipping (after checking) everything else.
    mutating func next() throws(XMLFailure) -> XMLMarkup {
        if inStartTag { while try nextAttribute() != nil {} }
        if closePending {
            closePending = false
            return closeElement()
        }
        while true {
            if depth == 0 {
                skipWhitespace()
                guard position < count else {
                    if rootClosed { return .finished }
                    throw invalid("the input ends before any element; expected <event>", at: position)
                }
                guard byte(position) == UInt8(ascii: "<") else {
                    let reason =
                        rootClosed ? "only whitespace and comments may follow the root element" : "expected '<'"
                    throw invalid("\(reason), found \(describe(position))", at: position)
                }
                if try skipNonElementMarkup(inContent: false) { continue }
                if byte(position + 1) == UInt8(ascii: "/") {
                    throw invalid("an end tag without a start tag", at: position)
                }
                if rootClosed { throw invalid("a second root element after the first one ended", at: position) }
                return try openElement()
            }
            try skipText()
            if byte(position + 1) == UInt8(ascii: "/") { return try readEndTag() }
            if try skipNonElementMarkup(inContent: true) { continue }
            return try openElement()
        }
    }

    private mutating func openElement() throws(XMLFailure) -> XMLMarkup {
        let tagStart = position
        let name = try scanName(at: position + 1, what: "an element name")
        guard depth < maximumDepth, depth < openCapacity else {
            throw XMLFailure(
                code: .nestingTooDeep, offset: tagStart,
                reason: "elements are nested deeper than \(maximumDepth) levels (limit)")
        }
        openNames[2 * depth] = name.start
        openNames[2 * depth + 1] = name.length
        depth += 1
        rootSeen = true
        markupSeen = true
        position = name.start + name.length
        inStartTag = true
        attributeCount = 0
        return .start(name)
    }

    private mutating func readEndTag() throws(XMLFailure) -> XMLMarkup {
        let tagStart = position
        let name = try scanName(at: position + 2, what: "an element name after '</'")
        position = name.start + name.length
        skipWhitespace()
        guard byte(position) == UInt8(ascii: ">") else { throw unexpected("'>'", at: position) }
        let openStart = openNames[2 * (depth - 1)]
        let openLength = openNames[2 * (depth - 1) + 1]
        guard sameBytes(openStart, name.start, length: openLength), name.length == openLength else {
            throw invalid(
                "the end tag </\(text(name.start, name.length))> does not match the start tag <\(text(openStart, openLength))>",
                at: tagStart)
        }
        position += 1
        return closeElement()
    }

    /// The name of the innermost open element, for messages.
    private var innermostName: String { text(openNames[2 * (depth - 1)], openNames[2 * (depth - 1) + 1]) }

    private mutating func closeElement() -> XMLMarkup {
        depth -= 1
        if depth == 0 { rootClosed = true }
        return .end
    }

    /// Skips a comment, CDATA section or processing instruction at `<`; false when the `<`
    /// starts an element or end tag instead. Refuses every markup declaration.
    private mutating func skipNonElementMarkup(inContent: Bool) throws(XMLFailure) -> Bool {
        let next = byte(position + 1)
        if next == UInt8(ascii: "?") {
            try skipProcessingInstruction()
            return true
        }
        guard next == UInt8(ascii: "!") else { return false }
        markupSeen = true
        if hasPrefix("<!--", at: position) {
            try skipComment()
            return true
        }
        if hasPrefix("<![CDATA[", at: position) {
            guard inContent else { throw invalid("a CDATA section outside the root element", at: position) }
            try skipCDATA()
            return true
        }
        if count - position < 9 && (isTruncatedPrefix("<!--") || isTruncatedPrefix("<![CDATA[")) {
            throw unexpected("the rest of the comment or CDATA section", at: count)
        }
        // Refused, not skipped: a DTD's internal subset can declare entities, and ignoring the
        // declarations while other tools honour them would make the event mean two things.
        if hasPrefix("<!DOCTYPE", at: position) {
            throw forbidden("document type declarations (<!DOCTYPE) are refused", at: position)
        }
        if hasPrefix("<!ENTITY", at: position) {
            throw forbidden("entity declarations (<!ENTITY) are refused", at: position)
        }
        throw forbidden("markup declarations (<!…>) are refused", at: position)
    }

    private func isTruncatedPrefix(_ pattern: StaticString) -> Bool {
        let remaining = count - position
        guard remaining < pattern.utf8CodeUnitCount else { return false }
        for i in 0..<remaining where byte(position + i) != pattern.utf8Start[i] { return false }
        return true
    }

    private mutating func skipComment() throws(XMLFailure) {
        var p = position + 4
        while true {
            let b = byte(p)
            if b == UInt8(ascii: "-") && byte(p + 1) == UInt8(ascii: "-") {
                guard byte(p + 2) == UInt8(ascii: ">") else {
                    if p + 2 >= count { throw unexpected("'-->'", at: count) }
                    throw invalid("'--' inside a comment", at: p)
                }
                position = p + 3
                return
            }
            p = try advanceCharacter(at: p, expecting: "'-->'")
        }
    }

    private mutating func skipCDATA() throws(XMLFailure) {
        var p = position + 9
        while !(byte(p) == UInt8(ascii: "]") && byte(p + 1) == UInt8(ascii: "]") && byte(p + 2) == UInt8(ascii: ">")) {
            p = try advanceCharacter(at: p, expecting: "']]>'")
        }
        position = p + 3
    }

    /// Skips `<?target …?>`. The XML declaration (`<?xml …?>`) is allowed only before any other
    /// markup, and its encoding, if given, must be one this UTF-8 reader reads correctly.
    private mutating func skipProcessingInstruction() throws(XMLFailure) {
        let start = position
        let target = try scanName(at: position + 2, what: "a processing instruction target after '<?'")
        var p = target.start + target.length
        let isDeclaration =
            target.length == 3 && (target.packed | 0x20_20_20) == 0x6C_6D_78  // "xml", any case
        if isDeclaration {
            guard !markupSeen, depth == 0 else {
                throw invalid("the XML declaration <?xml …?> must come first", at: start)
            }
            markupSeen = true
            position = p
            try readDeclaration()
            return
        }
        markupSeen = true
        let afterTarget = byte(p)
        guard afterTarget == UInt8(ascii: "?") || isXMLWhitespace(afterTarget) else {
            throw unexpected("whitespace or '?>' after the processing instruction target", at: p)
        }
        while !(byte(p) == UInt8(ascii: "?") && byte(p + 1) == UInt8(ascii: ">")) {
            p = try advanceCharacter(at: p, expecting: "'?>'")
        }
        position = p + 2
    }

    /// Reads the pseudo-attributes of `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`.
    private mutating func readDeclaration() throws(XMLFailure) {
        while true {
            let hadSpace = skipWhitespace()
            if byte(position) == UInt8(ascii: "?") && byte(position + 1) == UInt8(ascii: ">") {
                position += 2
                return
            }
            guard hadSpace else { throw unexpected("whitespace or '?>'", at: position) }
            let attribute = try scanAttribute(inElementAt: nil, length: 0)
            if attribute.name.packed == CoTName.encoding {
                let length = attribute.valueEnd - attribute.valueStart
                var folded: UInt64 = 0
                if length <= 8 {
                    for i in 0..<length {
                        let b = byte(attribute.valueStart + i)
                        let lower = b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b
                        folded |= UInt64(lower) << (8 * i)
                    }
                }
                switch folded {
                case 0x38_2D_66_74_75, 0x38_66_74_75, 0x69_69_63_73_61_2D_73_75, 0x69_69_63_73_61:
                    break  // utf-8, utf8, us-ascii, ascii (ASCII is a subset of UTF-8)
                default:
                    throw invalid(
                        "the encoding \"\(text(attribute.valueStart, length))\" is not supported; CoT is read as UTF-8",
                        at: attribute.valueStart)
                }
            }
        }
    }

    // MARK: Attributes

    /// The next attribute of the start tag just returned by ``next()``; nil after the last one,
    /// having read the tag's `>` or `/>`. Checks the value (references, characters, length).
    mutating func nextAttribute() throws(XMLFailure) -> XMLAttribute? {
        guard inStartTag else { return nil }
        let hadSpace = skipWhitespace()
        let b = byte(position)
        if b == UInt8(ascii: ">") {
            position += 1
            inStartTag = false
            return nil
        }
        if b == UInt8(ascii: "/") {
            guard byte(position + 1) == UInt8(ascii: ">") else { throw unexpected("'>' after '/'", at: position + 1) }
            position += 2
            inStartTag = false
            closePending = true
            return nil
        }
        guard hadSpace else { throw unexpected("whitespace, '>' or '/>'", at: position) }
        let elementStart = openNames[2 * (depth - 1)]
        let elementLength = openNames[2 * (depth - 1) + 1]
        guard attributeCount < maximumAttributes, attributeCount < attributeCapacity else {
            throw XMLFailure(
                code: .tooManyAttributes, offset: position,
                reason: "<\(text(elementStart, elementLength))> has more than \(maximumAttributes) attributes (limit)")
        }
        let attribute = try scanAttribute(inElementAt: elementStart, length: elementLength)
        let name = attribute.name
        for i in 0..<attributeCount where attributeNames[3 * i + 1] == name.length {
            // Short ASCII names are equal exactly when their packed forms are.
            let same =
                name.packed != 0
                ? UInt64(bitPattern: Int64(attributeNames[3 * i + 2])) == name.packed
                : sameBytes(attributeNames[3 * i], name.start, length: name.length)
            if same {
                throw invalid(
                    "the attribute \(text(name.start, name.length)) appears twice in <\(text(elementStart, elementLength))>",
                    at: name.start)
            }
        }
        attributeNames[3 * attributeCount] = name.start
        attributeNames[3 * attributeCount + 1] = name.length
        attributeNames[3 * attributeCount + 2] = Int(Int64(bitPattern: name.packed))
        attributeCount += 1
        return attribute
    }

    /// Scans `name = "value"` at the current position, in the element whose name is at
    /// `elementStart` (nil for the XML declaration; only for messages).
    private mutating func scanAttribute(inElementAt elementStart: Int?, length elementLength: Int) throws(XMLFailure)
        -> XMLAttribute
    {
        let name = try scanName(at: position, what: "an attribute name, '>' or '/>'")
        position = name.start + name.length
        skipWhitespace()
        guard byte(position) == UInt8(ascii: "=") else {
            throw unexpected("'=' after the attribute \(text(name.start, name.length))", at: position)
        }
        position += 1
        skipWhitespace()
        let quote = byte(position)
        guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
            throw unexpected("a quoted value for the attribute \(text(name.start, name.length))", at: position)
        }
        let valueStart = position + 1
        var p = valueStart
        var hasReferences = false
        var hasLineBreaks = false
        while true {
            let b = byte(p)
            if b == quote { break }
            if b >= 0x20 && b < 0x80 {
                if b == UInt8(ascii: "&") {
                    p = try reference(at: p).end
                    hasReferences = true
                } else if b == UInt8(ascii: "<") {
                    throw invalid("'<' in the value of the attribute \(text(name.start, name.length)) (write &lt;)", at: p)
                } else {
                    p += 1
                }
            } else if b == 0x09 || b == 0x0A || b == 0x0D {
                hasLineBreaks = true
                p += 1
            } else {
                p = try advanceCharacter(
                    at: p, expecting: "the closing quote of the attribute \(text(name.start, name.length))")
            }
        }
        guard p - valueStart <= maximumValueBytes else {
            let element = elementStart.map { "<\(text($0, elementLength))>" } ?? "the XML declaration"
            throw XMLFailure(
                code: .stringTooLong, offset: valueStart,
                reason: "the value of \(text(name.start, name.length)) in \(element) is longer than \(maximumValueBytes) bytes (limit)")
        }
        position = p + 1
        return XMLAttribute(
            name: name, valueStart: valueStart, valueEnd: p, hasReferences: hasReferences, hasLineBreaks: hasLineBreaks)
    }

    // MARK: Values

    /// The attribute's value as text: references replaced, tabs and line breaks read as spaces.
    func string(_ attribute: XMLAttribute) -> String {
        let raw = UnsafeRawBufferPointer(start: base + attribute.valueStart, count: attribute.valueEnd - attribute.valueStart)
        if !attribute.hasReferences && !attribute.hasLineBreaks { return String(decoding: raw, as: UTF8.self) }
        // Decoding never lengthens a value: the shortest reference (`&#9;`, 4 bytes) stands for
        // one byte, and every reference is at least as long as the UTF-8 it stands for.
        return String(unsafeUninitializedCapacity: raw.count) { out in decode(attribute, into: out) }
    }

    /// Writes the decoded value into `out` (at least as large as the raw value); returns its length.
    func decode(_ attribute: XMLAttribute, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var o = 0
        var i = attribute.valueStart
        while i < attribute.valueEnd {
            let b = byte(i)
            switch b {
            case UInt8(ascii: "&"):
                // Checked when scanned, so this cannot fail; the fallback only keeps it total.
                let (end, scalar) = (try? reference(at: i)) ?? (i + 1, 0xFFFD)
                for unit in UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}")! {
                    out[o] = unit
                    o += 1
                }
                i = end
                continue
            case 0x0D:
                // End-of-line handling first turns CR LF into one LF, then the LF becomes a space.
                if byte(i + 1) == 0x0A && i + 1 < attribute.valueEnd { i += 1 }
                out[o] = UInt8(ascii: " ")
            case 0x09, 0x0A:
                out[o] = UInt8(ascii: " ")
            default:
                out[o] = b
            }
            o += 1
            i += 1
        }
        return o
    }

    /// The attribute's value as a decimal number (`-12.5`, `1.0E7`, `+3`, `.5`; whitespace around
    /// it allowed as in XML Schema's `xs:decimal`); nil when it is not one. `NaN` and `Infinity`
    /// are not numbers here: CoT producers mean "unknown" by 9999999, not by those.
    func number(_ attribute: XMLAttribute) -> Double? {
        let length = attribute.valueEnd - attribute.valueStart
        if !attribute.hasReferences {
            return parseXMLDecimal(base + attribute.valueStart, count: length)
        }
        // Rare (`4&#56;.5`), so a heap buffer: the value limit can be raised beyond what a stack should hold.
        var decoded = [UInt8](repeating: 0, count: length)
        return decoded.withUnsafeMutableBufferPointer { out in
            let decodedCount = decode(attribute, into: out)
            return parseXMLDecimal(UnsafeRawPointer(out.baseAddress!), count: decodedCount)
        }
    }

    // MARK: Characters

    /// Skips character data up to the next `<`, checking references and characters.
    private mutating func skipText() throws(XMLFailure) {
        var p = position
        while true {
            let b = byte(p)
            if b == UInt8(ascii: "<") { break }
            if b >= 0x20 && b < 0x80 {
                p = b == UInt8(ascii: "&") ? try reference(at: p).end : p + 1
            } else {
                p = try advanceCharacter(at: p, expecting: "the end tag </\(innermostName)>")
            }
        }
        position = p
    }

    /// Checks the reference at `&` and tells the character it stands for. Only the five
    /// predefined entities and character references are allowed: any other name could only be
    /// defined by a DTD, which is refused, so it is refused too rather than passed through.
    func reference(at start: Int) throws(XMLFailure) -> (end: Int, scalar: UInt32) {
        var p = start + 1
        if byte(p) == UInt8(ascii: "#") {
            p += 1
            var value: UInt32 = 0
            var digits = 0
            if byte(p) == UInt8(ascii: "x") {
                p += 1
                while let digit = hexDigit(byte(p)) {
                    value = min(value &* 16 &+ digit, 0x11_0000)  // clamped: beyond Unicode anyway
                    digits += 1
                    p += 1
                }
            } else {
                while byte(p) &- UInt8(ascii: "0") < 10 {
                    value = min(value &* 10 &+ UInt32(byte(p) &- UInt8(ascii: "0")), 0x11_0000)
                    digits += 1
                    p += 1
                }
            }
            guard digits > 0, byte(p) == UInt8(ascii: ";") else {
                if p >= count { throw unexpected("';' to end the character reference", at: p) }
                throw invalid("a malformed character reference (expected &#digits; or &#xhex;)", at: start)
            }
            guard isXMLCharacter(value) else {
                throw invalid("the character reference \(text(start, p + 1 - start)) is not an XML character", at: start)
            }
            return (p + 1, value)
        }
        let name = try scanName(at: p, what: "an entity name or '#' after '&' (write &amp; for '&')")
        p = name.start + name.length
        guard byte(p) == UInt8(ascii: ";") else {
            throw unexpected("';' to end the reference &\(text(name.start, name.length))", at: p)
        }
        switch (name.length, name.packed) {
        case (2, 0x74_6C): return (p + 1, 0x3C)  // lt
        case (2, 0x74_67): return (p + 1, 0x3E)  // gt
        case (3, 0x70_6D_61): return (p + 1, 0x26)  // amp
        case (4, 0x74_6F_75_71): return (p + 1, 0x22)  // quot
        case (4, 0x73_6F_70_61): return (p + 1, 0x27)  // apos
        default:
            throw forbidden(
                "the entity &\(text(name.start, min(name.length, 40)));"
                    + " is refused: only &lt; &gt; &amp; &quot; &apos; and character references are allowed",
                at: start)
        }
    }

    /// Checks one character that is not printable ASCII (those callers handle inline) and returns
    /// the offset after it. Refuses what XML forbids: control characters, malformed or overlong
    /// UTF-8, surrogates, U+FFFE and U+FFFF.
    private func advanceCharacter(at p: Int, expecting: @autoclosure () -> String) throws(XMLFailure) -> Int {
        let b = byte(p)
        if b >= 0x20 && b < 0x80 { return p + 1 }
        if b == 0x09 || b == 0x0A || b == 0x0D { return p + 1 }
        if b >= 0x80 { return try utf8Character(at: p) }
        if p >= count { throw unexpected(expecting(), at: p) }
        throw invalid("the control character \(hex(b)) is not allowed in XML", at: p)
    }

    private func utf8Character(at p: Int) throws(XMLFailure) -> Int {
        let b0 = byte(p)
        let b1 = byte(p + 1)
        @inline(__always) func continuation(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }
        if b0 >= 0xC2 && b0 < 0xE0 {
            if continuation(b1) { return p + 2 }
        } else if b0 >= 0xE0 && b0 < 0xF0 {
            let b2 = byte(p + 2)
            let low: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80  // no overlong forms
            let high: UInt8 = b0 == 0xED ? 0x9F : 0xBF  // no surrogates
            if b1 >= low && b1 <= high && continuation(b2) {
                if b0 == 0xEF && b1 == 0xBF && b2 >= 0xBE {
                    throw invalid("U+FFFE and U+FFFF are not XML characters", at: p)
                }
                return p + 3
            }
        } else if b0 >= 0xF0 && b0 < 0xF5 {
            let low: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
            let high: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF  // nothing above U+10FFFF
            if b1 >= low && b1 <= high && continuation(byte(p + 2)) && continuation(byte(p + 3)) { return p + 4 }
        }
        throw invalid("invalid UTF-8", at: p)
    }

    /// Scans a name: a letter, `_`, `:` or non-ASCII character, then those, digits, `-` and `.`.
    /// (Non-ASCII name characters are checked as UTF-8 but not against XML's exact name classes,
    /// which only matters for names the decoder never looks for.)
    private func scanName(at start: Int, what: @autoclosure () -> String) throws(XMLFailure) -> XMLName {
        guard isNameStart(byte(start)) else { throw unexpected(what(), at: start) }
        var p = start
        var packed: UInt64 = 0
        var ascii = true
        while true {
            let b = byte(p)
            if b < 0x80 {
                guard isNameStart(b) || b &- UInt8(ascii: "0") < 10 || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
                else { break }
                if p - start < 8 { packed |= UInt64(b) << (8 * UInt64(p - start)) }
                p += 1
            } else {
                ascii = false
                p = try utf8Character(at: p)
            }
        }
        // No document ends inside a name; saying so now keeps a cut event from being judged on
        // a partial name (`<eve` is not "another root element").
        if p >= count { throw unexpected("the rest of the name \(text(start, p - start))", at: p) }
        let length = p - start
        return XMLName(start: start, length: length, packed: length <= 8 && ascii ? packed : 0)
    }

    /// Skips XML whitespace; tells whether there was any.
    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = position
        while isXMLWhitespace(byte(position)) { position += 1 }
        return position > start
    }

    private func hasPrefix(_ pattern: StaticString, at p: Int) -> Bool {
        let n = pattern.utf8CodeUnitCount
        guard count - p >= n else { return false }
        for i in 0..<n where byte(p + i) != pattern.utf8Start[i] { return false }
        return true
    }

    private func sameBytes(_ a: Int, _ b: Int, length: Int) -> Bool {
        for i in 0..<length where byte(a + i) != byte(b + i) { return false }
        return true
    }

    // MARK: Messages

    /// Up to 40 bytes of the input as text, for messages.
    func text(_ start: Int, _ length: Int) -> String {
        let shown = max(0, min(length, 40, count - start))
        let body = String(decoding: UnsafeRawBufferPointer(start: base + start, count: shown), as: UTF8.self)
        return shown < length ? body + "…" : body
    }

    func describe(_ p: Int) -> String {
        let b = byte(p)
        if p >= count { return "the end of the input" }
        if b > 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte \(hex(b))"
    }

    func invalid(_ reason: String, at offset: Int) -> XMLFailure {
        XMLFailure(code: .xmlInvalid, offset: offset, reason: reason)
    }

    func forbidden(_ reason: String, at offset: Int) -> XMLFailure {
        XMLFailure(code: .xmlForbidden, offset: offset, reason: reason)
    }

    /// Expected `what` at `offset`: says "the event is truncated" when the input ended there, so
    /// that a datagram cut short reads differently from one with a stray byte.
    func unexpected(_ what: String, at offset: Int) -> XMLFailure {
        if offset >= count {
            return invalid("unexpected end of input (the event is truncated): expected \(what)", at: count)
        }
        return invalid("expected \(what), found \(describe(offset))", at: offset)
    }
}

// MARK: - Helpers

/// Packed names (see ``XMLName/packed``): the UTF-8 bytes little-endian, first byte lowest.
enum CoTName {
    static let event: UInt64 = 0x74_6E_65_76_65
    static let point: UInt64 = 0x74_6E_69_6F_70
    static let detail: UInt64 = 0x6C_69_61_74_65_64
    static let contact: UInt64 = 0x74_63_61_74_6E_6F_63
    static let track: UInt64 = 0x6B_63_61_72_74
    static let status: UInt64 = 0x73_75_74_61_74_73
    static let uid: UInt64 = 0x64_69_75
    static let type: UInt64 = 0x65_70_79_74
    static let time: UInt64 = 0x65_6D_69_74
    static let start: UInt64 = 0x74_72_61_74_73
    static let stale: UInt64 = 0x65_6C_61_74_73
    static let lat: UInt64 = 0x74_61_6C
    static let lon: UInt64 = 0x6E_6F_6C
    static let hae: UInt64 = 0x65_61_68
    static let ce: UInt64 = 0x65_63
    static let speed: UInt64 = 0x64_65_65_70_73
    static let course: UInt64 = 0x65_73_72_75_6F_63
    static let battery: UInt64 = 0x79_72_65_74_74_61_62
    static let callsign: UInt64 = 0x6E_67_69_73_6C_6C_61_63
    static let encoding: UInt64 = 0x67_6E_69_64_6F_63_6E_65
}

@inline(__always) func isXMLWhitespace(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
}

@inline(__always) private func isNameStart(_ b: UInt8) -> Bool {
    let lower = b | 0x20
    return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || b == UInt8(ascii: "_")
        || b == UInt8(ascii: ":") || b >= 0x80
}

@inline(__always) private func hexDigit(_ b: UInt8) -> UInt32? {
    if b &- UInt8(ascii: "0") < 10 { return UInt32(b &- UInt8(ascii: "0")) }
    let lower = b | 0x20
    if lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "f") { return UInt32(lower - UInt8(ascii: "a") + 10) }
    return nil
}

/// XML 1.0's `Char`: what a character reference may stand for.
private func isXMLCharacter(_ v: UInt32) -> Bool {
    v == 0x09 || v == 0x0A || v == 0x0D || (0x20...0xD7FF).contains(v) || (0xE000...0xFFFD).contains(v)
        || (0x1_0000...0x10_FFFF).contains(v)
}

private func hex(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return "0x\(digits[Int(b >> 4)])\(digits[Int(b & 15)])"
}

/// Parses `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?` with XML whitespace around.
///
/// Fast path (Clinger): digits that fit in 53 bits scaled by at most 10^22 are two exact Doubles,
/// and one IEEE multiplication or division rounds correctly; coordinates always take it. Other
/// numbers go to the standard library's correctly rounded parser, after this grammar check
/// (it accepts more, such as `inf` and hexadecimal).
func parseXMLDecimal(_ base: UnsafeRawPointer, count: Int) -> Double? {
    @inline(__always) func at(_ i: Int) -> UInt8 { i < count ? base.load(fromByteOffset: i, as: UInt8.self) : 0 }
    var start = 0
    var end = count
    while start < end && isXMLWhitespace(at(start)) { start += 1 }
    while end > start && isXMLWhitespace(at(end - 1)) { end -= 1 }
    var i = start
    var negative = false
    if at(i) == UInt8(ascii: "-") || at(i) == UInt8(ascii: "+") {
        negative = at(i) == UInt8(ascii: "-")
        i += 1
    }
    var mantissa: UInt64 = 0
    var exponent = 0
    var digits = 0
    var exact = true
    while i < end, at(i) &- UInt8(ascii: "0") < 10 {
        if mantissa < 100_000_000_000_000_000 {
            mantissa = mantissa * 10 + UInt64(at(i) &- UInt8(ascii: "0"))
        } else {
            exact = false
        }
        digits += 1
        i += 1
    }
    if i < end && at(i) == UInt8(ascii: ".") {
        i += 1
        while i < end, at(i) &- UInt8(ascii: "0") < 10 {
            if mantissa < 100_000_000_000_000_000 {
                mantissa = mantissa * 10 + UInt64(at(i) &- UInt8(ascii: "0"))
                exponent -= 1
            } else {
                exact = false
            }
            digits += 1
            i += 1
        }
    }
    guard digits > 0 else { return nil }
    if i < end && at(i) | 0x20 == UInt8(ascii: "e") {
        i += 1
        var exponentNegative = false
        if i < end && (at(i) == UInt8(ascii: "-") || at(i) == UInt8(ascii: "+")) {
            exponentNegative = at(i) == UInt8(ascii: "-")
            i += 1
        }
        var written = 0
        var exponentDigits = 0
        while i < end, at(i) &- UInt8(ascii: "0") < 10 {
            if written < 100_000 { written = written * 10 + Int(at(i) &- UInt8(ascii: "0")) }
            exponentDigits += 1
            i += 1
        }
        guard exponentDigits > 0 else { return nil }
        exponent += exponentNegative ? -written : written
    }
    guard i == end else { return nil }
    if exact {
        if mantissa == 0 { return negative ? -0.0 : 0.0 }
        if mantissa <= 1 << 53 && exponent >= -22 && exponent <= 22 {
            var value = Double(mantissa)
            if exponent < 0 { value /= exactPowerOfTen(-exponent) } else { value *= exactPowerOfTen(exponent) }
            return negative ? -value : value
        }
    }
    return Double(String(decoding: UnsafeRawBufferPointer(start: base + start, count: end - start), as: UTF8.self))
}

