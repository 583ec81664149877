import BorderlineCore
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
        let bounds = try c.box.map { try ElementBounds($0, sampleShape: x.sampleShape) }
        let parts = try inBatches(x, size: c.batchSize, checkStop: checkStop) { batch in
            try searchBatch(model, batch, configuration: c, bounds: bounds, checkStop: checkStop)
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

    static func searchBatch(_ model: any DifferentiableClassifier, _ x0: Tensor, configuration c: Configuration, bounds: ElementBounds?,
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
