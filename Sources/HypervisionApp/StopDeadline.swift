import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Ends the process if a graceful stop takes longer than `timeout`.
///
/// Every part of the daemon stops in bounded time on its own (the writer within one write
/// deadline, listeners once their connections are told `shutting_down`); this is the backstop
/// for a bug in that promise, so that systemd's `TimeoutStopSec` never has to SIGKILL a daemon
/// whose state nobody logged. It runs on a thread of its own, not a task: if the cooperative
/// pool itself were stuck, a task would never run. Acknowledged pings are durable by then, so
/// exiting loses only what was never acknowledged.
public final class StopDeadline: Service, Sendable {
    private let timeout: Duration
    private let logger: Logger
    private let stopStarted = Mutex<ContinuousClock.Instant?>(nil)

    public init(timeout: Duration, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    /// Time left before the deadline (all of it while no stop has begun).
    public var remaining: Duration {
        guard let started = stopStarted.withLock({ $0 }) else { return timeout }
        return max(.zero, timeout - (ContinuousClock.now - started))
    }

    public func run() async throws {
        try? await gracefulShutdown()
        stopStarted.withLock { $0 = .now }
        let timeout = self.timeout, logger = self.logger
        let thread = Thread {
            Thread.sleep(forTimeInterval: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
            logger.critical("graceful stop took longer than shutdown.timeoutSeconds; exiting now", metadata: ["timeout": "\(timeout)"])
            exit(70)  // EX_SOFTWARE
        }
        thread.name = "stop-deadline"
        thread.start()
    }
}
