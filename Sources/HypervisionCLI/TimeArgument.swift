import HypervisionCore

/// Parses a time as typed for `--from`/`--to`: `now`, a time before now (`-30m`, `-2h`, `-1d`,
/// `-1h30m`, `-90s`), or an RFC 3339 date-time (`2026-11-23T10:00:00Z`, `2026-11-23T11:00:00+01:00`).
///
/// Relative times count back from `now`, which the caller passes so that tests stay deterministic.
public func parseTime(_ text: String, now: Timestamp) throws(Failure) -> Timestamp {
    let trimmed = text.trimmed
    if trimmed.lowercased() == "now" { return now }
    if trimmed.hasPrefix("-") {
        guard let seconds = relativeSeconds(trimmed.dropFirst()) else {
            throw .usage(
                "a time expected, got \(trimmed): write an amount before now with units s, m, h, d (-30m, -2h, -1h30m)")
        }
        return now.adding(seconds: -seconds)
    }
    if let time = Timestamp(rfc3339: trimmed) { return time }
    throw .usage(
        "a time expected, got \(trimmed.isEmpty ? "nothing" : trimmed): "
            + "use now, -30m, -2h, -1d or RFC 3339 like 2026-11-23T10:00:00Z")
}

/// Parses `--from`/`--to`, checking that the window is not empty or reversed.
public func parseTimeWindow(from: String, to: String, now: Timestamp) throws(Failure) -> (from: Timestamp, to: Timestamp) {
    let start = try parseTime(from, now: now)
    let end = try parseTime(to, now: now)
    guard start < end else {
        throw .usage("--from (\(start.rfc3339)) must be before --to (\(end.rfc3339))")
    }
    return (start, end)
}

/// `30m`, `2h`, `1h30m`, `1d12h`, `90s` to seconds; nil when malformed or empty.
private func relativeSeconds(_ text: Substring) -> Double? {
    var total: Double = 0
    var digits = ""
    var sawUnit = false
    for character in text {
        if character.isASCII, character.isNumber {
            digits.append(character)
            continue
        }
        guard let amount = Double(digits), !digits.isEmpty else { return nil }
        switch character {
        case "s": total += amount
        case "m": total += amount * 60
        case "h": total += amount * 3600
        case "d": total += amount * 86_400
        case "w": total += amount * 7 * 86_400
        default: return nil
        }
        digits = ""
        sawUnit = true
    }
    // A bare number has no unit: refuse rather than guess minutes or seconds.
    guard sawUnit, digits.isEmpty else { return nil }
    return total
}
