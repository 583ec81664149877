import BorderlineCore
import Foundation

/// How a run ended.
public enum RunStatus: String, Sendable {
    /// Every plugin ran (some may have failed; see their status).
    case complete
    /// Ctrl-C stopped the run; what finished is recorded.
    case interrupted
}

/// Runs the plugins of a run on a model and data set and writes the run folder.
///
/// Order: load and check everything that can be wrong with the input (plugins, options, model,
/// data, classes, output folder) before any analysis starts, so bad input fails fast with
/// `BorderlineError` (exit 2). Then every enabled plugin's probers for every class pair, every
/// plugin's metrics on every boundary set, every plugin's `finish`. A component that throws is
/// recorded (its plugin's status becomes failed, with why) and the run carries on; Ctrl-C stops
/// after the current step. Finally ``RunFolderWriter`` writes the folder atomically.
public final class RunEngine {
    public struct Outcome {
        /// The run folder written.
        public let folder: String
        public let status: RunStatus
        /// Plugins whose status is failed, with why.
        public let failures: [(plugin: String, reason: String)]
    }

    /// Everything resolved from the configuration before the analysis starts.
    public struct Prepared {
        public let configuration: RunConfiguration
        public let plugins: [LoadedPlugin]
        /// Per plugin name, per component name, the component's resolved options.
        public let options: [String: [String: PluginOptionValues]]
        public let modelPath: String
        public let model: Model
        public let classifier: any Classifier
        public let data: Dataset
        /// Index in the full data set of every row of `data`.
        public let dataIndices: [Int]
        public let fullDataName: String
        public let pairs: [ClassPair]
        public let folder: RunFolder
    }

    public let configuration: RunConfiguration
    public let progress: ProgressReporter
    public let isInterrupted: () -> Bool
    public var builtInPluginFolder: String?
    /// Plugin objects that take part in the run as if discovered (searched after every folder);
    /// for tests and programs that embed the host.
    public var inProcessPlugins: [any BorderlinePlugin] = []

    public init(configuration: RunConfiguration, progress: ProgressReporter = SilentProgress(),
                isInterrupted: @escaping () -> Bool = InterruptFlag.isSet,
                builtInPluginFolder: String? = PluginDiscovery.builtInFolder()) {
        self.configuration = configuration
        self.progress = progress
        self.isInterrupted = isInterrupted
        self.builtInPluginFolder = builtInPluginFolder
    }

    // MARK: Preparation

    /// Checks and loads everything; throws `BorderlineError` for bad input.
    public func prepare() throws -> Prepared {
        let config = configuration
        try config.validate()

        // Plugins.
        let discovery = PluginDiscovery(pluginPaths: config.pluginPaths, builtInFolder: builtInPluginFolder)
        var found = discovery.loadAll()
        for p in inProcessPlugins where found.plugin(named: p.name) == nil {
            try PluginLoader.validate(p, file: "in-process plugin \(p.name)")
            found.plugins.append(LoadedPlugin(plugin: p, file: "(in-process)", origin: .inProcess))
        }
        if let missing = found.missingFolders.first {
            throw BorderlineError(.fileNotFound, "plugin folder does not exist (given with --plugin-path or BORDERLINE_PLUGIN_PATH)", file: missing)
        }
        if let problem = found.problems.first {
            var e = problem.error
            if found.problems.count > 1 { e.message += " (and \(found.problems.count - 1) more plugin file(s) failed to load; see `borderline plugins`)" }
            throw e
        }
        var names: [String] = []
        for n in (config.plugins.isEmpty ? RunConfiguration.defaultPlugins : config.plugins) where !names.contains(n) { names.append(n) }
        let plugins = try names.map { name -> LoadedPlugin in
            guard let p = found.plugin(named: name) else {
                let available = found.plugins.map { "\($0.plugin.name) (\($0.file))" }
                let folders = discovery.folders.map { "\($0.path) [\($0.origin.rawValue)]" }.joined(separator: ", ")
                throw BorderlineError(.invalidArgument,
                    "unknown plugin '\(name)'; " + (available.isEmpty ? "no plugins were found in \(folders)" : "available: \(available.joined(separator: ", "))"))
            }
            return p
        }
        let options = try RunEngine.resolveOptions(config.options, plugins: plugins.map(\.plugin))

        // Model and data.
        let modelPath = try ShippedModels.resolve(config.model)
        let model = try Model.load(contentsOf: modelPath, architecture: config.architecture)
        let exact = ModelClassifier(model)
        let classifier: any Classifier = config.blackBox ? BlackBoxClassifier(exact) : exact
        let full = try DataSources.load(config.data, split: config.split)
        try full.validate(for: model)
        let selection = ClassSelection(classNames: exact.classNames)
        let pairs = try selection.pairs(config.pairs, classes: config.classes)
        let classes = Set(pairs.flatMap { [$0.source, $0.target] })
        var perClass: [Int: Int] = [:]
        var indices: [Int] = []
        for (i, y) in full.labels.enumerated() where classes.contains(y) {
            if config.imagesPerClass > 0, perClass[y, default: 0] >= config.imagesPerClass { continue }
            perClass[y, default: 0] += 1
            indices.append(i)
        }
        for c in classes.sorted() where perClass[c, default: 0] == 0 {
            throw BorderlineError(.dataMismatch, "data set '\(full.name)' has no images of class \(c) (\(exact.className(c))), which the run's pairs need")
        }
        let data = full.subset(indices, name: full.name)

        // Output folder, last, so that nothing is created for input that fails above.
        let folder = try RunFolder.prepare(config.out ?? RunFolder.defaultPath(model: modelPath), overwrite: config.overwrite)
        return Prepared(configuration: config, plugins: plugins, options: options, modelPath: modelPath, model: model,
                        classifier: classifier, data: data, dataIndices: indices, fullDataName: full.name, pairs: pairs, folder: folder)
    }

    /// Resolves `plugin.option` / `plugin.component.option` settings against the plugins'
    /// declarations: unknown plugins, components or options and wrong types are errors that
    /// list what exists.
    public static func resolveOptions(_ settings: [String: JSONValue], plugins: [any BorderlinePlugin]) throws -> [String: [String: PluginOptionValues]] {
        var result: [String: [String: PluginOptionValues]] = [:]
        var values: [String: [String: [String: JSONValue]]] = [:]
        func components(_ p: any BorderlinePlugin) -> [(name: String, options: [PluginOption])] {
            p.probers.map { ($0.name, $0.options) } + p.metrics.map { ($0.name, $0.options) } + p.generators.map { ($0.name, $0.options) }
        }
        for p in plugins {
            for c in components(p) {
                values[p.name, default: [:]][c.name] = Dictionary(c.options.map { ($0.name, $0.defaultValue) }, uniquingKeysWith: { a, _ in a })
            }
        }
        for key in settings.keys.sorted() {
            let value = settings[key]!
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
                throw BorderlineError(.invalidArgument, "option '\(key)' must be written plugin.option or plugin.component.option")
            }
            guard let plugin = plugins.first(where: { $0.name == parts[0] }) else {
                throw BorderlineError(.invalidArgument,
                    "option '\(key)' is for plugin '\(parts[0])', which this run does not enable (enabled: \(plugins.map(\.name).joined(separator: ", ")))")
            }
            let all = components(plugin)
            let declared = all.flatMap { c in c.options.map { "\(plugin.name).\(c.name).\($0.name) (\($0.kind))" } }
            let listing = declared.isEmpty ? "it has no options" : "its options: " + declared.joined(separator: ", ")
            var targets: [(component: String, option: PluginOption)] = []
            if parts.count == 3 {
                guard let c = all.first(where: { $0.name == parts[1] }) else {
                    throw BorderlineError(.invalidArgument, "option '\(key)': plugin '\(plugin.name)' has no component '\(parts[1])' (components: \(all.map(\.name).joined(separator: ", ")))")
                }
                if let o = c.options.first(where: { $0.name == parts[2] }) { targets.append((c.name, o)) }
            } else {
                for c in all { if let o = c.options.first(where: { $0.name == parts[1] }) { targets.append((c.name, o)) } }
            }
            guard !targets.isEmpty else {
                throw BorderlineError(.invalidArgument, "unknown option '\(key)': plugin '\(plugin.name)' declares no such option; \(listing)")
            }
            for (component, option) in targets {
                values[plugin.name]![component]![option.name] = try option.validate(value, qualifiedName: key)
            }
        }
        for (plugin, comps) in values {
            for (component, v) in comps {
                result[plugin, default: [:]][component] = PluginOptionValues(v, owner: "\(plugin)/\(component)")
            }
        }
        return result
    }

    // MARK: Running

    /// Prepares, runs and writes the run folder.
    public func run() throws -> Outcome {
        let prepared = try prepare()
        do {
            return try execute(prepared)
        } catch {
            prepared.folder.discard()   // nothing half-written stays behind, not even hidden
            throw error
        }
    }

    /// Runs the prepared plugins and writes the folder.
    func execute(_ prepared: Prepared) throws -> Outcome {
        let start = Date()
        let config = prepared.configuration
        var estimator: ZerothOrderGradientEstimator.Configuration?
        if let method = config.gradientEstimator.flatMap(ZerothOrderGradientEstimator.Method.init(rawValue:)) {
            estimator = .init(method: method, samples: config.estimatorSamples, step: Float(config.estimatorStep), seed: config.seed)
        }
        let record = RunRecord()
        progress.begin("classifying \(prepared.data.count) images", total: 0)
        let environment = try RunEnvironment(classifier: prepared.classifier, data: prepared.data, pairs: prepared.pairs,
                                             samplesPerPair: config.samples, seed: config.seed, gradientEstimator: estimator,
                                             progress: progress, record: record, isInterrupted: isInterrupted)
        progress.end(summary: "classified \(prepared.data.count) images of \(prepared.data.name)")
        for p in prepared.plugins {
            record.add(PluginRecord(name: p.plugin.name, version: p.plugin.version, summary: p.plugin.summary))
            for g in p.plugin.generators {
                environment.register(g, plugin: p.plugin.name, options: prepared.options[p.plugin.name]?[g.name]
                                     ?? .defaults(of: g.options, owner: "\(p.plugin.name)/\(g.name)"))
            }
        }
        var interrupted = false

        /// Runs one step for one plugin, timing it and counting its queries; returns false to stop.
        func step(_ pluginRecord: PluginRecord, _ what: String, _ body: () throws -> Void) -> Bool {
            if interrupted || isInterrupted() { interrupted = true; return false }
            let queriesBefore = environment.counter.count
            let t0 = Date()
            defer {
                pluginRecord.seconds += Date().timeIntervalSince(t0)
                pluginRecord.queries += environment.counter.count - queriesBefore
            }
            do {
                try body()
            } catch is RunInterrupted {
                interrupted = true
                pluginRecord.status = .interrupted
                return false
            } catch {
                let message = "\(what): \(error)"
                pluginRecord.problems.append(message)
                if case .failed = pluginRecord.status {} else { pluginRecord.status = .failed(message) }
            }
            return true
        }

        func options(_ plugin: String, _ component: String, _ declared: [PluginOption]) -> PluginOptionValues {
            prepared.options[plugin]?[component] ?? .defaults(of: declared, owner: "\(plugin)/\(component)")
        }

        // Probers.
        probing: for p in prepared.plugins {
            let pluginRecord = record.plugin(named: p.plugin.name)!
            for prober in p.plugin.probers {
                let label = "\(p.plugin.name)/\(prober.name)"
                let nested = NestedProgress(parent: progress)
                let context = environment.context(plugin: pluginRecord, component: prober.name,
                                                  options: options(p.plugin.name, prober.name, prober.options),
                                                  progress: nested)
                progress.begin(label, total: prepared.pairs.count)
                var found = 0, attempts = 0
                for (i, pair) in prepared.pairs.enumerated() {
                    nested.parentCompleted = i
                    let ok = step(pluginRecord, "\(prober.name) on pair \(pair)") {
                        var set = try prober.probe(pair, context: context)
                        guard set.pair == pair else {
                            throw BorderlineError(.invalidConfiguration, "returned a boundary set for pair \(set.pair) when asked for \(pair)")
                        }
                        set.producer = label
                        record.add(set)
                        found += set.successCount
                        attempts += set.count
                    }
                    progress.update(completed: i + 1, detail: "\(found)/\(attempts) boundary points")
                    if !ok { break probing }
                }
                progress.end(summary: "\(label): \(found) of \(attempts) attempts reached the boundary")
            }
        }

        // Metrics, on every boundary set of the run.
        if !interrupted {
            measuring: for p in prepared.plugins {
                let pluginRecord = record.plugin(named: p.plugin.name)!
                for metric in p.plugin.metrics {
                    let label = "\(p.plugin.name)/\(metric.name)"
                    let nested = NestedProgress(parent: progress)
                    let context = environment.context(plugin: pluginRecord, component: metric.name,
                                                      options: options(p.plugin.name, metric.name, metric.options),
                                                      progress: nested)
                    let sets = record.boundarySets
                    progress.begin(label, total: sets.count)
                    for (i, set) in sets.enumerated() {
                        nested.parentCompleted = i
                        let ok = step(pluginRecord, "\(metric.name) on \(set.producer) pair \(set.pair)") {
                            let result = try metric.evaluate(set, context: context)
                            try RunEngine.store(result, of: metric.name, on: set, in: pluginRecord)
                        }
                        progress.update(completed: i + 1, detail: "\(set.producer) \(set.pair)")
                        if !ok { break measuring }
                    }
                    progress.end(summary: "\(label): measured \(sets.count) boundary set(s)")
                }
            }
        }

        // Finish.
        if !interrupted {
            for p in prepared.plugins {
                let pluginRecord = record.plugin(named: p.plugin.name)!
                let context = environment.context(plugin: pluginRecord, component: nil, options: PluginOptionValues([:], owner: p.plugin.name))
                if !step(pluginRecord, "finish", { try p.plugin.finish(context) }) { break }
            }
        }
        for r in record.plugins where r.status == .pending {
            r.status = interrupted ? .interrupted : .ok
        }
        let status: RunStatus = interrupted ? .interrupted : .complete
        progress.begin("writing \(prepared.folder.finalPath)", total: 0)
        try RunFolderWriter(prepared: prepared, record: record, status: status, seconds: Date().timeIntervalSince(start),
                            totalQueries: environment.counter.count, predictions: environment.predictions).write()
        progress.end(summary: "wrote \(prepared.folder.finalPath)")
        let failures = record.plugins.compactMap { r -> (String, String)? in
            if case .failed(let why) = r.status { return (r.name, why) }
            return nil
        }
        return Outcome(folder: prepared.folder.finalPath, status: status, failures: failures)
    }

    /// Files a metric's result under `<metric>/<producer with '/' → '.'>/…` in the plugin's record.
    static func store(_ result: MetricResult, of metric: String, on set: BoundarySet, in record: PluginRecord) throws {
        let key = set.producer.replacingOccurrences(of: "/", with: ".")
        let scoped = RunStore(record: record, component: "\(metric)/\(key)")
        for (name, value) in result.numbers { try scoped.addNumber(value, name: name, pair: set.pair) }
        for (name, value) in result.arrays { try scoped.addArray(value, name: name, pair: set.pair) }
        for var table in result.tables {
            table.title = "\(table.title) (\(set.producer), pair \(set.pair))"
            scoped.addTable(table, pair: set.pair)
        }
        for var picture in result.pictures {
            picture.name = "\(metric)-\(key)-\(set.pair.groupName)-\(picture.name)"
            scoped.addPicture(picture, pair: set.pair)
        }
    }
}

/// Shows a component's own progress as the detail of the host's per-pair bar.
final class NestedProgress: ProgressReporter {
    let parent: ProgressReporter
    /// The parent bar's position (set by the engine before each call).
    var parentCompleted = 0
    var task = ""
    var total = 0
    init(parent: ProgressReporter) { self.parent = parent }
    func begin(_ task: String, total: Int) {
        self.task = task
        self.total = total
    }
    func update(completed: Int, detail: String) {
        let count = total > 0 ? "\(completed)/\(total)" : "\(completed)"
        parent.update(completed: parentCompleted, detail: "· \(task) \(count) \(detail)")
    }
    func end(summary: String) {}
}
