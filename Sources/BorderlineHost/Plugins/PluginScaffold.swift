import BorderlineCore
import Foundation

/// `borderline plugin new NAME`: writes an out-of-tree SwiftPM package for a plugin that builds
/// and loads as is. It depends on this checkout's core (`Sources/Core`) by absolute path, so the
/// plugin links the same shared BorderlineCore the host uses. Its prober `gradient-walk` and metric
/// `walk-length` show typed options, gradients and typed outputs; docs/writing-plugins.md walks through it.
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
            ("Sources/\(productName)/Entry.swift", entrySource),
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

    /// The plugin: one prober and one metric (docs/writing-plugins.md walks through it line by line).
    var pluginSource: String {
        """
        import BorderlineCore
        /// `\(name)`: gradient walks from images of s until the classifier says t, and how far they went.
        public final class \(productName): BorderlinePlugin {
            public static let manifest = PluginManifest(name: "\(name)", version: "0.1.0", summary: "Gradient walk from s towards t; walk lengths.")
            public init() {}
            public let probers: [any BoundaryProber] = [GradientWalk()]
            public let metrics: [any Metric] = [WalkLength()]
        }
        /// Steps x ← x + η g/‖g‖, g = ∇ₓ(z_t − z_s), from correctly classified images of s until the prediction is t.
        final class GradientWalk: BoundaryProber {
            let name = "gradient-walk", summary = "Normalised gradient steps on z_t − z_s until the prediction flips to t.", needsGradients = true
            struct Options: PluginOptions {
                @Option(help: "η, the length of each step in input space", in: 1e-6...10) var stepSize = 0.05
                @Option(help: "steps before an attempt fails", in: 1...10_000) var maxSteps = 100
            }
            func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<NoOutput> {
                let model = try context.gradients(), s = pair.source, t = pair.target
                let rows = Array(try context.correctlyClassifiedIndices(of: s).prefix(context.samplesPerPair))
                let start = context.data.images.gather(batch: rows), n = rows.count
                var x = start, steps = [Int](repeating: 0, count: n), done = [Bool](repeating: false, count: n)
                for step in 1...options.maxSteps where done.contains(false) {
                    try context.checkInterrupted()
                    let g = try model.marginGradient(x, from: [Int](repeating: s, count: n), to: [Int](repeating: t, count: n)).inputGradient
                    x.addScaledRows(g, by: zip(g.rowNorms(), done).map { $1 ? 0 : Float(options.stepSize) / max($0, 1e-12) })
                    for (r, c) in try model.predictions(x).enumerated() where !done[r] { steps[r] = step; done[r] = c == t }
                }
                let why = done.map { $0 ? nil : "not \\(context.classifier.className(t)) after \\(options.maxSteps) steps" }
                return Probe(try BoundarySet(pair: pair, points: x, startPoints: start, startIndices: rows,
                    probabilities: try model.probabilities(x), succeeded: done, failureReasons: why, iterations: steps))
            }
        }
        /// For any prober's set: the mean L2 distance from start to boundary point over the successful attempts.
        final class WalkLength: Metric {
            let name = "walk-length", summary = "Mean ‖x* − x₀‖₂ over successful attempts, and every attempt's distance."
            struct Output: Encodable { var meanDistance: Double; var distances: [Float] }
            func evaluate(_ set: BoundarySet, options: NoOptions, context: RunContext) throws -> Output {
                let d = (set.points - set.startPoints).rowNorms(), ok = set.successfulIndices
                return Output(meanDistance: ok.isEmpty ? .nan : ok.map { Double(d[$0]) }.reduce(0, +) / Double(ok.count), distances: d)
            }
        }

        """
    }

    /// The three C symbols the host looks for, in a file of their own.
    var entrySource: String {
        """
        // The three C symbols the host looks for. Keep them exactly like this.
        import BorderlineCore

        @_cdecl("borderline_plugin_abi_version")
        public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }

        @_cdecl("borderline_plugin_manifest")
        public func borderlinePluginManifest() -> UnsafePointer<CChar> { PluginABI.manifest(of: \(productName).self) }

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
