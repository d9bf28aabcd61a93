import HypervisionCore
import HypervisionLayout
import LayoutFixtures

// Runs the layout engine's full recompute on the benchmark wall (see `BenchWall`) round after
// round, as the daemon does, and prints the thread CPU time per round. A process of its own, so
// that a profiler sees only the engine:
//   layout-rounds [ROUNDS]
//   valgrind --tool=callgrind layout-rounds 200     (instruction counts: exact A/B comparisons)
let rounds = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 2_000
let world = BenchWall()
var inputs = world.inputs
var state = world.steadyState
var times: [Int] = []
times.reserveCapacity(rounds)
var tiles = 0
for round in 1...max(rounds, 1) {
    inputs.now = world.steadyNow.adding(seconds: Double(round) * 0.1)
    let start = ThreadCPUTime.nanoseconds()
    let (scene, next) = LayoutEngine.compute(inputs, previous: state)
    times.append(Int(ThreadCPUTime.nanoseconds() - start))
    state = next
    tiles &+= scene.tiles.count
}
times.sort()
func percentile(_ p: Double, of times: [Int]) -> Double { Double(times[min(times.count - 1, Int(Double(times.count) * p))]) / 1_000 }
print(
    "full recompute, 6x4 4K wall, 500 candidates: \(times.count) rounds, thread CPU p50 \(percentile(0.5, of: times)) µs, "
        + "p90 \(percentile(0.9, of: times)) µs, p99 \(percentile(0.99, of: times)) µs (\(tiles / times.count) tiles)")
