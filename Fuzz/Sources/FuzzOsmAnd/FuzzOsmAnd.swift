import FuzzSupport
import HypervisionCore
import HypervisionIngest

// The OsmAnd / Traccar Client port (5055): every input is tried as a query string or form body
// (with its `gprmc=` NMEA sentence) and as a Traccar Client JSON body, the two ways the port reads
// a request. A decoded ping always names a unit and a finite position; JSON refused as malformed
// must be malformed for Core's independent strict parser too; messages point inside the input.

private let decoders = [
    OsmAndDecoder(),
    OsmAndDecoder(limits: .init(maximumParameters: 4, maximumValueBytes: 24, maximumItems: 3, maximumDepth: 3)),
]

@main enum FuzzOsmAnd {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    // As the port gets them: the query from the request URI, a form body as a String (invalid
    // UTF-8 repaired, as `String(buffer:)` does).
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let reference = Result { () throws(JSONParseError) in try JSONValue(parsing: UnsafeBufferPointer(start: data, count: size)) }
    for decoder in decoders {
        switch decoder.decodeParameters(text) {
        case .success(let ping): check(ping, decoder)
        case .failure(let error): Fuzz.checkOffsets(in: error.message, inputCount: text.utf8.count)
        }
        let results = decoder.decodeJSON(input)
        Fuzz.check(!results.isEmpty, "a JSON body gave no result")
        Fuzz.check(results.count <= decoder.limits.maximumItems, "\(results.count) locations, limit \(decoder.limits.maximumItems)")
        for result in results {
            switch result {
            case .success(let ping): check(ping, decoder)
            case .failure(let error):
                Fuzz.checkOffsets(in: error.message, inputCount: size)
                if error.code == .jsonInvalid, case .success(let value) = reference {
                    Fuzz.check(false, "valid JSON \(value.encoded().prefix(200)) refused: \(error.message)")
                }
            }
        }
        if results.contains(where: { if case .success = $0 { true } else { false } }), case .failure(let error) = reference {
            Fuzz.check(Fuzz.isJSONValuePolicy(error), "the decoder accepted what JSONValue refuses: \(error)")
        }
    }
    return 0
}

private func check(_ ping: RawPing, _ decoder: OsmAndDecoder) {
    Fuzz.check(ping.unit.map { !$0.isEmpty } == true, "a ping without a unit")
    Fuzz.check(ping.latitude != nil && ping.longitude != nil, "a ping without a position")
    // The unit is kept as sent, so the value limit bounds it (an integer device_id by its
    // digits); the time is written by the decoder itself, as RFC 3339.
    Fuzz.checkDecoded(ping, maximumStringBytes: max(decoder.limits.maximumValueBytes, Timestamp.maximumTextBytes))
    if let unit = ping.unit { Fuzz.check(unit.utf8.count <= decoder.limits.maximumValueBytes, "a \(unit.utf8.count)-byte unit") }
    Fuzz.validate(ping)
}
