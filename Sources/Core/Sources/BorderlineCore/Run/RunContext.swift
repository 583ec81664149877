import Foundation

/// What a component gets to work with during a run: the classifier and the data, the run's seed,
/// progress and Ctrl-C, the boundary sets and typed outputs made so far, and run-scoped services
/// (caches, the training split, embeddings, generators, further models).
///
/// Everything a component needs comes from here, so that the run's seed reproduces it, its model
/// queries are counted (by the host, through ``classifier`` and ``gradients()``), Ctrl-C stops it
/// cleanly and its results land in the run folder.
public final class RunContext {
    private let environment: RunEnvironment
    private let record: PluginRecord
    /// The component's name (nil for work of the plugin itself).
    public let component: String?
    /// `plugin/component`, for messages and random streams.
    public let owner: String
    /// Progress for long work inside one call; the host shows it under its own per-pair bar.
    public let progress: ProgressReporter
    /// The classifier; every row it evaluates counts as a model query.
    public let classifier: any Classifier
    /// The boundary sets this component may read (see ``boundarySets``).
    private let visibleSets: [BoundarySet]
    /// The pairs whose outputs this component may read (nil: every pair; see ``outputs(of:)-5f7z2``).
    private let visiblePairs: Set<ClassPair>?
    private let kind: ComponentKind?
    /// The pair of the call (a prober's pair, the pair of a metric's set), nil for analyses.
    public let pair: ClassPair?
    private var cachedGradients: (any DifferentiableClassifier)?

    init(environment: RunEnvironment, plugin: PluginRecord, component: String?, kind: ComponentKind?,
         progress: ProgressReporter, visibleSets: [BoundarySet], pair: ClassPair? = nil, visiblePairs: Set<ClassPair>? = nil) {
        self.environment = environment
        self.record = plugin
        self.component = component
        self.kind = kind
        self.pair = pair
        self.visiblePairs = visiblePairs
        self.owner = component.map { "\(plugin.name)/\($0)" } ?? plugin.name
        self.progress = progress
        self.visibleSets = visibleSets
        self.classifier = QueryCountingClassifier(environment.classifier, counter: environment.counter)
    }

    /// The plugin's name.
    public var plugin: String { record.name }

    // MARK: The run

    /// The data set the run analyses (`[N] + inputShape`, labels).
    public var data: Dataset { environment.runData.dataset }
    /// The classifier's predicted class for every data row.
    public var predictions: [Int] { environment.runData.predictions }
    /// The run's data with the predictions, as ``RunData``.
    public var runData: RunData { environment.runData }
    /// The index in the full data set of every row of ``data``: a run on part of a data set
    /// (`--images-per-class`) holds a subset of its images, and results.h5 maps its rows back
    /// with `/data/indices`. The host converts boundary sets' `startIndices` itself; a component
    /// that stores image indices in its own output converts them with ``dataSetIndices(ofRows:)``.
    /// The identity when the environment was made without them (tests).
    public var dataSetIndices: [Int] { environment.dataSetIndices ?? Array(0..<environment.runData.count) }
    /// The full-data-set index of each of `rows` (rows of ``data``); negative rows (synthetic
    /// points) give −1.
    public func dataSetIndices(ofRows rows: [Int]) -> [Int] {
        guard let map = environment.dataSetIndices else { return rows.map { $0 < 0 ? -1 : $0 } }
        return rows.map { $0 < 0 ? -1 : map[$0] }
    }
    /// The class pairs of the run.
    public var pairs: [ClassPair] { environment.pairs }
    /// How many attempts a prober makes per pair (`--samples`).
    public var samplesPerPair: Int { environment.samplesPerPair }
    public var seed: UInt64 { environment.seed }

    /// Whether the classifier has exact input gradients (false for black-box runs).
    public var hasExactGradients: Bool { environment.classifier is any DifferentiableClassifier }
    /// The zeroth-order estimator the run enabled for black-box classifiers, if any.
    public var gradientEstimator: ZerothOrderGradientEstimator.Configuration? { environment.gradientEstimator }

    /// Model queries (input rows evaluated, forward or backward) of the whole run so far; the host
    /// attributes them to components, this is for components that report a count of their own.
    public var queriesSoFar: Int { environment.counter.count }

    /// The classifier with input gradients: exact when it has them; otherwise the run's
    /// zeroth-order estimator (seeded from the run seed, this component and the call's pair, so
    /// that a pair's estimates do not depend on which pairs ran before it) when the run enabled
    /// one. Queries are counted either way.
    /// - Throws: `.invalidArgument` saying that the component needs gradients, the classifier has
    ///   none and no estimator is enabled, and how to enable one.
    public func gradients() throws -> any DifferentiableClassifier {
        if let cachedGradients { return cachedGradients }
        let made: any DifferentiableClassifier
        if let exact = environment.classifier as? any DifferentiableClassifier {
            made = QueryCountingDifferentiableClassifier(exact, counter: environment.counter)
        } else if var configuration = environment.gradientEstimator {
            configuration.seed = environment.seed ^ StableHash.fnv1a(pair.map { "\(owner)#\($0.key)" } ?? owner)
            made = try ZerothOrderGradientEstimator(classifier, configuration: configuration)
        } else {
            throw BorderlineError(.invalidArgument,
                "\(owner) needs input gradients, but the classifier is a black box (scores only) and no zeroth-order " +
                "gradient estimator is enabled; enable one with --gradient-estimator nes or --gradient-estimator finite-differences")
        }
        cachedGradients = made
        return made
    }

    /// A random generator for this component and pair, derived from the run seed: the same seed,
    /// component and pair give the same stream whatever else the run does.
    public func randomGenerator(for pair: ClassPair? = nil, stream: String = "") -> RandomGenerator {
        var key = owner
        if !stream.isEmpty { key += "/\(stream)" }
        if let pair { key += "#\(pair.key)" }
        return RandomGenerator(seed: environment.seed ^ StableHash.fnv1a(key))
    }

    /// Throws ``RunInterrupted`` once the run has been asked to stop; call it in long loops.
    public func checkInterrupted() throws {
        if environment.isInterrupted() { throw RunInterrupted() }
    }

    /// Data rows whose label is `c` (and, by default, that the classifier also assigns to `c`).
    public func indices(ofClass c: Int, correctlyClassified: Bool = true) -> [Int] {
        environment.runData.indices(ofClass: c, correctlyClassified: correctlyClassified)
    }

    /// Data rows whose label is `c` and that the classifier assigns to `c`, in data order.
    /// - Throws: ``PairDeclined`` naming the class when there are none, so that the host skips the
    ///   pair (recorded with the reason) instead of failing the plugin.
    public func correctlyClassifiedIndices(of c: Int) throws -> [Int] {
        let rows = indices(ofClass: c, correctlyClassified: true)
        guard rows.isEmpty else { return rows }
        let labelled = indices(ofClass: c, correctlyClassified: false).count
        throw PairDeclined("no image of class \(c) (\(classifier.className(c))) among the run's \(data.count) images is classified correctly " +
                           "(\(labelled) labelled \(c), none predicted \(c))")
    }

    /// A paragraph for the plugin's report section (warnings, what a default chose).
    public func note(_ text: String) { record.add(note: text, component: component) }

    // MARK: Earlier results

    /// The boundary sets this component may read, in the order they were made. For analyses:
    /// every set of the run. For metrics: the sets of the evaluated set's boundary — its own pair
    /// s→t and the reverse pair t→s, of every prober. For a prober that
    /// ``BoundaryProber/readsBoundarySets``: the sets of the probers that do not, of the same two
    /// pairs. For other probers: none. So no result depends on the order in which probers run or
    /// on which other pairs a run (or a shard of it, `--shard`) holds.
    public var boundarySets: [BoundarySet] { visibleSets }

    /// The outputs of one of this plugin's metrics, one per boundary set it evaluated, in order
    /// (for a prober or metric: those of the pairs in ``boundarySets`` only).
    public func outputs<M: Metric>(of metric: M.Type) -> [SetOutput<M.Output>] {
        environment.record.outputs.compactMap { e in
            guard e.componentType == ObjectIdentifier(M.self), let set = e.set, isVisible(e), let output = typed(e, M.Output.self) else { return nil }
            return SetOutput(set: set, output: output)
        }
    }

    /// The outputs of one of this plugin's probers, one per pair it probed, with the pair's set
    /// (for a prober or metric: those of the pairs in ``boundarySets`` only).
    public func outputs<P: BoundaryProber>(of prober: P.Type) -> [SetOutput<P.Output>] {
        environment.record.outputs.compactMap { e in
            guard e.componentType == ObjectIdentifier(P.self), let set = e.set, isVisible(e), let output = typed(e, P.Output.self) else { return nil }
            return SetOutput(set: set, output: output)
        }
    }

    /// The output of one of this plugin's analyses that ran earlier, if it succeeded.
    public func output<A: Analysis>(of analysis: A.Type) -> A.Output? {
        environment.record.outputs.first { $0.componentType == ObjectIdentifier(A.self) }.flatMap { typed($0, A.Output.self) }
    }

    private func isVisible(_ e: OutputRecord) -> Bool {
        guard let visiblePairs else { return true }
        return e.pair.map(visiblePairs.contains) ?? false
    }

    /// What the component returned, or — for an output read back from a run folder — its tree
    /// decoded into `O`. An output that cannot be decoded is left out and the host fails this
    /// component with why (``RunEnvironment/unreadableOutputs``).
    private func typed<O>(_ e: OutputRecord, _ type: O.Type) -> O? {
        if let value = e.value as? O { return value }
        guard let saved = e.value as? SavedOutput else { return nil }
        do {
            return try saved.value(as: O.self)
        } catch {
            environment.reportUnreadable("\(owner) reads the outputs of \(e.plugin)/\(e.component): \(error)")
            return nil
        }
    }

    // MARK: Services

    /// A value computed once per run and plugin: the first call with a key runs `make`, later calls
    /// (from any component of the plugin, any pair) get the same value. Use it for work several
    /// components or pairs share (an SVM per class pair, one analysis of every image).
    public func cached<Key: Hashable & Sendable, Value>(_ key: Key, _ make: () throws -> Value) throws -> Value {
        try environment.cached(plugin: record.name, AnyHashable(key), make)
    }

    /// The images a component learns from (``DataChoice``: `auto` is the training split of the
    /// run's named data set, e.g. `fashion-mnist` train for a run on its test split, else the run's
    /// data) with the classifier's predictions, loaded and classified once per run.
    /// - Throws: a ``BorderlineError`` naming the data set when it cannot be loaded or does not fit.
    public func trainingData(_ choice: DataChoice = .auto) throws -> RunData {
        let env = environment
        let counted = classifier
        return try env.shared(["training-data", choice.spec]) { () throws -> RunData in
            var dataset: Dataset
            var origin: String
            let run = env.runData.dataset
            switch choice.spec {
            case "run":
                return env.runData
            case "auto":
                let base = String(run.name.split(separator: "/").first ?? "")
                if let named = try? Dataset.named(base, split: .train) {
                    dataset = named
                    origin = "\(base) train split"
                } else {
                    return RunData(id: "train:auto", dataset: run, predictions: env.runData.predictions,
                                   origin: "the run's data (\(run.name)): no training split found for it")
                }
            default:
                dataset = try Dataset.load(choice.spec, split: .train)
                origin = "\(choice.spec) train split"
            }
            let shape = env.classifier.inputShape
            if dataset.imageShape != shape { dataset = try dataset.reshaped(to: shape) }
            let predictions = try batchedPredictions(counted, dataset.images)
            return RunData(id: "train:\(choice.spec)", dataset: dataset, predictions: predictions, origin: origin)
        }
    }

    /// The classifier's penultimate-layer embeddings of `rows` of `data`, flattened to `[n, e]`,
    /// computed once per run for the same rows.
    /// - Throws: `.invalidArgument` when the classifier has no embedding (black box, or no layer
    ///   before the output).
    public func embeddings(of data: RunData, rows: [Int]) throws -> Tensor {
        let counted = classifier
        return try environment.shared(["embeddings", data.id, rows] as [AnyHashable]) { () throws -> Tensor in
            guard let e = try counted.embedding(data.images.gather(batch: rows)) else {
                throw BorderlineError(.invalidArgument, "\(owner) needs the classifier's embedding (its penultimate layer), which this classifier does not offer (black-box runs have none)")
            }
            return e.reshaped([e.batchSize, e.sampleCount])
        }
    }

    /// A generator offered by an enabled plugin, by `plugin/name` or by its name alone, made once
    /// per run.
    public func generator(named name: String) throws -> any Generator {
        try environment.generator(named: name)
    }

    /// Another classifier for comparisons (a second model drawn on the same slices, …) from a model
    /// file or a shipped model name (`fashion-fcn`), loaded once per run. Its queries are not
    /// counted as the run classifier's.
    public func loadClassifier(_ model: String) throws -> ModelClassifier {
        let resolve = environment.resolveModel
        return try environment.shared(["model", model]) { () throws -> ModelClassifier in
            ModelClassifier(try Model.load(contentsOf: try resolve(model)))
        }
    }

    /// The path of a model file given as a path or a shipped model name.
    public func modelPath(_ model: String) throws -> String { try environment.resolveModel(model) }
}

/// A typed output of a component together with the boundary set it belongs to.
public struct SetOutput<Output> {
    /// The set the metric evaluated (or the prober made): its pair, producer, points.
    public let set: BoundarySet
    public let output: Output
    public var pair: ClassPair { self.set.pair }
}

/// A hash of text that is the same in every process (Swift's `Hasher` is seeded per process).
public enum StableHash {
    /// 64-bit FNV-1a of the UTF-8 bytes.
    public static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
