import Foundation
import HypervisionCore
import Yams

/// Reads wall definitions from the walls directory: every `*.json`, `*.yaml` or `*.yml` file
/// holds one wall. YAML is read into the same JSON document the API takes.
public enum WallFiles {
    /// The definitions found, by path, and the files that could not be read, with why.
    public static func load(directory: String) -> (definitions: [(path: String, json: JSONValue)], problems: [(path: String, problem: String)]) {
        guard !directory.isEmpty else { return ([], []) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            return ([], [(directory, "cannot list the walls directory: \(error.localizedDescription)")])
        }
        var definitions: [(String, JSONValue)] = []
        var problems: [(String, String)] = []
        for name in names where name.hasSuffix(".json") || name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = directory + "/" + name
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                guard text.utf8.count <= 1 << 20 else {
                    problems.append((path, "larger than 1 MiB"))
                    continue
                }
                if name.hasSuffix(".json") {
                    definitions.append((path, try JSONValue(parsing: text)))
                } else {
                    definitions.append((path, try json(fromYAML: Yams.load(yaml: text))))
                }
            } catch {
                problems.append((path, "\(error)"))
            }
        }
        return (definitions, problems)
    }

    struct Unrepresentable: Error, CustomStringConvertible {
        var description: String
    }

    static func json(fromYAML value: Any?) throws -> JSONValue {
        switch value {
        case nil: return .null
        case let value as Bool: return .bool(value)
        case let value as Int: return .number(Double(value))
        case let value as Double: return .number(value)
        case let value as String: return .string(value)
        case let value as [Any]: return .array(try value.map(json(fromYAML:)))
        case let value as [String: Any]: return .object(try value.mapValues(json(fromYAML:)))
        default: throw Unrepresentable(description: "a YAML value of type \(type(of: value!)) has no JSON form")
        }
    }
}
