import FuzzSupport
import HypervisionCore
import HypervisionIngest

// The Cursor-on-Target TCP framer, fed the stream (the input after its first byte) in reads split
// where the fuzzer chooses (the first byte picks the split), and checked against the same stream
// given in one read: how the bytes happen to arrive must change neither the events framed nor
// the failure. Every event is then decoded as the CoT port decodes it.

/// Small, so that short inputs reach it.
private let maximumEventBytes = 512
private let decoder = CoTDecoder()

@main enum FuzzCoTFramer {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let stream = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let whole = frame(stream, reads: [0..<stream.count])
    let split = frame(stream, reads: Fuzz.reads(count: stream.count, control: data[0]))
    Fuzz.check(whole.events == split.events, "\(whole.events.count) events in one read, \(split.events.count) when split")
    Fuzz.check(whole.failure == split.failure, "\(String(describing: whole.failure)) in one read, \(String(describing: split.failure)) when split")
    var total = 0
    for event in split.events {
        total += event.count
        Fuzz.check(event.count <= maximumEventBytes, "a \(event.count)-byte event passed a \(maximumEventBytes)-byte limit")
        Fuzz.check(event.first == UInt8(ascii: "<") && event.last == UInt8(ascii: ">"), "an event that is not one element")
        switch decoder.decode(event) {
        case .success(let decoded): Fuzz.validate(decoded.ping)
        case .failure(let error): Fuzz.checkOffsets(in: error.message, inputCount: event.count)
        }
    }
    Fuzz.check(total <= stream.count, "more bytes framed than received")
    return 0
}

private struct Framed {
    var events: [[UInt8]] = []
    /// The code of the first failure, from `append` or from `finish`.
    var failure: ValidationError.Code?
}

private func frame(_ stream: UnsafeRawBufferPointer, reads: [Range<Int>]) -> Framed {
    var framer = CoTFramer(maximumEventBytes: maximumEventBytes)
    var framed = Framed()
    for read in reads {
        do {
            framed.events += try framer.append(UnsafeRawBufferPointer(rebasing: stream[read]))
            Fuzz.check(framer.bufferedByteCount <= stream.count, "\(framer.bufferedByteCount) bytes buffered")
        } catch {
            // The server closes the connection at the first failure.
            framed.failure = error.code
            return framed
        }
    }
    do {
        try framer.finish()
    } catch {
        framed.failure = error.code
    }
    return framed
}
