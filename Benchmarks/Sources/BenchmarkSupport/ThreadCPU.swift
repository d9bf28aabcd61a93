import Benchmark
import HypervisionCore

/// The thread's CPU time for each iteration, beside the wall clock: on a shared, loaded machine
/// wall-clock percentiles include time spent preempted; the thread's CPU time does not.
public enum ThreadCPU {
    public static let metric = BenchmarkMetric.custom("Thread CPU time (ns)", useScalingFactor: false)

    /// What the micro-benchmarks measure: wall clock, throughput, allocations and thread CPU time.
    public static var configuration: Benchmark.Configuration {
        Benchmark.Configuration(
            metrics: [.wallClock, .throughput, .mallocCountTotal, metric], maxDuration: .seconds(3), maxIterations: 1_000_000)
    }

    /// Nanoseconds of CPU this thread has used.
    public static func now() -> Int { Int(ThreadCPUTime.nanoseconds()) }

    /// Runs `body` and records its thread CPU time on `benchmark`.
    public static func timed(_ benchmark: Benchmark, _ body: () -> Void) {
        let start = now()
        body()
        benchmark.measurement(metric, now() - start)
    }
}
