import Configuration
import Foundation
import HypervisionConfiguration
import SystemPackage

/// Builds the configuration from its three sources, first one wins: command-line flags,
/// `HYPERVISION_*` environment variables, the YAML file.
public enum ConfigurationLoader {
    public static func load(
        filePath: String?, overrides: [String: String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ConfigurationError) -> DaemonConfiguration {
        var providers: [any ConfigProvider] = []
        var inMemory: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in overrides {
            inMemory[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(.string(value), isSecret: key == "database.url")
        }
        providers.append(InMemoryProvider(values: inMemory))
        providers.append(EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "hypervision"))
        if let filePath, try DaemonConfiguration.validateFile(at: filePath) {
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(filePath)))
            } catch {
                throw ConfigurationError(key: nil, problem: "cannot load \(filePath): \(error)")
            }
        }
        return try DaemonConfiguration(reader: ConfigReader(providers: providers))
    }
}
