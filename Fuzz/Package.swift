// swift-tools-version: 6.2
// The decoders' fuzz targets (libFuzzer), a package of their own so that the daemon's build never
// carries sanitizer flags and the fuzz build never compiles PostgreSQL, Hummingbird or TLS.
//
// The modules under test are the daemon's own source files, reached through the symlinks in
// Sources/ and compiled here under the same module names: a fuzz target exercises exactly the
// code the daemon runs, without depending on the root package (whose HypervisionStream and
// HypervisionIngestServer targets pull in the whole storage stack). Core and Ingest are linked
// whole; of Stream and IngestServer, only the files the fuzzed parsers and framing live in.
//
// Build and run: `scripts/fuzz` (see the README, "Fuzzing").
import PackageDescription

// Every module whose code is fuzzed gets coverage and comparison instrumentation (-sanitize=fuzzer)
// and AddressSanitizer, so an out-of-bounds read through an unsafe pointer is caught where it
// happens instead of passing unnoticed. Dependencies (NIO) are built plainly: they are not what
// is fuzzed, and instrumenting them would only slow the build.
let instrumented: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .unsafeFlags(["-sanitize=fuzzer,address"]),
]
// Links libFuzzer. Its own `main` is not used: SwiftPM points every executable's entry at the
// target's `main`, so each target's `@main` starts libFuzzer's driver (see `Fuzz.run`). The one
// file of a target is compiled as a library file, as `@main` requires.
let fuzzerLink: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]

func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name, dependencies: ["FuzzSupport"] + dependencies,
        swiftSettings: instrumented + [.unsafeFlags(["-parse-as-library"])], linkerSettings: fuzzerLink)
}

let package = Package(
    name: "hypervision-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // The daemon's modules, from ../Sources. TokenAuthority is the one Core file that needs
        // swift-crypto, and no decoder uses it.
        .target(name: "HypervisionCore", exclude: ["TokenAuthority.swift"], swiftSettings: instrumented),
        .target(name: "HypervisionIngest", dependencies: ["HypervisionCore"], swiftSettings: instrumented),
        // Of these two, only the files the fuzzed parsers and framing live in, symlinked one by one.
        .target(name: "HypervisionStream", dependencies: ["HypervisionCore"], swiftSettings: instrumented),
        .target(
            name: "HypervisionIngestServer",
            dependencies: [
                "HypervisionCore", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            swiftSettings: instrumented),

        .target(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["HypervisionCore", "CLibFuzzer"], swiftSettings: instrumented),

        fuzzTarget("FuzzJSONPing", ["HypervisionIngest", "HypervisionCore"]),
        fuzzTarget(
            "FuzzNDJSONFraming",
            [
                "HypervisionIngest", "HypervisionIngestServer", "HypervisionCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
        fuzzTarget("FuzzNDJSONAuth", ["HypervisionIngestServer", "HypervisionCore"]),
        fuzzTarget("FuzzOsmAnd", ["HypervisionIngest", "HypervisionCore"]),
        fuzzTarget("FuzzNMEA", ["HypervisionIngest", "HypervisionCore"]),
        fuzzTarget("FuzzCoT", ["HypervisionIngest", "HypervisionCore"]),
        fuzzTarget("FuzzCoTFramer", ["HypervisionIngest", "HypervisionCore"]),
        fuzzTarget("FuzzSubscribe", ["HypervisionStream", "HypervisionCore"]),
    ]
)
