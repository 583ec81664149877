import BorderlineCore
import Foundation

/// What a baseline adds to its boundary set, per attempt and pair.
struct BaselineOutput: Codable {
    /// Rows of the training split the bisection started from (s) and ended at (t), per attempt.
    var trainIndexStart: [Int]
    var trainIndexEnd: [Int]
    /// Start image, end image and borderline point of the first successful attempts.
    var grid: ResultPicture?
}

/// Shared body of the two baselines (paper Section 5): bisection (Algorithm 1, same β and cap as
/// DeepDIG) between correctly classified training images `a` of s and `b` of t.
private func bisectBaseline(_ prober: String, _ pair: ClassPair, a: [Int], b: [Int], split: RunData, options: ProberOptions,
                            context: RunContext) throws -> Probe<BaselineOutput> {
    let n = a.count
    let start = split.images.gather(batch: a), end = split.images.gather(batch: b)
    let outcome = try BoundaryBisection.bisect(
        context.classifier, from: start, to: end,
        sources: Array(repeating: pair.source, count: n), targets: Array(repeating: pair.target, count: n),
        configuration: options.algorithm1, checkStop: context.checkInterrupted)
    // The first successful attempts: the images the bisection started from and the point found.
    let shown = Array(outcome.succeeded.indices.filter { outcome.succeeded[$0] }.prefix(options.gridRows))
    let c = context.classifier
    let grid = try imageGrid([start, end, outcome.points], rows: shown, name: "\(prober)-grid",
                             caption: "Columns: training image of \(c.className(pair.source)), training image of \(c.className(pair.target)), " +
                                      "borderline point on the segment between them (first successful attempts, \(pair.source)→\(pair.target)).")
    // Start/end indices refer to the run's data; these images come from the training split.
    let set = try BoundarySet(
        pair: pair, points: outcome.points, startPoints: start, endPoints: end,
        startIndices: Array(repeating: -1, count: n), endIndices: Array(repeating: -1, count: n),
        probabilities: outcome.probabilities, succeeded: outcome.succeeded, failureReasons: outcome.failureReasons,
        iterations: outcome.steps, gapTolerance: options.algorithm1.tolerance, extras: ["lambda": Tensor(shape: [n], scalars: outcome.lambdas)])
    return Probe(set, output: BaselineOutput(trainIndexStart: a, trainIndexEnd: b, grid: grid))
}

private func pools(_ pair: ClassPair, options: ProberOptions, context: RunContext) throws -> (RunData, [Int], [Int]) {
    let split = try context.trainingData(options.data.choice)
    let sources = split.indices(ofClass: pair.source), targets = split.indices(ofClass: pair.target)
    for (c, pool) in [(pair.source, sources), (pair.target, targets)] where pool.isEmpty {
        throw PairDeclined("no image of class \(c) (\(context.classifier.className(c))) in \(split.origin) is classified correctly")
    }
    return (split, sources, targets)
}

/// Prober `rpbs` (Random Pair Binary Search): every correctly classified training image of s
/// (or `max-samples` of them, drawn at random) paired with a uniformly drawn correctly classified
/// training image of t, then Algorithm 1.
final class RandomPairBaseline: BoundaryProber {
    let name = "rpbs"
    let summary = "Baseline RPBS: bisection between random correctly classified training images of s and t."

    struct Options: PluginOptions, Sendable {
        @OptionGroup var shared: ProberOptions
        func validate() throws { try shared.validate() }
    }

    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<BaselineOutput> {
        let (split, sources, targets) = try pools(pair, options: options.shared, context: context)
        var random = context.randomGenerator(for: pair)
        var a = random.permutation(sources.count).map { sources[$0] }
        let cap = options.shared.maxSamples
        if cap > 0, a.count > cap { a = Array(a.prefix(cap)) }
        let b = a.map { _ in targets[Int(random.next() % UInt64(targets.count))] }
        return try bisectBaseline(name, pair, a: a, b: b, split: split, options: options.shared, context: context)
    }
}

/// Prober `epbs` (Embedding-nearest Pair Binary Search): every correctly classified training image
/// of s paired with *its own* nearest correctly classified training image of t in the classifier's
/// embedding space (squared Euclidean distance; per row, unlike the authors' code, whose missing
/// `axis` pairs every s with one t), then Algorithm 1.
final class EmbeddingPairBaseline: BoundaryProber {
    let name = "epbs"
    let summary = "Baseline EPBS: bisection from each correctly classified training image of s to its nearest t in embedding space."

    struct Options: PluginOptions, Sendable {
        @OptionGroup var shared: ProberOptions
        func validate() throws { try shared.validate() }
    }

    /// For each row of `queries` (`[N, e]`), the index of the nearest row of `pool` (`[M, e]`).
    static func nearest(_ queries: Tensor, in pool: Tensor) -> [Int] {
        let n = queries.batchSize, m = pool.batchSize, e = queries.sampleCount
        precondition(pool.sampleCount == e && m > 0)
        var poolNorms = [Float](repeating: 0, count: m)
        pool.withUnsafeBufferPointer { p in
            for j in 0..<m { var s: Float = 0; for c in 0..<e { s += p[j * e + c] * p[j * e + c] }; poolNorms[j] = s }
        }
        var result = [Int](repeating: 0, count: n)
        let chunk = 512
        var dots = [Float](repeating: 0, count: chunk * m)
        var start = 0
        while start < n {
            let rows = min(chunk, n - start)
            queries.withUnsafeBufferPointer { q in
                pool.withUnsafeBufferPointer { p in
                    dots.withUnsafeMutableBufferPointer { out in
                        BLAS.gemm(transB: true, m: rows, n: m, k: e, a: q.baseAddress! + start * e, lda: e,
                                  b: p.baseAddress!, ldb: e, c: out.baseAddress!, ldc: m)
                    }
                }
            }
            for r in 0..<rows {
                var best = 0, bestValue = Float.infinity
                for j in 0..<m {
                    // ‖q − p‖² − ‖q‖² = ‖p‖² − 2 q·p
                    let v = poolNorms[j] - 2 * dots[r * m + j]
                    if v < bestValue { bestValue = v; best = j }
                }
                result[start + r] = best
            }
            start += rows
        }
        return result
    }

    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<BaselineOutput> {
        let (split, sources, targets) = try pools(pair, options: options.shared, context: context)
        var random = context.randomGenerator(for: pair)
        var a = random.permutation(sources.count).map { sources[$0] }
        let cap = options.shared.maxSamples
        if cap > 0, a.count > cap { a = Array(a.prefix(cap)) }
        let b = EmbeddingPairBaseline.nearest(try context.embeddings(of: split, rows: a), in: try context.embeddings(of: split, rows: targets))
            .map { targets[$0] }
        return try bisectBaseline(name, pair, a: a, b: b, split: split, options: options.shared, context: context)
    }
}
