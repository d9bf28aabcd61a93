// swift-tools-version: 6.2
import PackageDescription

// Benchmarks live in a package of their own so the main build and CI never compile the
// benchmark harness. Run them in release mode:
//   swift package --package-path Benchmarks benchmark            (micro-benchmarks)
//   swift run -c release --package-path Benchmarks writer-throughput   (durable ingest vs COPY)
//   scripts/bench-ingest          (end to end over HTTP and TCP vs the writer, needs a release hypervisiond)
//   swift run -c release --package-path Benchmarks layout-rounds   (the layout engine alone, for profilers)
//   swift run -c release --package-path Benchmarks live-memory     (bytes per live unit, flat under moves)
//   swift run -c release --package-path Benchmarks fanout-load     (1,000 TCP subscribers: CPU and memory)
//   swift run -c release --package-path Benchmarks latency-load --daemon PATH   (ping to patch, end to end)
//   swift run -c release --package-path Benchmarks history-query   (who passed near a place, 10M stored pings, vs the 1b71a5c schema)
//   swift run -c release --package-path Benchmarks standby-cost    (durable ingest with a synchronous standby vs a single server)
let package = Package(
    name: "HypervisionBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "hypervision", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(path: "../Vendor/postgres-nio"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DecoderBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionIngest", package: "hypervision"),
            ],
            path: "Benchmarks/DecoderBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "writer-throughput",
            dependencies: [
                "LoadTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ingest-load",
            dependencies: [
                "LoadTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "LiveBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionLive", package: "hypervision"),
            ],
            path: "Benchmarks/LiveBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "LayoutBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                "LayoutFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionLayout", package: "hypervision"),
            ],
            path: "Benchmarks/LayoutBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .target(
            name: "LayoutFixtures",
            dependencies: [
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionLayout", package: "hypervision"),
            ]
        ),
        .executableTarget(
            name: "layout-rounds",
            dependencies: [
                "LayoutFixtures",
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionLayout", package: "hypervision"),
            ]
        ),
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "Benchmark", package: "benchmark"), .product(name: "HypervisionCore", package: "hypervision")]),
        .target(name: "CMallocInfo"),
        .target(
            name: "LoadTools",
            dependencies: [
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "standby-cost",
            dependencies: [
                "LoadTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
                .product(name: "HypervisionTestSupport", package: "hypervision"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "history-query",
            dependencies: [
                "LoadTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "live-memory",
            dependencies: [
                "LoadTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "CMallocInfo",
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionLive", package: "hypervision"),
            ]
        ),
        .executableTarget(
            name: "fanout-load",
            dependencies: [
                "LoadTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
                .product(name: "HypervisionStream", package: "hypervision"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "latency-load",
            dependencies: [
                "LoadTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HypervisionCore", package: "hypervision"),
                .product(name: "HypervisionStore", package: "hypervision"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
)
