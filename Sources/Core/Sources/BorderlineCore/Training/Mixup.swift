import Foundation

/// Mixup (Zhang, Cissé, Dauphin & Lopez-Paz 2018): every mini-batch is replaced by convex
/// combinations of its rows with the rows of a random permutation π of the same batch,
///
///     x̃ = λ·x + (1 − λ)·x_π,    L = λ·CE(f(x̃), y) + (1 − λ)·CE(f(x̃), y_π),
///
/// with one `λ ~ Beta(α, α)` per batch, as the authors' code does. The loss is the
/// cross-entropy against the mixed one-hot target `λ·e_y + (1 − λ)·e_{y_π}`, so its gradient is
/// `∂L/∂z = softmax(z) − λ·e_y − (1 − λ)·e_{y_π}` (divided by the batch size).
public enum Mixup {
    /// `λ·x + (1 − λ)·x[partners]` row by row (`partners[n]` is the row mixed into row `n`).
    public static func mix(_ x: Tensor, partners: [Int], lambda: Float) -> Tensor {
        precondition(partners.count == x.batchSize, "Mixup.mix: one partner per row")
        let d = x.sampleCount
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                for (n, m) in partners.enumerated() {
                    for i in 0..<d { out[n * d + i] = lambda * p[n * d + i] + (1 - lambda) * p[m * d + i] }
                }
            }
        }
    }

    /// One draw of `λ ~ Beta(α, α)` as `G₁/(G₁ + G₂)` with `Gᵢ ~ Gamma(α, 1)`.
    public static func sampleLambda(alpha: Float, generator: inout RandomGenerator) -> Float {
        let a = gamma(shape: Double(alpha), &generator), b = gamma(shape: Double(alpha), &generator)
        return a + b > 0 ? Float(a / (a + b)) : 0.5
    }

    /// `Gamma(shape, 1)` by Marsaglia & Tsang (2000); for `shape < 1`, `Gamma(shape + 1)·U^{1/shape}`.
    static func gamma(shape: Double, _ g: inout RandomGenerator) -> Double {
        if shape < 1 {
            let u = max(Double(g.nextUniform()), 1e-12)
            return gamma(shape: shape + 1, &g) * Foundation.pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let x = Double(g.nextNormal())
            let v0 = 1 + c * x
            guard v0 > 0 else { continue }
            let v = v0 * v0 * v0
            let u = max(Double(g.nextUniform()), 1e-12)
            if Foundation.log(u) < 0.5 * x * x + d - d * v + d * Foundation.log(v) { return d * v }
        }
    }
}

extension Loss {
    /// Mixup's loss `L = λ·CE(z, y) + (1 − λ)·CE(z, y′)` (PyTorch `cross_entropy`, mean over the
    /// batch) and its gradient `λ·∂CE(z, y)/∂z + (1 − λ)·∂CE(z, y′)/∂z`; see ``Mixup``.
    public static func mixupCrossEntropy(logits: Tensor, labels: [Int], partnerLabels: [Int], lambda: Float) throws -> LossValue {
        guard lambda.isFinite, lambda >= 0, lambda <= 1 else {
            throw BorderlineError(.invalidArgument, "mixup: λ must be in [0, 1], got \(lambda)")
        }
        let a = try softmaxCrossEntropy(logits: logits, labels: labels)
        let b = try softmaxCrossEntropy(logits: logits, labels: partnerLabels)
        var gradient = a.gradient
        gradient.withUnsafeMutableBufferPointer { g in
            b.gradient.withUnsafeBufferPointer { h in
                for i in 0..<g.count { g[i] = lambda * g[i] + (1 - lambda) * h[i] }
            }
        }
        return (lambda * a.value + (1 - lambda) * b.value, gradient)
    }
}
