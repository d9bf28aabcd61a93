import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Three PostgreSQL servers managed by Patroni, with a one-member etcd as their consensus, all on
/// loopback: the availability setup `Deploy/patroni/` describes, started by a test. Synchronous
/// mode, strict: a commit is on a standby before it is acknowledged, and only a standby that has
/// it can be promoted. The processes run as the `postgres` user (PostgreSQL refuses root).
public final class PatroniCluster: @unchecked Sendable {
    // @unchecked: driven by one test at a time.
    public struct Node: Sendable {
        public var name: String
        public var port: Int
        public var restPort: Int
        public var dataDirectory: String
    }

    public let directory: String
    public let nodes: [Node]
    public let etcdPort: Int
    private var processes: [String: Process] = [:]

    /// Whether Patroni and etcd are installed (scripts/test installs them).
    public static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/patroni") && FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd")
            && getpwnam("postgres") != nil
    }

    public init(tag: String) throws {
        directory = TestPostgres.makeBaseDirectory(tag)
        etcdPort = DaemonProcess.freePort()
        nodes = (1...3).map { n in
            Node(name: "node\(n)", port: DaemonProcess.freePort(), restPort: DaemonProcess.freePort(), dataDirectory: "")
        }.enumerated().map { index, node in
            var node = node
            node.dataDirectory = "\(TestPostgres.makeBaseDirectory(tag))/data\(index + 1)"
            return node
        }
        try write()
    }

    /// `postgresql://postgres:postgres@127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/postgres?target_session_attrs=read-write`.
    public var url: String {
        "postgresql://postgres:postgres@" + nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",")
            + "/postgres?target_session_attrs=read-write&sslmode=disable"
    }

    private func write() throws {
        let user = getpwnam("postgres")!.pointee
        func own(_ path: String) { chown(path, user.pw_uid, user.pw_gid) }
        own(directory)
        for node in nodes {
            let parent = (node.dataDirectory as NSString).deletingLastPathComponent
            own(parent)
            chmod(parent, 0o755)
            try configuration(for: node).write(toFile: "\(directory)/\(node.name).yml", atomically: true, encoding: .utf8)
            own("\(directory)/\(node.name).yml")
        }
    }

    /// One node's Patroni configuration: what Deploy/patroni/patroni.yml describes, on loopback
    /// ports, trusting loopback connections instead of passwords and certificates.
    func configuration(for node: Node) -> String {
        """
        scope: hypervision-test
        name: \(node.name)
        restapi:
          listen: 127.0.0.1:\(node.restPort)
          connect_address: 127.0.0.1:\(node.restPort)
        etcd3:
          hosts: 127.0.0.1:\(etcdPort)
        bootstrap:
          dcs:
            ttl: 20
            loop_wait: 2
            retry_timeout: 5
            synchronous_mode: true
            synchronous_mode_strict: true
            synchronous_node_count: 1
            postgresql:
              use_pg_rewind: true
              parameters:
                wal_level: replica
                hot_standby: "on"
                max_wal_senders: 8
                max_replication_slots: 8
                max_connections: 100
          initdb:
            - encoding: UTF8
            - locale: C
          pg_hba:
            - local all all trust
            - host all all 127.0.0.1/32 trust
            - host replication all 127.0.0.1/32 trust
        postgresql:
          listen: 127.0.0.1:\(node.port)
          connect_address: 127.0.0.1:\(node.port)
          data_dir: \(node.dataDirectory)
          bin_dir: /usr/lib/postgresql/15/bin
          pgpass: \(directory)/pgpass-\(node.name)
          authentication:
            superuser:
              username: postgres
              password: postgres
            replication:
              username: replicator
              password: replicator
          parameters:
            unix_socket_directories: \(directory)
        """
    }

    /// Starts etcd, then the three nodes, and waits until one leads with a synchronous standby.
    public func start() async throws {
        let peer = "http://127.0.0.1:\(DaemonProcess.freePort())"
        try launch("etcd", [
            "/usr/bin/etcd", "--name", "e1", "--data-dir", "\(directory)/etcd",
            "--listen-client-urls", "http://127.0.0.1:\(etcdPort)", "--advertise-client-urls", "http://127.0.0.1:\(etcdPort)",
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "e1=\(peer)",
        ])
        try await waitFor(timeout: .seconds(30), "etcd") { await DaemonProcess.get("http://127.0.0.1:\(self.etcdPort)/version")?.status == 200 }
        for node in nodes { try launch(node.name, ["/usr/bin/patroni", "\(directory)/\(node.name).yml"]) }
        try await waitFor(timeout: .seconds(120), "a leader with a synchronous standby") {
            let roles = await self.roles()
            return roles.values.contains("primary") && roles.values.contains("sync_standby")
        }
    }

    /// Each running node's role as its REST API tells it: `primary`, `sync_standby` or `replica`.
    public func roles() async -> [String: String] {
        var roles: [String: String] = [:]
        for node in nodes {
            guard let answer = await DaemonProcess.get("http://127.0.0.1:\(node.restPort)/patroni"),
                let data = answer.body.data(using: .utf8), let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let role = json["role"] as? String
            else { continue }
            // Patroni 3.0 says `master` (later versions `primary`), and marks the synchronous
            // standby among its replicas.
            switch role {
            case "master", "primary": roles[node.name] = "primary"
            case "replica" where json["sync_standby"] as? Bool == true: roles[node.name] = "sync_standby"
            default: roles[node.name] = role
            }
        }
        return roles
    }

    /// The node that leads now, if any.
    public func leader() async -> Node? {
        let roles = await roles()
        return nodes.first { roles[$0.name] == "primary" }
    }

    /// The machine of `node` is lost: its Patroni and its PostgreSQL are killed outright.
    public func lose(_ node: Node) {
        if let process = processes[node.name] { kill(process.processIdentifier, SIGKILL) }
        if let text = try? String(contentsOfFile: node.dataDirectory + "/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = pid_t(first)
        {
            kill(pid, SIGKILL)
        }
    }

    /// Waits until a node other than `previous` leads; returns it and how long it took.
    public func waitForNewLeader(other previous: Node, timeout: Duration) async throws -> Node {
        var found: Node?
        try await waitFor(timeout: timeout, "a new leader") {
            found = await self.leader().flatMap { $0.name == previous.name ? nil : $0 }
            return found != nil
        }
        return found!
    }

    public func stop() {
        for process in processes.values where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for node in nodes {
            if let text = try? String(contentsOfFile: node.dataDirectory + "/postmaster.pid", encoding: .utf8),
                let first = text.split(separator: "\n").first, let pid = pid_t(first)
            {
                kill(pid, SIGKILL)
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    private func launch(_ name: String, _ command: [String]) throws {
        let user = getpwnam("postgres")!.pointee
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(user.pw_uid)", "--regid=\(user.pw_gid)", "--clear-groups", "--"] + command
        process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": directory]
        let log = "\(directory)/\(name).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)!
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        try process.run()
        processes[name] = process
    }

    private func waitFor(timeout: Duration, _ what: String, _ condition: @escaping () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        let logs = (["etcd"] + nodes.map(\.name)).map { name in
            "--- \(name):\n" + ((try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)).map { String($0.suffix(1_500)) } ?? "")
        }
        throw DescribedError(description: "Patroni: no \(what) within \(timeout)\n" + logs.joined(separator: "\n"))
    }
}
