import FuzzSupport
import HypervisionCore
import HypervisionIngest

// NMEA RMC sentences, as trackers forward them and as OsmAnd's `gprmc=` carries them. A random
// mutation almost never keeps the checksum right, which would leave everything after the checksum
// check unexplored; so each input is parsed as it is and once more with its checksum made right.

@main enum FuzzNMEA {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    parse(bytes)
    if let repaired = withChecksumRepaired(bytes), repaired != bytes { parse(repaired) }
    return 0
}

private func parse(_ bytes: [UInt8]) {
    let sentence = String(decoding: bytes, as: UTF8.self)
    guard case .success(let fix) = NMEA.parseRMC(sentence) else { return }
    Fuzz.check(fix.latitude.isFinite && fix.longitude.isFinite, "a fix at \(fix.latitude), \(fix.longitude)")
    if let speed = fix.speedKnots { Fuzz.check(speed.isFinite, "speed \(speed)") }
    if let course = fix.course { Fuzz.check(course.isFinite, "course \(course)") }
    // RMC has a two-digit year, read as 1980-2079; a fix outside those years was misread.
    let earliest = Timestamp(rfc3339: "1980-01-01T00:00:00Z")!
    let latest = Timestamp(rfc3339: "2080-01-01T00:00:01Z")!
    Fuzz.check(fix.time >= earliest && fix.time < latest, "a fix at \(fix.time.rfc3339)")
    // As OsmAnd passes it on: knots to m/s, the validator's checks.
    var ping = RawPing(unit: "FUZZ-1", time: fix.time.rfc3339, latitude: fix.latitude, longitude: fix.longitude)
    ping.speed = fix.speedKnots.map { $0 * 1852 / 3600 }
    ping.heading = fix.course
    Fuzz.validate(ping)
}

/// The input with the two characters after its last '*' set to the XOR of the bytes between the
/// first '$' and that '*' (or with `*hh` appended when there is no '*'), for sentences that
/// start with '$' after optional whitespace.
private func withChecksumRepaired(_ bytes: [UInt8]) -> [UInt8]? {
    guard let dollar = bytes.firstIndex(of: UInt8(ascii: "$")) else { return nil }
    var end = bytes.count
    while end > dollar + 1, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[end - 1]) { end -= 1 }
    let star = bytes[dollar..<end].lastIndex(of: UInt8(ascii: "*")) ?? end
    let checksum = bytes[(dollar + 1)..<star].reduce(UInt8(0), ^)
    let digits = Array("0123456789ABCDEF".utf8)
    return Array(bytes[..<star]) + [UInt8(ascii: "*"), digits[Int(checksum >> 4)], digits[Int(checksum & 0xF)]]
        + Array(bytes[end...])
}
