import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Combine the shard folders of a run (borderline run --shard I/N) into one run folder.",
        discussion: """
        The result equals the folder of the same run in one process (same results.h5, summary.json numbers, \
        report and pictures; only timings and query totals of the work differ). Every shard 0…N−1 must be \
        given once and be finished (continue an unfinished one with borderline run --resume SHARD). The \
        analyses that need every pair (DeepDIG's boundary and all-pairs heatmaps and correlations, …) run \
        here. Exit status: 0 all plugins ok, 1 a plugin failed, 2 bad input, 130 interrupted. See docs/scale-out.md.
        """)

    @Argument(help: "The shard run folders.")
    var shards: [String]

    @Option(name: [.customShort("o"), .customLong("out"), .customLong("output")], help: "Run folder to write.")
    var out: String

    @Flag(help: "Replace an existing run folder.")
    var overwrite = false

    @Option(name: .customLong("plugin-path"), help: "Also look for plugins in this folder (repeatable).")
    var pluginPaths: [String] = []

    @Flag(help: "No progress output.")
    var quiet = false

    func run() throws {
        InterruptFlag.install()
        var merge = RunMerge(shards: shards, out: out)
        merge.overwrite = overwrite
        merge.pluginPaths = pluginPaths
        merge.progress = TerminalProgress(quiet: quiet)
        let outcome = try merge.run()
        for warning in outcome.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let report = (outcome.folder as NSString).appendingPathComponent("report.html")
        switch outcome.status {
        case .interrupted:
            FileHandle.standardError.write(Data("interrupted: partial results in \(outcome.folder) (status: interrupted)\n".utf8))
            throw ExitCode(130)
        case .complete where !outcome.failures.isEmpty:
            for f in outcome.failures { FileHandle.standardError.write(Data("plugin \(f.plugin) failed: \(f.reason)\n".utf8)) }
            print(report)
            throw ExitCode(1)
        case .complete:
            print(report)
        }
    }
}
