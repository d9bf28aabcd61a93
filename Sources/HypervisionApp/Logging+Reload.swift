import Logging
import Synchronization

/// The process-wide log level, changeable at run time (SIGHUP) without rebuilding loggers.
public final class LogLevelControl: Sendable {
    private let level: Mutex<Logger.Level>
    public init(_ level: Logger.Level) { self.level = Mutex(level) }
    public var current: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
}

/// A log handler whose level follows a ``LogLevelControl``.
public struct ControlledLogHandler: LogHandler {
    private var upstream: any LogHandler
    private let control: LogLevelControl

    public init(upstream: any LogHandler, control: LogLevelControl) {
        self.upstream = upstream
        self.control = control
    }

    public var logLevel: Logger.Level {
        get { control.current }
        set { control.current = newValue }
    }

    public var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { upstream.metadataProvider }
        set { upstream.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        guard event.level >= control.current else { return }
        upstream.log(event: event)
    }
}
