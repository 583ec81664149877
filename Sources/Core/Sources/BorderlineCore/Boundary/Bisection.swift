import Foundation

/// Batched bisection between pairs of points that a classifier puts in two different classes.
///
/// For row `n`, with `a = from[n]` classified `s = sources[n]`, `b = to[n]` classified
/// `t = targets[n]`, and the segment `x(λ) = a + λ(b − a)`, `λ ∈ [0, 1]`, let
/// `f(λ) = p_s(x(λ)) − p_t(x(λ))`. Bisection keeps an interval `[lo, hi]` with `f(lo) > 0 > f(hi)`
/// (starting from `[0, 1]`) and halves it at `m = (lo + hi)/2` until `|f(m)| < β`: that `x(m)` is
/// a point where the classifier is undecided between `s` and `t` to within `β`. Each step halves
/// the interval, so after `k` steps the boundary crossing is located to within `2⁻ᵏ‖b − a‖`.
///
/// An attempt **succeeds** when `|f(m)| < β` and the classifier's top class at `x(m)` is `s` or
/// `t` (so `s` and `t` are the two leading classes, up to `β`). It **fails**, with the reason,
/// when an endpoint is on the wrong side (`f(0) ≤ 0` or `f(1) ≥ 0`), when the undecided point is
/// claimed by a third class (the segment passes through another class's region), or when
/// `maxSteps` halvings do not bring `|f|` below `β` (the scores change too steeply along the
/// segment). All rows still active are evaluated together, one classifier call per step; where
/// the classifier's first layer is a shrinking affine map the midpoints go through an
/// ``AffineProbeEvaluator`` (first layer once per endpoint, then interpolated).
/// Model queries: `2N` for the endpoints plus one per active row per step.
public enum BoundaryBisection {
    public struct Configuration: Sendable, Equatable {
        /// `β`: the largest `|p_s − p_t|` accepted as on the boundary.
        public var tolerance: Float
        /// The most halvings per row.
        public var maxSteps: Int
        /// Algorithm 1 of DeepDIG: an attempt fails as soon as a midpoint's top class is neither
        /// `s` nor `t` (instead of bisecting on the sign of `p_s − p_t` regardless of the top class).
        public var failOnThirdClassMidpoint: Bool
        public init(tolerance: Float = 0.01, maxSteps: Int = 30, failOnThirdClassMidpoint: Bool = false) {
            self.tolerance = tolerance
            self.maxSteps = maxSteps
            self.failOnThirdClassMidpoint = failOnThirdClassMidpoint
        }
    }

    /// The outcome for every row.
    public struct Outcome {
        /// The boundary point (successes), the last midpoint (step-cap or third-class failures),
        /// or the start point (endpoint failures): `[N] + inputShape`.
        public var points: Tensor
        /// `P` at each point, `[N, K]`.
        public var probabilities: Tensor
        /// The `λ` of each point on its segment.
        public var lambdas: [Float]
        /// Halvings (classifier evaluations of midpoints) per row.
        public var steps: [Int]
        public var succeeded: [Bool]
        /// Why each failed row failed, in a few categorical sentences (so they can be counted);
        /// the numbers behind a failure are in `probabilities` and `lambdas`.
        public var failureReasons: [String?]
        /// Rows evaluated by the classifier in total.
        public var queries: Int
    }

    /// Bisects every row of `from`/`to`. `checkStop` is called before every step (throw to stop).
    public static func bisect(_ classifier: any Classifier, from a: Tensor, to b: Tensor, sources: [Int], targets: [Int],
                              configuration: Configuration = Configuration(),
                              checkStop: () throws -> Void = {}) throws -> Outcome {
        try classifier.checkBatch(a)
        guard b.shape == a.shape else {
            throw BorderlineError(.shapeMismatch, "bisection: end points have shape \(b.shape) but start points \(a.shape)")
        }
        let n = a.batchSize, d = a.sampleCount, k = classifier.classCount
        guard sources.count == n, targets.count == n else {
            throw BorderlineError(.invalidArgument, "bisection: \(n) rows need \(n) source and target classes, got \(sources.count) and \(targets.count)")
        }
        for (s, t) in zip(sources, targets) where !(0..<k).contains(s) || !(0..<k).contains(t) || s == t {
            throw BorderlineError(.invalidArgument, "bisection: classes \(s) and \(t) are not two different classes in 0…\(k - 1)")
        }
        guard configuration.tolerance > 0, configuration.tolerance < 1 else {
            throw BorderlineError(.invalidArgument, "bisection: tolerance β must lie in (0, 1), got \(configuration.tolerance)")
        }
        guard configuration.maxSteps >= 1 else {
            throw BorderlineError(.invalidArgument, "bisection: the step cap must be at least 1, got \(configuration.maxSteps)")
        }
        let beta = configuration.tolerance
        var points = a.scalars
        var probabilities = [Float](repeating: 0, count: n * k)
        var lambdas = [Float](repeating: 0, count: n)
        var steps = [Int](repeating: 0, count: n)
        var succeeded = [Bool](repeating: false, count: n)
        var reasons = [String?](repeating: nil, count: n)
        var queries = 0
        if n == 0 {
            return Outcome(points: a, probabilities: Tensor(zeros: [0, k]), lambdas: [], steps: [], succeeded: [], failureReasons: [], queries: 0)
        }

        func gap(_ p: ArraySlice<Float>, _ row: Int) -> Float { p[p.startIndex + sources[row]] - p[p.startIndex + targets[row]] }
        func format(_ x: Float) -> String { String(format: "%.3g", x) }
        func record(_ row: Int, _ p: ArraySlice<Float>) {
            for j in 0..<k { probabilities[row * k + j] = p[p.startIndex + j] }
        }

        // Endpoints.
        let pa = try classifier.probabilities(a).scalars
        let pb = try classifier.probabilities(b).scalars
        queries += 2 * n
        var lo = [Float](repeating: 0, count: n), hi = [Float](repeating: 1, count: n)
        var active: [Int] = []
        for r in 0..<n {
            let fa = gap(pa[(r * k)..<((r + 1) * k)], r), fb = gap(pb[(r * k)..<((r + 1) * k)], r)
            record(r, pa[(r * k)..<((r + 1) * k)])
            if fa <= 0 {
                reasons[r] = "start point is not on the source side (p_s ≤ p_t there)"
            } else if fb >= 0 {
                reasons[r] = "end point is not on the target side (p_t ≤ p_s there)"
            } else {
                active.append(r)
            }
        }

        // Midpoints of a shrinking affine first layer: interpolate its outputs at the endpoints.
        let evaluator = AffineProbeEvaluator.splits(classifier)
            ? try AffineProbeEvaluator(classifier, anchors: Tensor.concatenate(batches: [a, b])) : nil
        for step in 1...configuration.maxSteps where !active.isEmpty {
            try checkStop()
            let p: [Float]
            var batch: [Float] = []
            if let evaluator {
                var indices = [Int](), weights = [Float]()
                indices.reserveCapacity(2 * active.count)
                weights.reserveCapacity(2 * active.count)
                for r in active {
                    let m = (lo[r] + hi[r]) / 2
                    lambdas[r] = m
                    indices += [r, n + r]
                    weights += [1 - m, m]
                }
                p = try evaluator.probabilities(indices: indices, weights: weights, arity: 2).scalars
            } else {
                batch = [Float](repeating: 0, count: active.count * d)
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        for (i, r) in active.enumerated() {
                            let m = (lo[r] + hi[r]) / 2
                            lambdas[r] = m
                            for j in 0..<d {
                                let x0 = ap[r * d + j]
                                batch[i * d + j] = x0 + m * (bp[r * d + j] - x0)
                            }
                        }
                    }
                }
                p = try classifier.probabilities(Tensor(shape: [active.count] + a.sampleShape, scalars: batch)).scalars
            }
            queries += active.count
            var still: [Int] = []
            for (i, r) in active.enumerated() {
                let row = p[(i * k)..<((i + 1) * k)]
                let f = gap(row, r)
                steps[r] = step
                record(r, row)
                if !batch.isEmpty { for j in 0..<d { points[r * d + j] = batch[i * d + j] } }
                if configuration.failOnThirdClassMidpoint {
                    var top = 0
                    for j in 1..<k where row[row.startIndex + j] > row[row.startIndex + top] { top = j }
                    if top != sources[r] && top != targets[r] {
                        reasons[r] = "a midpoint left both classes: class \(top) (\(classifier.className(top))) wins there"
                        continue
                    }
                }
                if abs(f) < beta {
                    var top = 0
                    for j in 1..<k where row[row.startIndex + j] > row[row.startIndex + top] { top = j }
                    if top == sources[r] || top == targets[r] {
                        succeeded[r] = true
                    } else {
                        reasons[r] = "a third class, \(top) (\(classifier.className(top))), wins where p_s = p_t on the segment"
                    }
                } else {
                    if f > 0 { lo[r] = lambdas[r] } else { hi[r] = lambdas[r] }
                    if step == configuration.maxSteps {
                        reasons[r] = "step cap of \(configuration.maxSteps) halvings reached with |p_s − p_t| still ≥ β = \(format(beta))"
                    } else {
                        still.append(r)
                    }
                }
            }
            active = still
        }
        if evaluator != nil {
            // The last midpoint of every row that took a step, by the same formula as above.
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    for r in 0..<n where steps[r] > 0 {
                        let m = lambdas[r]
                        for j in 0..<d {
                            let x0 = ap[r * d + j]
                            points[r * d + j] = x0 + m * (bp[r * d + j] - x0)
                        }
                    }
                }
            }
        }
        return Outcome(points: Tensor(shape: a.shape, scalars: points), probabilities: Tensor(shape: [n, k], scalars: probabilities),
                       lambdas: lambdas, steps: steps, succeeded: succeeded, failureReasons: reasons, queries: queries)
    }
}
