import Foundation

/// Where the daemon is and which token to present, resolved from the command line, the
/// environment and configuration files, the first that gives a value winning.
public struct ConnectionSettings: Sendable, Hashable {
    public static let defaultURL = "http://127.0.0.1:8080"
    /// Searched in this order after flags and environment; `~` is the user's home.
    public static let configurationPaths = ["~/.config/hypervision/ctl.yaml", "/etc/hypervision/ctl.yaml"]

    /// The base URL, without a trailing slash.
    public var baseURL: String
    public var token: String?
    /// Where the token came from, for error messages ("from HYPERVISION_TOKEN").
    public var tokenSource: String?

    public init(baseURL: String, token: String?, tokenSource: String? = nil) {
        self.baseURL = baseURL
        self.token = token
        self.tokenSource = tokenSource
    }

    /// Resolves the settings: `--url`/`--token`, else `HYPERVISION_URL`/`HYPERVISION_TOKEN`, else the
    /// first configuration file that exists (each key separately), else the default URL and no token.
    ///
    /// - Parameter readFile: the text of a configuration file, or nil when it does not exist.
    public static func resolve(
        url: String?, token: String?, environment: [String: String], home: String?,
        readFile: (String) throws -> String?
    ) throws(Failure) -> ConnectionSettings {
        var fileValues: [String: String] = [:]
        var filePath: String?
        // Files are read only when a flag or variable leaves something unset.
        let wantsFile = (url ?? environment["HYPERVISION_URL"]).nonEmpty == nil
            || (token ?? environment["HYPERVISION_TOKEN"]).nonEmpty == nil
        if wantsFile {
            for path in configurationPaths {
                let expanded = expandHome(path, home: home)
                let text: String?
                do { text = try readFile(expanded) } catch {
                    throw Failure(exitStatus: Failure.badConfiguration, "cannot read \(expanded): \(error)")
                }
                guard let text else { continue }
                fileValues = try parseConfiguration(text, path: expanded)
                filePath = expanded
                break
            }
        }
        let chosenURL: String
        if let value = url.nonEmpty {
            chosenURL = value
        } else if let value = environment["HYPERVISION_URL"].nonEmpty {
            chosenURL = value
        } else {
            chosenURL = fileValues["url"].nonEmpty ?? defaultURL
        }
        var chosenToken: String?
        var source: String?
        if let value = token.nonEmpty {
            (chosenToken, source) = (value, "--token")
        } else if let value = environment["HYPERVISION_TOKEN"].nonEmpty {
            (chosenToken, source) = (value, "HYPERVISION_TOKEN")
        } else if let value = fileValues["token"].nonEmpty, let filePath {
            (chosenToken, source) = (value, filePath)
        }
        return ConnectionSettings(baseURL: try validateBaseURL(chosenURL), token: chosenToken, tokenSource: source)
    }
}

/// Checks that a base URL is `http://` or `https://` with a host, and drops trailing slashes.
public func validateBaseURL(_ text: String) throws(Failure) -> String {
    var url = text.trimmed
    let lower = url.lowercased()
    guard let schemeEnd = lower.range(of: "://"),
        ["http", "https"].contains(String(lower[..<schemeEnd.lowerBound]))
    else {
        throw .usage("the daemon URL must start with http:// or https://, got \(text.isEmpty ? "nothing" : text)")
    }
    let rest = url[schemeEnd.upperBound...]
    guard let hostStart = rest.first, hostStart != "/", hostStart != ":" else {
        throw .usage("the daemon URL \(text) has no host")
    }
    guard !rest.contains("?"), !rest.contains("#"), !rest.contains(where: \.isWhitespace) else {
        throw .usage("the daemon URL \(text) must be a plain base address like http://127.0.0.1:8080")
    }
    while url.hasSuffix("/") { url.removeLast() }
    return url
}

/// Reads the few keys of `ctl.yaml`: top-level `key: value` lines, values optionally quoted,
/// `#` comments and blank lines ignored. Anything more elaborate is refused with its line number
/// rather than misread.
public func parseConfiguration(_ text: String, path: String) throws(Failure) -> [String: String] {
    let known: Set<String> = ["url", "token"]
    var values: [String: String] = [:]
    var lineNumber = 0
    for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
        lineNumber += 1
        var line = String(rawLine)
        if line.hasSuffix("\r") { line.removeLast() }
        let content = line.trimmed
        if content.isEmpty || content.hasPrefix("#") || content == "---" { continue }
        func fail(_ reason: String) -> Failure {
            Failure(exitStatus: Failure.badConfiguration, "\(path):\(lineNumber): \(reason)")
        }
        guard line.first?.isWhitespace == false, let colon = content.firstIndex(of: ":") else {
            throw fail("expected a top-level line like `url: http://127.0.0.1:8080`")
        }
        let key = String(content[..<colon]).trimmed
        guard known.contains(key) else {
            throw fail("unknown key \(key) (known: url, token)")
        }
        var value = String(content[content.index(after: colon)...]).trimmed
        if let quote = value.first, quote == "\"" || quote == "'" {
            guard value.count >= 2, value.last == quote else { throw fail("unterminated quoted value") }
            value = String(value.dropFirst().dropLast())
        } else if let comment = value.range(of: " #") {
            value = String(value[..<comment.lowerBound]).trimmed
        }
        values[key] = value
    }
    return values
}

func expandHome(_ path: String, home: String?) -> String {
    guard path.hasPrefix("~/"), let home, !home.isEmpty else { return path }
    return home + path.dropFirst()
}

extension Optional where Wrapped == String {
    /// The string unless it is nil or empty (an empty variable counts as unset).
    var nonEmpty: String? {
        guard let value = self?.trimmed, !value.isEmpty else { return nil }
        return value
    }
}
