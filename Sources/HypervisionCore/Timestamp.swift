/// An instant with microsecond precision, as microseconds since 1970-01-01T00:00:00Z.
///
/// Microseconds match PostgreSQL's `timestamptz`, so a ping's time survives a round trip through
/// the database exactly, which is what makes "the same unit and time is stored once" hold.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public init(seconds: Int64) { self.microseconds = seconds * 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    public func adding(seconds: Double) -> Timestamp {
        Timestamp(microseconds: microseconds + Int64((seconds * 1_000_000).rounded()))
    }

    /// The whole seconds since the epoch, rounded down.
    public var seconds: Int64 { floorDiv(microseconds, 1_000_000) }

    /// The day number since the epoch (UTC), rounded down.
    public var epochDay: Int64 { floorDiv(microseconds, 86_400_000_000) }

    public var description: String { rfc3339 }

    // MARK: RFC 3339

    /// Formats as RFC 3339 in UTC: `2026-11-23T10:00:00.250Z` (milliseconds or microseconds as needed).
    public var rfc3339: String {
        let (date, secondOfDay, micros) = components
        // Written byte by byte: scenes format a time per moved unit, many thousand times a second.
        return String(unsafeUninitializedCapacity: Self.maximumTextBytes) { buffer in
            var out = DigitWriter(buffer)
            out.date(date)
            out.byte(UInt8(ascii: "T"))
            out.timeOfDay(secondOfDay)
            if micros != 0 {
                out.byte(UInt8(ascii: "."))
                if micros % 1000 == 0 { out.digits(micros / 1000, width: 3) } else { out.digits(micros, width: 6) }
            }
            out.byte(UInt8(ascii: "Z"))
            return out.count
        }
    }

    /// Formats for PostgreSQL's text input: `2026-11-23 10:00:00.250000+00`.
    public var postgresText: String {
        String(unsafeUninitializedCapacity: Self.maximumTextBytes) { writePostgresText(into: $0) }
    }

    /// The most bytes ``rfc3339`` or ``postgresText`` can take.
    public static let maximumTextBytes = 40

    /// Writes ``postgresText`` into `buffer` (at least ``maximumTextBytes`` long) and returns its
    /// length: for COPY rows written straight into a network buffer, without a String per value.
    public func writePostgresText(into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let (date, secondOfDay, micros) = components
        var out = DigitWriter(buffer)
        out.date(date)
        out.byte(UInt8(ascii: " "))
        out.timeOfDay(secondOfDay)
        out.byte(UInt8(ascii: "."))
        out.digits(micros, width: 6)
        out.bytes("+00")
        return out.count
    }

    /// The UTC calendar date of this instant.
    public var civilDate: CivilDate { components.0 }

    private var components: (CivilDate, Int64, Int64) {
        let day = floorDiv(microseconds, 86_400_000_000)
        let microOfDay = microseconds - day * 86_400_000_000
        return (CivilDate(epochDay: day), microOfDay / 1_000_000, microOfDay % 1_000_000)
    }

    /// Parses an RFC 3339 date-time (`2026-11-23T10:00:00.250Z`, `…+02:00`, lowercase `t`/`z`, or a
    /// space for `T`). Digits beyond microseconds are truncated. Returns nil when malformed.
    public init?(rfc3339 text: some StringProtocol) {
        var parser = DigitScanner(Array(text.utf8))
        guard let year = parser.digits(4), parser.expect(UInt8(ascii: "-")),
            let month = parser.digits(2), parser.expect(UInt8(ascii: "-")),
            let day = parser.digits(2)
        else { return nil }
        guard parser.expect(anyOf: [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")]),
            let hour = parser.digits(2), parser.expect(UInt8(ascii: ":")),
            let minute = parser.digits(2), parser.expect(UInt8(ascii: ":")),
            let second = parser.digits(2)
        else { return nil }
        var micros: Int64 = 0
        if parser.expect(UInt8(ascii: ".")) {
            var count = 0
            while let d = parser.digit() {
                if count < 6 { micros = micros * 10 + Int64(d) }
                count += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 6) { micros *= 10 }
        }
        var offsetSeconds: Int64 = 0
        if parser.expect(anyOf: [UInt8(ascii: "Z"), UInt8(ascii: "z")]) {
            offsetSeconds = 0
        } else if let sign = parser.next(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            guard let oh = parser.digits(2), parser.expect(UInt8(ascii: ":")), let om = parser.digits(2),
                oh < 24, om < 60
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        guard parser.atEnd else { return nil }
        guard (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        let epochDay = CivilDate(year: year, month: month, day: day).epochDay
        // A leap second (:60) is folded onto the next second, as PostgreSQL does.
        let secondsOfDay = hour * 3600 + minute * 60 + second
        let total = epochDay * 86_400 + secondsOfDay - offsetSeconds
        // Only instants whose UTC date has a four-digit year: an offset can carry one just outside
        // (`0000-01-01T00:00:00+01:00` is in year -1, `9999-12-31T23:30:00-01:00` in 10000), and
        // then ``rfc3339`` would write text this parser refuses. Within the range, every time
        // read is written back and read again as the same instant.
        guard total >= Self.firstRFC3339Second, total < Self.endOfRFC3339Seconds else { return nil }
        self.microseconds = total * 1_000_000 + micros
    }

    /// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in seconds since the epoch.
    static let firstRFC3339Second: Int64 = -62_167_219_200
    static let endOfRFC3339Seconds: Int64 = 253_402_300_800
}

/// A proleptic Gregorian calendar date (UTC), used for day partitions and formatting.
public struct CivilDate: Sendable, Hashable, Comparable {
    public var year: Int64
    public var month: Int64
    public var day: Int64

    public init(year: Int64, month: Int64, day: Int64) {
        self.year = year
        self.month = month
        self.day = day
    }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { lhs.epochDay < rhs.epochDay }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    public var epochDay: Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day number since 1970-01-01 (Howard Hinnant's civil_from_days).
    public init(epochDay: Int64) {
        let z = epochDay + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    /// `2026-11-23`.
    public var isoString: String {
        padded(year, width: 4) + "-" + twoDigits(month) + "-" + twoDigits(day)
    }

    /// `20261123`, for partition names.
    public var compactString: String { padded(year, width: 4) + twoDigits(month) + twoDigits(day) }

    static func isLeap(_ year: Int64) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

@inline(__always) func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

private func twoDigits(_ value: Int64) -> String { padded(value, width: 2) }

/// Writes ASCII digits into a buffer large enough for a formatted time (40 bytes): years beyond
/// 9999 or before 0 keep their sign and every digit, like ``CivilDate/isoString``.
private struct DigitWriter {
    let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

    mutating func byte(_ value: UInt8) {
        buffer[count] = value
        count += 1
    }

    mutating func bytes(_ text: StaticString) {
        text.withUTF8Buffer { for value in $0 { byte(value) } }
    }

    /// `value` in decimal, zero-padded to `width` digits (more when it needs more).
    mutating func digits(_ value: Int64, width: Int) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            digits(0 - value, width: width)
            return
        }
        var length = 1
        var rest = value / 10
        while rest > 0 { length += 1; rest /= 10 }
        let total = max(length, width)
        var remaining = value
        for position in stride(from: count + total - 1, through: count, by: -1) {
            buffer[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
        count += total
    }

    mutating func date(_ date: CivilDate) {
        digits(date.year, width: 4)
        byte(UInt8(ascii: "-"))
        digits(date.month, width: 2)
        byte(UInt8(ascii: "-"))
        digits(date.day, width: 2)
    }

    mutating func timeOfDay(_ secondOfDay: Int64) {
        digits(secondOfDay / 3600, width: 2)
        byte(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, width: 2)
        byte(UInt8(ascii: ":"))
        digits(secondOfDay % 60, width: 2)
    }
}

private func padded(_ value: Int64, width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

private struct DigitScanner {
    let bytes: [UInt8]
    var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func digit() -> Int64? {
        guard index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 else { return nil }
        defer { index += 1 }
        return Int64(bytes[index] - 48)
    }

    mutating func digits(_ count: Int) -> Int64? {
        var value: Int64 = 0
        for _ in 0..<count {
            guard let d = digit() else { return nil }
            value = value * 10 + d
        }
        return value
    }

    mutating func expect(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func expect(anyOf set: [UInt8]) -> Bool {
        guard index < bytes.count, set.contains(bytes[index]) else { return false }
        index += 1
        return true
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Timestamp {
    /// The current wall-clock time. Pure code takes the time as a parameter; this is for callers.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }
}
