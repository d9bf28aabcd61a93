import HypervisionStore
import Logging
import ServiceLifecycle
import UnixSignals
import HypervisionHTTP

/// Reloads what can change without a restart when the daemon receives SIGHUP: the log level,
/// the retention and the wall definition files. Other changed keys are reported as needing a restart.
public struct ReloadService: Service {
    let filePath: String?
    let overrides: [String: String]
    let logLevel: LogLevelControl
    let supervisor: DatabaseSupervisor
    let notifier: SystemdNotifier
    let logger: Logger
    let initial: DaemonConfiguration
    /// Reloads what belongs to other services (the wall files), given the new configuration.
    let onReload: @Sendable (DaemonConfiguration) -> Void

    public init(
        filePath: String?, overrides: [String: String], initial: DaemonConfiguration, logLevel: LogLevelControl,
        supervisor: DatabaseSupervisor, notifier: SystemdNotifier, logger: Logger,
        onReload: @escaping @Sendable (DaemonConfiguration) -> Void = { _ in }
    ) {
        self.onReload = onReload
        self.filePath = filePath
        self.overrides = overrides
        self.initial = initial
        self.logLevel = logLevel
        self.supervisor = supervisor
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            notifier.reloading()
            do {
                let fresh = try await ConfigurationLoader.load(filePath: filePath, overrides: overrides)
                if fresh.logLevel != logLevel.current {
                    logger.notice("log level changed", metadata: ["from": "\(logLevel.current)", "to": "\(fresh.logLevel)"])
                    logLevel.current = fresh.logLevel
                }
                supervisor.updateRetention(days: fresh.store.retention.retentionDays)
                onReload(fresh)
                var needsRestart: [String] = []
                if fresh.api.host != initial.api.host || fresh.api.port != initial.api.port { needsRestart.append("http") }
                if fresh.store.databaseURL != initial.store.databaseURL || fresh.store.poolSize != initial.store.poolSize {
                    needsRestart.append("database")
                }
                if fresh.store.writer != initial.store.writer { needsRestart.append("writer") }
                if fresh.store.spoolMaximumBytes != initial.store.spoolMaximumBytes { needsRestart.append("spool") }
                logger.notice(
                    "configuration reloaded",
                    metadata: ["retention.days": "\(fresh.store.retention.retentionDays)", "needs_restart": "\(needsRestart)"])
            } catch {
                logger.error("configuration reload refused; keeping the running configuration", metadata: ["reason": "\(error)"])
            }
            notifier.ready(status: "configuration reloaded")
        }
    }
}
