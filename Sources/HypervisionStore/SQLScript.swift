/// Splits a SQL script into statements, because PostgreSQL's extended query protocol (the one
/// postgres-nio speaks) runs one statement per query.
///
/// Understands `--` and `/* */` comments, `'…'` strings with `''` escapes, `"…"` identifiers and
/// dollar-quoted bodies (`$$…$$`, `$fn$…$fn$`), so semicolons inside function bodies stay put.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let bytes = Array(script.utf8)
        var statements: [String] = []
        var start = 0
        var i = 0
        var hasContent = false
        func flush(_ end: Int) {
            if hasContent {
                let text = String(decoding: bytes[start..<end], as: UTF8.self)
                    .trimmingCharacters(in: " \n\t\r")
                if !text.isEmpty { statements.append(text) }
            }
            hasContent = false
        }
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "-") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "-"):
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                i += 2
                while i + 1 < bytes.count && !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                i += 2
                continue
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                hasContent = true
                i += 1
                while i < bytes.count {
                    if bytes[i] == c {
                        if i + 1 < bytes.count && bytes[i + 1] == c { i += 2; continue }
                        break
                    }
                    i += 1
                }
                i += 1
                continue
            case UInt8(ascii: "$"):
                hasContent = true
                // A dollar quote tag is $[A-Za-z_]*$.
                var j = i + 1
                while j < bytes.count, isTagByte(bytes[j]) { j += 1 }
                if j < bytes.count, bytes[j] == UInt8(ascii: "$") {
                    let tag = Array(bytes[i...j])
                    var k = j + 1
                    while k + tag.count <= bytes.count, Array(bytes[k..<(k + tag.count)]) != tag { k += 1 }
                    i = min(k + tag.count, bytes.count)
                } else {
                    i += 1
                }
                continue
            case UInt8(ascii: ";"):
                flush(i)
                i += 1
                start = i
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                i += 1
                continue
            default:
                hasContent = true
                i += 1
            }
        }
        flush(bytes.count)
        return statements
    }

    private static func isTagByte(_ b: UInt8) -> Bool {
        (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 || (b >= 48 && b <= 57)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}
