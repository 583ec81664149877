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
/// coordinate (L∞, `sign(0) = 0`). `D` is the classifier's ``Classifier/inputBox`` unless
/// `domain` overrides it. Every step is one forward and one backward pass for the whole batch.
///
/// **Result.** With `bestIterate == false` a run's result is its last iterate; with `true` it is
/// its best iterate `x⁰ … x^steps`, ranked by (goal met, objective `s · CE`) — the first
/// criterion first. With `restarts = R > 1` the attack runs `R` times from independent random
/// starts and keeps, per row, the best of the runs' results by the same ranking, so success is
/// monotone in `R` (restart `0` is the single run's start; restart `i` draws from `seed` and `i`).
public struct ProjectedGradientDescent: AdversarialAttack {
    public var norm: AttackNorm
    public var epsilon: Float
    public var stepSize: Float
    public var steps: Int
    public var randomStart: Bool
    /// Independent runs (≥ 1); per row the best run's result is kept.
    public var restarts: Int
    /// Return each run's best iterate rather than its last.
    public var bestIterate: Bool
    /// One interval for every element; nil (the default): the classifier's input box.
    public var domain: ClosedRange<Float>?
    public var name: String { norm == .linf ? "pgd-linf" : "pgd-l2" }

    public init(norm: AttackNorm, epsilon: Float, stepSize: Float, steps: Int,
                randomStart: Bool = true, restarts: Int = 1, bestIterate: Bool = false, domain: ClosedRange<Float>? = nil) {
        self.norm = norm
        self.epsilon = epsilon
        self.stepSize = stepSize
        self.steps = steps
        self.randomStart = randomStart
        self.restarts = restarts
        self.bestIterate = bestIterate
        self.domain = domain
    }

    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        let classes = try AttackSupport.validate(classifier, inputs: inputs, labels: labels, goal: goal, domain: domain, attack: name)
        try AttackSupport.requireNonNegative(epsilon, "epsilon", attack: name)
        try AttackSupport.requireNonNegative(stepSize, "step size", attack: name)
        guard steps >= 0 else { throw BorderlineError(.invalidArgument, "\(name): steps must be ≥ 0, got \(steps)") }
        guard restarts >= 1 else { throw BorderlineError(.invalidArgument, "\(name): restarts must be ≥ 1, got \(restarts)") }
        let box = try AttackSupport.box(domain, for: classifier, attack: name)
        let n = inputs.batchSize, d = inputs.sampleCount
        // Per row, the best result so far (over iterates when bestIterate, over restarts always).
        var best = inputs
        var bestSuccess = [Bool](repeating: false, count: n)
        var bestLoss = [Float](repeating: -.infinity, count: n)
        var bestSet = [Bool](repeating: false, count: n)
        func consider(_ x: Tensor, logits: Tensor) {
            let (loss, success) = AttackSupport.objective(logits: logits, classes: classes, labels: labels, goal: goal)
            var better: [Int] = []
            for r in 0..<n where !bestSet[r] || (success[r] && !bestSuccess[r]) || (success[r] == bestSuccess[r] && loss[r] > bestLoss[r]) {
                bestSet[r] = true; bestSuccess[r] = success[r]; bestLoss[r] = loss[r]
                better.append(r)
            }
            guard !better.isEmpty else { return }
            best.withUnsafeMutableBufferPointer { b in
                x.withUnsafeBufferPointer { p in
                    for r in better { (b.baseAddress! + r * d).update(from: p.baseAddress! + r * d, count: d) }
                }
            }
        }
        progress?.begin(name, total: steps * restarts)
        let targeted = goal.isTargeted
        for restart in 0..<(n > 0 ? restarts : 0) {
            var x = start(inputs, seed: restart == 0 ? seed : nil, restart: restart, originalSeed: seed, box: box)
            for step in 0..<steps {
                let pass = try AttackSupport.crossEntropyVJP(classifier, x, classes: classes, targeted: targeted)
                if bestIterate { consider(x, logits: pass.output) }   // scores xᵏ from the pass that steps from it
                ascend(&x, along: pass.inputGradient)
                project(&x, around: inputs, box: box)
                progress?.update(completed: restart * steps + step + 1, detail: restarts > 1 ? "restart \(restart + 1)/\(restarts)" : "")
            }
            // The last iterate: the single run's answer, and a candidate of every ranking.
            if restarts == 1 && !bestIterate { best = x } else { consider(x, logits: try classifier.logits(x)) }
        }
        let result = try AttackResult(classifier: classifier, inputs: inputs, adversarials: best, labels: labels, goal: goal)
        progress?.end(summary: String(format: "%@: %.1f%% succeeded", name, 100 * result.successRate))
        return result
    }

    /// The last iterate of one run for a batch whose arguments were checked (`classes`: the
    /// steering class of every row). Adversarial training (``ClassifierTraining``) calls this
    /// directly, once per mini-batch, so no success bookkeeping is paid for.
    func perturb(_ classifier: any DifferentiableClassifier, inputs: Tensor, classes: [Int], targeted: Bool, seed: UInt64,
                 stepFinished: (Int) -> Void = { _ in }) throws -> Tensor {
        let box = try AttackSupport.box(domain, for: classifier, attack: name)
        var x = start(inputs, seed: seed, restart: 0, originalSeed: seed, box: box)
        for step in 0..<(inputs.batchSize > 0 ? steps : 0) {
            ascend(&x, along: try AttackSupport.crossEntropyGradient(classifier, x, classes: classes, targeted: targeted))
            project(&x, around: inputs, box: box)
            stepFinished(step + 1)
        }
        return x
    }

    /// `x⁰`: the inputs, or with `randomStart` a random point of the ε-ball around them (restart
    /// 0 draws from `seed`, restart `i` from a stream derived from the seed and `i`).
    private func start(_ inputs: Tensor, seed: UInt64?, restart: Int, originalSeed: UInt64, box: InputBox) -> Tensor {
        var x = inputs
        guard randomStart, inputs.batchSize > 0 else { return x }
        var rng = seed.map { RandomGenerator(seed: $0) } ?? RandomGenerator(seed: originalSeed).derived(UInt64(restart))
        let offsets = randomPoints(count: inputs.batchSize, dimension: inputs.sampleCount, rng: &rng)
        x.withUnsafeMutableBufferPointer { p in
            offsets.withUnsafeBufferPointer { s in for i in 0..<p.count { p[i] += s[i] } }
        }
        project(&x, around: inputs, box: box)
        return x
    }

    /// One step of size `α` along `sign(g)` (L∞) or `g/‖g‖₂` (L2), row by row.
    private func ascend(_ x: inout Tensor, along g: Tensor) {
        let n = x.batchSize, d = x.sampleCount, alpha = stepSize
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
    private func project(_ x: inout Tensor, around origin: Tensor, box: InputBox) {
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
        }
        box.clamp(&x)
    }
}
