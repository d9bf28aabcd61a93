import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// Settings of the private PostgreSQL + PostGIS cluster that hypervisiond runs when no
/// database is configured.
public struct EmbeddedPostgresConfiguration: Sendable, Hashable {
    /// The directory under which the cluster lives: `postgres/` (data), `run/` (socket), `log/`.
    public var baseDirectory: String
    /// Where `initdb`, `pg_ctl` and `postgres` are.
    public var binDirectory: String = "/usr/lib/postgresql/15/bin"
    /// The operating-system user that runs the cluster when hypervisiond runs as root
    /// (PostgreSQL refuses to run as root).
    public var systemUser: String = "postgres"
    /// Database and role created for hypervisiond.
    public var databaseName: String = "hypervision"
    public var superuser: String = "hypervision"
    /// Extra `postgresql.conf` settings (tests turn fsync off here; production keeps defaults).
    public var settings: [String: String] = [:]

    public init(baseDirectory: String) { self.baseDirectory = baseDirectory }

    public var dataDirectory: String { baseDirectory + "/postgres" }
    public var socketDirectory: String { baseDirectory + "/run" }
    public var logFile: String { baseDirectory + "/log/postgresql.log" }
    public var socketPath: String { socketDirectory + "/.s.PGSQL.5432" }
}

/// Why the embedded cluster could not be prepared or started, with what to do about it.
public struct EmbeddedPostgresError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Creates (first time), starts and stops a private PostgreSQL 15 + PostGIS cluster in the
/// daemon's state directory, listening on a Unix socket only.
///
/// The cluster outlives a crash of hypervisiond (pg_ctl detaches it); the next start finds it
/// running and uses it. Under systemd the whole control group stops together.
public struct EmbeddedPostgres: Sendable {
    public let configuration: EmbeddedPostgresConfiguration
    private let logger: Logger

    public init(configuration: EmbeddedPostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The endpoint hypervisiond connects to once the cluster runs.
    public var endpoint: DatabaseEndpoint {
        DatabaseEndpoint(
            host: configuration.socketDirectory, port: 5432, user: configuration.superuser, password: nil,
            database: configuration.databaseName, sslMode: .disable)
    }

    /// Checks the binaries, creates the cluster if needed, starts it if it is not running, and
    /// creates the database. Returns the endpoint to connect to.
    public func start() async throws -> DatabaseEndpoint {
        // initdb and pg_ctl block while they run: keep them off the cooperative thread pool,
        // which has one thread per core and must keep serving the event-driven code.
        try await NIOThreadPool.singleton.runIfActive { try self.prepareAndLaunch() }
        try await createDatabaseIfNeeded()
        return endpoint
    }

    private func prepareAndLaunch() throws {
        try checkInstallation()
        let identity = try runIdentity()
        try prepareDirectories(identity)
        if !FileManager.default.fileExists(atPath: configuration.dataDirectory + "/PG_VERSION") {
            logger.notice("creating the embedded PostgreSQL cluster", metadata: ["dir": "\(configuration.dataDirectory)"])
            try run(
                tool: "initdb",
                ["-D", configuration.dataDirectory, "-U", configuration.superuser, "--auth=trust", "-E", "UTF8",
                 "--locale=C", "--no-instructions"],
                as: identity)
            let conf = configuration.dataDirectory + "/postgresql.conf"
            try appendLine("include_if_exists = 'hypervision.conf'", to: conf)
        }
        try writeSettings(identity)
        if try run(tool: "pg_ctl", ["status", "-D", configuration.dataDirectory], as: identity, allowFailure: true) == 0 {
            logger.info("embedded PostgreSQL already running", metadata: ["socket": "\(configuration.socketPath)"])
        } else {
            logger.info("starting embedded PostgreSQL", metadata: ["socket": "\(configuration.socketPath)"])
            try run(
                tool: "pg_ctl",
                ["start", "-D", configuration.dataDirectory, "-l", configuration.logFile, "-w", "-t", "120", "-s"],
                as: identity)
        }
    }

    /// Stops the cluster (fast shutdown: running transactions roll back, committed data is safe),
    /// waiting at most `timeout`. A cluster that does not stop in time (its processes frozen, say)
    /// is left running and logged: the next start finds it and uses it.
    public func stop(timeout: Duration = .seconds(60)) throws {
        let identity = try runIdentity()
        guard try run(tool: "pg_ctl", ["status", "-D", configuration.dataDirectory], as: identity, allowFailure: true) == 0
        else { return }
        logger.info("stopping embedded PostgreSQL")
        let seconds = max(1, timeout.components.seconds)
        let status = try run(
            tool: "pg_ctl", ["stop", "-D", configuration.dataDirectory, "-m", "fast", "-w", "-t", "\(seconds)", "-s"], as: identity,
            allowFailure: true)
        if status != 0 {
            logger.critical(
                "the embedded PostgreSQL did not stop in time; leaving it running",
                metadata: ["waited_seconds": "\(seconds)", "data_directory": "\(configuration.dataDirectory)"])
        }
    }

    /// Stops the cluster at once, as a crash would (for tests of recovery).
    public func kill() throws {
        let identity = try runIdentity()
        try run(tool: "pg_ctl", ["stop", "-D", configuration.dataDirectory, "-m", "immediate", "-w", "-s"], as: identity,
                allowFailure: true)
    }

    // MARK: Steps

    private func checkInstallation() throws {
        let bin = configuration.binDirectory
        for tool in ["initdb", "pg_ctl", "postgres"] where !FileManager.default.isExecutableFile(atPath: "\(bin)/\(tool)") {
            throw EmbeddedPostgresError(
                "\(bin)/\(tool) not found: the embedded database needs PostgreSQL 15 with PostGIS; "
                    + "install it with `apt-get install postgresql-15 postgresql-15-postgis-3`, "
                    + "or set database.url to use an existing server")
        }
        let share = Self.shareDirectory(binDirectory: bin)
        if !FileManager.default.fileExists(atPath: share + "/extension/postgis.control") {
            throw EmbeddedPostgresError(
                "PostGIS is not installed for this PostgreSQL (\(share)/extension/postgis.control missing): "
                    + "install it with `apt-get install postgresql-15-postgis-3`")
        }
        let socketLength = configuration.socketPath.utf8.count
        if socketLength > 107 {
            throw EmbeddedPostgresError(
                "state directory path is too long for a Unix socket (\(configuration.socketPath) is \(socketLength) bytes, limit 107); choose a shorter state.dir")
        }
    }

    /// `/usr/lib/postgresql/15/bin` -> `/usr/share/postgresql/15` (Debian layout).
    static func shareDirectory(binDirectory: String) -> String {
        let version = URL(fileURLWithPath: binDirectory).deletingLastPathComponent().lastPathComponent
        return "/usr/share/postgresql/\(version)"
    }

    /// Who runs the cluster: ourselves, or the configured system user when we are root.
    struct Identity {
        var uid: uid_t
        var gid: gid_t
        var name: String
        var dropsPrivileges: Bool
    }

    private func runIdentity() throws -> Identity {
        if geteuid() != 0 {
            return Identity(uid: geteuid(), gid: getegid(), name: "self", dropsPrivileges: false)
        }
        guard let entry = getpwnam(configuration.systemUser) else {
            throw EmbeddedPostgresError(
                "hypervisiond runs as root and PostgreSQL refuses to; the user \"\(configuration.systemUser)\" "
                    + "(database.embedded.user) does not exist: create it or name another unprivileged user")
        }
        return Identity(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid, name: configuration.systemUser, dropsPrivileges: true)
    }

    private func prepareDirectories(_ identity: Identity) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: configuration.baseDirectory, withIntermediateDirectories: true)
        for (path, mode) in [(configuration.dataDirectory, 0o700), (configuration.socketDirectory, 0o700),
                             ((configuration.logFile as NSString).deletingLastPathComponent, 0o750)] {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            if identity.dropsPrivileges { chown(path, identity.uid, identity.gid) }
            chmod(path, mode_t(mode))
        }
        if identity.dropsPrivileges {
            // The cluster's user must be able to reach its directories through every parent.
            let probe = try run(
                executable: "/usr/bin/test", ["-w", configuration.socketDirectory], as: identity, allowFailure: true)
            if probe != 0 {
                throw EmbeddedPostgresError(
                    "the user \"\(identity.name)\" cannot reach \(configuration.socketDirectory) (a parent directory is "
                        + "not traversable, e.g. under /root); choose a state directory such as /var/lib/hypervision")
            }
        }
    }

    private func writeSettings(_ identity: Identity) throws {
        var settings: [String: String] = [
            "listen_addresses": "''",
            "unix_socket_directories": "'\(configuration.socketDirectory)'",
            "unix_socket_permissions": "0700",
            "max_connections": "50",
            "jit": "off",
            "logging_collector": "off",
        ]
        for (key, value) in configuration.settings { settings[key] = value }
        let text = "# Written by hypervisiond at each start; edit the daemon's configuration instead.\n"
            + settings.keys.sorted().map { "\($0) = \(settings[$0]!)" }.joined(separator: "\n") + "\n"
        let path = configuration.dataDirectory + "/hypervision.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        if identity.dropsPrivileges { chown(path, identity.uid, identity.gid) }
        chmod(path, 0o600)
    }

    private func appendLine(_ line: String, to path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw EmbeddedPostgresError("cannot open \(path) to add the hypervision settings")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(("\n" + line + "\n").utf8))
    }

    private func createDatabaseIfNeeded() async throws {
        var config = PostgresConnection.Configuration(
            unixSocketPath: configuration.socketPath, username: configuration.superuser, password: nil, database: "postgres")
        config.options.connectTimeout = .seconds(10)
        let connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        do {
            let rows = try await connection.checkedQuery(
                "SELECT 1 FROM pg_database WHERE datname = \(configuration.databaseName)", logger: logger)
            var exists = false
            for try await _ in rows { exists = true }
            if !exists {
                let name = configuration.databaseName.replacingOccurrences(of: "\"", with: "\"\"")
                try await connection.checkedQuery(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\""), logger: logger)
                logger.notice("created database", metadata: ["database": "\(configuration.databaseName)"])
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    // MARK: Processes

    @discardableResult
    private func run(tool: String, _ arguments: [String], as identity: Identity, allowFailure: Bool = false) throws -> Int32 {
        try run(executable: "\(configuration.binDirectory)/\(tool)", arguments, as: identity, allowFailure: allowFailure)
    }

    @discardableResult
    private func run(executable: String, _ arguments: [String], as identity: Identity, allowFailure: Bool) throws -> Int32 {
        var argv: [String]
        if identity.dropsPrivileges {
            argv = ["/usr/bin/setpriv", "--reuid=\(identity.uid)", "--regid=\(identity.gid)", "--clear-groups", "--", executable]
                + arguments
        } else {
            argv = [executable] + arguments
        }
        var environment = ProcessInfo.processInfo.environment
        for key in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGDATA", "PGSSLMODE"] {
            environment[key] = nil
        }
        environment["LC_ALL"] = "C"
        // Output goes to a file, not a pipe: the server that `pg_ctl start` leaves running
        // inherits descriptors, and a pipe would then never reach end-of-file.
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("hypervision-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        // posix_spawn and waitpid rather than Foundation's Process, whose exit notification can
        // be lost when the child leaves a daemon behind (pg_ctl start).
        let status: Int32
        do {
            status = try ChildProcess.run(
                argv, environment: environment, directory: configuration.baseDirectory, outputPath: outputPath)
        } catch {
            throw EmbeddedPostgresError("cannot run \(executable): \(error)")
        }
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        if status != 0 && !allowFailure {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            var hint = ""
            if executable.hasSuffix("pg_ctl"), arguments.first == "start" {
                hint = " (see \(configuration.logFile))"
                if let tail = try? String(contentsOfFile: configuration.logFile, encoding: .utf8) {
                    hint += ": " + tail.split(separator: "\n").suffix(5).joined(separator: " | ")
                }
            }
            throw EmbeddedPostgresError("\((executable as NSString).lastPathComponent) \(arguments.first ?? "") failed with status \(status): \(text)\(hint)")
        }
        return status
    }
}

/// Runs a program to completion with its output in a file.
enum ChildProcess {
    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// The child (and the server `pg_ctl start` leaves running) gets only its standard streams:
    /// inherited sockets would keep this process's ports open in the server, and a parent with
    /// thousands of descriptors open leaves PostgreSQL "insufficient file descriptors" to start.
    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+) is not imported into Swift, so
    /// it is looked up by name.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }

    static func run(_ argv: [String], environment: [String: String], directory: String, outputPath: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        closeInheritedDescriptors(&actions)
        // The working directory is set by env(1): glibc's addchdir_np is not imported into Swift.
        let argv = ["/usr/bin/env", "-C", directory] + argv
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard spawned == 0 else { throw SpawnError(description: String(cString: strerror(spawned))) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw SpawnError(description: String(cString: strerror(errno))) }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
