import Foundation

/// Thrown by ``RunContext/checkInterrupted()`` once the run has been asked to stop (Ctrl-C).
/// The host records the plugin as interrupted and writes what finished.
public struct RunInterrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the run was interrupted" }
}

/// What every plugin of one run shares: the classifier, the data and the classifier's predictions
/// on it, the class pairs, the seed, the gradient policy, the results so far and the generators
/// the plugins offer. The host builds one per run and hands each component a ``RunContext`` made
/// by ``context(plugin:component:options:)``.
public final class RunEnvironment {
    /// The classifier as the run analyses it (a ``BlackBoxClassifier`` for black-box runs).
    public let classifier: any Classifier
    public let data: Dataset
    /// `argmax P` for every data row, computed once (not counted as any plugin's queries).
    public let predictions: [Int]
    public let pairs: [ClassPair]
    public let samplesPerPair: Int
    public let seed: UInt64
    /// The zeroth-order estimator used when the classifier has no exact gradients; nil: none.
    public let gradientEstimator: ZerothOrderGradientEstimator.Configuration?
    public let record: RunRecord
    public let progress: ProgressReporter
    /// Every model query of every plugin.
    public let counter = QueryCounter()
    /// Polled by ``RunContext/checkInterrupted()``.
    public let isInterrupted: () -> Bool

    private var providers: [(plugin: String, provider: any GeneratorProvider, options: PluginOptionValues)] = []
    private var generators: [String: any Generator] = [:]

    /// - Throws: `.dataMismatch` when the data's sample shape is not the classifier's input shape.
    public init(classifier: any Classifier, data: Dataset, pairs: [ClassPair], samplesPerPair: Int, seed: UInt64,
                gradientEstimator: ZerothOrderGradientEstimator.Configuration? = nil, progress: ProgressReporter = SilentProgress(),
                record: RunRecord = RunRecord(), isInterrupted: @escaping () -> Bool = { false }) throws {
        guard data.imageShape == classifier.inputShape else {
            throw BorderlineError(.dataMismatch, "data set '\(data.name)' has samples of shape \(data.imageShape) but the classifier expects \(classifier.inputShape)")
        }
        for p in pairs where !(0..<classifier.classCount).contains(p.source) || !(0..<classifier.classCount).contains(p.target) || p.source == p.target {
            throw BorderlineError(.invalidArgument, "class pair \(p) is not a pair of two different classes in 0…\(classifier.classCount - 1)")
        }
        self.classifier = classifier
        self.data = data
        self.pairs = pairs
        self.samplesPerPair = samplesPerPair
        self.seed = seed
        self.gradientEstimator = gradientEstimator
        self.progress = progress
        self.record = record
        self.isInterrupted = isInterrupted
        var predictions: [Int] = []
        var start = 0
        while start < data.count {
            let end = Swift.min(data.count, start + 512)
            predictions += try classifier.predictions(data.images.slice(batch: start..<end))
            start = end
        }
        self.predictions = predictions
    }

    /// The context for one component (or, with `component` nil, for the plugin's `finish`).
    public func context(plugin: PluginRecord, component: String?, options: PluginOptionValues,
                        progress: ProgressReporter? = nil) -> RunContext {
        RunContext(environment: self, plugin: plugin, component: component, options: options,
                   progress: progress ?? self.progress)
    }

    /// Makes a plugin's generator available to `RunContext.generator(named:)`.
    public func register(_ provider: any GeneratorProvider, plugin: String, options: PluginOptionValues) {
        providers.append((plugin, provider, options))
    }

    /// The names generators can be asked for, `plugin/generator`.
    public var generatorNames: [String] { providers.map { "\($0.plugin)/\($0.provider.name)" } }

    func generator(named name: String, record: PluginRecord) throws -> any Generator {
        let matches = providers.filter { "\($0.plugin)/\($0.provider.name)" == name || $0.provider.name == name }
        guard let match = matches.first else {
            throw BorderlineError(.invalidArgument,
                "no generator named '\(name)' in this run (available: \(generatorNames.isEmpty ? "none; enable a plugin that provides one" : generatorNames.joined(separator: ", ")))")
        }
        guard matches.count == 1 else {
            throw BorderlineError(.invalidArgument, "generator name '\(name)' is ambiguous; use one of \(matches.map { "\($0.plugin)/\($0.provider.name)" }.joined(separator: ", "))")
        }
        let key = "\(match.plugin)/\(match.provider.name)"
        if let g = generators[key] { return g }
        let owner = record.name == match.plugin ? record : (self.record.plugin(named: match.plugin) ?? record)
        let g = try match.provider.makeGenerator(context: context(plugin: owner, component: match.provider.name, options: match.options))
        generators[key] = g
        return g
    }
}
