import Foundation
import HypervisionCore

/// Distances as operators say them: `8 m`, `180 m`, `1.2 km`, `34 km`.
public func formatDistance(_ metres: Double) -> String {
    guard metres.isFinite, metres >= 0 else { return "?" }
    if metres < 999.5 { return "\(Int(metres.rounded())) m" }
    let kilometres = metres / 1000
    if kilometres < 99.95 {
        let tenths = Int((kilometres * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) km"
    }
    return "\(Int(kilometres.rounded())) km"
}

/// Durations: `45 s`, `1 min 35 s` (seconds shown under ten minutes, where they matter for an
/// arrival), `12 min`, `1 h 05`, `2 d 4 h`.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let total = Int(max(0, seconds).rounded())
    if total < 60 { return "\(total) s" }
    if total < 600 { return "\(total / 60) min" + (total % 60 == 0 ? "" : " \(total % 60) s") }
    if total < 3600 { return "\(total / 60) min" }
    if total < 86_400 {
        let minutes = total / 60 % 60
        return "\(total / 3600) h " + (minutes < 10 ? "0" : "") + "\(minutes)"
    }
    return "\(total / 86_400) d \(total / 3600 % 24) h"
}

/// Speed in km/h from metres per second: `54 km/h`.
public func formatSpeed(_ metresPerSecond: Double) -> String {
    guard metresPerSecond.isFinite else { return "?" }
    return "\(Int((metresPerSecond * 3.6).rounded())) km/h"
}

/// A heading in whole degrees and its compass point: `270° W`.
public func formatHeading(_ degrees: Double) -> String {
    guard degrees.isFinite else { return "?" }
    var whole = Int(degrees.rounded()) % 360
    if whole < 0 { whole += 360 }
    let points = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    return "\(whole)° " + points[Int((Double(whole) / 45).rounded()) % 8]
}

/// A position as `48.85660, 2.35220` (five decimals: about a metre).
public func formatPosition(_ point: GeoPoint) -> String {
    fixed(point.latitude, decimals: 5) + ", " + fixed(point.longitude, decimals: 5)
}

func fixed(_ value: Double, decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 1e15 else { return String(value) }
    let integer = Int(scaled)
    let whole = integer / Int(scale)
    var fraction = String(integer % Int(scale))
    fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
    return (value < 0 && integer != 0 ? "-" : "") + "\(whole)" + (decimals > 0 ? "." + fraction : "")
}

/// Renders instants in the operator's time zone, relative to now where that helps.
///
/// Times of today print as `14:03:12`; others as `2026-11-22 14:03`. Ages print as `3 min ago`.
public struct Clock: Sendable {
    public var now: Timestamp
    public var timeZone: TimeZone

    public init(now: Timestamp, timeZone: TimeZone) {
        self.now = now
        self.timeZone = timeZone
    }

    /// Local wall-clock time, seconds shown only for today.
    public func local(_ time: Timestamp) -> String {
        let (date, secondOfDay) = localParts(time)
        let clock = twoDigits(secondOfDay / 3600) + ":" + twoDigits(secondOfDay / 60 % 60)
        if date == localParts(now).0 { return clock + ":" + twoDigits(secondOfDay % 60) }
        return date.isoString + " " + clock
    }

    /// Local date and time with seconds, always with the date: `2026-11-23 14:03:12`.
    public func localFull(_ time: Timestamp) -> String {
        let (date, secondOfDay) = localParts(time)
        return date.isoString + " " + twoDigits(secondOfDay / 3600) + ":" + twoDigits(secondOfDay / 60 % 60) + ":"
            + twoDigits(secondOfDay % 60)
    }

    /// `12 s ago`, `3 min ago`, `in 5 min` for a time after now.
    public func age(_ time: Timestamp) -> String {
        let seconds = Double(now.microseconds - time.microseconds) / 1_000_000
        if seconds < -1 { return "in " + formatDuration(-seconds) }
        return formatDuration(max(0, seconds)) + " ago"
    }

    /// `14:03:12 (3 min ago)`.
    public func localWithAge(_ time: Timestamp) -> String { local(time) + " (" + age(time) + ")" }

    /// The offset of the time zone at that instant, e.g. `UTC+01:00`, for headers.
    public func offsetName(at time: Timestamp) -> String {
        let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(time.seconds)))
        let sign = offset < 0 ? "-" : "+"
        return "UTC" + sign + twoDigits(abs(offset) / 3600) + ":" + twoDigits(abs(offset) / 60 % 60)
    }

    private func localParts(_ time: Timestamp) -> (CivilDate, Int) {
        let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(time.seconds)))
        let local = time.seconds + Int64(offset)
        let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        return (CivilDate(epochDay: day), Int(local - day * 86_400))
    }
}

private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
private func twoDigits(_ value: Int64) -> String { twoDigits(Int(value)) }
