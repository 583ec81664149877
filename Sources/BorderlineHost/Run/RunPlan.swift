import BorderlineCore
import Foundation

/// `--shard I/N`: the I-th (0 ≤ I < N) of N slices of a run's class pairs.
public struct ShardSpec: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `I/N` (what Slurm's `$SLURM_ARRAY_TASK_ID/N` gives).
    /// - Throws: `.invalidArgument` saying what is expected.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw BorderlineError(.invalidArgument, "--shard '\(text)' must be I/N: shard I (counted from 0) of N, e.g. 0/4")
        }
        guard n >= 1, n <= 100_000 else { throw BorderlineError(.invalidArgument, "--shard '\(text)': N must be between 1 and 100000") }
        guard (0..<n).contains(i) else {
            throw BorderlineError(.invalidArgument, "--shard '\(text)': I must be 0…\(n - 1) (shards are counted from 0, like Slurm's array task ids)")
        }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }
}

/// A boundary of a run: its ordered pairs between two classes (s→t and, when the run holds it,
/// t→s), which always run in one process because metrics of one direction read the other's sets
/// (DeepDIG's EDC and projection pool both directions).
public struct RunUnit: Equatable, Sendable {
    /// `lo-hi`: the two classes, the smaller first.
    public let key: String
    /// The unit's pairs, in the run's pair order.
    public let pairs: [ClassPair]
    /// Expected cost (see ``RunPlan/units(of:imagesPerClass:)``).
    public let cost: Double
    /// Position of its first pair in the run's pair list.
    public let position: Int
}

/// How a run's class pairs are grouped into units and split into shards.
///
/// **Cost model.** A pair s→t costs `n_s + n_t`, the run's images of its two classes (what most
/// probers draw from; DeepDIG's components I–III scale with the images of s, and with a balanced
/// data set every ordered pair then costs the same); a unit costs the sum over its pairs.
///
/// **Partition.** Longest processing time first: units in decreasing cost (ties: run order) each
/// go to the shard with the least cost so far (ties: the lowest index). The result is a function
/// of the pairs, the images per class and N alone — every shard computes the same partition
/// whatever order shards start or finish in — and no shard's cost exceeds the mean by more than
/// one unit's cost. Within a shard, units run in the run's pair order.
public enum RunPlan {
    /// The units of `pairs` in run order; `imagesPerClass[c]` = the run's images of class c.
    public static func units(of pairs: [ClassPair], imagesPerClass: [Int: Int]) -> [RunUnit] {
        var order: [String] = []
        var members: [String: [(Int, ClassPair)]] = [:]
        for (i, p) in pairs.enumerated() {
            let key = "\(min(p.source, p.target))-\(max(p.source, p.target))"
            if members[key] == nil { order.append(key) }
            members[key, default: []].append((i, p))
        }
        return order.map { key in
            let m = members[key]!
            let cost = m.reduce(0.0) { $0 + Double(imagesPerClass[$1.1.source, default: 0] + imagesPerClass[$1.1.target, default: 0]) }
            return RunUnit(key: key, pairs: m.map(\.1), cost: cost, position: m[0].0)
        }
    }

    /// Splits `units` into `shards` slices (some empty when there are fewer units than shards).
    public static func partition(_ units: [RunUnit], shards: Int) -> [[RunUnit]] {
        var load = [Double](repeating: 0, count: max(1, shards))
        var slices = [[RunUnit]](repeating: [], count: max(1, shards))
        let ordered = units.sorted { $0.cost != $1.cost ? $0.cost > $1.cost : $0.position < $1.position }
        for u in ordered {
            var best = 0
            for i in load.indices where load[i] < load[best] { best = i }
            load[best] += u.cost
            slices[best].append(u)
        }
        return slices.map { $0.sorted { $0.position < $1.position } }
    }

    /// The units this process runs: all of them, or shard `shard`'s.
    public static func units(of pairs: [ClassPair], imagesPerClass: [Int: Int], shard: ShardSpec?) -> [RunUnit] {
        let all = units(of: pairs, imagesPerClass: imagesPerClass)
        guard let shard else { return all }
        return partition(all, shards: shard.count)[shard.index]
    }
}

/// One call of a component in a run — a prober on a pair, a metric on a set, an analysis — and
/// everything it left: its set, its output, notes, problems, seconds and queries. A run folder
/// is assembled from these in a canonical order, whichever process made them.
struct CallRecord {
    struct Note {
        var plugin: String
        var component: String?
        var text: String
    }

    var plugin: String
    var component: String
    var kind: ComponentKind
    /// For probers: whether it reads the other probers' sets (it then runs after them).
    var readsSets: Bool
    /// The prober's pair, the pair of the metric's set (nil for analyses).
    var pair: ClassPair?
    /// The producer (`plugin/prober`) of the set a metric evaluated.
    var producer: String?
    var seconds: Double
    var queries: Int
    var notes: [Note]
    var problems: [(plugin: String, message: String)]
    /// Why the component declined the pair (``PairDeclined``): the call made no set or output and
    /// the pair is recorded as skipped, not as a failure.
    var declined: String? = nil
    /// The set a prober made.
    var set: BoundarySet?
    /// The output's result tree.
    var tree: ResultValue?
    /// The output as the component returned it (this process's calls only).
    var value: Any?
}

/// The calls of one step of a run, saved as one journal file: the plain probers of one ordered
/// pair and — when the pair is the last of its unit — the probers that read sets and the metrics,
/// for every pair of the unit.
struct StepRecord {
    var pair: ClassPair
    var calls: [CallRecord]
}
