import Foundation

/// DeepFool (Moosavi-Dezfooli, Fawzi, Frossard 2016), batched, as in the authors' reference code.
///
/// Row `x₀` with predicted class `k₀` (the classifier's prediction, not the label, so a
/// misclassified input is attacked from where the classifier puts it and is never returned
/// unchanged). Candidates: the `candidates` classes with the highest logits at `x₀` besides `k₀`.
/// Iterate: at `xᵢ`, for each candidate `k`, `w_k = ∇f_k − ∇f_{k₀}`, `f'_k = f_k − f_{k₀}`; take
/// `l = argmin |f'_k| / ‖w_k‖` with `pert = |f'_l| / ‖w_l‖`, `rᵢ = (pert + 1e-4) w_l / ‖w_l‖`
/// (the reference's step: the 1e-4 is a length in input space, a margin past the linearised
/// boundary), `r_tot += rᵢ`, and
/// `x_{i+1} = x₀ + (1 + overshoot) r_tot` (clipped to the input box when one is given), until the
/// prediction at `x_{i+1}` is no longer `k₀` or `maxIterations`. The overshoot multiplies the
/// **total** perturbation at every iterate, not only the last step.
///
/// The one implementation in Borderline: the flip-point plugin's `deepfool` prober and
/// `borderline attack --attack deepfool` (``DeepFool``) both call it. With estimated gradients
/// (``DifferentiableClassifier/gradientsAreEstimated``, a ``ZerothOrderGradientEstimator``) the
/// step length comes from a measured slope (see below), so it works on a black box too.
public enum DeepFoolSearch {
    public struct Configuration: Sendable {
        public var maxIterations: Int = 50
        public var overshoot: Float = 0.02
        public var candidates: Int = 10
        /// The input box every iterate is clipped to; nil: no clipping.
        public var box: InputBox? = .unit
        public var batchSize: Int = 128
        /// With estimated gradients only: the central-difference step along the estimated
        /// direction that measures the slope of the step (see `searchBatch`).
        public var slopeStep: Float = 0.01
        public init() {}
    }

    public struct Outcome {
        /// The final iterate of every row, inside the box when one is given.
        public var points: Tensor
        public var probabilities: Tensor
        public var startClasses: [Int]
        /// Top-1 class at the final point.
        public var finalClasses: [Int]
        /// True when the final point is classified differently from `k₀`.
        public var flipped: [Bool]
        public var iterations: [Int]
        /// `r_tot` (before the overshoot factor) of every row.
        public var totalPerturbation: Tensor
        public var queries: Int
    }

    public static func search(_ model: any DifferentiableClassifier, _ x: Tensor, configuration c: Configuration = Configuration(),
                              checkStop: () throws -> Void = {}) throws -> Outcome {
        try model.checkBatch(x)
        guard c.maxIterations >= 1 else {
            throw BorderlineError(.invalidArgument, "deepfool: max iterations must be ≥ 1, got \(c.maxIterations)")
        }
        guard c.overshoot.isFinite, c.overshoot >= 0 else {
            throw BorderlineError(.invalidArgument, "deepfool: overshoot must be a finite number ≥ 0, got \(c.overshoot)")
        }
        guard c.candidates >= 1 else { throw BorderlineError(.invalidArgument, "deepfool: candidates must be ≥ 1, got \(c.candidates)") }
        guard model.classCount >= 2 else { throw BorderlineError(.invalidArgument, "deepfool: needs at least 2 classes") }
        let bounds: (lower: [Float], upper: [Float])? = try c.box.map { box in
            try box.check(inputShape: x.sampleShape)
            return AttackSupport.elementBounds(box, sampleShape: x.sampleShape)
        }
        var parts: [Outcome] = []
        var start = 0
        while start < x.batchSize {
            try checkStop()
            let end = min(start + max(1, c.batchSize), x.batchSize)
            parts.append(try searchBatch(model, x.slice(batch: start..<end), configuration: c, bounds: bounds, checkStop: checkStop))
            start = end
        }
        if parts.isEmpty {
            return Outcome(points: x, probabilities: Tensor(zeros: [0, model.classCount]), startClasses: [], finalClasses: [],
                           flipped: [], iterations: [], totalPerturbation: x, queries: 0)
        }
        return Outcome(points: Tensor.concatenate(batches: parts.map(\.points)),
                       probabilities: Tensor.concatenate(batches: parts.map(\.probabilities)),
                       startClasses: parts.flatMap(\.startClasses), finalClasses: parts.flatMap(\.finalClasses),
                       flipped: parts.flatMap(\.flipped), iterations: parts.flatMap(\.iterations),
                       totalPerturbation: Tensor.concatenate(batches: parts.map(\.totalPerturbation)),
                       queries: parts.reduce(0) { $0 + $1.queries })
    }

    static func searchBatch(_ model: any DifferentiableClassifier, _ x0: Tensor, configuration c: Configuration, bounds: (lower: [Float], upper: [Float])?,
                            checkStop: () throws -> Void) throws -> Outcome {
        let n = x0.batchSize, k = model.classCount, d = x0.sampleCount
        var queries = 0
        let z0 = try model.logits(x0)
        queries += n
        let k0 = z0.argmaxRows()
        // Candidate classes per row: highest logits first, k₀ excluded.
        let cand: [[Int]] = (0..<n).map { r in
            let order = (0..<k).filter { $0 != k0[r] }.sorted { z0.scalars[r * k + $0] > z0.scalars[r * k + $1] }
            return Array(order.prefix(max(1, min(c.candidates, k - 1))))
        }
        var rTot = [Float](repeating: 0, count: n * d)
        var x = x0
        var iterations = [Int](repeating: 0, count: n)
        var active = Array(0..<n)
        var probs = z0.softmaxRows()
        var finalClasses = k0
        while !active.isEmpty {
            try checkStop()
            // One batched vjp: row (i, j) = active row i with cotangent e_{cand j} − e_{k₀}.
            let m = active.count
            let cc = cand[active[0]].count
            var rows: [Int] = []
            var v = [Float](repeating: 0, count: m * cc * k)
            for (i, r) in active.enumerated() {
                for j in 0..<cc {
                    rows.append(r)
                    v[(i * cc + j) * k + cand[r][j]] += 1
                    v[(i * cc + j) * k + k0[r]] -= 1
                }
            }
            let vjp = try model.vjp(x.gather(batch: rows), cotangent: Tensor(shape: [m * cc, k], scalars: v), of: .logits)
            queries += m * cc
            let z = vjp.output, w = vjp.inputGradient
            var chosen = [(row: Int, f: Float, norm2: Float)](repeating: (0, 0, 0), count: m)
            for (i, r) in active.enumerated() {
                var best = Float.infinity
                for j in 0..<cc {
                    let row = i * cc + j
                    let f = z.scalars[row * k + cand[r][j]] - z.scalars[row * k + k0[r]]
                    var norm2: Float = 0
                    w.withUnsafeBufferPointer { pw in for q in 0..<d { norm2 += pw[row * d + q] * pw[row * d + q] } }
                    let ratio = abs(f) / max(norm2.squareRoot(), 1e-12)
                    if ratio < best { best = ratio; chosen[i] = (row, f, norm2) }
                }
            }
            // r_i = (pert + 1e-4) w_l / ‖w_l‖ with pert = |f'_l| / ‖w_l‖: a Newton step to the
            // linearised boundary, whose slope along w_l is ‖w_l‖, plus 1e-4 in input space. An
            // estimated w_l (zeroth-order, black box) has a norm inflated by noise and only a
            // fraction of it along the true gradient, so that step falls short every iteration;
            // there the slope along u = w_l/‖w_l‖ is measured by a central difference (2 queries
            // per row) and pert = |f'_l| / slope.
            var slopes = [Float?](repeating: nil, count: m)
            if model.gradientsAreEstimated {
                let h = c.slopeStep
                var probe = [Float](repeating: 0, count: 2 * m * d)
                x.withUnsafeBufferPointer { px in
                    w.withUnsafeBufferPointer { pw in
                        for (i, r) in active.enumerated() {
                            let inv = 1 / max(chosen[i].norm2.squareRoot(), 1e-12)
                            for q in 0..<d {
                                let u = pw[chosen[i].row * d + q] * inv
                                probe[i * d + q] = px[r * d + q] + h * u
                                probe[(m + i) * d + q] = px[r * d + q] - h * u
                            }
                        }
                    }
                }
                let zp = try model.logits(Tensor(shape: [2 * m] + Array(x0.shape.dropFirst()), scalars: probe))
                queries += 2 * m
                for (i, r) in active.enumerated() {
                    let l = cand[r][chosen[i].row - i * cc]
                    let plus = zp.scalars[i * k + l] - zp.scalars[i * k + k0[r]]
                    let minus = zp.scalars[(m + i) * k + l] - zp.scalars[(m + i) * k + k0[r]]
                    let slope = (plus - minus) / (2 * h)
                    if slope > 0, slope.isFinite { slopes[i] = slope }
                }
            }
            for (i, r) in active.enumerated() {
                let (row, bestF, bestNorm2) = chosen[i]
                let norm = max(bestNorm2.squareRoot(), 1e-12)
                let pert = abs(bestF) / (slopes[i] ?? norm)
                let scale = (pert + 1e-4) / norm
                w.withUnsafeBufferPointer { pw in
                    x.withUnsafeMutableBufferPointer { px in
                        x0.withUnsafeBufferPointer { p0 in
                            for q in 0..<d {
                                rTot[r * d + q] += scale * pw[row * d + q]
                                var value = p0[r * d + q] + (1 + c.overshoot) * rTot[r * d + q]
                                if let bounds { value = min(max(value, bounds.lower[q]), bounds.upper[q]) }
                                px[r * d + q] = value
                            }
                        }
                    }
                }
                iterations[r] += 1
            }
            let p = try model.probabilities(x.gather(batch: active))
            queries += m
            let pred = p.argmaxRows()
            var next: [Int] = []
            probs.withUnsafeMutableBufferPointer { out in
                p.withUnsafeBufferPointer { src in
                    for (i, r) in active.enumerated() { for j in 0..<k { out[r * k + j] = src[i * k + j] } }
                }
            }
            for (i, r) in active.enumerated() {
                finalClasses[r] = pred[i]
                if pred[i] == k0[r] && iterations[r] < c.maxIterations { next.append(r) }
            }
            active = next
        }
        return Outcome(points: x, probabilities: probs, startClasses: k0, finalClasses: finalClasses,
                       flipped: (0..<n).map { finalClasses[$0] != k0[$0] }, iterations: iterations,
                       totalPerturbation: Tensor(shape: x0.shape, scalars: rTot), queries: queries)
    }
}

/// DeepFool as an ``AdversarialAttack`` (untargeted, minimal L2): ``DeepFoolSearch`` from every
/// row the classifier classifies as its label, inside the classifier's ``Classifier/inputBox``
/// (or `domain`).
///
/// A row the classifier already misclassifies is returned unchanged (it meets the untargeted
/// goal at distortion 0; DeepFool itself would move it away from its *predicted* class, possibly
/// back to the label). A row counts as a success when its example is classified differently from
/// its label, checked by classifying the returned example again (``AttackResult``), so a point
/// the search reports as flipped but that a fresh pass puts back in the label's class is a
/// failure. ``AttackResult/queries`` per row: 1 forward for the start, then per iteration one
/// vector–Jacobian product per candidate class and one forward (plus 2 forwards for the slope
/// when the gradients are estimated; an estimator counts its own queries besides).
public struct DeepFool: AdversarialAttack {
    /// Iterations before a row counts as not flipped (the reference's 50).
    public var maxIterations: Int
    /// Factor `1 + overshoot` on the total perturbation (the reference's 0.02).
    public var overshoot: Float
    /// Classes with the highest logits besides the predicted one that are linearised (10).
    public var candidates: Int
    /// One interval for every element; nil (the default): the classifier's input box.
    public var domain: ClosedRange<Float>?
    public var batchSize: Int
    public var name: String { "deepfool" }

    public init(maxIterations: Int = 50, overshoot: Float = 0.02, candidates: Int = 10, domain: ClosedRange<Float>? = nil, batchSize: Int = 128) {
        self.maxIterations = maxIterations
        self.overshoot = overshoot
        self.candidates = candidates
        self.domain = domain
        self.batchSize = batchSize
    }

    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        guard !goal.isTargeted else {
            throw BorderlineError(.invalidArgument, "deepfool is untargeted (it steps to the nearest linearised boundary); use pgd-linf, pgd-l2 or cw-l2 for a targeted attack")
        }
        _ = try AttackSupport.validate(classifier, inputs: inputs, labels: labels, goal: goal, domain: domain, attack: name)
        guard maxIterations >= 1 else { throw BorderlineError(.invalidArgument, "deepfool: steps must be ≥ 1, got \(maxIterations)") }
        try AttackSupport.requireNonNegative(overshoot, "overshoot", attack: name)
        let box = try AttackSupport.box(domain, for: classifier, attack: name)
        let n = inputs.batchSize, d = inputs.sampleCount
        var adversarials = inputs
        var queries = [Int](repeating: 1, count: n)
        progress?.begin(name, total: 1)
        let clean = n == 0 ? [] : try classifier.predictions(inputs)
        let rows = (0..<n).filter { clean[$0] == labels[$0] }
        if !rows.isEmpty {
            var c = DeepFoolSearch.Configuration()
            c.maxIterations = maxIterations
            c.overshoot = overshoot
            c.candidates = candidates
            c.box = box
            c.batchSize = batchSize
            let o = try DeepFoolSearch.search(classifier, inputs.gather(batch: rows), configuration: c)
            let cc = max(1, min(candidates, classifier.classCount - 1))
            let perIteration = cc + 1 + (classifier.gradientsAreEstimated ? 2 : 0)
            adversarials.withUnsafeMutableBufferPointer { a in
                o.points.withUnsafeBufferPointer { p in
                    for (i, r) in rows.enumerated() { (a.baseAddress! + r * d).update(from: p.baseAddress! + i * d, count: d) }
                }
            }
            for (i, r) in rows.enumerated() { queries[r] = 1 + o.iterations[i] * perIteration }
        }
        var result = try AttackResult(classifier: classifier, inputs: inputs, adversarials: adversarials, labels: labels, goal: goal)
        result.queries = queries
        progress?.update(completed: 1, detail: "")
        progress?.end(summary: String(format: "deepfool: %.1f%% succeeded", 100 * result.successRate))
        return result
    }
}
