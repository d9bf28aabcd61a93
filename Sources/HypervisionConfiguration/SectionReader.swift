import Configuration
import Foundation

/// Reads configuration values as text and converts them here, so that a wrong type is an error
/// naming the key instead of a silent fallback to the default. Wraps swift-configuration's
/// `ConfigReader` (file, then environment, then flags).
public struct SectionReader: Sendable {
    public let reader: ConfigReader

    public init(_ reader: ConfigReader) { self.reader = reader }

    /// The value of `key` as text, nil when no provider has it.
    public func raw(_ key: String) -> String? {
        reader.string(forKey: ConfigKey(key))
    }

    public func string(_ key: String, default value: String) -> String {
        raw(key) ?? value
    }

    public func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = raw(key) else {
            if let number = reader.int(forKey: ConfigKey(key)) { return try check(key, number, range) }
            return value
        }
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(key: key, problem: "\"\(text)\" is not a whole number")
        }
        return try check(key, number, range)
    }

    /// A whole number of seconds (or milliseconds with `unit: .milliseconds(1)`), as a Duration.
    public func duration(
        _ key: String, default value: Int, in range: ClosedRange<Int>, unit: Duration = .seconds(1)
    ) throws(ConfigurationError) -> Duration {
        unit * (try int(key, default: value, in: range))
    }

    /// A list: a YAML sequence, or one value with commas (one environment variable).
    public func strings(_ key: String) -> [String] {
        if let list = reader.stringArray(forKey: ConfigKey(key)) { return list }
        guard let single = raw(key), !single.isEmpty else { return [] }
        return single.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    public func bool(_ key: String, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let text = raw(key) else { return reader.bool(forKey: ConfigKey(key)) ?? value }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw ConfigurationError(key: key, problem: "\"\(text)\" is not true or false")
        }
    }

    private func check(_ key: String, _ number: Int, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard range.contains(number) else {
            throw ConfigurationError(key: key, problem: "\(number) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }
}
