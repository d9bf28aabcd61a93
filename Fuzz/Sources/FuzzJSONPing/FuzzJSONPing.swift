import FuzzSupport
import HypervisionCore
import HypervisionIngest

// The JSON ping decoder as HTTP (one object or an array), NDJSON bodies and UDP datagrams use it,
// with the default limits and with tiny ones (so short inputs reach every limit). Its answers are
// checked against Core's JSONValue parser, an independent strict RFC 8259 parser: JSON one of
// them refuses as malformed the other must refuse too.

private let decoders = [
    JSONPingDecoder(),
    JSONPingDecoder(limits: .init(maximumItems: 3, maximumStringBytes: 8, maximumDepth: 3)),
]

@main enum FuzzJSONPing {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let reference = Result { () throws(JSONParseError) in try JSONValue(parsing: UnsafeBufferPointer(start: data, count: size)) }
    for decoder in decoders {
        document(input, decoder, reference: reference)
        ndjson(input, decoder)
    }
    return 0
}

private func document(_ input: UnsafeRawBufferPointer, _ decoder: JSONPingDecoder, reference: Result<JSONValue, JSONParseError>) {
    let limits = decoder.limits
    do {
        let items = try decoder.decodeDocument(input)
        Fuzz.check(items.count <= limits.maximumItems, "\(items.count) items decoded, limit \(limits.maximumItems)")
        for item in items { check(item, limits, inputCount: input.count, line: false) }
        if case .failure(let error) = reference {
            Fuzz.check(Fuzz.isJSONValuePolicy(error), "the ping decoder accepted what JSONValue refuses: \(error)")
        }
    } catch {
        Fuzz.checkOffsets(in: error.message, inputCount: input.count)
        if error.code == .jsonInvalid, case .success(let value) = reference {
            Fuzz.check(false, "the ping decoder refused valid JSON \(value.encoded().prefix(200)): \(error.message)")
        }
        let codes: [ValidationError.Code] = [.jsonInvalid, .notAnObject, .nestingTooDeep, .tooManyItems]
        Fuzz.check(codes.contains(error.code), "a document refused with \(error.code)")
    }
}

private func ndjson(_ input: UnsafeRawBufferPointer, _ decoder: JSONPingDecoder) {
    let limits = decoder.limits
    var lines: [UnsafeRawBufferPointer] = []
    var start = 0
    for i in 0..<input.count where input[i] == UInt8(ascii: "\n") {
        lines.append(UnsafeRawBufferPointer(rebasing: input[start..<i]))
        start = i + 1
    }
    if start < input.count { lines.append(UnsafeRawBufferPointer(rebasing: input[start...])) }
    do {
        let items = try decoder.decodeNDJSON(input)
        Fuzz.check(items.count <= limits.maximumItems, "\(items.count) NDJSON items decoded, limit \(limits.maximumItems)")
        Fuzz.check(items.count <= lines.count, "\(items.count) items from \(lines.count) lines")
        for item in items { check(item, limits, inputCount: input.count, line: true) }
    } catch {
        Fuzz.check(error.code == .tooManyItems, "an NDJSON body refused whole with \(error.code)")
    }
    // One line as the TCP and UDP front doors decode it (the body's first line, if it has several).
    if let first = lines.first {
        check(decoder.decodeLine(first), limits, inputCount: first.count, line: false)
    }
}

private func check(_ item: JSONPingDecoder.Item, _ limits: JSONPingDecoder.Limits, inputCount: Int, line: Bool) {
    switch item {
    case .ping(let ping):
        Fuzz.checkDecoded(ping, maximumStringBytes: limits.maximumStringBytes)
        Fuzz.validate(ping)
    case .invalid(let error):
        // In a body's messages an offset is within its line, itself within the body.
        Fuzz.checkOffsets(in: error.message, inputCount: inputCount)
    }
}
