import FuzzSupport
import HypervisionCore
import HypervisionIngest

// One Cursor-on-Target event, as a UDP datagram or a framed TCP event is decoded: with the default
// limits and with tiny ones, so that short inputs reach the depth, attribute and value limits.

private let decoders = [
    CoTDecoder(),
    CoTDecoder(limits: .init(maximumEventBytes: 4_096, maximumDepth: 3, maximumAttributes: 3, maximumValueBytes: 16)),
]

@main enum FuzzCoT {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for decoder in decoders {
        switch decoder.decode(input) {
        case .success(let event):
            let ping = event.ping
            Fuzz.check(ping.latitude != nil && ping.longitude != nil, "an event without lat/lon")
            // A value's decoded text is never longer than its raw bytes, which the limit bounds.
            for text in [ping.unit, ping.time, event.callsign, event.type, event.stale] {
                if let text { Fuzz.check(text.utf8.count <= decoder.limits.maximumValueBytes, "a \(text.utf8.count)-byte value kept") }
            }
            // `1e999` is a number to XML, and an infinite one: the validator refuses it.
            Fuzz.checkDecoded(ping, maximumStringBytes: decoder.limits.maximumValueBytes, finiteNumbers: false)
            Fuzz.validate(ping)
        case .failure(let error):
            Fuzz.checkOffsets(in: error.message, inputCount: size)
        }
    }
    return 0
}
