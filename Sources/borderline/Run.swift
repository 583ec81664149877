import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run boundary analyses (plugins) on a model and data set and write a run folder.",
        discussion: """
        With no options, analyses the shipped Fashion-MNIST CNN on the Fashion-MNIST test split with the \
        default plugins (\(RunConfiguration.defaultPlugins.joined(separator: ", "))) for every class pair. \
        The run folder holds results.h5, summary.json, config.json, report.html and images/. \
        Exit status: 0 all plugins ok, 1 the run finished but a plugin failed, 2 bad input, 130 interrupted.
        """)

    @Option(help: "Configuration file (YAML or JSON; same keys as the options, e.g. plugins, options, pairs). Options given here override it.")
    var config: String?

    @Option(help: "Model file or shipped model name (default: the shipped Fashion-MNIST CNN).")
    var model: String?

    @Option(help: "Architecture JSON for a PyTorch state_dict model file.")
    var architecture: String?

    @Option(help: "Data set: fashion-mnist, an IDX images file, a folder, or an HDF5 file with x and y (default: fashion-mnist).")
    var data: String?

    @Option(help: "Data split for named data sets: train or test (default: test).")
    var split: DataSplit?

    @Option(name: .customLong("plugin"), help: "Enable a plugin by name (repeatable; default: \(RunConfiguration.defaultPlugins.joined(separator: ", "))).")
    var plugins: [String] = []

    @Option(name: .customLong("set"), help: "Set a plugin option: plugin.option=value or plugin.component.option=value (repeatable).")
    var settings: [String] = []

    @Option(help: "Class pairs: s:t,... with class names or indices, 'all' (every unordered pair) or 'all-ordered' (both directions of every pair, e.g. for DeepDIG) (default: all pairs of --classes).")
    var pairs: [String] = []

    @Option(help: "Classes (names or indices, comma-separated) whose pairs are analysed (default: all).")
    var classes: [String] = []

    @Option(help: "Attempts per class pair (default: 50).")
    var samples: Int?

    @Option(help: "Use at most this many images of each class, the first in data-set order; 0 for all (default: 1000).")
    var imagesPerClass: Int?

    @Option(help: "Seed for every random choice (default: 0).")
    var seed: UInt64?

    @Option(help: "Run folder to write (default: runs/<date>-<time>-<model>).")
    var out: String?

    @Flag(help: "Replace an existing run folder.")
    var overwrite = false

    @Option(name: .customLong("plugin-path"), help: "Also look for plugins in this folder (repeatable; searched before BORDERLINE_PLUGIN_PATH and the built-in folder).")
    var pluginPaths: [String] = []

    @Flag(help: "Analyse the model as a black box: probabilities only, no gradients or embedding.")
    var blackBox = false

    @Option(help: "Enable a zeroth-order gradient estimator for black-box classifiers: nes or finite-differences.")
    var gradientEstimator: String?

    @Option(help: "NES direction pairs per gradient estimate (default: 50).")
    var estimatorSamples: Int?

    @Option(help: "Zeroth-order estimator step σ or h (default: 0.01).")
    var estimatorStep: Double?

    @Flag(help: "No progress output.")
    var quiet = false

    func resolvedConfiguration() throws -> RunConfiguration {
        var c = try config.map(RunConfiguration.load) ?? RunConfiguration()
        if let model { c.model = model }
        if let architecture { c.architecture = architecture }
        if let data { c.data = data }
        if let split { c.split = split }
        if !plugins.isEmpty { c.plugins = plugins }
        for s in settings { try c.set(s) }
        if !pairs.isEmpty { c.pairs = pairs }
        if !classes.isEmpty { c.classes = classes }
        if let samples { c.samples = samples }
        if let imagesPerClass { c.imagesPerClass = imagesPerClass }
        if let seed { c.seed = seed }
        if let out { c.out = out }
        if overwrite { c.overwrite = true }
        c.pluginPaths = pluginPaths + c.pluginPaths
        if blackBox { c.blackBox = true }
        if let gradientEstimator { c.gradientEstimator = gradientEstimator }
        if let estimatorSamples { c.estimatorSamples = estimatorSamples }
        if let estimatorStep { c.estimatorStep = estimatorStep }
        return c
    }

    func run() throws {
        let configuration = try resolvedConfiguration()
        InterruptFlag.install()
        let engine = RunEngine(configuration: configuration, progress: TerminalProgress(quiet: quiet))
        let outcome = try engine.run()
        for warning in outcome.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let report = (outcome.folder as NSString).appendingPathComponent("report.html")
        switch outcome.status {
        case .interrupted:
            FileHandle.standardError.write(Data("interrupted: partial results in \(outcome.folder) (status: interrupted)\n".utf8))
            throw ExitCode(130)
        case .complete where !outcome.failures.isEmpty:
            for f in outcome.failures {
                FileHandle.standardError.write(Data("plugin \(f.plugin) failed: \(f.reason)\n".utf8))
            }
            print(report)
            throw ExitCode(1)
        case .complete:
            print(report)
        }
    }
}
