import BorderlineCore
import Foundation

/// `borderline merge SHARD... -o RUN`: one run folder from the folders of the N shards of a run
/// (`borderline run --shard I/N`), equal to the folder of the same run in one process.
///
/// Each shard's journal (`pairs/`) holds its pairs' calls exactly as they were made; the merge
/// checks that the shards are the N slices of one run (same fingerprint — model, data, plugins,
/// options, pairs, seed —, each index 0…N−1 once, every pair of each shard finished), loads the
/// run's model, data and plugins as the run would, assembles every call in the canonical order,
/// runs the analyses (DeepDIG's boundary and all-pairs views, …) on the whole run, reading the
/// shards' outputs decoded back into their types (``ResultDecoder``), and writes the folder.
public struct RunMerge {
    public let shards: [String]
    public let out: String
    public var overwrite = false
    public var progress: ProgressReporter = SilentProgress()
    public var isInterrupted: () -> Bool = InterruptFlag.isSet
    public var builtInPluginFolder: String? = PluginDiscovery.builtInFolder()
    /// Plugin objects that take part as if discovered (tests).
    public var inProcessPlugins: [any BorderlinePlugin] = []
    /// Plugin folders searched before those the shards' configuration names.
    public var pluginPaths: [String] = []

    public init(shards: [String], out: String) {
        self.shards = shards
        self.out = out
    }

    /// Checks the shards, then merges them.
    /// - Throws: `BorderlineError` naming the shard folder that is missing, unfinished, duplicated
    ///   or from another run.
    public func run() throws -> RunEngine.Outcome {
        guard !shards.isEmpty else { throw BorderlineError(.invalidArgument, "merge needs the shard folders of a run (borderline run --shard I/N)") }
        var headers: [(folder: String, journal: String, header: JournalHeader)] = []
        for folder in shards {
            let journal = (folder as NSString).appendingPathComponent(RunJournal.folderName)
            guard FileManager.default.fileExists(atPath: (journal as NSString).appendingPathComponent(RunJournal.headerName)) else {
                let hint = RunFolder.isRunFolder(folder) ? "a run folder without a journal: a finished unsharded run, or a merged one" : "not a run folder"
                throw BorderlineError(.invalidArgument, "is not a shard of a run (\(hint)); shards are written by borderline run --shard I/N", file: folder)
            }
            let header = try RunJournal.readHeader(journal)
            guard header.shard != nil else {
                throw BorderlineError(.invalidArgument, "holds an unfinished run that is not a shard; continue it with borderline run --resume \(folder)", file: folder)
            }
            headers.append((folder, journal, header))
        }
        let first = headers[0]
        let count = first.header.shard!.count
        var byIndex: [Int: String] = [:]
        for h in headers {
            try RunEngine.check(h.header, against: first.header, what: "shard \(h.folder)")
            guard h.header.shard!.count == count else {
                throw BorderlineError(.invalidArgument, "is shard \(h.header.shard!) but \(first.folder) is shard \(first.header.shard!): the shards of one run share N", file: h.folder)
            }
            if let other = byIndex[h.header.shard!.index] {
                throw BorderlineError(.invalidArgument, "is shard \(h.header.shard!) like \(other); give each shard once", file: h.folder)
            }
            byIndex[h.header.shard!.index] = h.folder
        }
        let missing = (0..<count).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            throw BorderlineError(.invalidArgument, "merge: shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) of the run missing (given: \(byIndex.keys.sorted().map { "\($0)/\(count)" }.joined(separator: ", ")))")
        }

        var configuration: RunConfiguration
        do { configuration = try RunConfiguration(json: first.header.configuration) } catch var e as BorderlineError {
            e.message = "the shard's configuration: \(e.message)"
            throw e.inFile((first.journal as NSString).appendingPathComponent(RunJournal.headerName))
        }
        configuration.shard = nil
        configuration.out = out
        configuration.overwrite = overwrite
        configuration.pluginPaths = pluginPaths + configuration.pluginPaths
        let engine = RunEngine(configuration: configuration, progress: progress, isInterrupted: isInterrupted, builtInPluginFolder: builtInPluginFolder)
        engine.inProcessPlugins = inProcessPlugins
        let prepared = try engine.prepare()
        InterruptFlag.track(temporary: prepared.folder.temporaryPath, final: prepared.folder.finalPath)
        defer { InterruptFlag.track(temporary: nil, final: nil) }
        do {
            // This machine must see the run the shards saw: the same model, data and plugins.
            let identity = RunJournal.identity(prepared, modelHash: prepared.modelHash)
            let here = JournalHeader(fingerprint: RunJournal.fingerprint(identity), identity: identity, configuration: .null, shard: nil, pairs: [])
            try RunEngine.check(first.header, against: here, what: "merge: the shards' run, compared with the model, data and plugins on this machine,")
            var steps: [StepRecord] = []
            var covered: Set<ClassPair> = []
            progress.begin("reading \(headers.count) shards", total: headers.count)
            for (i, h) in headers.sorted(by: { $0.header.shard!.index < $1.header.shard!.index }).enumerated() {
                let read = try RunJournal.readSteps(h.journal, header: h.header)
                let done = Set(read.map(\.pair))
                let unfinished = h.header.pairs.filter { !done.contains($0) }
                guard unfinished.isEmpty else {
                    throw BorderlineError(.invalidArgument,
                        "shard \(h.header.shard!) is unfinished: \(unfinished.count) of its \(h.header.pairs.count) pairs have no results (\(unfinished.prefix(6).map(\.description).joined(separator: ", "))\(unfinished.count > 6 ? ", …" : "")); continue it with borderline run --resume \(h.folder)", file: h.folder)
                }
                let overlap = done.intersection(covered)
                guard overlap.isEmpty else {
                    throw BorderlineError(.invalidArgument, "holds pairs another shard holds too (\(overlap.sorted().prefix(4).map(\.description).joined(separator: ", ")))", file: h.folder)
                }
                covered.formUnion(done)
                steps += read
                progress.update(completed: i + 1, detail: "shard \(h.header.shard!): \(read.count) pairs")
            }
            progress.end(summary: "read \(steps.count) pairs from \(headers.count) shards")
            let absent = prepared.pairs.filter { !covered.contains($0) }
            guard absent.isEmpty else {
                throw BorderlineError(.invalidConfiguration, "merge: the shards hold no results for \(absent.count) of the run's pairs (\(absent.prefix(6).map(\.description).joined(separator: ", ")))")
            }
            return try engine.execute(prepared, loaded: steps, journal: nil)
        } catch {
            prepared.folder.discard()
            throw error
        }
    }
}
