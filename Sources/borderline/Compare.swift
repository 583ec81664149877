import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two run folders number for number and array for array (e.g. a merged run with the same run in one process).",
        discussion: """
        Compares every value of summary.json and config.json, every dataset and attribute of results.h5 (bit for \
        bit), every picture and report.html (numbers masked). Left out: times and speeds (keys with a word 'seconds' \
        or ending in 'per_second'), the run-wide query totals (model_queries, \
        shared_model_queries), paths and a shard's 'shard' key. Exit status: 0 equal, 1 different (the \
        differences are listed), 2 a folder cannot be read.
        """)

    @Argument(help: "The first run folder.")
    var first: String

    @Argument(help: "The second run folder.")
    var second: String

    @Option(help: "List at most this many differences (default: 50).")
    var maxDifferences: Int = 50

    func run() throws {
        let differences = try RunComparison.differences(first, second, limit: max(1, maxDifferences))
        if differences.isEmpty {
            print("equal: \(first) and \(second) (timings, run-wide query totals and paths left out)")
            return
        }
        for d in differences { print(d) }
        FileHandle.standardError.write(Data("\(differences.count)\(differences.count >= maxDifferences ? "+" : "") difference(s) between \(first) and \(second)\n".utf8))
        throw ExitCode(1)
    }
}
