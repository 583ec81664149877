import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Run: ParsableCommand, ModelArgumentHelp {
    static var modelHelp: String { "Model file or shipped model name (default: the shipped Fashion-MNIST CNN, fashion-cnn)." }

    static let configuration = CommandConfiguration(
        abstract: "Run boundary analyses (plugins) on a model and data set and write a run folder.",
        discussion: """
        With no options, analyses the shipped Fashion-MNIST CNN on the Fashion-MNIST test split with the \
        default plugins (\(RunConfiguration.defaultPlugins.joined(separator: ", "))) for every class pair; --plugin adds \
        plugins to them, --no-defaults leaves only the named ones. \
        The run folder holds results.h5, summary.json, config.json, report.html and images/. A pair that a plugin \
        declines (e.g. a class with no correctly classified image) is recorded in summary.json's skipped_pairs \
        and the other pairs run. \
        Exit status: 0 all plugins ok (pairs may be skipped), 1 the run finished but a plugin failed, 2 bad input, 130 interrupted.
        """)

    @Option(help: "Configuration file (YAML or JSON; same keys as the options, e.g. plugins, options, pairs). Options given here override it.")
    var config: String?

    @OptionGroup var modelOptions: ModelOptions<Run>

    @Option(help: "Data set: fashion-mnist, an IDX images file, a folder, or an HDF5 file with x and y (default: fashion-mnist).")
    var data: String?

    @Option(help: "Data split for named data sets: train or test (default: test).")
    var split: DataSplit?

    @Option(name: .customLong("plugin"), help: "Enable a plugin by name, in addition to the defaults (\(RunConfiguration.defaultPlugins.joined(separator: ", "))) unless --no-defaults (repeatable).")
    var plugins: [String] = []

    @Flag(help: "Run only the plugins named with --plugin, not the defaults (config file: default_plugins: false).")
    var noDefaults = false

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

    @Option(name: [.customShort("o"), .customLong("out"), .customLong("output")], help: "Run folder to write (default: runs/<date>-<time>-<model>).")
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

    @Option(help: "Run only shard I of N (I = 0…N−1, e.g. $SLURM_ARRAY_TASK_ID/N): a balanced slice of the class pairs, into a shard run folder for `borderline merge` (docs/scale-out.md).")
    var shard: String?

    @Option(help: "Continue the unfinished run in this folder (stopped by Ctrl-C, killed, or a shard), skipping its finished pairs. Alone, it takes the run's configuration from the folder; with run options it checks they are the run's, and starts the run there when there is nothing to continue.")
    var resume: String?

    @Flag(help: "No progress output.")
    var quiet = false

    func resolvedConfiguration() throws -> RunConfiguration {
        var c = try config.map(RunConfiguration.load) ?? RunConfiguration()
        if let model = modelOptions.given { c.model = model }
        if let architecture = modelOptions.architecture { c.architecture = architecture }
        if let data { c.data = data }
        if let split { c.split = split }
        if !plugins.isEmpty { c.plugins = plugins }
        if noDefaults { c.includeDefaultPlugins = false }
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
        if let shard { c.shard = try ShardSpec(parsing: shard) }
        return c
    }

    func run() throws {
        var configuration = try resolvedConfiguration()
        InterruptFlag.install()
        var resumption: RunEngine.Resume?
        if let resume {
            if let out = configuration.out, URL(fileURLWithPath: out).standardizedFileURL != URL(fileURLWithPath: resume).standardizedFileURL {
                throw BorderlineError(.invalidArgument, "--resume \(resume) continues the run in that folder; --out \(out) names another one (give one of them)")
            }
            configuration.out = nil
            resumption = RunEngine.Resume(folder: resume, fromJournal: configuration == RunConfiguration())
        }
        let engine = RunEngine(configuration: configuration, progress: TerminalProgress(quiet: quiet))
        engine.resume = resumption
        let outcome = try engine.run()
        for warning in outcome.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        Run.reportSkipped(outcome)
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

    /// One stderr line per plugin that skipped pairs: how many, which, and the first reason.
    static func reportSkipped(_ outcome: RunEngine.Outcome) {
        var order: [String] = []
        var byPlugin: [String: [PluginRecord.PairOutcome]] = [:]
        for (plugin, o) in outcome.skipped {
            if byPlugin[plugin] == nil { order.append(plugin) }
            byPlugin[plugin, default: []].append(o)
        }
        for plugin in order {
            let skipped = byPlugin[plugin]!
            let pairs = skipped.map { "\($0.pair)" }
            var unique: [String] = []
            for p in pairs where !unique.contains(p) { unique.append(p) }
            let shown = unique.prefix(8).joined(separator: ", ") + (unique.count > 8 ? ", …" : "")
            FileHandle.standardError.write(Data("warning: plugin \(plugin) skipped \(unique.count) pair(s) (\(shown)): \(skipped[0].reason); the other pairs ran (summary.json skipped_pairs)\n".utf8))
        }
    }
}
