import CLibFuzzer
import HypervisionCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every fuzz target shares: invariant checks that turn a wrong answer into a crash
/// libFuzzer reports (with the input that caused it), the ping checks, and splitting an input
/// into reads.
public enum Fuzz {
    /// Runs libFuzzer on `testOneInput` with the command line's options, and exits with its status.
    public static func run(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }

    /// A fixed clock for validation, so that a crash reproduces whatever the day.
    public static let now = Timestamp(microseconds: 1_795_428_000_000_000)  // 2026-11-23T10:00:00Z

    /// Stops the run when `condition` is false. A trap is what libFuzzer records as a crash, so
    /// a decoder that answers wrongly is reported like one that crashes.
    public static func check(
        _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
        file: StaticString = #fileID, line: UInt = #line
    ) {
        if !condition() { fatalError("invariant broken: \(message())", file: file, line: line) }
    }

    /// Every `at byte N` (and `byte N of line`) in a message names a place inside the input:
    /// a message that points past the end would send whoever reads it to the wrong byte.
    public static func checkOffsets(in message: String, inputCount: Int) {
        let utf8 = Array(message.utf8)
        let marker = Array("byte ".utf8)
        var i = 0
        while i + marker.count <= utf8.count {
            guard utf8[i..<i + marker.count].elementsEqual(marker) else {
                i += 1
                continue
            }
            i += marker.count
            var value = 0
            var digits = 0
            // Decimal only: `byte 0x0A` names a byte's value, not a place.
            while i < utf8.count, utf8[i] >= 0x30, utf8[i] <= 0x39, digits < 18 {
                value = value * 10 + Int(utf8[i] - 0x30)
                digits += 1
                i += 1
            }
            if digits > 0 && (i >= utf8.count || utf8[i] != UInt8(ascii: "x")) {
                check(value <= inputCount, "\"\(message)\" names byte \(value) of a \(inputCount)-byte input")
            }
        }
    }

    /// Whether Core's JSONValue refused this for a reason of its own rather than for JSON syntax.
    /// Both parsers are strict RFC 8259; JSONValue also refuses duplicate keys (a scene must be
    /// unambiguous; ping objects take the last value, as most parsers do) and numbers beyond a
    /// Double (the ping decoders refuse those per field, `value_invalid`, and skip them unread in
    /// fields they do not know).
    public static func isJSONValuePolicy(_ error: JSONParseError) -> Bool {
        error.message.hasPrefix("duplicate key") || error.message == "number out of range"
    }

    /// A ping as a decoder reports it: numbers are finite (a decoder refuses what overflows a
    /// Double rather than passing on an infinity), and kept strings are within `maximumStringBytes`.
    public static func checkDecoded(_ ping: RawPing, maximumStringBytes: Int, finiteNumbers: Bool = true) {
        for (name, text) in [("unit", ping.unit), ("time", ping.time), ("status", ping.status)] {
            if let text { check(text.utf8.count <= maximumStringBytes, "\(name) of \(text.utf8.count) bytes was kept") }
        }
        guard finiteNumbers else { return }
        let numbers = [
            ping.latitude, ping.longitude, ping.altitude, ping.speed, ping.heading, ping.accuracy, ping.battery,
        ]
        for case let value? in numbers { check(value.isFinite, "a decoded number is \(value)") }
    }

    /// Runs the validator the daemon runs after every decoder, and checks what it lets through.
    public static func validate(_ raw: RawPing) {
        guard let ping = try? PingValidator().validate(raw, now: now) else { return }
        let position = ping.position
        check(position.latitude.isFinite && (-90...90).contains(position.latitude), "lat \(position.latitude) accepted")
        check(position.longitude.isFinite && (-180...180).contains(position.longitude), "lon \(position.longitude) accepted")
        if let speed = ping.speed { check(speed.isFinite && speed >= 0, "speed \(speed) accepted") }
        if let heading = ping.heading { check(heading >= 0 && heading < 360, "heading \(heading) accepted") }
        if let battery = ping.battery { check((0...100).contains(battery), "battery \(battery) accepted") }
        // What is stored is written back as text: it must read back as the same instant.
        check(Timestamp(rfc3339: ping.time.rfc3339) == ping.time, "time \(ping.time.rfc3339) does not round-trip")
    }

    /// Splits `count` bytes into the reads a socket might deliver: the whole input when `control`
    /// is 0, otherwise chunks whose lengths (1 to 64 bytes) follow a small generator seeded by
    /// `control`. The fuzzer mutates `control` like any other byte, so it chooses the split points.
    public static func reads(count: Int, control: UInt8) -> [Range<Int>] {
        guard control != 0, count > 0 else { return [0..<count] }
        var state = UInt32(control) &* 0x9E37_79B9 | 1
        let longest = UInt32(control & 0x3F) + 1
        var ranges: [Range<Int>] = []
        var start = 0
        while start < count {
            // xorshift32: enough variety for split points, and deterministic.
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            let length = Int(state % longest) + 1
            let end = min(count, start + length)
            ranges.append(start..<end)
            start = end
        }
        return ranges
    }
}
