import FuzzSupport
import HypervisionCore
import HypervisionIngestServer

// The first line of an NDJSON ingest connection, `{"type":"auth","token":"…"}`, read by the
// server's own small parser. Whatever it takes for an auth line must be one: valid JSON (by Core's
// strict JSONValue parser) whose `type` is "auth" and whose `token` is the same string.

@main enum FuzzNDJSONAuth {
    static func main() { Fuzz.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let line = Array(UnsafeBufferPointer(start: data, count: size))
    guard let token = NDJSONIngestProtocol.authToken(line) else { return 0 }
    let reference: JSONValue
    do {
        reference = try JSONValue(parsing: line)
    } catch {
        Fuzz.check(false, "an auth line that is not JSON was accepted: \(error)")
        return 0
    }
    Fuzz.check(reference["type"] == .string("auth"), "an auth line whose type is \(String(describing: reference["type"]))")
    Fuzz.check(reference["token"] == .string(token), "the token read differs from the JSON's: \(token)")
    return 0
}
