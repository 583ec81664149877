import Foundation

/// What a prober, metric or generator provider gets to work with during a run.
///
/// Everything a component needs comes from here, so that the run's seed reproduces it, its model
/// queries are counted, Ctrl-C stops it cleanly and its results land in the run folder.
public final class RunContext {
    public let environment: RunEnvironment
    /// The options of the component, resolved and type-checked (defaults where the run set none).
    public let options: PluginOptionValues
    /// Where the component's extra results go.
    public let store: RunStore
    /// Progress for long work inside one call; the host shows it under its own per-pair bar.
    public let progress: ProgressReporter
    /// `plugin/component`, for messages.
    public let owner: String
    /// The classifier; every row it evaluates counts as a model query.
    public let classifier: any Classifier
    private var cachedGradients: (any DifferentiableClassifier)?

    init(environment: RunEnvironment, plugin: PluginRecord, component: String?, options: PluginOptionValues,
         progress: ProgressReporter) {
        self.environment = environment
        self.options = options
        self.store = RunStore(record: plugin, component: component)
        self.progress = progress
        self.owner = component.map { "\(plugin.name)/\($0)" } ?? plugin.name
        self.classifier = QueryCountingClassifier(environment.classifier, counter: environment.counter)
    }

    /// The data set the run analyses (`[N] + inputShape`, labels).
    public var data: Dataset { environment.data }
    /// The classifier's predicted class for every data row.
    public var predictions: [Int] { environment.predictions }
    /// The class pairs of the run.
    public var pairs: [ClassPair] { environment.pairs }
    /// How many attempts a prober makes per pair (`--samples`).
    public var samplesPerPair: Int { environment.samplesPerPair }
    public var seed: UInt64 { environment.seed }
    /// Every boundary set produced so far in the run, by any plugin.
    public var boundarySets: [BoundarySet] { environment.record.boundarySets }

    /// The classifier with input gradients: exact when it has them; otherwise the run's
    /// zeroth-order estimator (seeded from the run seed and this component) when the run enabled
    /// one. Queries are counted either way.
    /// - Throws: `.invalidArgument` saying that the component needs gradients, the classifier has
    ///   none and no estimator is enabled, and how to enable one.
    public func gradients() throws -> any DifferentiableClassifier {
        if let cachedGradients { return cachedGradients }
        let made: any DifferentiableClassifier
        if let exact = environment.classifier as? any DifferentiableClassifier {
            made = QueryCountingDifferentiableClassifier(exact, counter: environment.counter)
        } else if var configuration = environment.gradientEstimator {
            configuration.seed = environment.seed ^ StableHash.fnv1a(owner)
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
    public func randomGenerator(for pair: ClassPair? = nil) -> RandomGenerator {
        var key = owner
        if let pair { key += "#\(pair.key)" }
        return RandomGenerator(seed: environment.seed ^ StableHash.fnv1a(key))
    }

    /// Throws ``RunInterrupted`` once the run has been asked to stop; call it in long loops.
    public func checkInterrupted() throws {
        if environment.isInterrupted() { throw RunInterrupted() }
    }

    /// A generator offered by an enabled plugin, by `plugin/name` or by its name alone.
    public func generator(named name: String) throws -> any Generator {
        try environment.generator(named: name, record: store.record)
    }

    /// Data rows whose label is `c` (and, by default, that the classifier also assigns to `c`).
    public func indices(ofClass c: Int, correctlyClassified: Bool = true) -> [Int] {
        let labels = data.labels, predictions = environment.predictions
        return labels.indices.filter { labels[$0] == c && (!correctlyClassified || predictions[$0] == c) }
    }
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
