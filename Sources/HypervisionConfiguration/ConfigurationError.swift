/// A configuration value that cannot be used. hypervisiond prints it and exits with status 78
/// (`EX_CONFIG`), which systemd shows as a configuration error.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var key: String?
    public var problem: String
    public init(key: String?, problem: String) {
        self.key = key
        self.problem = problem
    }
    public var description: String {
        if let key { return "configuration key \(key): \(problem)" }
        return "configuration: \(problem)"
    }
}
