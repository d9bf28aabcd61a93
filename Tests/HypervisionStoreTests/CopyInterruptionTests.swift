import Glibc
import HypervisionTestSupport
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import HypervisionStore

/// A connection that ends in the middle of a `COPY` (closed by a deadline of ours, or by the
/// server: a crash, a failover, `pg_terminate_backend`) fails that COPY and nothing else.
/// postgres-nio 1.33.2 trapped the whole process here ("Invalid query state machine action in
/// state: .closing, action: wait"), taking every wall down with it; `Vendor/postgres-nio` carries
/// the fix (see its PATCHES.md). Without it, this suite crashes the test process.
@Suite struct CopyInterruptionTests {
    enum Ending: String, CaseIterable, Sendable {
        /// Our side closes, as ``Database`` does at a call's deadline.
        case clientCloses
        /// The server ends the backend, as a crash or a failover does.
        case serverTerminates
    }

    /// Where the writer is when the connection ends: between two writes, or waiting for a full
    /// socket to drain (the server reads nothing while its backend is stopped).
    enum Moment: String, CaseIterable, Sendable {
        case betweenWrites
        case waitingForTheSocket
    }

    @Test(.timeLimit(.minutes(2)), arguments: Ending.allCases, Moment.allCases)
    func aConnectionEndingMidCopyFailsOnlyThatCopy(_ ending: Ending, _ moment: Moment) async throws {
        let endpoint = try await TestPostgres.shared.makeDatabase()
        try await TestPostgres.withConnection(endpoint) { setup in
            try await setup.query("CREATE TABLE copy_target (line text)", logger: TestPostgres.logger)
        }
        let connection = try await PostgresConnection.connect(
            configuration: endpoint.connectionConfiguration(), id: 7, logger: TestPostgres.logger)
        let backend = try await connection.query("SELECT pg_backend_pid()", logger: TestPostgres.logger).collect().first!.decode(Int32.self)
        let (copying, copyingSignal) = AsyncStream.makeStream(of: Void.self)
        let (ended, endedSignal) = AsyncStream.makeStream(of: Void.self)

        try await TestPostgres.withConnection(endpoint) { other in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await connection.copyFrom(table: "copy_target", columns: ["line"], logger: TestPostgres.logger) { writer in
                            try await writer.write(ByteBuffer(string: "first\n"))
                            switch moment {
                            case .betweenWrites:
                                copyingSignal.yield()
                                // In copy mode, between two writes, until the connection has ended.
                                for await _ in ended {}
                                try await writer.write(ByteBuffer(string: "second\n"))
                            case .waitingForTheSocket:
                                copyingSignal.yield()
                                // Far more than the socket holds while the backend reads nothing: a
                                // write soon waits for the socket to drain.
                                let chunk = ByteBuffer(string: String(repeating: "x", count: 64 * 1024) + "\n")
                                for _ in 0..<2_000 { try await writer.write(chunk) }
                            }
                        }
                        Issue.record("a COPY on a connection that ended succeeded")
                    } catch {
                        // The failure is the point; reaching here at all is what postgres-nio 1.33.2 did not allow.
                    }
                }
                var iterator = copying.makeAsyncIterator()
                _ = await iterator.next()
                if moment == .waitingForTheSocket {
                    // The backend stops reading (frozen, as under SIGSTOP of the server): the
                    // socket fills and the writer waits for it to drain.
                    kill(pid_t(backend), SIGSTOP)
                    try await Task.sleep(for: .milliseconds(500))
                }
                switch ending {
                case .clientCloses:
                    try? await connection.close()
                    kill(pid_t(backend), SIGCONT)
                case .serverTerminates:
                    kill(pid_t(backend), SIGTERM)
                    kill(pid_t(backend), SIGCONT)
                }
                endedSignal.finish()
                try await group.waitForAll()
            }
            // The process is alive and the server fine: nothing of the failed COPY was stored.
            let stored = try await other.query("SELECT count(*) FROM copy_target", logger: TestPostgres.logger).collect().first!.decode(Int64.self)
            #expect(stored == 0)
        }
        try? await connection.close()
    }
}
