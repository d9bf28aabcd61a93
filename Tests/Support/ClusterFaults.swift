import Foundation
import HypervisionStore

#if canImport(Glibc)
import Glibc
import PostgresNIO
#endif

extension EmbeddedPostgres {
    /// The postmaster's pid and those of its children (backends, checkpointer, WAL writer…).
    public func processIDs() -> [pid_t] {
        guard let text = try? String(contentsOfFile: configuration.dataDirectory + "/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let postmaster = pid_t(first)
        else { return [] }
        var pids = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8) else { continue }
            // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        return pids
    }

    /// Freezes the whole cluster (SIGSTOP): its sockets stay open and nothing answers, as with a
    /// hung server or a network that drops packets. Thawed at exit if a test does not.
    public func freeze() {
        registerThawAtExit(self)
        for pid in processIDs() { Glibc.kill(pid, SIGSTOP) }
    }

    /// Lets a frozen cluster run again (SIGCONT).
    public func thaw() {
        for pid in processIDs() { Glibc.kill(pid, SIGCONT) }
    }
}

nonisolated(unsafe) private var clustersToThaw: [EmbeddedPostgres] = []

private func registerThawAtExit(_ cluster: EmbeddedPostgres) {
    let first = clustersToThaw.isEmpty
    clustersToThaw.append(cluster)
    // atexit handlers run in reverse order of registration: registered after the stop handler
    // (the cluster was started, so registered, before it could be frozen), this one runs first.
    if first { atexit { for cluster in clustersToThaw { cluster.thaw() } } }
}

/// A primary with a synchronous streaming standby, both embedded clusters of the tests: what a
/// Patroni or pg_auto_failover pair looks like to the daemon, with the failover done by hand.
public struct ReplicatedPostgres: Sendable {
    public let primary: EmbeddedPostgres
    public let standby: EmbeddedPostgres

    /// Starts the primary, copies it with `pg_basebackup` (as the cluster's user) and starts the
    /// copy as its standby. Commits wait for the standby (`synchronous_standby_names = '*'`), so
    /// whatever was acknowledged is on both.
    public static func start(_ tag: String) async throws -> ReplicatedPostgres {
        var primaryConfiguration = TestPostgres.makeCluster(tag + "-a", durable: true).configuration
        primaryConfiguration.settings["max_wal_senders"] = "5"
        primaryConfiguration.settings["wal_keep_size"] = "'256MB'"
        let primary = EmbeddedPostgres(configuration: primaryConfiguration, logger: TestPostgres.logger)
        registerStopAtExit(primary)
        _ = try await primary.start()

        var standbyConfiguration = TestPostgres.makeCluster(tag + "-b", durable: true).configuration
        standbyConfiguration.settings["max_wal_senders"] = "5"
        let standby = EmbeddedPostgres(configuration: standbyConfiguration, logger: TestPostgres.logger)
        registerStopAtExit(standby)
        let data = standbyConfiguration.dataDirectory
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        var prefix: [String] = []
        if geteuid() == 0, let entry = getpwnam(standbyConfiguration.systemUser) {
            for path in [standbyConfiguration.baseDirectory, data] { chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) }
            prefix = ["/usr/bin/setpriv", "--reuid=\(entry.pointee.pw_uid)", "--regid=\(entry.pointee.pw_gid)", "--clear-groups", "--"]
        }
        chmod(data, 0o700)
        let backup = try await runToExit(
            prefix.first ?? "\(standbyConfiguration.binDirectory)/pg_basebackup",
            Array((prefix.isEmpty ? [] : prefix.dropFirst() + ["\(standbyConfiguration.binDirectory)/pg_basebackup"]))
                + ["-h", primaryConfiguration.socketDirectory, "-U", primaryConfiguration.superuser, "-D", data, "-R", "-X", "stream", "--checkpoint=fast"],
            environment: ["LC_ALL": "C", "PATH": "/usr/bin:/bin"])
        guard backup.status == 0 else { throw DescribedError(description: "pg_basebackup failed: \(backup.output) \(backup.errors)") }
        _ = try await standby.start()
        // Synchronous only now that there is a standby: a commit waits for one, and creating the
        // database before it existed would have waited forever.
        try await TestPostgres.withConnection(primary.endpoint) { connection in
            try await connection.query("ALTER SYSTEM SET synchronous_standby_names = '*'", logger: TestPostgres.logger)
            try await connection.query("SELECT pg_reload_conf()", logger: TestPostgres.logger)
        }
        return ReplicatedPostgres(primary: primary, standby: standby)
    }

    /// A URL naming both servers, the standby first: the daemon must find the primary itself.
    public var url: String {
        let a = primary.configuration, b = standby.configuration
        return "postgres:///\(a.databaseName)?host=\(b.socketDirectory),\(a.socketDirectory)&user=\(a.superuser)&target_session_attrs=read-write"
    }

    /// Makes the standby the primary (`pg_ctl promote`), as a failover manager does.
    public func promoteStandby() async throws {
        let configuration = standby.configuration
        var command = ["\(configuration.binDirectory)/pg_ctl", "promote", "-D", configuration.dataDirectory, "-w"]
        if geteuid() == 0, let entry = getpwnam(configuration.systemUser) {
            command = ["/usr/bin/setpriv", "--reuid=\(entry.pointee.pw_uid)", "--regid=\(entry.pointee.pw_gid)", "--clear-groups", "--"] + command
        }
        let promoted = try await runToExit(command[0], Array(command.dropFirst()), environment: ["LC_ALL": "C", "PATH": "/usr/bin:/bin"])
        guard promoted.status == 0 else { throw DescribedError(description: "pg_ctl promote failed: \(promoted.output) \(promoted.errors)") }
    }
}
