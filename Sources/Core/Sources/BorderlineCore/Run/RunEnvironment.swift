import Foundation

/// Thrown by ``RunContext/checkInterrupted()`` once the run has been asked to stop (Ctrl-C).
/// The host records the plugin as interrupted and writes what finished.
public struct RunInterrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the run was interrupted" }
}

/// What every plugin of one run shares: the classifier, the data and the classifier's predictions
/// on it, the class pairs, the seed, the gradient policy, the results so far, the generators the
/// plugins offer and the run-scoped caches. The host builds one per run and gives each component
/// call a ``RunContext``; plugins never see the environment itself.
public final class RunEnvironment {
    /// The classifier as the run analyses it (a ``BlackBoxClassifier`` for black-box runs).
    let classifier: any Classifier
    /// The run's data with the classifier's predictions.
    let runData: RunData
    /// The index in the full data set of every row of the run's data (nil: the identity).
    let dataSetIndices: [Int]?
    let pairs: [ClassPair]
    let samplesPerPair: Int
    let seed: UInt64
    /// The zeroth-order estimator used when the classifier has no exact gradients; nil: none.
    let gradientEstimator: ZerothOrderGradientEstimator.Configuration?
    public let record: RunRecord
    let progress: ProgressReporter
    /// Every model query of every plugin; the host attributes deltas to components.
    public let counter = QueryCounter()
    /// The queries of run-wide work done once and shared: building the values of ``RunContext``'s
    /// caches and services (training-split predictions, embeddings, plugin caches, generators).
    /// The host charges them to no component, so that a component's count does not depend on
    /// whether it was the first to ask (or on which pairs a shard of the run holds).
    public private(set) var sharedQueries = 0
    /// Why outputs read back from a run folder could not be given to a component that asked for
    /// them (``RunContext/outputs(of:)-5f7z2``); the host fails that component.
    public private(set) var unreadableOutputs: [String] = []
    let isInterrupted: () -> Bool
    /// Resolves a model argument (a path or a shipped name) to a file path.
    let resolveModel: (String) throws -> String

    private var providers: [(plugin: String, provider: any GeneratorProvider, options: any PluginOptions)] = []
    private var generators: [String: any Generator] = [:]
    private let lock = NSRecursiveLock()
    private var shared: [AnyHashable: Any] = [:]
    private var pluginCaches: [String: [AnyHashable: Any]] = [:]
    /// Nesting depth of cache builds (a cached value whose making asks for another one).
    private var buildDepth = 0

    /// - Throws: `.dataMismatch` when the data's sample shape is not the classifier's input shape,
    ///   `.invalidArgument` for a pair outside the classifier's classes.
    public init(classifier: any Classifier, data: Dataset, pairs: [ClassPair], samplesPerPair: Int, seed: UInt64,
                gradientEstimator: ZerothOrderGradientEstimator.Configuration? = nil, progress: ProgressReporter = SilentProgress(),
                record: RunRecord = RunRecord(), isInterrupted: @escaping () -> Bool = { false },
                resolveModel: @escaping (String) throws -> String = { $0 }, dataSetIndices: [Int]? = nil) throws {
        guard data.imageShape == classifier.inputShape else {
            throw BorderlineError(.dataMismatch, "data set '\(data.name)' has samples of shape \(data.imageShape) but the classifier expects \(classifier.inputShape)")
        }
        for p in pairs where !(0..<classifier.classCount).contains(p.source) || !(0..<classifier.classCount).contains(p.target) || p.source == p.target {
            throw BorderlineError(.invalidArgument, "class pair \(p) is not a pair of two different classes in 0…\(classifier.classCount - 1)")
        }
        if let dataSetIndices, dataSetIndices.count != data.count {
            throw BorderlineError(.dataMismatch, "\(dataSetIndices.count) data-set indices for the \(data.count) images of '\(data.name)'")
        }
        self.dataSetIndices = dataSetIndices
        self.classifier = classifier
        self.pairs = pairs
        self.samplesPerPair = samplesPerPair
        self.seed = seed
        self.gradientEstimator = gradientEstimator
        self.progress = progress
        self.record = record
        self.isInterrupted = isInterrupted
        self.resolveModel = resolveModel
        let predictions = try batchedPredictions(classifier, data.images)
        try RunEnvironment.checkFinite(classifier, data)
        self.runData = RunData(id: "run", dataset: data, predictions: predictions, origin: "the run's data (\(data.name))")
    }

    /// The classifier's predicted class for every row of the run's data.
    public var predictions: [Int] { runData.predictions }

    /// Refuses a classifier whose outputs are not finite on the first images of the data (NaN or
    /// infinite logits make every analysis meaningless, and argmax would silently say class 0).
    static func checkFinite(_ classifier: any Classifier, _ data: Dataset) throws {
        guard data.count > 0 else { return }
        let probe = try classifier.probabilities(data.images.slice(batch: 0..<Swift.min(64, data.count)))
        if let bad = probe.scalars.firstIndex(where: { !$0.isFinite }) {
            throw BorderlineError(.nonFiniteValues,
                "the classifier's outputs are not finite (\(probe.scalars[bad]) for image \(bad / Swift.max(1, classifier.classCount)) of \(data.name)); the model's weights or inputs are out of range")
        }
    }

    /// The context for one call of a component (nil: the plugin itself): `pair` is the call's
    /// pair (nil for analyses), `visiblePairs` the pairs whose outputs it may read (nil: all).
    public func context(plugin: PluginRecord, component: String?, kind: ComponentKind?, progress: ProgressReporter? = nil,
                        visibleSets: [BoundarySet], pair: ClassPair? = nil, visiblePairs: Set<ClassPair>? = nil) -> RunContext {
        RunContext(environment: self, plugin: plugin, component: component, kind: kind,
                   progress: progress ?? self.progress, visibleSets: visibleSets, pair: pair, visiblePairs: visiblePairs)
    }

    func reportUnreadable(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        unreadableOutputs.append(message)
    }

    /// Runs `make` as shared run-wide work: its queries count as ``sharedQueries``.
    private func building<Value>(_ make: () throws -> Value) rethrows -> Value {
        let before = counter.count
        buildDepth += 1
        defer {
            buildDepth -= 1
            if buildDepth == 0 { sharedQueries += counter.count - before }
        }
        return try make()
    }

    /// Makes a plugin's generator available to `RunContext.generator(named:)`.
    public func register(_ provider: any GeneratorProvider, plugin: String, options: any PluginOptions) {
        providers.append((plugin, provider, options))
    }

    /// The names generators can be asked for, `plugin/generator`.
    public var generatorNames: [String] { providers.map { "\($0.plugin)/\($0.provider.name)" } }

    func generator(named name: String) throws -> any Generator {
        let matches = providers.filter { "\($0.plugin)/\($0.provider.name)" == name || $0.provider.name == name }
        guard let match = matches.first else {
            throw BorderlineError(.invalidArgument,
                "no generator named '\(name)' in this run (available: \(generatorNames.isEmpty ? "none; enable a plugin that provides one" : generatorNames.joined(separator: ", ")))")
        }
        guard matches.count == 1 else {
            throw BorderlineError(.invalidArgument, "generator name '\(name)' is ambiguous; use one of \(matches.map { "\($0.plugin)/\($0.provider.name)" }.joined(separator: ", "))")
        }
        let key = "\(match.plugin)/\(match.provider.name)"
        lock.lock(); defer { lock.unlock() }
        if let g = generators[key] { return g }
        guard let owner = record.plugin(named: match.plugin) else {
            throw BorderlineError(.invalidConfiguration, "generator \(key): its plugin is not part of the run")
        }
        let context = self.context(plugin: owner, component: match.provider.name, kind: .generator, visibleSets: [])
        let g = try building { try RunEnvironment.make(match.provider, options: match.options, context: context) }
        generators[key] = g
        return g
    }

    private static func make<P: GeneratorProvider>(_ provider: P, options: any PluginOptions, context: RunContext) throws -> any Generator {
        guard let typed = options as? P.Options else {
            throw BorderlineError(.invalidConfiguration, "generator \(provider.name): options of the wrong type")
        }
        return try provider.makeGenerator(options: typed, context: context)
    }

    // MARK: Caches

    /// A value computed once per run and shared by every plugin (training splits, embeddings).
    func shared<Value>(_ key: AnyHashable, _ make: () throws -> Value) throws -> Value {
        lock.lock(); defer { lock.unlock() }
        let k = AnyHashable([AnyHashable(String(reflecting: Value.self)), key])
        if let hit = shared[k] as? Value { return hit }
        let made = try building(make)
        shared[k] = made
        return made
    }

    /// A value computed once per run for one plugin.
    func cached<Value>(plugin: String, _ key: AnyHashable, _ make: () throws -> Value) throws -> Value {
        lock.lock(); defer { lock.unlock() }
        let k = AnyHashable([AnyHashable(String(reflecting: Value.self)), key])
        if let hit = pluginCaches[plugin]?[k] as? Value { return hit }
        let made = try building(make)
        pluginCaches[plugin, default: [:]][k] = made
        return made
    }
}
