extension ValidationError.Code {
    /// A text field holds a control character (Unicode category Cc: U+0000–U+001F and
    /// U+007F–U+009F). PostgreSQL `text` cannot store U+0000 at all, and the others corrupt
    /// logs, CSV exports and wall labels.
    public static let controlCharacter = ValidationError.Code(rawValue: "control_character")
}

/// Checks on text that a client sends and the daemon stores or echoes.
public enum InputText {
    /// Refuses `text` when it holds a control character, naming `field` and the first one found.
    ///
    /// `allowingLineBreaks` keeps tab, line feed and carriage return, which free text (an
    /// incident summary typed by an operator) legitimately holds; names, ids, tags and URLs are
    /// one line.
    public static func check(_ text: String, field: String, allowingLineBreaks: Bool = false) throws(ValidationError) {
        for (offset, scalar) in text.unicodeScalars.enumerated() where isControl(scalar.value) {
            if allowingLineBreaks && (scalar.value == 0x09 || scalar.value == 0x0A || scalar.value == 0x0D) { continue }
            throw ValidationError(
                .controlCharacter, "\(field) holds the control character \(codePoint(scalar.value)) at character \(offset)")
        }
    }

    /// Whether `text` is free of control characters (see ``check(_:field:allowingLineBreaks:)``).
    public static func isClean(_ text: some StringProtocol) -> Bool {
        !text.unicodeScalars.contains { isControl($0.value) }
    }

    @inline(__always)
    static func isControl(_ value: UInt32) -> Bool { value < 0x20 || (0x7F...0x9F).contains(value) }

    static func codePoint(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

extension Double {
    /// Parses a decimal number written the way JSON writes one (`-12`, `48.8566`, `1e-3`):
    /// nil for anything else, so query parameters are numbers and nothing more.
    ///
    /// `Double(_:)` alone also reads `0x1p3`, `nan`, `inf`, `+5` and `.5`: a client that sends
    /// one of those has made a mistake we should name, not guess at. Leading zeros (`048.8`)
    /// are tolerated, since GIS tools write them. The value must be finite.
    public init?(decimalText text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard digits() > 0 else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return nil }
        }
        guard index == bytes.count, let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite else { return nil }
        self = value
    }
}
