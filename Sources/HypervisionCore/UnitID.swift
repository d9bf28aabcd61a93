/// The identifier of a field unit, such as `PN-75-BAC-12` or a tracker's IMEI.
///
/// 1 to 64 characters from `A-Z a-z 0-9 . _ - :`, starting with a letter or digit. The
/// restriction keeps ids safe in URLs, file names, log lines and CoT `uid`s without escaping.
public struct UnitID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public static let maximumLength = 64

    /// Creates an id after checking its syntax.
    public init(_ text: some StringProtocol) throws(ValidationError) {
        let utf8 = text.utf8
        guard !utf8.isEmpty else { throw ValidationError(.unitIDInvalid, "unit id is empty") }
        guard utf8.count <= Self.maximumLength else {
            throw ValidationError(.unitIDInvalid, "unit id is longer than \(Self.maximumLength) characters")
        }
        var first = true
        for byte in utf8 {
            let isAlnum = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
            let isPunct = byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ":")
            if first && !isAlnum {
                throw ValidationError(.unitIDInvalid, "unit id must start with a letter or digit")
            }
            guard isAlnum || isPunct else {
                throw ValidationError(
                    .unitIDInvalid, "unit id may contain only letters, digits and . _ - : (found byte 0x\(String(byte, radix: 16)))")
            }
            first = false
        }
        self.rawValue = String(text)
    }

    /// Creates an id from a value read back from storage, where it was already validated.
    public init(trusted rawValue: String) { self.rawValue = rawValue }

    public static func < (lhs: UnitID, rhs: UnitID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// What a unit reports it is doing. An open set: the well-known values are constants, and any
/// lowercase token of up to 32 characters (`[a-z0-9_]`) is accepted so agencies can add their own.
public struct UnitStatus: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 32,
            rawValue.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 })
        else { return nil }
        self.rawValue = rawValue
    }

    private init(known: String) { self.rawValue = known }

    public static let available = UnitStatus(known: "available")
    public static let busy = UnitStatus(known: "busy")
    public static let enRoute = UnitStatus(known: "en_route")
    public static let onScene = UnitStatus(known: "on_scene")
    public static let emergency = UnitStatus(known: "emergency")
    public static let offDuty = UnitStatus(known: "off_duty")

    public var description: String { rawValue }
}
