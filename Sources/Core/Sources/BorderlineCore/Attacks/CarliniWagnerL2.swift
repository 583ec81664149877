import Foundation

/// The Carlini–Wagner L2 attack (Carlini & Wagner, "Towards Evaluating the Robustness of Neural
/// Networks", 2017), batched over rows.
///
/// **Maths.** The adversarial is parametrised through `tanh` so it always lies in the domain
/// `[lo, hi]` — the classifier's ``Classifier/inputBox`` (per element; per channel when the box
/// is) unless `domain` overrides it: `x′(w) = b₊ + b× tanh(w + w₀)` with `b₊ = (hi + lo)/2`, `b× = (hi − lo)/2` and
/// `w₀ = atanh(0.999999 (x − b₊)/b×)`. For a constant `c` it minimises with Adam (learning rate
/// `lr`, β = (0.9, 0.999), ε̂ = 1e−8, from `w = 0`) over `iterations` steps
///
///     L(w) = ‖x′ − x̃‖₂² + c · ℓ(Z(x′)),     x̃ = b₊ + b× tanh(w₀)
///     ℓ = max(max_{j≠t} Z_j − Z_t + κ, 0)        targeted (class t)
///     ℓ = max(Z_y − max_{j≠y} Z_j + κ, 0)        untargeted (true class y)
///
/// (the brief's `max(…, −κ)` up to the constant κ). An iterate counts as successful when
/// `argmax(Z − κ e_t) = t` (targeted) or `argmax(Z + κ e_y) ≠ y` (untargeted); the successful
/// iterate of smallest `‖x′ − x̃‖₂` over the whole run is kept per row. Each row has its own `c`,
/// searched over `binarySearchSteps` outer steps: from `initialConstant`, after a step in which the
/// row succeeded `c_hi = min(c_hi, c)`, otherwise `c_lo = max(c_lo, c)`; then `c = (c_lo + c_hi)/2`
/// once an upper bound is known, else `c ← 10c` (with ≥ 10 steps the last one uses `c_hi`, as in
/// the reference code). Early abort, per row: every `⌊iterations/10⌋` iterations a row whose loss
/// is above 0.9999 × its loss at the previous check stops for this outer step.
///
/// **Batching.** All still-running rows, each with its own `c`, go through one forward and one
/// backward pass per iteration (the margin cotangent `±c (e_j − e_t)` is computed from that pass's
/// logits). Rows that never succeed are returned unchanged.
///
/// **Defaults** are Carlini & Wagner's reference code (`l2_attack.py`): κ = 0, c₀ = 10⁻³,
/// 9 binary-search steps, learning rate 10⁻², early abort — except 1000 rather than 10,000
/// iterations per step (a tenth of the worst-case time; `iterations` sets the reference's).
public struct CarliniWagnerL2: AdversarialAttack, Sendable {
    public var confidence: Float
    public var initialConstant: Float
    public var binarySearchSteps: Int
    public var iterations: Int
    public var learningRate: Float
    public var abortEarly: Bool
    /// One interval for every element; nil (the default): the classifier's input box.
    public var domain: ClosedRange<Float>?
    public var name: String { "cw-l2" }

    public init(confidence: Float = 0, initialConstant: Float = 1e-3, binarySearchSteps: Int = 9,
                iterations: Int = 1000, learningRate: Float = 1e-2, abortEarly: Bool = true,
                domain: ClosedRange<Float>? = nil) {
        self.confidence = confidence
        self.initialConstant = initialConstant
        self.binarySearchSteps = binarySearchSteps
        self.iterations = iterations
        self.learningRate = learningRate
        self.abortEarly = abortEarly
        self.domain = domain
    }

    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        let classes = try validate(classifier, inputs: inputs, labels: labels, goal: goal, attack: name)
        let adversarials = try optimise(classifier, inputs: inputs, classes: classes, targeted: goal.isTargeted,
                                        perturbations: nil, copies: 1, task: name, progress: progress)
        return try AttackResult(classifier: classifier, inputs: inputs, adversarials: adversarials, labels: labels, goal: goal)
    }

    func validate(_ classifier: any Classifier, inputs: Tensor, labels: [Int], goal: AttackGoal, attack: String) throws -> [Int] {
        let classes = try AttackSupport.validate(classifier, inputs: inputs, labels: labels, goal: goal, domain: domain, attack: attack)
        try AttackSupport.requireNonNegative(confidence, "confidence κ", attack: attack)
        try AttackSupport.requireNonNegative(learningRate, "learning rate", attack: attack)
        guard initialConstant.isFinite, initialConstant > 0 else {
            throw BorderlineError(.invalidArgument, "\(attack): the initial constant c must be > 0, got \(initialConstant)")
        }
        guard binarySearchSteps >= 1, iterations >= 1 else {
            throw BorderlineError(.invalidArgument, "\(attack): binary-search steps (\(binarySearchSteps)) and iterations (\(iterations)) must be ≥ 1")
        }
        // The tanh change of variables needs every input strictly inside a box of positive width.
        let box = try AttackSupport.box(domain, for: classifier, attack: attack)
        for c in 0..<box.channelCount where !(box.bounds(channel: c).lower < box.bounds(channel: c).upper) {
            throw BorderlineError(.invalidArgument, "\(attack): the input box \(box) has no width\(box.isUniform ? "" : " in channel \(c)"); the tanh change of variables needs lower < upper")
        }
        guard box.contains(inputs, tolerance: 1e-6) else {
            throw BorderlineError(.invalidArgument, "\(attack): some inputs lie outside the input box \(box) (the model's valid inputs); scale the data to the model's box")
        }
        return classes
    }

    /// The optimisation shared with ``OptMargin``: the margin term is summed over `copies`
    /// evaluations of the classifier at `x′ + v_{n,i}` (`perturbations`: `[N, copies, D]`, nil
    /// for the single unperturbed copy), and an iterate succeeds only when every copy does.
    /// Returns the best adversarial per row (the input where none succeeded).
    func optimise(_ classifier: any DifferentiableClassifier, inputs: Tensor, classes: [Int], targeted: Bool,
                  perturbations: [Float]?, copies: Int, task: String, progress: (any ProgressReporter)?) throws -> Tensor {
        let n = inputs.batchSize, d = inputs.sampleCount, k = classifier.classCount
        guard n > 0 else { return inputs }
        // b× and b₊ per element of one sample (the box may differ per channel).
        let (lo, hi) = AttackSupport.elementBounds(try AttackSupport.box(domain, for: classifier, attack: task), sampleShape: inputs.sampleShape)
        let boxMul = zip(lo, hi).map { ($1 - $0) / 2 }, boxPlus = zip(lo, hi).map { ($1 + $0) / 2 }
        let kappa = confidence
        let x = inputs.scalars
        let w0 = x.indices.map { i in Float(atanh(Double(Swift.min(1, Swift.max(-1, (x[i] - boxPlus[i % d]) / boxMul[i % d])) * 0.999999))) }
        let reconstructed = w0.indices.map { i in boxPlus[i % d] + boxMul[i % d] * tanh(w0[i]) }
        var best = x
        var bestDistance = [Float](repeating: .infinity, count: n)
        var constant = [Float](repeating: initialConstant, count: n)
        var lower = [Float](repeating: 0, count: n), upper = [Float](repeating: 1e10, count: n)
        var w = [Float](repeating: 0, count: n * d), m = w, v = w
        var current = [Float](repeating: 0, count: n * d)
        // Per batch row of one iteration: margin term and success.
        var margin = [Float](repeating: 0, count: n * copies)
        var fooled = [Bool](repeating: false, count: n * copies)
        let beta1: Float = 0.9, beta2: Float = 0.999, adamEpsilon: Float = 1e-8
        let checkEvery = Swift.max(1, iterations / 10)
        progress?.begin(task, total: binarySearchSteps * iterations)
        for outer in 0..<binarySearchSteps {
            if binarySearchSteps >= 10 && outer == binarySearchSteps - 1 {
                for r in 0..<n where upper[r] < 1e9 { constant[r] = upper[r] }
            }
            for i in 0..<(n * d) { w[i] = 0; m[i] = 0; v[i] = 0 }
            var stepDistance = [Float](repeating: .infinity, count: n)
            var previousLoss = [Float](repeating: .infinity, count: n)
            var active = Array(0..<n)
            for iteration in 0..<iterations {
                if active.isEmpty { break }   // every row stopped early
                let a = active.count
                // x′ = b₊ + b× tanh(w + w₀) for the running rows, and the batch of their copies.
                let batch = Tensor(shape: [a * copies] + inputs.sampleShape) { out in
                    for (j, r) in active.enumerated() {
                        for i in 0..<d { current[r * d + i] = boxPlus[i] + boxMul[i] * tanh(w[r * d + i] + w0[r * d + i]) }
                        for c in 0..<copies {
                            let o = (j * copies + c) * d
                            if let p = perturbations {
                                let po = (r * copies + c) * d
                                for i in 0..<d { out[o + i] = current[r * d + i] + p[po + i] }
                            } else {
                                for i in 0..<d { out[o + i] = current[r * d + i] }
                            }
                        }
                    }
                }
                let gradient = try classifier.vjp(batch) { z, rows in
                    var cot = Tensor(zeros: z.shape)
                    z.withUnsafeBufferPointer { z in
                        cot.withUnsafeMutableBufferPointer { cot in
                            for (local, b) in rows.enumerated() {
                                let r = active[b / copies], t = classes[r], zo = local * k
                                var other = t == 0 ? 1 : 0
                                for j in 0..<k where j != t && z[zo + j] > z[zo + other] { other = j }
                                let gap = targeted ? z[zo + other] - z[zo + t] : z[zo + t] - z[zo + other]
                                margin[b] = Swift.max(gap + kappa, 0)
                                fooled[b] = targeted ? z[zo + t] - kappa > z[zo + other] : z[zo + other] > z[zo + t] + kappa
                                if margin[b] > 0 {
                                    let s = targeted ? constant[r] : -constant[r]
                                    cot[zo + other] += s
                                    cot[zo + t] -= s
                                }
                            }
                        }
                    }
                    return cot
                }.inputGradient
                var stillActive: [Int] = []
                stillActive.reserveCapacity(a)
                let t = Float(iteration + 1)
                let stepScale = learningRate / (1 - Foundation.pow(beta1, t))
                let secondMomentCorrection = 1 / (1 - Foundation.pow(beta2, t)).squareRoot()
                gradient.withUnsafeBufferPointer { g in
                    for (j, r) in active.enumerated() {
                        var distance: Float = 0
                        for i in r * d..<(r + 1) * d { let e = current[i] - reconstructed[i]; distance += e * e }
                        var marginSum: Float = 0, allFooled = true
                        for c in 0..<copies { marginSum += margin[j * copies + c]; allFooled = allFooled && fooled[j * copies + c] }
                        if allFooled && distance < stepDistance[r] { stepDistance[r] = distance }
                        if allFooled && distance < bestDistance[r] {
                            bestDistance[r] = distance
                            for i in r * d..<(r + 1) * d { best[i] = current[i] }
                        }
                        let loss = distance + constant[r] * marginSum
                        if abortEarly && iteration % checkEvery == 0 {
                            if loss > previousLoss[r] * 0.9999 { continue }
                            previousLoss[r] = loss
                        }
                        stillActive.append(r)
                        // ∂L/∂w = (2(x′ − x̃) + Σ_copies ∂(c ℓ)/∂x′) · b× (1 − tanh²), then one Adam step.
                        for i in 0..<d {
                            let e = r * d + i
                            var gx = 2 * (current[e] - reconstructed[e])
                            for c in 0..<copies { gx += g[(j * copies + c) * d + i] }
                            let th = (current[e] - boxPlus[i]) / boxMul[i]
                            let gw = gx * boxMul[i] * (1 - th * th)
                            m[e] = beta1 * m[e] + (1 - beta1) * gw
                            v[e] = beta2 * v[e] + (1 - beta2) * gw * gw
                            w[e] -= stepScale * m[e] / (v[e].squareRoot() * secondMomentCorrection + adamEpsilon)
                        }
                    }
                }
                active = stillActive
                progress?.update(completed: outer * iterations + iteration + 1,
                                 detail: "c-step \(outer + 1)/\(binarySearchSteps), \(active.count) running, \(bestDistance.filter(\.isFinite).count)/\(n) found")
            }
            for r in 0..<n {
                if stepDistance[r].isFinite {
                    upper[r] = Swift.min(upper[r], constant[r])
                    if upper[r] < 1e9 { constant[r] = (lower[r] + upper[r]) / 2 }
                } else {
                    lower[r] = Swift.max(lower[r], constant[r])
                    constant[r] = upper[r] < 1e9 ? (lower[r] + upper[r]) / 2 : constant[r] * 10
                }
            }
        }
        let found = bestDistance.filter(\.isFinite).count
        progress?.end(summary: "\(task): adversarial found for \(found)/\(n)")
        return Tensor(shape: inputs.shape, scalars: best)
    }
}
