import ArgumentParser
import Foundation
import HypervisionConfiguration
import HypervisionApp
import HypervisionStore
import Logging
import Metrics
import Prometheus

/// The Hypervision daemon.
@main
struct Hypervisiond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hypervisiond",
        abstract: "Hypervision: unit positions, cameras and video walls for command rooms.",
        discussion: """
            With no database configured (no --database-url, database.url or PGHOST), hypervisiond runs its own \
            PostgreSQL 15 + PostGIS cluster in the state directory. Configuration: the YAML file, then \
            HYPERVISION_* environment variables, then these flags, the last winning.
            """)

    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Directory for the embedded database and the spool.")
    var stateDir: String?

    @Option(name: .long, help: "postgres:// URL of an existing PostgreSQL with PostGIS.")
    var databaseURL: String?

    @Option(name: .long, help: "HTTP port for health, readiness and metrics.")
    var httpPort: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Flag(name: .long, help: "Run a simulated fleet of units so a newcomer sees data move.")
    var demo = false

    /// sysexits.h EX_CONFIG: systemd and operators read it as "fix the configuration".
    static let exitConfigurationError: Int32 = 78

    func run() async throws {
        var overrides: [String: String] = [:]
        if let stateDir { overrides["state.dir"] = stateDir }
        if let databaseURL { overrides["database.url"] = databaseURL }
        if let httpPort { overrides["http.port"] = String(httpPort) }
        if let logLevel { overrides["log.level"] = logLevel }
        if demo { overrides["demo.enabled"] = "true" }

        let configuration: DaemonConfiguration
        do {
            configuration = try await ConfigurationLoader.load(filePath: config, overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("hypervisiond: \(error)\n".utf8))
            throw ExitCode(Self.exitConfigurationError)
        }

        let levelControl = LogLevelControl(configuration.logLevel)
        LoggingSystem.bootstrap { label in
            ControlledLogHandler(upstream: StreamLogHandler.standardError(label: label), control: levelControl)
        }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // The library's buckets start at 5 ms, where every wall round (target: under 1 ms) would
        // land in the first: on-call could not see a round slowing from 0.4 to 3 ms.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        let logger = Logger(label: "hypervisiond")
        for (name, suggestion) in DaemonConfiguration.unknownEnvironmentVariables(in: ProcessInfo.processInfo.environment) {
            logger.warning(
                "environment variable \(name) sets no configuration key\(suggestion.map { "; did you mean \($0)?" } ?? "")")
        }

        let daemon = Daemon(
            configuration: configuration, configurationFile: config, overrides: overrides, logger: logger,
            logLevel: levelControl, registry: registry, metricsFactory: factory)
        do {
            try await daemon.run()
        } catch let error as ConfigurationError {
            logger.critical("\(error)")
            throw ExitCode(Self.exitConfigurationError)
        } catch let error as EmbeddedPostgresError {
            logger.critical("\(error)")
            // EX_UNAVAILABLE: a required service (the database) cannot be had.
            throw ExitCode(69)
        } catch {
            logger.critical("hypervisiond stopped on an error", metadata: ["error": "\(String(reflecting: error))"])
            throw ExitCode.failure
        }
    }
}
