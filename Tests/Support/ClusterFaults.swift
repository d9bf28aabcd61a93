import Foundation
import HypervisionStore

#if canImport(Glibc)
import Glibc
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
