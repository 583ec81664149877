import BorderlineCore
import Foundation

/// Per-row distances between two batches: L1, L2 and L∞ of `b − a`.
public struct RowDistances {
    public var l1: [Float]
    public var l2: [Float]
    public var linf: [Float]

    public static func between(_ a: Tensor, _ b: Tensor) -> RowDistances {
        let n = a.batchSize, d = a.sampleCount
        var l1 = [Float](repeating: 0, count: n), l2 = l1, li = l1
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for r in 0..<n {
                    var s1: Float = 0, s2: Float = 0, m: Float = 0
                    for j in 0..<d {
                        let v = abs(pb[r * d + j] - pa[r * d + j])
                        s1 += v; s2 += v * v; m = max(m, v)
                    }
                    l1[r] = s1; l2[r] = s2.squareRoot(); li[r] = m
                }
            }
        }
        return RowDistances(l1: l1, l2: l2, linf: li)
    }
}

/// The jacobian flip point search (Gupta, Algorithms 1–2), batched.
///
/// For every row `x₀` with top-1 class `a`: `g = ∇ₓ f_a(x₀)` (f = logit, or softmax probability),
/// one backward pass for the batch. Then `x(α) = clip(x₀ − α g)` for `α = α₀, 10α₀, 100α₀, …` up to
/// `maxAlpha` (one batched forward per α for the rows not flipped yet) until the top-1 class is no
/// longer `a`. Between the last unflipped `α_lo` (0 for the first step) and the first flipped
/// `α_hi` the search bisects on α (Algorithm 1; with clipping the path is not a straight line, so
/// bisecting in α keeps the points on it) until, at `x(α_hi)`, `|p_a − p_b| < tolerance` with `b`
/// its top-1 class, or `maxSteps` halvings. The flip point reported is always `x(α_hi)`: it is
/// classified differently from `x₀` by construction.
public enum JacobianFlipSearch {
    public struct Configuration: Sendable {
        public var alphaStart: Float = 1
        public var alphaGrowth: Float = 10
        public var maxAlpha: Float = 1e10
        public var tolerance: Float = 1e-4
        public var maxSteps: Int = 60
        public var clip: ClosedRange<Float>? = 0...1
        public var output: ClassifierOutput = .logits
        public var batchSize: Int = 256
        public init() {}
    }

    /// Encoded as its raw value (results.h5 `status`: 0, 1, 2).
    public enum Status: Int, Encodable, Sendable { case resolved = 0, capped = 1, neverFlipped = 2 }

    public struct Outcome {
        /// The flip point (`x(α_hi)`), or the start point for rows that never flipped.
        public var points: Tensor
        public var probabilities: Tensor
        public var startClasses: [Int]
        /// The class at the flip point (−1 when the row never flipped).
        public var flipClasses: [Int]
        public var alphas: [Float]
        public var status: [Status]
        public var steps: [Int]
        public var gaps: [Float]
        public var queries: Int
    }

    static func point(_ x0: UnsafeBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>, row r: Int, d: Int,
                      alpha: Float, clip: ClosedRange<Float>?, into out: UnsafeMutablePointer<Float>) {
        for j in 0..<d {
            var v = x0[r * d + j] - alpha * g[r * d + j]
            if let clip { v = min(max(v, clip.lowerBound), clip.upperBound) }
            out[j] = v
        }
    }

    static func build(_ x0: Tensor, _ g: Tensor, rows: [Int], alphas: [Float], clip: ClosedRange<Float>?) -> Tensor {
        let d = x0.sampleCount
        return Tensor(shape: [rows.count] + x0.sampleShape) { out in
            x0.withUnsafeBufferPointer { px in
                g.withUnsafeBufferPointer { pg in
                    for (i, r) in rows.enumerated() {
                        point(px, pg, row: r, d: d, alpha: alphas[i], clip: clip, into: out.baseAddress! + i * d)
                    }
                }
            }
        }
    }

    /// Runs the search over `x` in batches of `configuration.batchSize`.
    public static func search(_ model: any DifferentiableClassifier, _ x: Tensor, configuration c: Configuration = Configuration(),
                              checkStop: () throws -> Void = {}) throws -> Outcome {
        try model.checkBatch(x)
        let parts = try inBatches(x, size: c.batchSize, checkStop: checkStop) { batch in
            try searchBatch(model, batch, configuration: c, checkStop: checkStop)
        }
        if parts.isEmpty {
            return Outcome(points: x, probabilities: Tensor(zeros: [0, model.classCount]), startClasses: [], flipClasses: [],
                           alphas: [], status: [], steps: [], gaps: [], queries: 0)
        }
        return Outcome(points: Tensor.concatenate(batches: parts.map(\.points)),
                       probabilities: Tensor.concatenate(batches: parts.map(\.probabilities)),
                       startClasses: parts.flatMap(\.startClasses), flipClasses: parts.flatMap(\.flipClasses),
                       alphas: parts.flatMap(\.alphas), status: parts.flatMap(\.status), steps: parts.flatMap(\.steps),
                       gaps: parts.flatMap(\.gaps), queries: parts.reduce(0) { $0 + $1.queries })
    }

    static func searchBatch(_ model: any DifferentiableClassifier, _ x0: Tensor, configuration c: Configuration,
                            checkStop: () throws -> Void) throws -> Outcome {
        let n = x0.batchSize, k = model.classCount, d = x0.sampleCount
        var queries = 0
        // One forward for the classes, one backward (with its forward) for the gradients.
        let p0 = try model.probabilities(x0)
        queries += n
        let a = p0.argmaxRows()
        var v = [Float](repeating: 0, count: n * k)
        for r in 0..<n { v[r * k + a[r]] = 1 }
        let g = try model.vjp(x0, cotangent: Tensor(shape: [n, k], scalars: v), of: c.output).inputGradient
        queries += n

        // Phase 1: α grows until the label changes.
        var lo = [Float](repeating: 0, count: n)
        var hi = [Float](repeating: .nan, count: n)
        var alpha = [Float](repeating: c.alphaStart, count: n)
        var active = Array(0..<n)
        var hiProbs = [Float](repeating: 0, count: n * k)
        while !active.isEmpty {
            try checkStop()
            let px = try model.probabilities(build(x0, g, rows: active, alphas: active.map { alpha[$0] }, clip: c.clip))
            queries += active.count
            let pred = px.argmaxRows()
            var next: [Int] = []
            for (i, r) in active.enumerated() {
                if pred[i] != a[r] {
                    hi[r] = alpha[r]
                    for j in 0..<k { hiProbs[r * k + j] = px.scalars[i * k + j] }
                } else {
                    lo[r] = alpha[r]
                    let grown = alpha[r] * c.alphaGrowth
                    if grown <= c.maxAlpha && grown.isFinite && grown > alpha[r] { alpha[r] = grown; next.append(r) }
                }
            }
            active = next
        }

        // Phase 2: bisection on α between lo and hi for the flipped rows.
        var steps = [Int](repeating: 0, count: n)
        func gap(_ r: Int) -> Float {
            var b = -1, best = -Float.infinity
            for j in 0..<k where j != a[r] && hiProbs[r * k + j] > best { best = hiProbs[r * k + j]; b = j }
            return abs(hiProbs[r * k + a[r]] - hiProbs[r * k + b])
        }
        active = (0..<n).filter { !hi[$0].isNaN && gap($0) >= c.tolerance }
        while !active.isEmpty {
            try checkStop()
            let mids = active.map { (lo[$0] + hi[$0]) / 2 }
            let px = try model.probabilities(build(x0, g, rows: active, alphas: mids, clip: c.clip))
            queries += active.count
            let pred = px.argmaxRows()
            var next: [Int] = []
            for (i, r) in active.enumerated() {
                steps[r] += 1
                let stuck = mids[i] <= lo[r] || mids[i] >= hi[r]   // α resolution of Float exhausted
                if pred[i] == a[r] { lo[r] = mids[i] } else {
                    hi[r] = mids[i]
                    for j in 0..<k { hiProbs[r * k + j] = px.scalars[i * k + j] }
                }
                if gap(r) >= c.tolerance && steps[r] < c.maxSteps && !stuck { next.append(r) }
            }
            active = next
        }

        // The points and their classes.
        let flipped = (0..<n).filter { !hi[$0].isNaN }
        var points = x0
        var flipClasses = [Int](repeating: -1, count: n)
        var status = [Status](repeating: .neverFlipped, count: n)
        var gaps = [Float](repeating: .nan, count: n)
        var probs = p0
        if !flipped.isEmpty {
            let pts = build(x0, g, rows: flipped, alphas: flipped.map { hi[$0] }, clip: c.clip)
            points.withUnsafeMutableBufferPointer { out in
                pts.withUnsafeBufferPointer { src in
                    for (i, r) in flipped.enumerated() {
                        (out.baseAddress! + r * d).update(from: src.baseAddress! + i * d, count: d)
                    }
                }
            }
            probs.withUnsafeMutableBufferPointer { out in
                for r in flipped { for j in 0..<k { out[r * k + j] = hiProbs[r * k + j] } }
            }
            for r in flipped {
                var b = -1, best = -Float.infinity
                for j in 0..<k where hiProbs[r * k + j] > best { best = hiProbs[r * k + j]; b = j }
                flipClasses[r] = b
                gaps[r] = gap(r)
                status[r] = gaps[r] < c.tolerance ? .resolved : .capped
            }
        }
        return Outcome(points: points, probabilities: probs, startClasses: a, flipClasses: flipClasses,
                       alphas: (0..<n).map { hi[$0].isNaN ? .nan : hi[$0] }, status: status, steps: steps, gaps: gaps,
                       queries: queries)
    }
}
