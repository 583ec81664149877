// swift-tools-version: 6.0
// Borderline: the host CLI, its library, the in-tree plugins and the tests.
// The core is a nested package (Sources/Core) so SwiftPM links it as one shared library that
// the host and every plugin load once; see docs/architecture.md.
import PackageDescription

let core = Target.Dependency.product(name: "BorderlineCore", package: "Core")

/// The in-tree plugins: `Plugins/<Folder>` is the `<Name>Kit` library (the logic, which tests
/// link) and `Plugins/<Folder>/Entry` the `<Name>Plugin` dynamic library holding only the C entry
/// symbols (`lib<Name>Plugin.so`, which the host loads; never linked into a binary).
let plugins: [(name: String, folder: String, tests: Bool)] = [
    ("Bisection", "Bisection", true),
    ("DeepDIG", "DeepDIG", true),
    ("FlipPoint", "FlipPoint", true),
    ("Latent", "Latent", true),
    ("Region", "Region", true),
    ("Slices", "Slices", true),
]

let pluginTargets: [Target] = plugins.flatMap { p -> [Target] in
    var targets: [Target] = [
        .target(name: "\(p.name)Kit", dependencies: [core], path: "Plugins/\(p.folder)", exclude: ["Entry"]),
        .target(name: "\(p.name)Plugin", dependencies: [core, .target(name: "\(p.name)Kit")], path: "Plugins/\(p.folder)/Entry"),
    ]
    if p.tests {
        targets.append(.testTarget(name: "\(p.name)Tests", dependencies: [.target(name: "\(p.name)Kit"), core, "BorderlineTestSupport"],
                                   exclude: p.name == "DeepDIG" ? ["Golden"] : []))
    }
    return targets
}

let package = Package(
    name: "Borderline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "borderline", targets: ["borderline"]),
        .executable(name: "borderline-bench", targets: ["BorderlineBench"]),
        // A plugin that breaks the contract on purpose, for the host's fault tests; its file name
        // (libHostileFixture.so) is not one the host loads by itself.
        .library(name: "HostileFixture", type: .dynamic, targets: ["HostileFixture"]),
    ] + plugins.map { .library(name: "\($0.name)Plugin", type: .dynamic, targets: ["\($0.name)Plugin"]) },
    dependencies: [
        .package(path: "Sources/Core"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // glibc calls the host needs: dladdr1 (is a plugin symbol a function?) and renameat2 (atomic commit).
        .target(name: "CHostSystem"),
        .target(
            name: "BorderlineHost",
            dependencies: [core, "CHostSystem", .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "borderline",
            dependencies: ["BorderlineHost", core, .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "BorderlineBench", dependencies: ["BorderlineHost", core], path: "bench/BorderlineBench"),
        // What several test targets share: running the built CLI as a user would, temporary folders.
        .target(name: "BorderlineTestSupport", path: "Tests/Support"),
        .target(name: "HostileFixture", dependencies: [core], path: "Tests/Fixtures/HostilePlugin"),
        .testTarget(name: "AttacksTests", dependencies: [core], exclude: ["Golden"]),
        .testTarget(name: "BorderlineCoreTests", dependencies: [core], resources: [.copy("Golden")]),
        .testTarget(name: "BorderlineHostTests", dependencies: ["BorderlineHost", core, "BorderlineTestSupport"]),
        // Runs the built CLI as a user would; depending on the executable makes `swift test` build it.
        // The core only reads golden files to compare the CLI's output with.
        .testTarget(name: "BorderlineCLITests", dependencies: ["borderline", core, "BorderlineTestSupport"]),
    ] + pluginTargets
)
