// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // Every file imports what it uses: a member from a module imported elsewhere does not leak in.
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "hypervision",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hypervisiond", targets: ["hypervisiond"]),
        .executable(name: "hypervisionctl", targets: ["hypervisionctl"]),
        .library(name: "HypervisionCore", targets: ["HypervisionCore"]),
        .library(name: "HypervisionStore", targets: ["HypervisionStore"]),
        .library(name: "HypervisionIngest", targets: ["HypervisionIngest"]),
        .library(name: "HypervisionApp", targets: ["HypervisionApp"]),
        .library(name: "HypervisionLive", targets: ["HypervisionLive"]),
        .library(name: "HypervisionLayout", targets: ["HypervisionLayout"]),
        .library(name: "HypervisionStream", targets: ["HypervisionStream"]),
        .library(name: "HypervisionNetwork", targets: ["HypervisionNetwork"]),
        .library(name: "HypervisionConfiguration", targets: ["HypervisionConfiguration"]),
        // The tests' PostgreSQL rigs (a replicated pair, Patroni), for load tools that measure them.
        .library(name: "HypervisionTestSupport", targets: ["HypervisionTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // postgres-nio 1.33.2 with a fix for a trap when a connection ends during COPY (Vendor/postgres-nio/PATCHES.md).
        .package(path: "Vendor/postgres-nio"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(
            url: "https://github.com/apple/swift-configuration.git", from: "1.4.0",
            traits: [.defaults, "YAML"]
        ),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // Pure domain: value types, geodesy, validation. No I/O, no dependencies.
        .target(
            name: "HypervisionCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // Reading configuration: the section protocol each module's configuration type adopts, a
        // typed key reader over swift-configuration, errors that name the key. No I/O.
        .target(
            name: "HypervisionConfiguration",
            dependencies: [
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),

        // PostGIS storage: migrations, the batched durable writer, the spool, the embedded cluster.
        .target(
            name: "HypervisionStore",
            dependencies: [
                "HypervisionConfiguration", "HypervisionCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Migrations")],
            swiftSettings: swiftSettings
        ),

        // What every TCP port shares: binding and accepting, admission (a cap in all, per client
        // address and before authentication), per-phase deadlines, refusals; the decisions are
        // pure types, the handlers are tested on EmbeddedChannel; a port's TLS files. NIO, and configuration reading.
        .target(
            name: "HypervisionNetwork",
            dependencies: [
                "HypervisionConfiguration",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Bytes to pings: the wire formats, pure and bounded, tested without sockets.
        .target(name: "HypervisionIngest", dependencies: ["HypervisionCore"], swiftSettings: swiftSettings),

        // The ingest front doors' I/O: TCP and UDP listeners and the shared path into the writer.
        .target(
            name: "HypervisionIngestServer",
            dependencies: [
                "HypervisionConfiguration", "HypervisionCore", "HypervisionIngest", "HypervisionNetwork",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The live picture: latest positions with a spatial index, cameras, active incidents. Pure.
        .target(name: "HypervisionLive", dependencies: ["HypervisionCore", "HypervisionConfiguration"], swiftSettings: swiftSettings),

        // What each wall shows: wall geometry, presets, priorities, the layout engine, the scene. Pure.
        .target(
            name: "HypervisionLayout",
            dependencies: ["HypervisionCore", .product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: swiftSettings
        ),

        // Scenes to the walls: the per-wall layout loop, the scene hub (history, patches,
        // per-subscriber delivery state machine, wire messages; pure and tested without
        // sockets) and the TCP subscription port.
        .target(
            name: "HypervisionStream",
            dependencies: [
                "HypervisionConfiguration", "HypervisionCore", "HypervisionLayout", "HypervisionNetwork",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Hummingbird routes: health, readiness, metrics, the OpenAPI document, ping ingest.
        .target(
            name: "HypervisionHTTP",
            dependencies: [
                "HypervisionConfiguration", "HypervisionCore",
                "HypervisionIngest",
                "HypervisionIngestServer",
                "HypervisionStore",
                .product(name: "Metrics", package: "swift-metrics"),
                "HypervisionStream", "HypervisionLayout", "HypervisionLive", "HypervisionNetwork",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.embedInCode("OpenAPI"), .embedInCode("WallPreview")],
            swiftSettings: swiftSettings
        ),

        // The demo city: a simulated fleet, cameras and incidents fed through the real paths.
        .target(
            name: "HypervisionDemo",
            dependencies: [
                "HypervisionConfiguration", "HypervisionCore", "HypervisionIngestServer", "HypervisionLive", "HypervisionStore", "HypervisionHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Composition root: configuration, services, systemd integration.
        .target(
            name: "HypervisionApp",
            dependencies: [
                "HypervisionConfiguration", "HypervisionCore",
                "HypervisionStore",
                "HypervisionIngestServer",
                "HypervisionHTTP", "HypervisionLive", "HypervisionLayout", "HypervisionStream", "HypervisionNetwork", "HypervisionDemo",
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "hypervisiond",
            dependencies: [
                "HypervisionApp", "HypervisionConfiguration",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The ops command line's pure parts: arguments, answers as tables, error messages.
        .target(name: "HypervisionCLI", dependencies: ["HypervisionCore"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "hypervisionctl",
            dependencies: [
                "HypervisionCore", "HypervisionCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Test support: a real PostgreSQL + PostGIS started by the tests through the daemon's own launcher.
        .target(
            name: "HypervisionTestSupport",
            dependencies: [
                "HypervisionCore", "HypervisionStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "HypervisionCoreTests", dependencies: ["HypervisionCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HypervisionLayoutTests", dependencies: ["HypervisionLayout", "HypervisionCore"], exclude: ["Golden"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "HypervisionLiveTests",
            dependencies: [
                "HypervisionLive", "HypervisionCore", "HypervisionStore", "HypervisionTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "HypervisionctlTests", dependencies: ["HypervisionCLI", "HypervisionCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HypervisionStreamTests",
            dependencies: [
                "HypervisionStream", "HypervisionCore", "HypervisionTestSupport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "HypervisionNetworkTests",
            dependencies: [
                "HypervisionNetwork",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "HypervisionIngestTests", dependencies: ["HypervisionIngest", "HypervisionCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HypervisionIngestServerTests",
            dependencies: [
                "HypervisionIngestServer", "HypervisionIngest", "HypervisionCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HypervisionStoreTests",
            dependencies: [
                "HypervisionCore", "HypervisionStore", "HypervisionTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP contract in process (HummingbirdTesting): routes, scopes, errors; a real
        // PostgreSQL (TestPostgres) only where a route needs one.
        .testTarget(
            name: "HypervisionHTTPTests",
            dependencies: [
                "HypervisionHTTP", "HypervisionStream", "HypervisionCore", "HypervisionLayout", "HypervisionStore", "HypervisionLive",
                "HypervisionIngestServer", "HypervisionNetwork", "HypervisionTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HypervisionDemoTests", dependencies: ["HypervisionDemo", "HypervisionCore", "HypervisionLayout"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "HypervisionAppTests",
            dependencies: [
                "HypervisionApp", "HypervisionStore", "HypervisionCore", "HypervisionHTTP", "HypervisionLayout", "HypervisionDemo",
                "HypervisionConfiguration", "HypervisionTestSupport",
                "hypervisiond", "hypervisionctl",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
