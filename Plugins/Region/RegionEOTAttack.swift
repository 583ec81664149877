import BorderlineCore
import Foundation

/// An adaptive attack on the region classifier: PGD-L∞ with expectation over transformation
/// (EOT; Athalye, Carlini & Wagner 2018, "Obfuscated Gradients Give a False Sense of Security").
///
/// **Maths.** The region classifier `g_r(x) = argmax_k Pr_δ[f(clip(x + rδ)) = k]`,
/// `δ ~ U([−1, 1]^D)`, has no useful gradient (a vote), so the attack ascends the expected loss
/// of the point classifier over the region's own transformation instead:
///
///     ĝ(x) = (1/s) Σ_{j=1…s} ∇ₓ CE(Z(clip(x + r δ_j)), y),   δ_j ~ U([−1, 1]^D) fresh at every step
///     x ← clip_B(x₀ + clamp(x + α sign(ĝ(x)) − x₀, −ε, ε))
///
/// from a uniform random start in the ε-ball, `steps` times (`B` the model's input box; the
/// clip inside the expectation passes the gradient only where `x + rδ_j` lies inside `B`). The
/// result is the last iterate; it succeeds when the region classifier itself (its `m` votes, not
/// the `s` EOT samples) no longer predicts `y`. One forward and one backward pass of `N·s`
/// points per step (in chunks of at most `pointsPerBatch`).
public struct RegionEOTAttack: Sendable {
    public var epsilon: Float
    public var stepSize: Float
    public var steps: Int
    /// `s`, the transformation samples per step.
    public var samples: Int
    public var pointsPerBatch = 8192
    public var name: String { "eot-pgd-linf" }

    public init(epsilon: Float, stepSize: Float, steps: Int, samples: Int) {
        self.epsilon = epsilon
        self.stepSize = stepSize
        self.steps = steps
        self.samples = samples
    }

    /// The adversarials of `inputs` (labels `labels`) against the region classifier `region`
    /// whose base is `model`'s function; `succeeded` by `region`'s predictions.
    public func attack(_ model: any DifferentiableClassifier, region: RegionClassifier, inputs: Tensor, labels: [Int],
                       seed: UInt64, checkStop: () throws -> Void = {}) throws -> AttackOutcome {
        try model.checkBatch(inputs)
        guard labels.count == inputs.batchSize else {
            throw BorderlineError(.invalidArgument, "\(name): \(labels.count) labels for \(inputs.batchSize) inputs")
        }
        guard epsilon.isFinite, epsilon >= 0, stepSize.isFinite, stepSize >= 0, steps >= 0, samples >= 1 else {
            throw BorderlineError(.invalidArgument, "\(name): needs ε ≥ 0, step size ≥ 0, steps ≥ 0 and samples ≥ 1 (got \(epsilon), \(stepSize), \(steps), \(samples))")
        }
        let t0 = Date()
        let n = inputs.batchSize, d = inputs.sampleCount, s = samples, k = model.classCount, r = region.radius
        let box = region.box
        var rng = RandomGenerator(seed: seed)
        var x = inputs
        if n > 0 {
            let start = rng.uniform(shape: [n, d], low: -epsilon, high: epsilon)
            x.withUnsafeMutableBufferPointer { p in start.withUnsafeBufferPointer { q in for i in 0..<p.count { p[i] += q[i] } } }
            box.clamp(&x)
        }
        let rowsPerChunk = Swift.max(1, pointsPerBatch / s)
        for _ in 0..<(n > 0 ? steps : 0) {
            try checkStop()
            var gradient = [Float](repeating: 0, count: n * d)
            var start = 0
            while start < n {
                let end = Swift.min(n, start + rowsPerChunk), rows = end - start
                let offsets = rng.uniform(shape: [rows * s, d], low: -1, high: 1)
                let raw = Tensor(shape: [rows * s] + inputs.sampleShape) { out in
                    x.withUnsafeBufferPointer { xs in
                        offsets.withUnsafeBufferPointer { o in
                            for i in 0..<rows {
                                for j in 0..<s {
                                    let row = (i * s + j) * d, xi = (start + i) * d
                                    for c in 0..<d { out[row + c] = xs[xi + c] + r * o[row + c] }
                                }
                            }
                        }
                    }
                }
                let points = box.clamped(raw)
                let pass = try model.vjp(points) { z, batchRows in
                    var v = z.softmaxRows()
                    v.withUnsafeMutableBufferPointer { p in
                        for (local, b) in batchRows.enumerated() { p[local * k + labels[start + b / s]] -= 1 }
                    }
                    return v
                }
                // Average over the samples, passing the gradient only where the clip did not bind.
                pass.inputGradient.withUnsafeBufferPointer { g in
                    raw.withUnsafeBufferPointer { rp in
                        points.withUnsafeBufferPointer { pp in
                            for i in 0..<rows {
                                let gi = (start + i) * d
                                for j in 0..<s {
                                    let row = (i * s + j) * d
                                    for c in 0..<d where rp[row + c] == pp[row + c] { gradient[gi + c] += g[row + c] }
                                }
                            }
                        }
                    }
                }
                start = end
            }
            let alpha = stepSize, eps = epsilon
            x.withUnsafeMutableBufferPointer { p in
                inputs.withUnsafeBufferPointer { o in
                    for i in 0..<p.count {
                        let g = gradient[i], stepped = p[i] + alpha * (g > 0 ? 1 : (g < 0 ? -1 : 0))
                        p[i] = o[i] + Swift.min(Swift.max(stepped - o[i], -eps), eps)
                    }
                }
            }
            box.clamp(&x)
        }
        let predicted = try region.predictions(x)
        return AttackOutcome(name: name, adversarials: x, succeeded: predicted.indices.map { predicted[$0] != labels[$0] },
                             rmsDistortion: AttackResult.rmsDistances(inputs, x), seconds: Date().timeIntervalSince(t0))
    }
}
