import BorderlineCore
import Foundation

/// Metric `borderline-summary` (paper Tables 6–8 factors), for any boundary set: success rate
/// (successful / attempted), mean |f_s − f_t| over successful points, mean bisection steps over
/// all attempts, and the failures by reason.
final class BorderlineSummary: Metric {
    let name = "borderline-summary"
    let summary = "Success rate, mean |f_s − f_t| over successful points, mean steps, failures by reason."

    /// summary.json `pairs."s-t".borderline-summary.<producer>.…`.
    struct Output: Codable {
        var attempts: Int
        var successes: Int
        var successRate: Double
        var meanGap: Double
        var maxGap: Double
        var meanSteps: Double
        var failures: ResultTable?
    }

    func evaluate(_ set: BoundarySet, options: NoOptions, context: RunContext) throws -> Output {
        let ok = set.successfulIndices
        let gaps = set.probabilityGaps
        let meanGap = ok.isEmpty ? Double.nan : ok.reduce(0.0) { $0 + Double(gaps[$1]) } / Double(ok.count)
        let maxGap = ok.map { Double(gaps[$0]) }.max() ?? .nan
        let meanSteps = set.count == 0 ? Double.nan : Double(set.iterations.reduce(0, +)) / Double(set.count)
        let failures = set.failureHistogram
        return Output(
            attempts: set.count, successes: ok.count,
            successRate: set.count == 0 ? .nan : Double(ok.count) / Double(set.count),
            meanGap: meanGap, maxGap: maxGap, meanSteps: meanSteps,
            failures: failures.isEmpty ? nil : ResultTable(title: "Failed attempts by reason", columns: ["reason", "attempts"],
                                                           rows: failures.map { [$0.reason, "\($0.count)"] }))
    }
}

/// Where IDC samples the segment T(τ) = τ·x_i + (1 − τ)·x_j between an anchor x_i and a partner x_j.
enum IDCSampling: String, CaseIterable, OptionValue {
    /// τ_p = p/(m − 1), p = 0…m−1: m evenly spaced points including both ends (the paper's
    /// "m points sampled on the segment").
    case paper
    /// τ_p = p/m, p = 0…m−1 (the authors' code, `characterization.py`): spacing 1/m, the
    /// partner x_j included and the anchor x_i itself (τ = 1) left out.
    case authors

    /// The m values of τ.
    func taus(m: Int) -> [Float] {
        switch self {
        case .paper: return (0..<m).map { Float($0) / Float(m - 1) }
        case .authors: return (0..<m).map { Float($0) / Float(m) }
        }
    }
}

/// Metric `idc`: Input-space Decision boundary Complexity (paper eq. 3–4). For each borderline
/// point x_i (successful points of the set; at most `points` of them, drawn at random, 0 = all),
/// k other borderline points x_j are drawn at random (without replacement); the segment
/// T(τ) = τ·x_i + (1 − τ)·x_j is sampled at m points x_1…x_m (``IDCSampling``: evenly spaced with
/// both ends by default, or the authors' code's τ = p/m that leaves x_i out),
/// O = (1/m) Σ_{p=1}^{m−1} 1[C(x_p) ≠ C(x_{p+1})], and IDC is the mean of O over all (i, j).
/// With fewer than k + 1 borderline points every other point is a partner (and the result says so).
final class InputSpaceComplexity: Metric {
    let name = "idc"
    let summary = "IDC (paper eq. 3–4): class oscillation along segments between random pairs of borderline points."

    struct Options: PluginOptions, Sendable {
        @Option(help: "random partners per borderline point (paper: 50)", in: 1...10_000)
        var k = 50
        @Option(help: "interpolation points per segment, ends included (paper: 50)", in: 2...10_000)
        var m = 50
        @Option(help: "borderline points x_i used (random subset; 0: all, as in the paper — k·m classifier calls each)", in: 0...1_000_000)
        var points = 500
        @Option(help: "segment points: paper = m evenly spaced with both ends, τ = p/(m−1); authors = the authors' code's τ = p/m, p < m (the anchor itself left out)")
        var sampling = IDCSampling.paper
    }

    /// summary.json `pairs."s-t".idc.<producer>.…`; everything but `idc` and `borderline_points`
    /// is absent when the set has fewer than 2 borderline points (IDC is then NaN).
    struct Output: Codable {
        var idc: Double
        var borderlinePoints: Int
        var pointsUsed: Int?
        var partners: Int?
        var m: Int?
        /// `paper` or `authors` (``IDCSampling``).
        var sampling: String?
        /// O averaged over each anchor's partners, one per anchor used.
        var idcPerPoint: [Float]?
        /// Why IDC is undefined or used fewer than k partners.
        var note: ResultTable?
    }

    struct Result {
        var value: Double
        var perPoint: [Float]
        var partners: Int
        var pointsUsed: Int
    }

    /// IDC of `points` (`[n] + inputShape`) under `predict`; `nil` when fewer than 2 points.
    static func compute(_ points: Tensor, k: Int, m: Int, maxPoints: Int, sampling: IDCSampling = .paper,
                        random: inout RandomGenerator, predict: (Tensor) throws -> [Int]) throws -> Result? {
        let d = points.sampleCount
        return try compute(points.batchSize, k: k, m: m, maxPoints: maxPoints, sampling: sampling, random: &random) { indices, weights in
            var batch = [Float](repeating: 0, count: weights.count / 2 * d)
            points.withUnsafeBufferPointer { p in
                for r in 0..<(weights.count / 2) {
                    let i = indices[2 * r], j = indices[2 * r + 1], t = weights[2 * r], u = weights[2 * r + 1]
                    for c in 0..<d { batch[r * d + c] = t * p[i * d + c] + u * p[j * d + c] }
                }
            }
            return try predict(Tensor(shape: [weights.count / 2] + points.sampleShape, scalars: batch))
        }
    }

    /// IDC of `n` points whose segment points `T(τ) = τ·x_i + (1 − τ)·x_j` are classified by
    /// `classify(indices, weights)` (pairs `[i, j]`, `[τ, 1 − τ]` per query, as
    /// ``AffineProbeEvaluator`` takes them); `nil` when fewer than 2 points.
    static func compute(_ n: Int, k: Int, m: Int, maxPoints: Int, sampling: IDCSampling = .paper,
                        random: inout RandomGenerator, classify: ([Int], [Float]) throws -> [Int]) throws -> Result? {
        guard n >= 2 else { return nil }
        let partners = min(k, n - 1)
        var anchors = random.permutation(n)
        if maxPoints > 0, anchors.count > maxPoints { anchors = Array(anchors.prefix(maxPoints)) }
        let ts = sampling.taus(m: m)
        let perBatch = max(1, 16384 / (partners * m))
        var perPoint: [Float] = []
        var total = 0.0
        var i0 = 0
        var indices: [Int] = [], weights: [Float] = []
        while i0 < anchors.count {
            let group = Array(anchors[i0..<min(anchors.count, i0 + perBatch)])
            indices.removeAll(keepingCapacity: true)
            weights.removeAll(keepingCapacity: true)
            for i in group {
                // k distinct partners ≠ i: a random permutation of the others, first k.
                let others = random.permutation(n - 1).prefix(partners).map { $0 >= i ? $0 + 1 : $0 }
                for j in others {
                    for t in ts {
                        // T(t) = t·x_i + (1 − t)·x_j
                        indices.append(i); indices.append(j)
                        weights.append(t); weights.append(1 - t)
                    }
                }
            }
            let classes = try classify(indices, weights)
            var r = 0
            for _ in group {
                var sum = 0.0
                for _ in 0..<partners {
                    var changes = 0
                    for p in 1..<m where classes[r + p] != classes[r + p - 1] { changes += 1 }
                    sum += Double(changes) / Double(m)
                    r += m
                }
                perPoint.append(Float(sum / Double(partners)))
                total += sum
            }
            i0 += group.count
        }
        return Result(value: total / Double(anchors.count * partners), perPoint: perPoint, partners: partners, pointsUsed: anchors.count)
    }

    func evaluate(_ set: BoundarySet, options: Options, context: RunContext) throws -> Output {
        let ok = set.successfulIndices
        let k = options.k, m = options.m
        let random = context.randomGenerator(for: set.pair)
        var gen = random.derived(StableHash.fnv1a(set.producer))
        // The segment points are affine combinations of the borderline points: the first layer
        // runs once per borderline point and is interpolated (``AffineProbeEvaluator``).
        let evaluator = try AffineProbeEvaluator(context.classifier, anchors: set.points.gather(batch: ok), convolutions: true)
        guard let r = try InputSpaceComplexity.compute(ok.count, k: k, m: m, maxPoints: options.points,
                                                       sampling: options.sampling, random: &gen,
                                                       classify: { indices, weights in
                                                           try context.checkInterrupted()
                                                           return try evaluator.logits(indices: indices, weights: weights, arity: 2).argmaxRows()
                                                       }) else {
            return Output(idc: .nan, borderlinePoints: ok.count, note:
                ResultTable(title: "IDC", columns: ["note"], rows: [["IDC needs at least 2 borderline points; the set has \(ok.count)"]]))
        }
        var note: ResultTable?
        if r.partners < k {
            note = ResultTable(title: "IDC", columns: ["note"], rows: [[
                "only \(ok.count) borderline points: \(r.partners) partners per point instead of k = \(k)"]])
        }
        return Output(idc: r.value, borderlinePoints: ok.count, pointsUsed: r.pointsUsed, partners: r.partners, m: m,
                      sampling: options.sampling.rawValue, idcPerPoint: r.perPoint, note: note)
    }
}
