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
/// `BorderlineError` (exit 2). Then, plugins taking turns in name order (never in `--plugin`
/// order): every prober for every class pair (probers that read other probers' sets after the
/// rest), every metric on every boundary set, every analysis. A component that throws or breaks
/// the contract (a set of the wrong shape, indices outside the data, an output that cannot be
/// filed) is recorded — its plugin's status becomes failed, with why — and the run carries on;
/// Ctrl-C stops after the current step. Finally ``RunFolderWriter`` writes the folder atomically.
public final class RunEngine {
    public struct Outcome {
        /// The run folder written.
        public let folder: String
        public let status: RunStatus
        /// Plugins whose status is failed, with why.
        public let failures: [(plugin: String, reason: String)]
        /// Warnings about the plugin path (libraries that could not be opened but were not needed).
        public let warnings: [String]
    }

    /// One component's options for the run: the typed value it receives and the values as JSON.
    public struct ResolvedOptions {
        public var options: any PluginOptions
        /// Every declared option → its value for the run (config.json).
        public var values: [(name: String, value: JSONValue)]
    }

    /// Everything resolved from the configuration before the analysis starts.
    public struct Prepared {
        public let configuration: RunConfiguration
        /// The enabled plugins, in name order.
        public let plugins: [LoadedPlugin]
        /// Per plugin name, per component name, the component's options.
        public let options: [String: [String: ResolvedOptions]]
        public let modelPath: String
        public let model: Model
        public let classifier: any Classifier
        public let data: Dataset
        /// Index in the full data set of every row of `data`.
        public let dataIndices: [Int]
        public let fullDataName: String
        public let pairs: [ClassPair]
        public let folder: RunFolder
        /// Libraries on the plugin path that could not be opened but that the run does not need.
        public let warnings: [String]
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

        let (plugins, warnings) = try loadPlugins(config)
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
                        classifier: classifier, data: data, dataIndices: indices, fullDataName: full.name, pairs: pairs,
                        folder: folder, warnings: warnings)
    }

    /// Finds the enabled plugins (the defaults when none are named) and creates only those, in
    /// name order. A library that cannot be opened is an error when the run asks for its plugin (or
    /// for a plugin no library provides), a warning otherwise.
    func loadPlugins(_ config: RunConfiguration) throws -> (plugins: [LoadedPlugin], warnings: [String]) {
        let discovery = PluginDiscovery(pluginPaths: config.pluginPaths, builtInFolder: builtInPluginFolder)
        let survey = discovery.survey()
        if let missing = survey.missingFolders.first {
            throw BorderlineError(.fileNotFound, "plugin folder does not exist (given with --plugin-path or BORDERLINE_PLUGIN_PATH)", file: missing)
        }
        var wanted: [String] = []
        for n in (config.plugins.isEmpty ? RunConfiguration.defaultPlugins : config.plugins) where !wanted.contains(n) { wanted.append(n) }
        var loaded: [LoadedPlugin] = []
        for name in wanted.sorted() {
            if let library = survey.library(named: name) {
                loaded.append(try PluginLoader.create(try discovery.opened(library)))
                continue
            }
            if let p = inProcessPlugins.first(where: { $0.name == name }) {
                try PluginLoader.validate(p, file: "in-process plugin \(p.name)")
                loaded.append(LoadedPlugin(plugin: p, file: "(in-process)", origin: .inProcess))
                continue
            }
            let available = survey.libraries.map { "\($0.manifest.name) (\($0.file))" } + inProcessPlugins.map { "\($0.name) (in-process)" }
            let folders = discovery.folders.map { "\($0.path) [\($0.origin.rawValue)]" }.joined(separator: ", ")
            var message = "unknown plugin '\(name)'\(Suggestion.phrase(for: name, in: survey.libraries.map(\.manifest.name) + inProcessPlugins.map(\.name))); "
            message += available.isEmpty ? "no plugins were found in \(folders)" : "available: \(available.joined(separator: ", "))"
            if !survey.problems.isEmpty {
                message += "; \(survey.problems.count) plugin file(s) could not be opened: " + survey.problems.map(\.description).joined(separator: "; ")
            }
            throw BorderlineError(.invalidArgument, message)
        }
        let warnings = survey.problems.map { "plugin file not used: \($0.description)" }
        return (loaded, warnings)
    }

    /// Resolves `plugin.option` / `plugin.component.option` settings against the plugins'
    /// declarations and builds every component's typed options: unknown plugins, components or
    /// options (with a "did you mean"), wrong types, values out of range and failed
    /// ``PluginOptions/validate()`` checks are errors that name the option and list what exists.
    public static func resolveOptions(_ settings: [String: JSONValue], plugins: [any BorderlinePlugin]) throws -> [String: [String: ResolvedOptions]] {
        var declared: [String: [(component: String, options: [DeclaredOption])]] = [:]
        var values: [String: [String: [String: JSONValue]]] = [:]
        for p in plugins {
            for (_, c) in p.components {
                let options = try c.declaredOptions()
                declared[p.name, default: []].append((c.name, options))
                values[p.name, default: [:]][c.name] = [:]
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
            let all = declared[plugin.name] ?? []
            let listing = all.flatMap { c in c.options.map { "\(plugin.name).\(c.component).\($0.option.name) (\($0.option.kind))" } }
            let described = listing.isEmpty ? "it has no options" : "its options: " + listing.joined(separator: ", ")
            var targets: [(component: String, option: PluginOption)] = []
            let optionName: String
            if parts.count == 3 {
                guard let c = all.first(where: { $0.component == parts[1] }) else {
                    throw BorderlineError(.invalidArgument, "option '\(key)': plugin '\(plugin.name)' has no component '\(parts[1])'\(Suggestion.phrase(for: parts[1], in: all.map(\.component))) (components: \(all.map(\.component).joined(separator: ", ")))")
                }
                optionName = parts[2]
                if let o = c.options.first(where: { $0.option.name == parts[2] }) { targets.append((c.component, o.option)) }
            } else {
                optionName = parts[1]
                for c in all { if let o = c.options.first(where: { $0.option.name == parts[1] }) { targets.append((c.component, o.option)) } }
            }
            guard !targets.isEmpty else {
                let names = Array(Set(all.flatMap { $0.options.map(\.option.name) })).sorted()
                throw BorderlineError(.invalidArgument, "unknown option '\(key)'\(Suggestion.phrase(for: optionName, in: names)): plugin '\(plugin.name)' declares no such option; \(described)")
            }
            for (component, option) in targets {
                values[plugin.name]![component]![option.name] = try option.validate(value, qualifiedName: key)
            }
        }
        var result: [String: [String: ResolvedOptions]] = [:]
        for p in plugins {
            for (_, c) in p.components {
                let set = values[p.name]?[c.name] ?? [:]
                let options: any PluginOptions
                do { options = try c.makeOptions(set) } catch var e as BorderlineError {
                    e.message = "options of \(p.name)/\(c.name): \(e.message)"
                    throw e
                }
                let declarations = declared[p.name]?.first { $0.component == c.name }?.options ?? []
                result[p.name, default: [:]][c.name] = ResolvedOptions(
                    options: options, values: declarations.map { ($0.option.name, set[$0.option.name] ?? $0.option.defaultValue) })
            }
        }
        return result
    }

    // MARK: Running

    /// Prepares, runs and writes the run folder.
    public func run() throws -> Outcome {
        let prepared = try prepare()
        InterruptFlag.track(temporary: prepared.folder.temporaryPath, final: prepared.folder.finalPath)
        defer { InterruptFlag.track(temporary: nil, final: nil) }
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
                                             progress: progress, record: record, isInterrupted: isInterrupted,
                                             resolveModel: { try ShippedModels.resolve($0) })
        progress.end(summary: "classified \(prepared.data.count) images of \(prepared.data.name)")
        for p in prepared.plugins {
            record.add(PluginRecord(name: p.plugin.name, version: p.plugin.version, summary: p.plugin.summary))
            for g in p.plugin.generators {
                environment.register(g, plugin: p.plugin.name, options: prepared.options[p.plugin.name]![g.name]!.options)
            }
        }
        let runner = ComponentRunner(prepared: prepared, environment: environment, record: record, progress: progress,
                                     isInterrupted: isInterrupted)
        // A component that ends the process still leaves a run folder that says so.
        ExitGuard.arm { [progress] in
            let what = runner.current ?? "a component"
            if let plugin = runner.currentPlugin { plugin.fail("\(what): the plugin ended the process (exit) in the middle of the run; the host wrote the other results") }
            for r in record.plugins where r.status == .pending { r.status = .ok }
            if let written = try? RunFolderWriter(prepared: prepared, record: record, status: .complete, seconds: Date().timeIntervalSince(start),
                                                  totalQueries: environment.counter.count, predictions: environment.predictions).write() {
                progress.end(summary: "wrote \(written)")
                FileHandle.standardError.write(Data("error: \(what) ended the process; the run folder \(written) records it (exit 1)\n".utf8))
            }
        }
        runner.runAll()
        ExitGuard.disarm()
        let interrupted = runner.interrupted
        for r in record.plugins where r.status == .pending {
            r.status = interrupted ? .interrupted : .ok
        }
        let status: RunStatus = interrupted ? .interrupted : .complete
        progress.begin("writing \(prepared.folder.finalPath)", total: 0)
        let written = try RunFolderWriter(prepared: prepared, record: record, status: status, seconds: Date().timeIntervalSince(start),
                                          totalQueries: environment.counter.count, predictions: environment.predictions).write()
        InterruptFlag.track(temporary: nil, final: nil)
        progress.end(summary: "wrote \(written)")
        var warnings = prepared.warnings
        if written != prepared.folder.finalPath {
            warnings.append("\(prepared.folder.finalPath) appeared while this run worked (another run with the same --out?); it was left as it is and this run's results are in \(written)")
        }
        let failures = record.plugins.compactMap { r -> (String, String)? in
            if case .failed(let why) = r.status { return (r.name, why) }
            return nil
        }
        return Outcome(folder: written, status: status, failures: failures, warnings: warnings)
    }
}

/// Calls every component of the run in order, timing each call, counting its queries, checking
/// what it returns and filing its output.
final class ComponentRunner {
    let prepared: RunEngine.Prepared
    let environment: RunEnvironment
    let record: RunRecord
    let progress: ProgressReporter
    let isInterrupted: () -> Bool
    private(set) var interrupted = false
    /// The step running now (`plugin/component on pair …`) and its plugin, for the exit guard.
    private(set) var current: String?
    private(set) var currentPlugin: PluginRecord?

    init(prepared: RunEngine.Prepared, environment: RunEnvironment, record: RunRecord, progress: ProgressReporter,
         isInterrupted: @escaping () -> Bool) {
        self.prepared = prepared
        self.environment = environment
        self.record = record
        self.progress = progress
        self.isInterrupted = isInterrupted
    }

    func options(_ plugin: String, _ component: String) -> any PluginOptions {
        prepared.options[plugin]![component]!.options
    }

    /// Runs one step for one plugin, timing it and counting its queries; returns false to stop.
    @discardableResult
    func step(_ plugin: PluginRecord, _ component: String, _ what: String, _ body: () throws -> Void) -> Bool {
        if interrupted || isInterrupted() { interrupted = true; return false }
        let queriesBefore = environment.counter.count
        let t0 = Date()
        current = "\(plugin.name)/\(what)"
        currentPlugin = plugin
        defer {
            current = nil
            currentPlugin = nil
            let seconds = Date().timeIntervalSince(t0), queries = environment.counter.count - queriesBefore
            plugin.seconds += seconds
            plugin.queries += queries
            plugin.componentSeconds[component, default: 0] += seconds
            plugin.componentQueries[component, default: 0] += queries
        }
        do {
            try body()
        } catch is RunInterrupted {
            interrupted = true
            plugin.status = .interrupted
            return false
        } catch {
            plugin.fail("\(what): \(error)")
        }
        return true
    }

    func runAll() {
        // Probers that do not read other sets, then those that do.
        for readsSets in [false, true] {
            let visible = readsSets ? record.boundarySets : []
            for p in prepared.plugins {
                for prober in p.plugin.probers where prober.readsBoundarySets == readsSets {
                    guard runProber(prober, of: p.plugin, visibleSets: visible) else { return }
                }
            }
        }
        let sets = record.boundarySets
        for p in prepared.plugins {
            for metric in p.plugin.metrics {
                guard runMetric(metric, of: p.plugin, on: sets) else { return }
            }
        }
        for p in prepared.plugins {
            for analysis in p.plugin.analyses {
                guard runAnalysis(analysis, of: p.plugin) else { return }
            }
        }
    }

    func runProber(_ prober: any BoundaryProber, of plugin: any BorderlinePlugin, visibleSets: [BoundarySet]) -> Bool {
        let pluginRecord = record.plugin(named: plugin.name)!
        let label = "\(plugin.name)/\(prober.name)"
        let nested = NestedProgress(parent: progress)
        let context = environment.context(plugin: pluginRecord, component: prober.name, kind: .prober, progress: nested, visibleSets: visibleSets)
        let options = self.options(plugin.name, prober.name)
        progress.begin(label, total: prepared.pairs.count)
        var found = 0, attempts = 0
        defer { progress.end(summary: "\(label): \(found) of \(attempts) attempts reached the boundary") }
        for (i, pair) in prepared.pairs.enumerated() {
            nested.parentCompleted = i
            let queriesBefore = environment.counter.count
            let ok = step(pluginRecord, prober.name, "\(prober.name) on pair \(pair)") {
                let (returned, output) = try prober.probe(pair, erasedOptions: options, context: context)
                var set = returned
                try check(set, asked: pair)
                set.producer = label
                set.queries = environment.counter.count - queriesBefore
                let tree = try file(output, reserving: OutputChecks.boundarySetNames)
                record.add(set)
                record.add(OutputRecord(plugin: plugin.name, component: prober.name, kind: .prober, componentType: ObjectIdentifier(type(of: prober)),
                                        pair: pair, set: set, value: output, tree: tree))
                found += set.successCount
                attempts += set.count
            }
            progress.update(completed: i + 1, detail: "\(found)/\(attempts) boundary points")
            if !ok { return false }
        }
        return true
    }

    func runMetric(_ metric: any Metric, of plugin: any BorderlinePlugin, on sets: [BoundarySet]) -> Bool {
        let pluginRecord = record.plugin(named: plugin.name)!
        let label = "\(plugin.name)/\(metric.name)"
        let nested = NestedProgress(parent: progress)
        let context = environment.context(plugin: pluginRecord, component: metric.name, kind: .metric, progress: nested, visibleSets: sets)
        let options = self.options(plugin.name, metric.name)
        progress.begin(label, total: sets.count)
        defer { progress.end(summary: "\(label): measured \(sets.count) boundary set(s)") }
        for (i, set) in sets.enumerated() {
            nested.parentCompleted = i
            let ok = step(pluginRecord, metric.name, "\(metric.name) on \(set.producer) pair \(set.pair)") {
                let output = try metric.evaluate(set, erasedOptions: options, context: context)
                let tree = try file(output, reserving: [])
                record.add(OutputRecord(plugin: plugin.name, component: metric.name, kind: .metric, componentType: ObjectIdentifier(type(of: metric)),
                                        pair: set.pair, set: set, value: output, tree: tree))
            }
            progress.update(completed: i + 1, detail: "\(set.producer) \(set.pair)")
            if !ok { return false }
        }
        return true
    }

    func runAnalysis(_ analysis: any Analysis, of plugin: any BorderlinePlugin) -> Bool {
        let pluginRecord = record.plugin(named: plugin.name)!
        let label = "\(plugin.name)/\(analysis.name)"
        let nested = NestedProgress(parent: progress)
        let context = environment.context(plugin: pluginRecord, component: analysis.name, kind: .analysis, progress: nested, visibleSets: record.boundarySets)
        let options = self.options(plugin.name, analysis.name)
        progress.begin(label, total: 0)
        defer { progress.end(summary: "\(label) done") }
        return step(pluginRecord, analysis.name, analysis.name) {
            let output = try analysis.analyse(erasedOptions: options, context: context)
            let tree = try file(output, reserving: [])
            record.add(OutputRecord(plugin: plugin.name, component: analysis.name, kind: .analysis, componentType: ObjectIdentifier(type(of: analysis)),
                                    pair: nil, set: nil, value: output, tree: tree))
        }
    }

    /// The result tree of an output; a top-level key that would overwrite a boundary set's arrays
    /// (a prober's output shares the set's group) breaks the contract.
    func file(_ output: any Encodable, reserving reserved: Set<String>) throws -> ResultValue {
        let tree = try ResultEncoder.encode(output)
        if case .group(let members) = tree, let clash = members.first(where: { reserved.contains($0.key) }) {
            throw BorderlineError(.invalidConfiguration, "broke the plugin contract: its output member '\(clash.key)' has the name of a boundary-set array (\(reserved.sorted().joined(separator: ", ")) are reserved)")
        }
        return tree
    }

    /// What a prober returns must fit the run: the pair asked for, points of the input's shape,
    /// one probability per class, data indices of the run's images.
    func check(_ set: BoundarySet, asked pair: ClassPair) throws {
        func broke(_ what: String) -> BorderlineError { BorderlineError(.invalidConfiguration, "broke the plugin contract: \(what)") }
        guard set.pair == pair else { throw broke("returned a boundary set for pair \(set.pair) when asked for \(pair)") }
        let shape = prepared.classifier.inputShape, k = prepared.classifier.classCount, n = prepared.data.count
        guard Array(set.points.shape.dropFirst()) == shape else { throw broke("its points have shape \(set.points.shape); the classifier takes [M] + \(shape)") }
        guard set.probabilities.shape == [set.count, k] else { throw broke("its probabilities have shape \(set.probabilities.shape); expected [\(set.count), \(k)] (one per class)") }
        if let bad = set.startIndices.first(where: { $0 < -1 || $0 >= n }) {
            throw broke("start index \(bad) is not a row of the run's \(n) images (or −1 for a synthetic start)")
        }
        if let bad = set.endIndices?.first(where: { $0 < -1 || $0 >= n }) {
            throw broke("end index \(bad) is not a row of the run's \(n) images (or −1 for a synthetic end)")
        }
    }
}

/// Checks on outputs.
enum OutputChecks {
    /// The members of a boundary set's group in results.h5.
    static let boundarySetNames: Set<String> = ["points", "start_points", "end_points", "start_indices", "end_indices", "probabilities",
                                                "succeeded", "iterations", "failure_code", "extras"]
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
