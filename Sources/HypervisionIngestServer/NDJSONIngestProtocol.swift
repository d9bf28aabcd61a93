import HypervisionCore

/// The lines the NDJSON ingest server sends back, one JSON object per line.
///
/// - `{"type":"auth","ok":true}` after a valid `{"type":"auth","token":"…"}` first line;
/// - `{"type":"error","line":N,"code":"…","message":"…"}` for a refused ping line N;
/// - `{"type":"ack","through":N,"accepted":a,"duplicates":d,"rejected":r}`: every ping line up to
///   N is settled: durable, a duplicate, or refused (and named in an error line before the ack).
///   A gateway that reconnects resends from line N+1 of its stream;
/// - `{"type":"error","code":"…","message":"…","retry":true|false}` then close: the connection
///   cannot go on; lines after the last ack were not stored.
///
/// Ping lines are numbered from 1 in each connection, not counting the auth line.
public enum NDJSONIngestProtocol {
    public static let authOK = "{\"type\":\"auth\",\"ok\":true}\n"

    public static func rejected(line: Int64, _ error: ValidationError) -> String {
        "{\"type\":\"error\",\"line\":\(line),\"code\":\(jsonString(error.code.rawValue)),\"message\":\(jsonString(error.message))}\n"
    }

    public static func ack(through line: Int64, accepted: Int, duplicates: Int, rejected: Int) -> String {
        "{\"type\":\"ack\",\"through\":\(line),\"accepted\":\(accepted),\"duplicates\":\(duplicates),\"rejected\":\(rejected)}\n"
    }

    public static func fatal(code: String, message: String, retry: Bool = false) -> String {
        "{\"type\":\"error\",\"code\":\(jsonString(code)),\"message\":\(jsonString(message)),\"retry\":\(retry)}\n"
    }

    /// The token of an auth line, or nil when the line is not `{"type":"auth","token":"…"}`.
    public static func authToken(_ line: [UInt8]) -> String? {
        // A tiny scanner: the auth line is the one JSON object here not about pings, and
        // pulling Foundation in for it would be the only use.
        guard let object = try? MiniJSON.parseFlatObject(line), object["type"] == "auth", let token = object["token"] else {
            return nil
        }
        return token
    }
}

/// Parses a flat JSON object whose values are strings (the auth line).
enum MiniJSON {
    struct Malformed: Error {}

    static func parseFlatObject(_ bytes: [UInt8]) throws -> [String: String] {
        var i = 0
        func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0D, 0x0A].contains(bytes[i]) { i += 1 } }
        func expect(_ c: UInt8) throws {
            skipSpace()
            guard i < bytes.count, bytes[i] == c else { throw Malformed() }
            i += 1
        }
        func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            var out: [UInt8] = []
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { throw Malformed() }
                    switch bytes[i] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(bytes[i])
                    default: throw Malformed()
                    }
                } else {
                    guard bytes[i] >= 0x20 else { throw Malformed() }
                    out.append(bytes[i])
                }
                i += 1
            }
            guard i < bytes.count else { throw Malformed() }
            i += 1
            // Repairing invalid UTF-8 would make another token of it; JSON is UTF-8, so refuse.
            guard let text = String(validating: out, as: UTF8.self) else { throw Malformed() }
            return text
        }
        var result: [String: String] = [:]
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return result }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            // A repeated key (two tokens) leaves the line with two readings; refused, as Core's
            // JSON parser refuses it, rather than taking whichever comes last.
            guard result.updateValue(try string(), forKey: key) == nil else { throw Malformed() }
            skipSpace()
            guard i < bytes.count else { throw Malformed() }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            break
        }
        skipSpace()
        guard i == bytes.count else { throw Malformed() }
        return result
    }
}
