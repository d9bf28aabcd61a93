import FuzzSupport
import HypervisionCore
import HypervisionStream

// A renderer's request line on the scene subscription port (7400) and the WebSocket, and the
// daemon's messages as clients decode them. An accepted request is within its documented limits
// and survives a round trip through its own encoding.

@main enum FuzzSubscribe {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let line = UnsafeBufferPointer(start: data, count: size)
    do {
        let request = try SubscribeRequest(line: line)
        Fuzz.check(line.count <= SubscribeRequest.defaultMaximumLineBytes, "a \(line.count)-byte line accepted")
        for field in [request.wall, request.display, request.token] {
            if let field {
                Fuzz.check(!field.isEmpty, "an empty field accepted")
                Fuzz.check(field.utf8.count <= SubscribeRequest.maximumFieldBytes, "a \(field.utf8.count)-byte field accepted")
            }
        }
        if let since = request.since { Fuzz.check(since <= 1 << 53, "since \(since) accepted") }
        var encoded = request.encodedLine()
        encoded.removeLast()  // the "\n"
        let again = try? SubscribeRequest(line: encoded)
        Fuzz.check(again == request, "\(request) does not survive its own encoding")
    } catch {
        Fuzz.check(error.code == .badRequest, "a request refused with \(error.code)")
        Fuzz.checkOffsets(in: error.message, inputCount: size)
    }
    if let message = try? ServerMessage(line: line) {
        // What a client decodes, the daemon could have sent: it encodes and decodes back the same.
        var encoded = message.encodedLine()
        encoded.removeLast()
        Fuzz.check((try? ServerMessage(line: encoded)) == message, "\(message) does not survive its own encoding")
    }
    return 0
}
