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
    /// What the component returned.
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
    /// The outputs of one plugin, in the order they were made.
    public func outputs(of plugin: String) -> [OutputRecord] { outputs.filter { $0.plugin == plugin } }
}
