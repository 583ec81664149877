import Foundation

/// Everything one plugin produced in a run. The host turns it into the plugin's part of
/// results.h5, summary.json and report.html.
public final class PluginRecord {
    /// The status of a plugin in a run.
    public enum Status: Equatable, Sendable {
        case pending
        case ok
        case failed(String)
        case interrupted

        /// `ok`, `failed`, `interrupted` or `pending` (never started).
        public var word: String {
            switch self {
            case .pending: return "pending"
            case .ok: return "ok"
            case .failed: return "failed"
            case .interrupted: return "interrupted"
            }
        }
    }

    /// A paragraph for the report, and the component that wrote it.
    public struct Note: Sendable {
        public var component: String?
        public var text: String
    }

    public let name: String
    public let version: String
    public let summary: String
    public var status: Status = .pending
    /// Failures of single pairs or components that did not stop the plugin (`component pair: why`).
    public var problems: [String] = []
    public var seconds: Double = 0
    public var queries: Int = 0
    public private(set) var notes: [Note] = []
    /// Seconds and queries per component (`prober`, `metric`, …), for the run's timing table.
    public var componentSeconds: [String: Double] = [:]
    public var componentQueries: [String: Int] = [:]

    /// A class pair one component of the plugin did not analyse, and why.
    public struct PairOutcome: Equatable, Sendable {
        /// The component (prober or metric) that skipped or failed the pair.
        public var component: String
        public var pair: ClassPair
        /// For a metric: the producer (`plugin/prober`) of the set it was evaluating.
        public var producer: String?
        public var reason: String

        public init(component: String, pair: ClassPair, producer: String? = nil, reason: String) {
            self.component = component
            self.pair = pair
            self.producer = producer
            self.reason = reason
        }
    }

    /// Pairs a component declined (``PairDeclined``): not analysed, the plugin's status unaffected.
    public var skippedPairs: [PairOutcome] = []
    /// Pairs on which a component threw another error (also in ``problems``; the status is failed).
    public var failedPairs: [PairOutcome] = []

    public init(name: String, version: String, summary: String) {
        self.name = name
        self.version = version
        self.summary = summary
    }

    public func add(note: String, component: String?) { notes.append(Note(component: component, text: note)) }

    /// Records a failure; the plugin's status becomes failed with the first one.
    public func fail(_ message: String) {
        problems.append(message)
        if case .failed = status {} else { status = .failed(message) }
    }
}

/// One typed output of one component call, as the value it returned and as the result tree the
/// host files.
public struct OutputRecord {
    public var plugin: String
    public var component: String
    public var kind: ComponentKind
    /// `ObjectIdentifier` of the component's type, for ``RunContext/outputs(of:)``.
    public var componentType: ObjectIdentifier
    /// The pair a prober's or metric's output belongs to (nil: run-wide).
    public var pair: ClassPair?
    /// The set a prober made or a metric evaluated.
    public var set: BoundarySet?
    /// What the component returned, or a ``SavedOutput`` for an output read back from a run folder.
    public var value: Any
    public var tree: ResultValue

    public init(plugin: String, component: String, kind: ComponentKind, componentType: ObjectIdentifier, pair: ClassPair?,
                set: BoundarySet?, value: Any, tree: ResultValue) {
        self.plugin = plugin
        self.component = component
        self.kind = kind
        self.componentType = componentType
        self.pair = pair
        self.set = set
        self.value = value
        self.tree = tree
    }

    /// The key of a set's producer in paths (`bisection/random-pair-bisection` → `bisection.random-pair-bisection`).
    public var producerKey: String? { self.set?.producerKey }
}

/// A component's output read back from a run folder (a resumed run's earlier pairs, a merged
/// run's shards) as its result tree. ``RunContext/outputs(of:)-5f7z2`` decodes it into the
/// component's `Output` type (``ResultDecoder``) the first time an analysis asks, which needs that
/// type to be `Decodable`.
public final class SavedOutput: @unchecked Sendable {
    public let tree: ResultValue
    private var decoded: Any?

    public init(tree: ResultValue) { self.tree = tree }

    /// The output as `O`, decoded once.
    /// - Throws: `.invalidConfiguration` when `O` is not `Decodable` or the tree does not fit it.
    public func value<O>(as type: O.Type) throws -> O {
        if let decoded = decoded as? O { return decoded }
        guard let decodable = O.self as? any Decodable.Type else {
            throw BorderlineError(.invalidConfiguration,
                "its output type \(O.self) is only Encodable, so it cannot be read back from the saved results of a resumed or merged run; declare it Codable")
        }
        guard let typed = try ResultDecoder.decode(any: decodable, from: tree) as? O else {
            throw BorderlineError(.invalidConfiguration, "its saved output did not decode as \(O.self)")
        }
        decoded = typed
        return typed
    }
}

/// The results of a whole run while it is in progress: one record per enabled plugin, every
/// boundary set and every component output produced so far.
public final class RunRecord {
    public private(set) var plugins: [PluginRecord] = []
    public private(set) var boundarySets: [BoundarySet] = []
    public private(set) var outputs: [OutputRecord] = []
    public init() {}

    public func add(_ plugin: PluginRecord) { plugins.append(plugin) }
    public func add(_ set: BoundarySet) { boundarySets.append(set) }
    public func add(_ output: OutputRecord) { outputs.append(output) }
    public func plugin(named name: String) -> PluginRecord? { plugins.first { $0.name == name } }
    /// Replaces everything recorded: for a host that assembles a run from calls made in several
    /// processes (a resumed run, merged shards) in one canonical order.
    public func replace(plugins: [PluginRecord], boundarySets: [BoundarySet], outputs: [OutputRecord]) {
        self.plugins = plugins
        self.boundarySets = boundarySets
        self.outputs = outputs
    }
    /// The outputs of one plugin, in the order they were made.
    public func outputs(of plugin: String) -> [OutputRecord] { outputs.filter { $0.plugin == plugin } }
}
