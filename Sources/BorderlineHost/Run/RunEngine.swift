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
/// `BorderlineError` (exit 2). Then boundary by boundary (``RunUnit``: the pairs s→t and t→s),
/// pair by pair, plugins taking turns in name order (never in `--plugin` order): every prober on
/// the pair; after the boundary's last pair, the probers that read other probers' sets and every
/// metric on every set of the boundary. Each finished pair is saved in the run folder's journal
/// (``RunJournal``) at once, so a killed run loses at most the pair in progress and `--resume`
/// continues it; `--shard I/N` runs one slice of the boundaries (``RunPlan``) and `merge`
/// assembles the slices. Last, every analysis on the whole run. What a run files is assembled in
/// one canonical order (probers, then metrics, then analyses; per plugin and component in
/// declaration order; pairs in run order), whichever process computed which pair, so a resumed or
/// merged run's folder equals an uninterrupted one's. A component that throws or breaks the
/// contract (a set of the wrong shape, indices outside the data, an output that cannot be filed)
/// is recorded — its plugin's status becomes failed, with why — and the run carries on; Ctrl-C
/// stops after the current step. Finally ``RunFolderWriter`` writes the folder atomically.
public final class RunEngine {
    public struct Outcome {
        /// The run folder written.
        public let folder: String
        public let status: RunStatus
        /// Plugins whose status is failed, with why.
        public let failures: [(plugin: String, reason: String)]
        /// Warnings about the plugin path (libraries that could not be opened but were not needed).
        public let warnings: [String]
        /// Pairs that components declined (``PairDeclined``), per plugin in run order.
        public var skipped: [(plugin: String, pair: PluginRecord.PairOutcome)] = []
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
        /// The boundaries this process runs (a shard's slice, or all), in run order.
        public let units: [RunUnit]
        /// SHA-256 of the model file.
        public let modelHash: String
        /// The journal of the run being resumed (``RunEngine/resume``), locked.
        let resumed: RunJournal.LocatedJournal?
        /// Whether the run ends with the analyses (not for a shard, which `merge` completes).
        public var runsAnalyses: Bool { configuration.shard == nil }
    }

    /// `borderline run --resume RUN`: continue the unfinished run in `folder`.
    public struct Resume {
        public var folder: String
        /// true: the configuration is the journal's (nothing else given); false: the engine's
        /// configuration, which must be the journal's run — and when `folder` holds no unfinished
        /// run, the run starts there.
        public var fromJournal: Bool
        public init(folder: String, fromJournal: Bool) {
            self.folder = folder
            self.fromJournal = fromJournal
        }
    }

    public let configuration: RunConfiguration
    public let progress: ProgressReporter
    public let isInterrupted: () -> Bool
    public var builtInPluginFolder: String?
    /// Plugin objects that take part in the run as if discovered (searched after every folder);
    /// for tests and programs that embed the host.
    public var inProcessPlugins: [any BorderlinePlugin] = []
    /// Continue an unfinished run (`--resume`).
    public var resume: Resume?

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
        var config = configuration
        var located: RunJournal.LocatedJournal?
        if let resume {
            located = try RunJournal.locate(run: resume.folder)
            if let found = located {
                if resume.fromJournal {
                    do { config = try RunConfiguration(json: found.header.configuration) } catch var e as BorderlineError {
                        e.message = "the journal's configuration: \(e.message)"
                        throw e.inFile((found.folder as NSString).appendingPathComponent(RunJournal.headerName))
                    }
                    config.shard = found.header.shard
                } else if config.shard != found.header.shard {
                    throw BorderlineError(.invalidArgument,
                        "--resume: the unfinished run there is \(found.header.shard.map { "shard \($0)" } ?? "not a shard"), but this command asks for \(config.shard.map { "shard \($0)" } ?? "no shard")", file: resume.folder)
                }
                config.overwrite = true
            } else if resume.fromJournal {
                let complete = RunFolder.isRunFolder(resume.folder)
                throw BorderlineError(.invalidArgument,
                    complete ? "--resume: the run there is finished (no journal of unfinished pairs in it); nothing to resume"
                             : "--resume: no unfinished run there (no \(RunJournal.folderName)/\(RunJournal.headerName) in it, no hidden .partial folder or .interrupted folder beside it)",
                    file: resume.folder)
            }
            config.out = resume.folder
        }
        try config.validate()

        let (plugins, pluginWarnings) = try loadPlugins(config)
        config.options = config.optionsWithAtlasSettings
        let options = try RunEngine.resolveOptions(config.options, plugins: plugins.map(\.plugin))

        // Model and data.
        let modelPath = try ShippedModels.resolve(config.model)
        let model = try Model.load(contentsOf: modelPath, architecture: config.architecture)
        let exact = ModelClassifier(model)
        let classifier: any Classifier = config.blackBox ? BlackBoxClassifier(exact) : exact
        let full = try DataSources.load(config.data, split: config.split)
        try full.validate(for: model)
        // A prober keeps start, end and boundary points of every attempt of a pair, with working copies.
        let inputSize = Tensor.count(of: model.inputShape)
        try MemoryBudget.require(elements: [config.samples, inputSize], bytesPerElement: 24,
                                 for: "--samples \(config.samples) (per pair: start, end and boundary points of \(config.samples) attempts × \(inputSize) input values, with working copies)")
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

        let units = RunPlan.units(of: pairs, imagesPerClass: perClass, shard: config.shard)
        var warnings = pluginWarnings
        if let shard = config.shard, units.isEmpty {
            warnings.append("shard \(shard) has no pairs: the run's \(RunPlan.units(of: pairs, imagesPerClass: perClass).count) boundaries are fewer than \(shard.count) shards")
        }
        let modelHash = try SHA256.hex(ofFile: modelPath)

        // Output folder, last, so that nothing is created for input that fails above.
        let folder = try RunFolder.prepare(config.out ?? RunFolder.defaultPath(model: modelPath), overwrite: config.overwrite)
        return Prepared(configuration: config, plugins: plugins, options: options, modelPath: modelPath, model: model,
                        classifier: classifier, data: data, dataIndices: indices, fullDataName: full.name, pairs: pairs,
                        folder: folder, warnings: warnings, units: units, modelHash: modelHash, resumed: located)
    }

    /// Checks what needs neither the model nor the data — the configuration, the plugins it
    /// enables and their options — and returns the number of boundaries (``RunUnit``) of its pairs
    /// (for `slurm-script`); throws `BorderlineError` for bad input.
    public func checkConfiguration() throws -> Int {
        try configuration.validate()
        let (plugins, _) = try loadPlugins(configuration)
        _ = try RunEngine.resolveOptions(configuration.optionsWithAtlasSettings, plugins: plugins.map(\.plugin))
        let modelPath = try ShippedModels.resolve(configuration.model)
        let model = try Model.load(contentsOf: modelPath, architecture: configuration.architecture)
        let pairs = try ClassSelection(classNames: ModelClassifier(model).classNames).pairs(configuration.pairs, classes: configuration.classes)
        return RunPlan.units(of: pairs, imagesPerClass: [:]).count
    }

    /// Finds the enabled plugins (the defaults and the named ones) and creates only those, in
    /// name order. A library that cannot be opened is an error when the run asks for its plugin (or
    /// for a plugin no library provides), a warning otherwise.
    func loadPlugins(_ config: RunConfiguration) throws -> (plugins: [LoadedPlugin], warnings: [String]) {
        let discovery = PluginDiscovery(pluginPaths: config.pluginPaths, builtInFolder: builtInPluginFolder)
        let survey = discovery.survey()
        if let missing = survey.missingFolders.first {
            throw BorderlineError(.fileNotFound, "plugin folder does not exist (given with --plugin-path or BORDERLINE_PLUGIN_PATH)", file: missing)
        }
        var wanted: [String] = []
        for n in config.enabledPlugins where !wanted.contains(n) { wanted.append(n) }
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
        var journal: RunJournal?
        do {
            let identity = RunJournal.identity(prepared, modelHash: prepared.modelHash)
            let header = JournalHeader(fingerprint: RunJournal.fingerprint(identity), identity: identity,
                                       configuration: RunFolderWriter.resolvedConfiguration(prepared), shard: prepared.configuration.shard,
                                       pairs: prepared.units.flatMap(\.pairs))
            var loaded: [StepRecord] = []
            if let resumed = prepared.resumed {
                try RunEngine.check(resumed.header, against: header, what: "--resume: the unfinished run in \(resumed.folder)")
                loaded = try RunJournal.readSteps(resumed.folder, header: resumed.header)
            }
            journal = try RunJournal.start(in: prepared.folder.temporaryPath, header: header, adopting: prepared.resumed)
            return try execute(prepared, loaded: loaded, journal: journal)
        } catch var error as BorderlineError {
            // Nothing half-written stays behind, not even hidden — unless the journal holds
            // finished pairs, which `--resume` continues from.
            guard let journal, journal.saved > 0 || prepared.resumed != nil else {
                prepared.folder.discard()
                throw error
            }
            error.message += "; the finished pairs are kept in \(prepared.folder.temporaryPath): continue with borderline run --resume \(prepared.folder.finalPath)"
            throw error
        } catch {
            if journal == nil || (journal!.saved == 0 && prepared.resumed == nil) { prepared.folder.discard() }
            throw error
        }
    }

    /// Refuses to continue or merge a journal that another run made.
    static func check(_ found: JournalHeader, against expected: JournalHeader, what: String) throws {
        guard found.fingerprint != expected.fingerprint else { return }
        let a = found.identity.objectValue ?? [:], b = expected.identity.objectValue ?? [:]
        let differing = Set(a.keys).union(b.keys).sorted().filter { a[$0] != b[$0] }
        let detail = differing.prefix(4).map { "\($0): \(a[$0]?.serialized() ?? "none") there, \(b[$0]?.serialized() ?? "none") here" }.joined(separator: "; ")
        throw BorderlineError(.invalidConfiguration, "\(what) was made with other settings, model, data or plugins (\(detail.isEmpty ? "fingerprints differ" : detail))")
    }

    /// Runs the prepared plugins — the steps of `prepared.units` not in `loaded`, then the
    /// analyses — and writes the folder. `loaded`: finished steps of a resumed run or of shards.
    func execute(_ prepared: Prepared, loaded: [StepRecord], journal: RunJournal?) throws -> Outcome {
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
                                             resolveModel: { try ShippedModels.resolve($0) }, dataSetIndices: prepared.dataIndices)
        progress.end(summary: "classified \(prepared.data.count) images of \(prepared.data.name)")
        for p in prepared.plugins {
            record.add(PluginRecord(name: p.plugin.name, version: p.plugin.version, summary: p.plugin.summary))
            for g in p.plugin.generators {
                environment.register(g, plugin: p.plugin.name, options: prepared.options[p.plugin.name]![g.name]!.options)
            }
        }
        let runner = ComponentRunner(prepared: prepared, environment: environment, record: record, progress: progress,
                                     isInterrupted: isInterrupted, journal: journal)
        try runner.load(loaded)
        func total() -> Int { environment.counter.count + runner.loadedQueries }
        // A component that ends the process still leaves a run folder that says so.
        ExitGuard.arm { [progress] in
            let what = runner.current ?? "a component"
            runner.assemble(interrupted: false, extraProblem: runner.currentPlugin.map { ($0, "\(what): the plugin ended the process (exit) in the middle of the run; the host wrote the other results") })
            for r in record.plugins where r.status == .pending { r.status = .ok }
            if let written = try? RunFolderWriter(prepared: prepared, record: record, status: .complete, seconds: Date().timeIntervalSince(start),
                                                  totalQueries: total(), sharedQueries: environment.sharedQueries,
                                                  predictions: environment.predictions).write() {
                progress.end(summary: "wrote \(written)")
                FileHandle.standardError.write(Data("error: \(what) ended the process; the run folder \(written) records it (exit 1)\n".utf8))
            }
        }
        do { try runner.runSteps() } catch {
            ExitGuard.disarm()
            throw error
        }
        let interrupted = runner.interrupted
        runner.assemble(interrupted: interrupted)
        if !interrupted, prepared.runsAnalyses { runner.runAnalyses() }
        ExitGuard.disarm()
        let stopped = runner.interrupted
        for r in record.plugins where r.status == .pending {
            r.status = stopped ? .interrupted : .ok
        }
        let status: RunStatus = stopped ? .interrupted : .complete
        progress.begin("writing \(prepared.folder.finalPath)", total: 0)
        let written = try RunFolderWriter(prepared: prepared, record: record, status: status, seconds: Date().timeIntervalSince(start),
                                          totalQueries: total(), sharedQueries: environment.sharedQueries,
                                          predictions: environment.predictions).write()
        InterruptFlag.track(temporary: nil, final: nil)
        journal?.finish()
        // A finished run needs no journal; a shard keeps it for `merge`, an interrupted run for `--resume`.
        if status == .complete, config.shard == nil {
            try? FileManager.default.removeItem(atPath: (written as NSString).appendingPathComponent(RunJournal.folderName))
        }
        progress.end(summary: "wrote \(written)")
        var warnings = prepared.warnings
        if written != prepared.folder.finalPath {
            warnings.append("\(prepared.folder.finalPath) appeared while this run worked (another run with the same --out?); it was left as it is and this run's results are in \(written)")
        }
        let failures = record.plugins.compactMap { r -> (String, String)? in
            if case .failed(let why) = r.status { return (r.name, why) }
            return nil
        }
        var outcome = Outcome(folder: written, status: status, failures: failures, warnings: warnings)
        outcome.skipped = record.plugins.flatMap { r in r.skippedPairs.map { (r.name, $0) } }
        return outcome
    }
}

/// Calls every component of the run in order, timing each call, counting its queries, checking
/// what it returns, filing its output and saving each finished step in the journal; then
/// assembles the run's record in the canonical order (``assemble(interrupted:extraProblem:)``).
final class ComponentRunner {
    let prepared: RunEngine.Prepared
    let environment: RunEnvironment
    let record: RunRecord
    let progress: ProgressReporter
    let isInterrupted: () -> Bool
    let journal: RunJournal?
    private(set) var interrupted = false
    /// The step running now (`plugin/component on pair …`) and its plugin, for the exit guard.
    private(set) var current: String?
    private(set) var currentPlugin: String?
    /// Every finished call of every step (loaded from journals, then this process's), in the order made.
    private(set) var calls: [CallRecord] = []
    /// Pairs whose step is finished.
    private(set) var finished: Set<ClassPair> = []
    /// Queries of the loaded calls (made by earlier processes).
    private(set) var loadedQueries = 0
    private let nested: NestedProgress
    private var stepsDone = 0
    /// The pairs this process runs (the bar's total).
    private var todoCount = 0
    private var tallies: [String: (found: Int, attempts: Int)] = [:]

    /// Position of each plugin, pair and component in the run: the canonical order.
    private let pluginIndex: [String: Int]
    private let pairIndex: [ClassPair: Int]
    private let componentIndex: [String: Int]
    private let componentTypes: [String: ObjectIdentifier]
    private let proberRank: [String: [Int]]

    init(prepared: RunEngine.Prepared, environment: RunEnvironment, record: RunRecord, progress: ProgressReporter,
         isInterrupted: @escaping () -> Bool, journal: RunJournal?) {
        self.prepared = prepared
        self.environment = environment
        self.record = record
        self.progress = progress
        self.isInterrupted = isInterrupted
        self.journal = journal
        nested = NestedProgress(parent: progress)
        pluginIndex = Dictionary(uniqueKeysWithValues: prepared.plugins.enumerated().map { ($1.plugin.name, $0) })
        pairIndex = Dictionary(prepared.pairs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var index: [String: Int] = [:], types: [String: ObjectIdentifier] = [:], rank: [String: [Int]] = [:]
        for (pi, p) in prepared.plugins.enumerated() {
            for (j, c) in p.plugin.probers.enumerated() {
                index["\(p.plugin.name)/prober/\(c.name)"] = j
                types["\(p.plugin.name)/prober/\(c.name)"] = ObjectIdentifier(type(of: c))
                rank["\(p.plugin.name)/\(c.name)"] = [c.readsBoundarySets ? 1 : 0, pi, j]
            }
            for (j, c) in p.plugin.metrics.enumerated() {
                index["\(p.plugin.name)/metric/\(c.name)"] = j
                types["\(p.plugin.name)/metric/\(c.name)"] = ObjectIdentifier(type(of: c))
            }
            for (j, c) in p.plugin.analyses.enumerated() {
                index["\(p.plugin.name)/analysis/\(c.name)"] = j
                types["\(p.plugin.name)/analysis/\(c.name)"] = ObjectIdentifier(type(of: c))
            }
        }
        componentIndex = index
        componentTypes = types
        proberRank = rank
    }

    func options(_ plugin: String, _ component: String) -> any PluginOptions {
        prepared.options[plugin]![component]!.options
    }

    /// Queries that count for components: everything but shared run-wide work.
    private var attributableQueries: Int { environment.counter.count - environment.sharedQueries }

    // MARK: Canonical order

    /// Sorts calls: plain probers, probers that read sets, metrics; per plugin in name order, per
    /// component in declaration order; a metric's calls in the order of the sets' producers; pairs
    /// in run order. This is the order a run without resumption or shards has always filed in.
    private func key(_ c: CallRecord) -> [Int] {
        let pi = pluginIndex[c.plugin] ?? Int.max, pair = c.pair.flatMap { pairIndex[$0] } ?? Int.max
        let kind = c.kind == .prober ? "prober" : c.kind == .metric ? "metric" : "analysis"
        let j = componentIndex["\(c.plugin)/\(kind)/\(c.component)"] ?? Int.max
        switch c.kind {
        case .prober: return [c.readsSets ? 1 : 0, pi, j, 0, 0, 0, pair]
        case .metric: return [2, pi, j] + (c.producer.flatMap { proberRank[$0] } ?? [Int.max, Int.max, Int.max]) + [pair]
        default: return [3, pi, j, 0, 0, 0, pair]
        }
    }

    private func canonical(_ calls: [CallRecord]) -> [CallRecord] {
        calls.enumerated().sorted { a, b in
            let ka = key(a.element), kb = key(b.element)
            return ka != kb ? ka.lexicographicallyPrecedes(kb) : a.offset < b.offset
        }.map(\.element)
    }

    /// Sets in canonical order (their probers' rank, then run order of pairs).
    private func canonicalSets(_ sets: [BoundarySet]) -> [BoundarySet] {
        sets.sorted { a, b in
            let ka = (proberRank[a.producer] ?? [Int.max]) + [pairIndex[a.pair] ?? Int.max]
            let kb = (proberRank[b.producer] ?? [Int.max]) + [pairIndex[b.pair] ?? Int.max]
            return ka.lexicographicallyPrecedes(kb)
        }
    }

    // MARK: Steps

    /// Takes the finished steps of earlier processes: their sets and outputs join the run.
    func load(_ steps: [StepRecord]) throws {
        for step in steps {
            calls += step.calls
            finished.insert(step.pair)
            for c in step.calls {
                if let set = c.set { record.add(set) }
                loadedQueries += c.queries
            }
        }
        for c in steps.flatMap(\.calls) { if let o = outputRecord(c, sets: record.boundarySets) { record.add(o) } }
        // A unit's steps finish in order; a later one without an earlier one means a foreign journal.
        for unit in prepared.units {
            let done = unit.pairs.map(finished.contains)
            if let first = done.firstIndex(of: false), done[first...].contains(true) {
                throw BorderlineError(.invalidConfiguration, "the journal holds pair \(unit.pairs[done.lastIndex(of: true)!]) of boundary \(unit.key) but not \(unit.pairs[first]), which runs before it")
            }
        }
    }

    /// The output record of a call, with its set (a metric's: the set it evaluated).
    private func outputRecord(_ c: CallRecord, sets: [BoundarySet]) -> OutputRecord? {
        guard let tree = c.tree else { return nil }
        let kind = c.kind == .prober ? "prober" : c.kind == .metric ? "metric" : "analysis"
        guard let type = componentTypes["\(c.plugin)/\(kind)/\(c.component)"] else { return nil }
        var set = c.set
        if c.kind == .metric { set = sets.first { $0.producer == c.producer && $0.pair == c.pair } }
        return OutputRecord(plugin: c.plugin, component: c.component, kind: c.kind, componentType: type, pair: c.pair, set: set,
                            value: c.value ?? SavedOutput(tree: tree), tree: tree)
    }

    /// Runs every unfinished step of this process's units and saves each in the journal.
    ///
    /// Progress: the bar counts this process's pairs; within a step, each plain prober call gets
    /// an equal slot of the pair, and the boundary's set readers and metrics (after its last pair)
    /// share one more slot, so a component's ``ProgressReporter/update(position:detail:)`` (or
    /// its task's `update(completed:)`) moves the bar and its ETA inside the pair.
    func runSteps() throws {
        let todo = prepared.units.flatMap(\.pairs).filter { !finished.contains($0) }
        let resumed = prepared.units.flatMap(\.pairs).count - todo.count
        let label = "\(todo.count) class pair\(todo.count == 1 ? "" : "s")" + (prepared.configuration.shard.map { " (shard \($0))" } ?? "")
            + (resumed > 0 ? ", \(resumed) finished earlier" : "")
        todoCount = todo.count
        progress.begin(label, total: todo.count)
        defer {
            let found = tallies.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.found)/\($0.value.attempts)" }
            progress.end(summary: "\(label): " + (found.isEmpty ? "done" : "boundary points found " + found.joined(separator: ", ")))
        }
        let plainProbers = prepared.plugins.reduce(0) { $0 + $1.plugin.probers.filter { !$0.readsBoundarySets }.count }
        let readers = prepared.plugins.reduce(0) { $0 + $1.plugin.probers.filter(\.readsBoundarySets).count }
        let metrics = prepared.plugins.reduce(0) { $0 + $1.plugin.metrics.count }
        for unit in prepared.units {
            for pair in unit.pairs where !finished.contains(pair) {
                var step = StepRecord(pair: pair, calls: [])
                let isLast = pair == unit.pairs.last
                let slots = Double(max(1, plainProbers + (isLast && readers + metrics > 0 ? 1 : 0)))
                var slot = 0.0
                for p in prepared.plugins {
                    for prober in p.plugin.probers where !prober.readsBoundarySets {
                        let span = slot / slots...(slot + 1) / slots
                        slot += 1
                        guard let call = runProber(prober, of: p.plugin, pair: pair, unit: unit, visibleSets: [], span: span) else { return }
                        step.calls.append(call)
                    }
                }
                if isLast {
                    // The boundary's probers that read sets, then its metrics, once every pair of it is probed.
                    let unitPairs = Set(unit.pairs)
                    let plain = canonicalSets(record.boundarySets.filter { unitPairs.contains($0.pair) })
                    // The last slot, split evenly over the calls it will make (a reader makes at most one set).
                    let tailCalls = Double(max(1, readers * unit.pairs.count + metrics * (plain.count + readers * unit.pairs.count)))
                    var tail = 0.0
                    func tailSpan() -> ClosedRange<Double> {
                        defer { tail += 1 }
                        let lower = (slot + min(tail, tailCalls - 1) / tailCalls) / slots
                        return lower...min(1, (slot + min(tail + 1, tailCalls) / tailCalls) / slots)
                    }
                    for q in unit.pairs {
                        for p in prepared.plugins {
                            for prober in p.plugin.probers where prober.readsBoundarySets {
                                guard let call = runProber(prober, of: p.plugin, pair: q, unit: unit, visibleSets: plain, span: tailSpan()) else { return }
                                step.calls.append(call)
                            }
                        }
                    }
                    let sets = canonicalSets(record.boundarySets.filter { unitPairs.contains($0.pair) })
                    for p in prepared.plugins {
                        for metric in p.plugin.metrics {
                            for set in sets {
                                guard let call = runMetric(metric, of: p.plugin, on: set, unit: unit, visibleSets: sets, span: tailSpan()) else { return }
                                step.calls.append(call)
                            }
                        }
                    }
                }
                try journal?.save(step)
                finished.insert(pair)
                stepsDone += 1
                progress.update(completed: stepsDone, detail: "pair \(pair) done")
            }
        }
    }

    /// The bar's position (share of this process's pairs done) at `fraction` of the current step.
    private func barPosition(_ fraction: Double) -> Double {
        todoCount == 0 ? 1 : (Double(stepsDone) + min(max(fraction, 0), 1)) / Double(todoCount)
    }

    /// Points the components' progress at the bar's span of the coming call and shows the call.
    private func startCall(_ span: ClosedRange<Double>, detail: String) {
        let lower = barPosition(span.lowerBound), upper = barPosition(span.upperBound)
        nested.startCall(span: lower...max(lower, upper))
        progress.update(position: lower, detail: detail)
    }

    /// Runs one call of a component, timing it and counting its queries, collecting the notes it
    /// left; nil when the run stops (Ctrl-C) before or during it.
    private func call(_ plugin: String, _ component: String, _ kind: ComponentKind, readsSets: Bool = false, pair: ClassPair?,
                      producer: String?, what: String, _ body: (inout CallRecord) throws -> Void) -> CallRecord? {
        if interrupted || isInterrupted() { interrupted = true; return nil }
        var c = CallRecord(plugin: plugin, component: component, kind: kind, readsSets: readsSets, pair: pair, producer: producer,
                           seconds: 0, queries: 0, notes: [], problems: [], set: nil, tree: nil, value: nil)
        let notesBefore = record.plugins.map(\.notes.count)
        let unreadableBefore = environment.unreadableOutputs.count
        let queriesBefore = attributableQueries
        let t0 = Date()
        current = "\(plugin)/\(what)"
        currentPlugin = plugin
        defer {
            current = nil
            currentPlugin = nil
        }
        do {
            try body(&c)
        } catch is RunInterrupted {
            interrupted = true
            return nil
        } catch let declined as PairDeclined where pair != nil {
            // Not a malfunction: the pair is skipped (recorded with why) and the plugin carries on.
            c.declined = declined.reason
            c.set = nil
            c.tree = nil
            c.value = nil
        } catch {
            c.problems.append((plugin, "\(what): \(error)"))
            c.set = nil
            c.tree = nil
            c.value = nil
        }
        c.seconds = Date().timeIntervalSince(t0)
        c.queries = attributableQueries - queriesBefore
        for (i, r) in record.plugins.enumerated() where r.notes.count > notesBefore[i] {
            c.notes += r.notes[notesBefore[i]...].map { CallRecord.Note(plugin: r.name, component: $0.component, text: $0.text) }
        }
        for why in environment.unreadableOutputs.dropFirst(unreadableBefore) { c.problems.append((plugin, "\(what): \(why)")) }
        calls.append(c)
        return c
    }

    func runProber(_ prober: any BoundaryProber, of plugin: any BorderlinePlugin, pair: ClassPair, unit: RunUnit,
                   visibleSets: [BoundarySet], span: ClosedRange<Double> = 0...1) -> CallRecord? {
        let label = "\(plugin.name)/\(prober.name)"
        let context = environment.context(plugin: record.plugin(named: plugin.name)!, component: prober.name, kind: .prober, progress: nested,
                                          visibleSets: visibleSets, pair: pair, visiblePairs: Set(unit.pairs))
        let options = self.options(plugin.name, prober.name)
        startCall(span, detail: "\(label) on \(pair)")
        return call(plugin.name, prober.name, .prober, readsSets: prober.readsBoundarySets, pair: pair, producer: nil,
                    what: "\(prober.name) on pair \(pair)") { c in
            let queriesBefore = attributableQueries
            let (returned, output) = try prober.probe(pair, erasedOptions: options, context: context)
            var set = returned
            try check(set, asked: pair)
            set.producer = label
            set.queries = attributableQueries - queriesBefore
            let tree = try file(output, reserving: OutputChecks.boundarySetNames)
            record.add(set)
            record.add(OutputRecord(plugin: plugin.name, component: prober.name, kind: .prober, componentType: ObjectIdentifier(type(of: prober)),
                                    pair: pair, set: set, value: output, tree: tree))
            c.set = set
            c.tree = tree
            c.value = output
            tallies[label, default: (0, 0)].found += set.successCount
            tallies[label, default: (0, 0)].attempts += set.count
        }
    }

    func runMetric(_ metric: any Metric, of plugin: any BorderlinePlugin, on set: BoundarySet, unit: RunUnit,
                   visibleSets: [BoundarySet], span: ClosedRange<Double> = 0...1) -> CallRecord? {
        let context = environment.context(plugin: record.plugin(named: plugin.name)!, component: metric.name, kind: .metric, progress: nested,
                                          visibleSets: visibleSets, pair: set.pair, visiblePairs: Set(unit.pairs))
        let options = self.options(plugin.name, metric.name)
        startCall(span, detail: "\(plugin.name)/\(metric.name) on \(set.producer) \(set.pair)")
        return call(plugin.name, metric.name, .metric, pair: set.pair, producer: set.producer,
                    what: "\(metric.name) on \(set.producer) pair \(set.pair)") { c in
            let output = try metric.evaluate(set, erasedOptions: options, context: context)
            let tree = try file(output, reserving: [])
            record.add(OutputRecord(plugin: plugin.name, component: metric.name, kind: .metric, componentType: ObjectIdentifier(type(of: metric)),
                                    pair: set.pair, set: set, value: output, tree: tree))
            c.tree = tree
            c.value = output
        }
    }

    // MARK: Assembly and analyses

    /// Rebuilds the run's record from every finished call in canonical order: sets, outputs,
    /// notes (a note repeated word for word within a plugin is kept once: run-wide notes are made
    /// once per process), problems (the first one is the plugin's failure), seconds and queries.
    /// Statuses are left pending (the caller decides) unless a problem made them failed.
    func assemble(interrupted: Bool, extraProblem: (plugin: String, message: String)? = nil) {
        let plugins = prepared.plugins.map { PluginRecord(name: $0.plugin.name, version: $0.plugin.version, summary: $0.plugin.summary) }
        let byName = Dictionary(uniqueKeysWithValues: plugins.map { ($0.name, $0) })
        var seen: [String: Set<String>] = [:]
        let ordered = canonical(calls)
        var sets: [BoundarySet] = []
        for c in ordered {
            if let r = byName[c.plugin] {
                r.seconds += c.seconds
                r.queries += c.queries
                r.componentSeconds[c.component, default: 0] += c.seconds
                r.componentQueries[c.component, default: 0] += c.queries
            }
            for n in c.notes where seen[n.plugin, default: []].insert(n.text).inserted { byName[n.plugin]?.add(note: n.text, component: n.component) }
            for p in c.problems { byName[p.plugin]?.fail(p.message) }
            if let pair = c.pair, let r = byName[c.plugin] {
                let producer = c.kind == .metric ? c.producer : nil
                if let why = c.declined {
                    r.skippedPairs.append(.init(component: c.component, pair: pair, producer: producer, reason: why))
                } else if let first = c.problems.first(where: { $0.plugin == c.plugin }) {
                    r.failedPairs.append(.init(component: c.component, pair: pair, producer: producer, reason: first.message))
                }
            }
            if let s = c.set { sets.append(s) }
        }
        if let extraProblem { byName[extraProblem.plugin]?.fail(extraProblem.message) }
        record.replace(plugins: plugins, boundarySets: sets, outputs: ordered.compactMap { outputRecord($0, sets: sets) })
    }

    /// Every analysis of every plugin, on the assembled run.
    func runAnalyses() {
        for p in prepared.plugins {
            for analysis in p.plugin.analyses {
                guard runAnalysis(analysis, of: p.plugin) else { return }
            }
        }
    }

    func runAnalysis(_ analysis: any Analysis, of plugin: any BorderlinePlugin) -> Bool {
        let pluginRecord = record.plugin(named: plugin.name)!
        let label = "\(plugin.name)/\(analysis.name)"
        let analysisProgress = NestedProgress(parent: progress)
        let context = environment.context(plugin: pluginRecord, component: analysis.name, kind: .analysis, progress: analysisProgress,
                                          visibleSets: record.boundarySets)
        let options = self.options(plugin.name, analysis.name)
        progress.begin(label, total: 0)
        defer { progress.end(summary: "\(label) done") }
        if interrupted || isInterrupted() { interrupted = true; return false }
        let queriesBefore = attributableQueries
        let unreadableBefore = environment.unreadableOutputs.count
        let t0 = Date()
        current = label
        currentPlugin = plugin.name
        defer {
            current = nil
            currentPlugin = nil
            let seconds = Date().timeIntervalSince(t0), queries = attributableQueries - queriesBefore
            pluginRecord.seconds += seconds
            pluginRecord.queries += queries
            pluginRecord.componentSeconds[analysis.name, default: 0] += seconds
            pluginRecord.componentQueries[analysis.name, default: 0] += queries
        }
        do {
            let output = try analysis.analyse(erasedOptions: options, context: context)
            let unreadable = environment.unreadableOutputs.dropFirst(unreadableBefore)
            if let first = unreadable.first { throw BorderlineError(.invalidConfiguration, first) }
            let tree = try file(output, reserving: [])
            record.add(OutputRecord(plugin: plugin.name, component: analysis.name, kind: .analysis, componentType: ObjectIdentifier(type(of: analysis)),
                                    pair: nil, set: nil, value: output, tree: tree))
        } catch is RunInterrupted {
            interrupted = true
            pluginRecord.status = .interrupted
            return false
        } catch {
            pluginRecord.fail("\(analysis.name): \(error)")
        }
        return true
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
        if let row = set.successesOffTheBoundary.first, let beta = set.gapTolerance {
            let p = set.probabilities.scalars, k = set.probabilities.shape[1]
            throw broke(String(format: "row %d of its boundary set is marked successful, but there |p_%d − p_%d| = %.4g exceeds its β = %.4g (p_%d = %.4g, p_%d = %.4g)",
                               row, pair.source, pair.target, set.probabilityGaps[row], beta, pair.source, p[row * k + pair.source], pair.target, p[row * k + pair.target]))
        }
    }
}

/// Checks on outputs.
enum OutputChecks {
    /// The members of a boundary set's group in results.h5.
    static let boundarySetNames: Set<String> = ["points", "start_points", "end_points", "start_indices", "end_indices", "probabilities",
                                                "succeeded", "iterations", "failure_code", "extras"]
}

/// Shows a component's own progress in the host's bar: its task and count as the bar's detail,
/// and its position within the call (``update(position:detail:)``, or else the share of its current
/// task's units done) as a position within the call's span of the bar, so the ETA moves inside a pair.
final class NestedProgress: ProgressReporter {
    let parent: ProgressReporter
    /// The share of the parent's task at which the current call starts and ends.
    private(set) var span: ClosedRange<Double> = 0...1
    /// The furthest position within the call reported so far (positions only grow).
    private(set) var position = 0.0
    /// Whether the component reports positions itself (then a task's counts do not move the bar).
    private var explicit = false
    var task = ""
    var total = 0
    init(parent: ProgressReporter) { self.parent = parent }

    /// A new call starts, owning `span` of the parent's bar.
    func startCall(span: ClosedRange<Double>) {
        self.span = span
        position = 0
        explicit = false
        task = ""
        total = 0
    }

    func begin(_ task: String, total: Int) {
        self.task = task
        self.total = total
    }

    func update(completed: Int, detail: String) {
        if !explicit, total > 0 { position = max(position, min(1, Double(completed) / Double(total))) }
        let count = total > 0 ? "\(completed)/\(total)" : "\(completed)"
        forward("· \(task) \(count) \(detail)")
    }

    func update(position: Double, detail: String) {
        explicit = true
        if position.isFinite { self.position = max(self.position, min(1, max(0, position))) }
        forward("· \(task.isEmpty ? "" : task + " ")\(detail)")
    }

    func end(summary: String) {}

    private func forward(_ detail: String) {
        parent.update(position: span.lowerBound + position * (span.upperBound - span.lowerBound), detail: detail)
    }
}
