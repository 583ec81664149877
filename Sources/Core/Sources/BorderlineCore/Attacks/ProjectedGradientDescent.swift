import Foundation

/// Projected gradient descent (Madry et al. 2018) in an `L∞` or `L2` ball of radius `ε`.
///
/// From `x⁰ = x` (or a random point of the ball, `randomStart`), each of `steps` iterations
/// takes a step of size `α` on the cross-entropy loss and projects back:
///
///     g = s · ∇ₓ CE(Z(xᵏ), c)        s = +1, c = y (untargeted); s = −1, c = t (targeted)
///     L∞: xᵏ⁺¹ = clip_D(x + clamp(xᵏ + α sign(g) − x, −ε, ε))
///     L2: xᵏ⁺¹ = clip_D(x + Π_ε(xᵏ + α g/‖g‖₂ − x)),  Π_ε(δ) = δ · min(1, ε/‖δ‖₂)
///
/// i.e. projection onto the ε-ball first, then clipping to the domain `D` (which keeps the
/// point inside the ball, since clipping moves every coordinate towards `x ∈ D`). The random
/// start is uniform in the L∞ ball (each coordinate `U(−ε, ε)`), or uniform in the L2 ball
/// (a Gaussian direction scaled to radius `ε·u^{1/D}`, `u ~ U(0, 1)`), then clipped to `D`.
/// A row with an exactly-zero gradient does not move (L2), or does not move along that
/// coordinate (L∞, `sign(0) = 0`). The result is the last iterate. Every step is one forward
/// and one backward pass for the whole batch.
public struct ProjectedGradientDescent: AdversarialAttack {
    public var norm: AttackNorm
    public var epsilon: Float
    public var stepSize: Float
    public var steps: Int
    public var randomStart: Bool
    public var domain: ClosedRange<Float>
    public var name: String { norm == .linf ? "pgd-linf" : "pgd-l2" }

    public init(norm: AttackNorm, epsilon: Float, stepSize: Float, steps: Int,
                randomStart: Bool = true, domain: ClosedRange<Float> = 0...1) {
        self.norm = norm
        self.epsilon = epsilon
        self.stepSize = stepSize
        self.steps = steps
        self.randomStart = randomStart
        self.domain = domain
    }

    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        let classes = try AttackSupport.validate(classifier, inputs: inputs, labels: labels, goal: goal, domain: domain, attack: name)
        try AttackSupport.requireNonNegative(epsilon, "epsilon", attack: name)
        try AttackSupport.requireNonNegative(stepSize, "step size", attack: name)
        guard steps >= 0 else { throw BorderlineError(.invalidArgument, "\(name): steps must be ≥ 0, got \(steps)") }
        progress?.begin(name, total: steps)
        let x = try perturb(classifier, inputs: inputs, classes: classes, targeted: goal.isTargeted, seed: seed) { step in
            progress?.update(completed: step, detail: "")
        }
        let result = try AttackResult(classifier: classifier, inputs: inputs, adversarials: x, labels: labels, goal: goal)
        progress?.end(summary: String(format: "%@: %.1f%% succeeded", name, 100 * result.successRate))
        return result
    }

    /// The last iterate for a batch whose arguments were checked (`classes`: the steering class
    /// of every row). Adversarial training (``ClassifierTraining``) calls this directly, once
    /// per mini-batch, so no success bookkeeping is paid for.
    func perturb(_ classifier: any DifferentiableClassifier, inputs: Tensor, classes: [Int], targeted: Bool, seed: UInt64,
                 stepFinished: (Int) -> Void = { _ in }) throws -> Tensor {
        let n = inputs.batchSize, d = inputs.sampleCount
        var x = inputs
        if randomStart && n > 0 {
            var rng = RandomGenerator(seed: seed)
            let start = randomPoints(count: n, dimension: d, rng: &rng)
            x.withUnsafeMutableBufferPointer { p in
                start.withUnsafeBufferPointer { s in for i in 0..<p.count { p[i] += s[i] } }
            }
            project(&x, around: inputs)
        }
        for step in 0..<(n > 0 ? steps : 0) {
            let g = try AttackSupport.crossEntropyGradient(classifier, x, classes: classes, targeted: targeted)
            let alpha = stepSize
            x.withUnsafeMutableBufferPointer { p in
                g.withUnsafeBufferPointer { g in
                    switch norm {
                    case .linf:
                        for i in 0..<p.count { p[i] += alpha * AttackSupport.sign(g[i]) }
                    case .l2:
                        for r in 0..<n {
                            let gn = VectorKernels.dot(g.baseAddress! + r * d, g.baseAddress! + r * d, count: d).squareRoot()
                            guard gn > 0 else { continue }
                            let scale = alpha / gn
                            for i in r * d..<(r + 1) * d { p[i] += scale * g[i] }
                        }
                    }
                }
            }
            project(&x, around: inputs)
            stepFinished(step + 1)
        }
        return x
    }

    /// Perturbations uniform in the ε-ball of the attack's norm, one per row.
    private func randomPoints(count n: Int, dimension d: Int, rng: inout RandomGenerator) -> Tensor {
        switch norm {
        case .linf:
            return rng.uniform(shape: [n, d], low: -epsilon, high: epsilon)
        case .l2:
            var t = rng.normal(shape: [n, d])
            t.withUnsafeMutableBufferPointer { p in
                for r in 0..<n {
                    let len = VectorKernels.dot(p.baseAddress! + r * d, p.baseAddress! + r * d, count: d).squareRoot()
                    let radius = epsilon * Float(Foundation.pow(Double(rng.nextUniform()), 1 / Double(d)))
                    let scale = len > 0 ? radius / len : 0
                    for i in r * d..<(r + 1) * d { p[i] *= scale }
                }
            }
            return t
        }
    }

    /// `x ← clip_D(x₀ + Π_ε(x − x₀))` row by row.
    private func project(_ x: inout Tensor, around origin: Tensor) {
        let n = origin.batchSize, d = origin.sampleCount, eps = epsilon
        x.withUnsafeMutableBufferPointer { p in
            origin.withUnsafeBufferPointer { o in
                switch norm {
                case .linf:
                    for i in 0..<p.count { p[i] = o[i] + Swift.min(Swift.max(p[i] - o[i], -eps), eps) }
                case .l2:
                    for r in 0..<n {
                        var s: Float = 0
                        for i in r * d..<(r + 1) * d { let t = p[i] - o[i]; s += t * t }
                        let len = s.squareRoot()
                        guard len > eps else { continue }
                        let scale = eps / len
                        for i in r * d..<(r + 1) * d { p[i] = o[i] + (p[i] - o[i]) * scale }
                    }
                }
            }
            AttackSupport.clip(p, to: domain)
        }
    }
}
