import HypervisionStore
import Logging
import ServiceLifecycle
import Synchronization

/// systemd integration as one service: `READY=1` once the database is migrated and the
/// listeners are bound, `STATUS=` lines that say what the daemon waits for, `WATCHDOG=1` only
/// while the ping pipeline makes progress, and `STOPPING=1` when shutdown begins.
public final class SystemdService: Service, Sendable {
    private let notifier: SystemdNotifier
    private let status: DatabaseStatus
    private let writer: PingWriter
    private let logger: Logger
    private let watchdogInterval: Duration?
    private let progressWindow: Duration
    private let gate = Mutex(Gate())

    private struct Gate {
        var databaseReady = false
        var expectedListeners = 1
        var listening = 0
        var announced = false
    }

    public init(
        notifier: SystemdNotifier, status: DatabaseStatus, writer: PingWriter, progressWindow: Duration,
        watchdogInterval: Duration?, logger: Logger
    ) {
        self.notifier = notifier
        self.status = status
        self.writer = writer
        self.progressWindow = progressWindow
        self.watchdogInterval = watchdogInterval
        self.logger = logger
    }

    /// Called by the database supervisor once migrations ran.
    public func databaseReady() {
        markReady { $0.databaseReady = true }
    }

    /// How many listeners must report `listenerBound()` before READY=1; set before running.
    public func expect(listeners count: Int) {
        gate.withLock { $0.expectedListeners = count }
    }

    /// Called by each listener once it is bound; ready when all of them are.
    public func listenerBound() {
        markReady { $0.listening += 1 }
    }

    private func markReady(_ change: (inout Gate) -> Void) {
        let announce = gate.withLock { state -> Bool in
            change(&state)
            guard state.databaseReady, state.listening >= state.expectedListeners, !state.announced else { return false }
            state.announced = true
            return true
        }
        if announce {
            logger.notice("hypervisiond ready")
            notifier.ready(status: "ready: database \(status.summary)")
        }
    }

    public func run() async throws {
        let tick: Duration = watchdogInterval.map { min($0 / 2, .seconds(1)) } ?? .seconds(1)
        await cancelWhenGracefulShutdown {
            var lastStatus = ""
            var withholding = false
            while !Task.isCancelled {
                let line = "database \(self.status.summary); spool \(self.writer.spooledBytes) bytes; queue \(self.writer.queuedPings) pings"
                if line != lastStatus {
                    self.notifier.status(line)
                    lastStatus = line
                }
                if self.watchdogInterval != nil {
                    if self.writer.isMakingProgress(within: self.progressWindow) {
                        self.notifier.watchdog()
                        if withholding { self.logger.notice("ping pipeline moving again; watchdog resumed") }
                        withholding = false
                    } else if !withholding {
                        self.logger.error("ping pipeline stalled; withholding the systemd watchdog")
                        withholding = true
                    }
                }
                try? await Task.sleep(for: tick)
            }
        }
        notifier.stopping(status: "stopping: flushing pending pings")
    }
}
