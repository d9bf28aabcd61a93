import Foundation

/// Runs blocking work (a socket read with a timeout, waiting for a child process) on a thread of
/// its own and awaits the result.
///
/// Swift's cooperative pool has one thread per core: two on the CI machines. A test that blocks
/// one of them, while other tests run in parallel, delays every task of every other test; a
/// timing test then fails for reasons that have nothing to do with what it checks.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "test-blocking"
        thread.start()
    }
}

/// ``offThePool(_:)`` for work that cannot throw.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = "test-blocking"
        thread.start()
    }
}

/// What a child process run to its end left: its exit status and its output.
public struct FinishedProcess: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs a program to its end, off the cooperative pool, and returns its status and output.
/// `environment` nil inherits the test's.
public func runToExit(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> FinishedProcess {
    try await offThePool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read before waiting: a child that fills a pipe would otherwise never exit.
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return FinishedProcess(
            status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
            errors: String(decoding: errors, as: UTF8.self))
    }
}
