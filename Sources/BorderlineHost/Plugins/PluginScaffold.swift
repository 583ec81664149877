import BorderlineCore
import Foundation

/// `borderline plugin new NAME`: writes an out-of-tree SwiftPM package for a plugin that builds
/// and loads as is. It depends on this checkout's core (`Sources/Core`) by absolute path, so the
/// plugin links the same shared BorderlineCore the host uses. Its one prober, `gradient-walk`,
/// shows options, gradients, the run store and progress; docs/writing-plugins.md walks through it.
public struct PluginScaffold {
    /// The plugin's name (`--plugin NAME`): lower-case letters, digits and dashes.
    public let name: String
    /// The folder the package is written to (`<path>/<name>`).
    public let folder: String
    /// The absolute path of the core package (`…/Sources/Core`).
    public let corePath: String

    /// `my-probe` → `MyProbe`.
    public var typeStem: String {
        name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
    /// The library product and target: `MyProbePlugin` (file `libMyProbePlugin.so`).
    public var productName: String { typeStem + "Plugin" }

    public init(name: String, parent: String, corePath: String) throws {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first),
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }),
              !name.hasSuffix("-"), !name.contains("--") else {
            throw BorderlineError(.invalidArgument,
                "plugin name '\(name)' must be lower-case letters, digits and single dashes, starting with a letter (e.g. my-probe); it is what --plugin NAME selects")
        }
        self.name = name
        self.folder = URL(fileURLWithPath: parent).appendingPathComponent(name).standardizedFileURL.path
        self.corePath = URL(fileURLWithPath: corePath).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: (self.corePath as NSString).appendingPathComponent("Package.swift")) else {
            throw BorderlineError(.fileNotFound, "no core package here (expected Package.swift of BorderlineCore); pass --core PATH to Sources/Core of a Borderline checkout", file: self.corePath)
        }
    }

    /// Finds `Sources/Core` of the checkout the running executable was built in:
    /// `$BORDERLINE_CORE_PATH`, else the nearest ancestor of the executable holding `Sources/Core/Package.swift`.
    public static func locateCore() -> String? {
        if let env = ProcessInfo.processInfo.environment["BORDERLINE_CORE_PATH"], !env.isEmpty { return env }
        guard var dir = PluginDiscovery.builtInFolder().map(URL.init(fileURLWithPath:)) else { return nil }
        for _ in 0..<8 {
            let candidate = dir.appendingPathComponent("Sources/Core")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("Package.swift").path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// The files to write, relative to the package folder.
    public var files: [(path: String, contents: String)] {
        [
            ("Package.swift", packageManifest),
            ("Sources/\(productName)/\(productName).swift", pluginSource),
            ("README.md", readme),
            (".gitignore", ".build/\n.swiftpm/\nPackage.resolved\n"),
        ]
    }

    /// Writes the package. Refuses to write into a non-empty folder.
    public func write() throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder), !((try? fm.contentsOfDirectory(atPath: folder)) ?? []).isEmpty {
            throw BorderlineError(.invalidArgument, "folder already exists and is not empty; choose another NAME or --path", file: folder)
        }
        for (path, contents) in files {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(path)
            do {
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(contents.utf8).write(to: url)
            } catch {
                throw BorderlineError(.ioFailure, "cannot write \(path): \(RunFolder.reason(error))", file: folder)
            }
        }
    }

    var packageManifest: String {
        """
        // swift-tools-version: 6.0
        // A Borderline plugin. Build with `swift build`; the host loads
        // .build/debug/lib\(productName).so with `borderline run --plugin-path .build/debug --plugin \(name)`.
        import PackageDescription

        let package = Package(
            name: "\(name)",
            products: [
                // A dynamic library whose name ends in "Plugin": that is what the host looks for.
                .library(name: "\(productName)", type: .dynamic, targets: ["\(productName)"]),
            ],
            dependencies: [
                // The core of the Borderline checkout this plugin was made with, by path, so that the
                // plugin uses the host's shared BorderlineCore library (one copy of every type).
                .package(path: "\(corePath)"),
            ],
            targets: [
                .target(name: "\(productName)", dependencies: [.product(name: "BorderlineCore", package: "Core")]),
            ]
        )

        """
    }

    var pluginSource: String {
        """
        import BorderlineCore
        import Foundation

        /// The plugin: a name (what `--plugin \(name)` selects), a version, and its components.
        public final class \(productName): BorderlinePlugin {
            public init() {}
            public let name = "\(name)"
            public let version = "0.1.0"
            public let summary = "Walks from images of class s along the gradient of z_t − z_s until the classifier says t."
            public let probers: [any BoundaryProber] = [GradientWalk()]
        }

        /// Prober `gradient-walk`: from up to `samplesPerPair` correctly classified images of class s,
        /// repeatedly steps `x ← x + η g/‖g‖` with `g = ∇ₓ(z_t − z_s)` (one batched vector–Jacobian
        /// product per step) until the classifier predicts t (success: the first point past the
        /// boundary, within η of it) or `max-steps` steps have been taken (failure).
        final class GradientWalk: BoundaryProber {
            let name = "gradient-walk"
            let summary = "Gradient steps on the margin z_t − z_s until the prediction flips to t."
            let needsGradients = true
            let options: [PluginOption] = [
                .number("step-size", default: 0.05, in: 1e-6...10, help: "η, the length of each step in input space"),
                .integer("max-steps", default: 100, in: 1...10_000, help: "steps before an attempt fails"),
            ]

            func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
                let eta = try context.options.float("step-size")
                let maxSteps = try context.options.int("max-steps")
                let model = try context.gradients()   // exact gradients, or the run's estimator for black boxes
                var random = context.randomGenerator(for: pair)
                let pool = context.indices(ofClass: pair.source)
                guard !pool.isEmpty else {
                    throw BorderlineError(.dataMismatch, "no correctly classified image of class \\(pair.source)")
                }
                let chosen = random.permutation(pool.count).prefix(context.samplesPerPair).map { pool[$0] }
                let start = context.data.images.gather(batch: chosen)
                let n = chosen.count, d = start.sampleCount
                var x = start
                var probabilities = try model.probabilities(x)
                var done = [Bool](repeating: false, count: n)
                var steps = [Int](repeating: 0, count: n)
                context.progress.begin("gradient walk \\(pair)", total: maxSteps)
                for step in 1...maxSteps where done.contains(false) {
                    try context.checkInterrupted()
                    let g = try model.marginGradient(x, from: Array(repeating: pair.source, count: n),
                                                     to: Array(repeating: pair.target, count: n)).inputGradient
                    for r in 0..<n where !done[r] {
                        var norm: Float = 0
                        for j in 0..<d { norm += g.scalars[r * d + j] * g.scalars[r * d + j] }
                        let scale = eta / max(norm.squareRoot(), 1e-12)
                        for j in 0..<d { x.scalars[r * d + j] += scale * g.scalars[r * d + j] }
                        steps[r] = step
                    }
                    probabilities = try model.probabilities(x)
                    let predicted = probabilities.argmaxRows()
                    for r in 0..<n where predicted[r] == pair.target { done[r] = true }
                    context.progress.update(completed: step, detail: "\\(done.filter { $0 }.count)/\\(n) crossed")
                }
                context.progress.end(summary: "")
                // Extra results: the per-attempt step counts as an array and their mean as a number.
                try context.store.addIntegers(steps, name: "steps", pair: pair)
                try context.store.addNumber(Double(steps.reduce(0, +)) / Double(max(n, 1)), name: "mean_steps", pair: pair)
                return try BoundarySet(
                    pair: pair, points: x, startPoints: start, startIndices: chosen,
                    probabilities: probabilities, succeeded: done,
                    failureReasons: done.map { $0 ? nil : "no flip to class \\(pair.target) within \\(maxSteps) steps of size \\(eta)" },
                    iterations: steps, queries: n + 2 * n * (steps.max() ?? 0))   // one VJP and one forward per row per step
            }
        }

        // The two C symbols the host looks for. Keep them exactly like this.
        @_cdecl("borderline_plugin_abi_version")
        public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }

        @_cdecl("borderline_plugin_create")
        public func borderlinePluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(\(productName)()) }

        """
    }

    var readme: String {
        """
        # \(name) — a Borderline plugin

        ```sh
        swift build                                  # builds .build/debug/lib\(productName).so
        borderline plugins --plugin-path .build/debug
        borderline run --plugin-path .build/debug --plugin \(name) --plugin bisection --pairs 0:6 --samples 20
        ```

        The plugin depends on the Borderline core at `\(corePath)`. See docs/writing-plugins.md in the
        Borderline checkout for a walk-through.

        """
    }
}
