// swift-tools-version: 6.0
// Borderline: the host CLI, its library, the in-tree plugins and the tests.
// The core is a nested package (Sources/Core) so SwiftPM links it as one shared library that
// the host and every plugin load once; see docs/architecture.md.
import PackageDescription

let core = Target.Dependency.product(name: "BorderlineCore", package: "Core")

let package = Package(
    name: "Borderline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "borderline", targets: ["borderline"]),
        .executable(name: "borderline-bench", targets: ["BorderlineBench"]),
        // In-tree plugins: dynamic libraries the host loads at run time (never linked into it).
        // The file name must end in `Plugin` (libBisectionPlugin.so) to be found; see
        // docs/writing-plugins.md.
        .library(name: "BisectionPlugin", type: .dynamic, targets: ["BisectionPlugin"]),
        .library(name: "FlipPointPlugin", type: .dynamic, targets: ["FlipPointPlugin"]),
        .library(name: "DeepDIGPlugin", type: .dynamic, targets: ["DeepDIGPlugin"]),
        // latent
        .library(name: "LatentPlugin", type: .dynamic, targets: ["LatentPlugin"]),
        // slices
        .library(name: "SlicesPlugin", type: .dynamic, targets: ["SlicesPlugin"]),
        // region
        .library(name: "RegionPlugin", type: .dynamic, targets: ["RegionPlugin"]),
    ],
    dependencies: [
        .package(path: "Sources/Core"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .target(
            name: "BorderlineHost",
            dependencies: [core, .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "borderline",
            dependencies: [
                "BorderlineHost", core,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "BorderlineBench",
            dependencies: ["BorderlineHost", core],
            path: "bench/BorderlineBench"
        ),
        .target(
            name: "BisectionKit",
            dependencies: [core],
            path: "Plugins/Bisection",
            exclude: ["Entry"]
        ),
        .target(
            name: "BisectionPlugin",
            dependencies: [core, "BisectionKit"],
            path: "Plugins/Bisection/Entry"
        ),
        .target(
            name: "FlipPointKit",
            dependencies: [core],
            path: "Plugins/FlipPoint",
            exclude: ["Entry"]
        ),
        .target(
            name: "FlipPointPlugin",
            dependencies: [core, "FlipPointKit"],
            path: "Plugins/FlipPoint/Entry"
        ),
        .testTarget(
            name: "FlipPointTests",
            dependencies: ["FlipPointKit", core]
        ),
        .target(
            name: "DeepDIGKit",
            dependencies: [core],
            path: "Plugins/DeepDIG",
            exclude: ["Entry"]
        ),
        .target(
            name: "DeepDIGPlugin",
            dependencies: [core, "DeepDIGKit"],
            path: "Plugins/DeepDIG/Entry"
        ),
        .testTarget(
            name: "DeepDIGTests",
            dependencies: ["DeepDIGKit", core],
            exclude: ["Golden"]
        ),
        // latent
        .target(
            name: "LatentKit",
            dependencies: [core],
            path: "Plugins/Latent",
            exclude: ["Entry"]
        ),
        .target(
            name: "LatentPlugin",
            dependencies: [core, "LatentKit"],
            path: "Plugins/Latent/Entry"
        ),
        .testTarget(
            name: "LatentTests",
            dependencies: ["LatentKit", core]
        ),
        // attacks
        .testTarget(
            name: "AttacksTests",
            dependencies: [core],
            exclude: ["Golden"]
        ),
        // slices
        .target(
            name: "SlicesKit",
            dependencies: [core],
            path: "Plugins/Slices",
            exclude: ["Entry"]
        ),
        .target(
            name: "SlicesPlugin",
            dependencies: [core, "SlicesKit"],
            path: "Plugins/Slices/Entry"
        ),
        .testTarget(
            name: "SlicesTests",
            dependencies: ["SlicesKit", core]
        ),
        // region
        .target(
            name: "RegionKit",
            dependencies: [core],
            path: "Plugins/Region",
            exclude: ["Entry"]
        ),
        .target(
            name: "RegionPlugin",
            dependencies: [core, "RegionKit"],
            path: "Plugins/Region/Entry"
        ),
        .testTarget(
            name: "RegionTests",
            dependencies: ["RegionKit", core]
        ),
        .testTarget(
            name: "BorderlineCoreTests",
            dependencies: [core],
            resources: [.copy("Golden")]
        ),
        .testTarget(
            name: "BorderlineHostTests",
            dependencies: ["BorderlineHost", core]
        ),
        // Runs the built CLI as a user would; depending on the executable makes `swift test` build it.
        // The core only reads golden files to compare the CLI's output with.
        .testTarget(
            name: "BorderlineCLITests",
            dependencies: ["borderline", core]
        ),
    ]
)
