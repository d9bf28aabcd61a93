import HypervisionCore

/// JSON for people: two-space indentation, one member per line, keys sorted, short arrays of
/// numbers (coordinates) kept on one line. Reads back to the same value.
public func prettyJSON(_ value: JSONValue) -> String {
    var out = ""
    write(value, indent: "", into: &out)
    return out + "\n"
}

private func write(_ value: JSONValue, indent: String, into out: inout String) {
    switch value {
    case .array(let elements) where elements.isEmpty:
        out += "[]"
    case .array(let elements) where elements.count <= 4 && elements.allSatisfy({ $0.doubleValue != nil }):
        out += "[" + elements.map { $0.encoded() }.joined(separator: ", ") + "]"
    case .array(let elements):
        let inner = indent + "  "
        out += "[\n"
        for (index, element) in elements.enumerated() {
            out += inner
            write(element, indent: inner, into: &out)
            out += index == elements.count - 1 ? "\n" : ",\n"
        }
        out += indent + "]"
    case .object(let members) where members.isEmpty:
        out += "{}"
    case .object(let members):
        let inner = indent + "  "
        let keys = JSONValue.canonicalKeyOrder(members)
        out += "{\n"
        for (index, key) in keys.enumerated() {
            out += inner + jsonString(key) + ": "
            // swift-format-ignore: NeverForceUnwrap
            // The key comes from the dictionary itself.
            write(members[key]!, indent: inner, into: &out)
            out += index == keys.count - 1 ? "\n" : ",\n"
        }
        out += indent + "}"
    default:
        out += value.encoded()
    }
}
