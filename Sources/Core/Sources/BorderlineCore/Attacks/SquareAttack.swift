import Foundation

/// An attack that needs the classifier's scores (probabilities) only: no gradients, exact or
/// estimated. ``attack(scores:inputs:labels:goal:seed:progress:)`` takes any ``Classifier`` —
/// a ``BlackBoxClassifier`` too; the ``AdversarialAttack`` entry point calls it.
public protocol ScoreBasedAttack: AdversarialAttack {
    func attack(scores classifier: any Classifier, inputs: Tensor, labels: [Int],
                goal: AttackGoal, seed: UInt64, progress: (any ProgressReporter)?) throws -> AttackResult
}

/// The Square Attack in L∞ (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020): a score-based
/// black-box random search. It queries probabilities only and reports, per row, the queries it
/// spent (``AttackResult/queries``).
///
/// For a row `x` with label `y` (target `t` when targeted), on the log-probabilities
/// `ℓ = log p(x)` (logits up to a per-row constant, so the margin is the logit margin):
///
///     untargeted: margin m = ℓ_y − max_{j≠y} ℓ_j,   loss L = m
///     targeted:   margin m = max_{j≠t} ℓ_j − ℓ_t,   loss L = −ℓ_t   (cross-entropy, as the reference)
///
/// and the row succeeds when `m < 0`. Start: vertical stripes, `x̂ = clip_D(x + δ)` with
/// `δ[c, ·, w] = ±ε` (one random sign per channel and column). Then, for `i = 1 … iterations−1`,
/// on every row not yet successful: a square side `s = max(1, round(√(p_i · C·H·W / C)))`,
/// `s ≤ H − 1`, with `p_i` the reference's schedule (`p_init` halved at iterations 10, 50, 200,
/// 500, 1000, 2000, 4000, 6000, 8000 of 10,000, scaled to `iterations`); a random window
/// `[h, h+s) × [w, w+s)`; the candidate takes the current perturbation `x̂ − x` and sets the window
/// to `±ε` (one random sign per channel, redrawn until the clipped window differs from the current
/// one); `x̂ ← clip_D(x + δ)` when its loss is lower. Every candidate is one query; the start is
/// one. So `‖x̂ − x‖∞ ≤ ε` and `x̂ ∈ D` (the classifier's ``Classifier/inputBox`` unless `domain`
/// overrides it) always.
///
/// As in the reference `square_attack_linf` except that each row draws its own window (the
/// reference draws one per iteration for the whole batch) from `seed` and its row index, so a row's
/// result does not depend on the batch it is in. Inputs must be images `[C, H, W]` with `H ≥ 2`.
public struct SquareAttack: ScoreBasedAttack {
    public var epsilon: Float
    /// Queries per row, the start included (the reference's `n_iters`, 10,000 there).
    public var iterations: Int
    /// Initial fraction of the image a square covers (the reference's default 0.05).
    public var pInit: Float
    /// One interval for every element; nil (the default): the classifier's input box.
    public var domain: ClosedRange<Float>?
    public var name: String { "square-linf" }

    public init(epsilon: Float, iterations: Int = 1000, pInit: Float = 0.05, domain: ClosedRange<Float>? = nil) {
        self.epsilon = epsilon
        self.iterations = iterations
        self.pInit = pInit
        self.domain = domain
    }

    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        try attack(scores: classifier, inputs: inputs, labels: labels, goal: goal, seed: seed, progress: progress)
    }

    /// The reference's schedule of the square's area fraction at iteration `it` of `n`.
    public static func fraction(pInit: Float, iteration it: Int, of n: Int) -> Float {
        let i = Int(Double(it) / Double(max(1, n)) * 10_000)
        let halvings: Int
        switch i {
        case ...10: halvings = 0
        case ...50: halvings = 1
        case ...200: halvings = 2
        case ...500: halvings = 3
        case ...1000: halvings = 4
        case ...2000: halvings = 5
        case ...4000: halvings = 6
        case ...6000: halvings = 7
        case ...8000: halvings = 8
        default: halvings = 9
        }
        return pInit / Float(1 << halvings)
    }

    public func attack(scores classifier: any Classifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        let classes = try AttackSupport.validate(classifier, inputs: inputs, labels: labels, goal: goal, domain: domain, attack: name)
        try AttackSupport.requireNonNegative(epsilon, "epsilon", attack: name)
        guard iterations >= 1 else { throw BorderlineError(.invalidArgument, "\(name): iterations (queries per image) must be ≥ 1, got \(iterations)") }
        guard pInit.isFinite, pInit > 0, pInit <= 1 else { throw BorderlineError(.invalidArgument, "\(name): p-init must be in (0, 1], got \(pInit)") }
        let shape = classifier.inputShape
        guard shape.count == 3, shape[1] >= 2, shape[2] >= 1 else {
            throw BorderlineError(.invalidArgument, "\(name): needs image inputs [C, H, W] with H ≥ 2; the model's input shape is \(shape)")
        }
        let box = try AttackSupport.box(domain, for: classifier, attack: name)
        let (lower, upper) = AttackSupport.elementBounds(box, sampleShape: shape)
        let ch = shape[0], height = shape[1], width = shape[2]
        let n = inputs.batchSize, d = inputs.sampleCount, k = classifier.classCount
        let targeted = goal.isTargeted
        let eps = epsilon
        var queries = [Int](repeating: 0, count: n)
        guard n > 0 else { return try AttackResult(classifier: classifier, inputs: inputs, adversarials: inputs, labels: labels, goal: goal) }
        let x = inputs.scalars
        @inline(__always) func clip(_ v: Float, _ q: Int) -> Float { min(max(v, lower[q]), upper[q]) }
        var generators = (0..<n).map { RandomGenerator(seed: seed).derived(0x5351_5541_5245 &+ UInt64($0)) }   // "SQUARE"
        // Margin and loss of every row of a batch of candidates (rows[i] is the row of candidate i).
        func evaluate(_ candidates: [Float], rows: [Int]) throws -> (margin: [Double], loss: [Double]) {
            let p = try classifier.probabilities(Tensor(shape: [rows.count] + shape, scalars: candidates))
            var margin = [Double](repeating: 0, count: rows.count), loss = margin
            p.withUnsafeBufferPointer { p in
                for (i, r) in rows.enumerated() {
                    let c = classes[r]
                    func logp(_ j: Int) -> Double { Foundation.log(Swift.max(Double(p[i * k + j]), 1e-300)) }
                    var other = -Double.infinity
                    for j in 0..<k where j != c { other = Swift.max(other, logp(j)) }
                    margin[i] = targeted ? other - logp(c) : logp(c) - other
                    loss[i] = targeted ? -logp(c) : margin[i]
                }
            }
            for r in rows { queries[r] += 1 }
            return (margin, loss)
        }
        // Start: vertical stripes of ±ε.
        var best = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            for c in 0..<ch {
                for j in 0..<width {
                    let s: Float = generators[r].next() & 1 == 0 ? -eps : eps
                    for i in 0..<height {
                        let q = (c * height + i) * width + j
                        best[r * d + q] = clip(x[r * d + q] + s, q)
                    }
                }
            }
        }
        progress?.begin(name, total: iterations)
        var (margin, loss) = try evaluate(best, rows: Array(0..<n))
        var it = 1
        while it < iterations {
            let active = (0..<n).filter { margin[$0] >= 0 }
            if active.isEmpty { break }
            let p = Self.fraction(pInit: pInit, iteration: it - 1, of: iterations)
            let side = min(max(1, Int((Double(p) * Double(height * width)).squareRoot().rounded())), height - 1)
            var candidates = [Float](repeating: 0, count: active.count * d)
            for (a, r) in active.enumerated() {
                let h0 = Int(generators[r].next() % UInt64(max(1, height - side)))
                let w0 = Int(generators[r].next() % UInt64(max(1, width - side)))
                let base = r * d, out = a * d
                for q in 0..<d { candidates[out + q] = best[base + q] }
                // One sign per channel for the window, redrawn (up to 10 times) until the
                // clipped window differs from the current best somewhere.
                for _ in 0..<10 {
                    var differs = false
                    for c in 0..<ch {
                        let s: Float = generators[r].next() & 1 == 0 ? -eps : eps
                        for i in h0..<min(height, h0 + side) {
                            for j in w0..<min(width, w0 + side) {
                                let q = (c * height + i) * width + j
                                let v = clip(x[base + q] + s, q)
                                candidates[out + q] = v
                                if abs(v - best[base + q]) >= 1e-7 { differs = true }
                            }
                        }
                    }
                    if differs { break }
                }
            }
            let (m, l) = try evaluate(candidates, rows: active)
            for (a, r) in active.enumerated() where l[a] < loss[r] {
                loss[r] = l[a]
                margin[r] = m[a]
                for q in 0..<d { best[r * d + q] = candidates[a * d + q] }
            }
            it += 1
            if it % 50 == 0 || it == iterations {
                progress?.update(completed: it, detail: "\(n - active.count)/\(n) rows fooled")
            }
        }
        var result = try AttackResult(classifier: classifier, inputs: inputs, adversarials: Tensor(shape: inputs.shape, scalars: best),
                                      labels: labels, goal: goal)
        result.queries = queries
        progress?.end(summary: String(format: "square-linf: %.1f%% succeeded", 100 * result.successRate))
        return result
    }
}
