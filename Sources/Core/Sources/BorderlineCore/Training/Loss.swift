import Foundation

/// A scalar loss and its gradient with respect to the tensor it was computed from.
public typealias LossValue = (value: Float, gradient: Tensor)

/// The training losses, each with PyTorch's default `reduction="mean"`.
/// Sums are accumulated in Double so that the value does not depend on the batch size's rounding.
public enum Loss {
    /// Softmax cross-entropy on logits with integer class labels (PyTorch's `cross_entropy`):
    /// `L = (1/N) Σ_n [logsumexp(z_n) − z_{n, y_n}]`, evaluated as `m + log Σ_j e^{z_j − m}` with
    /// `m = max_j z_j` so large logits do not overflow.
    /// Gradient: `∂L/∂z_{n,j} = (softmax(z_n)_j − [j = y_n]) / N`.
    ///
    /// - Parameters:
    ///   - logits: `[N, C]`.
    ///   - labels: `N` class indices in `0..<C`.
    public static func softmaxCrossEntropy(logits: Tensor, labels: [Int]) throws -> LossValue {
        guard logits.rank == 2 else {
            throw BorderlineError(.shapeMismatch, "cross-entropy expects logits [batch, classes], got \(logits.shape)")
        }
        let n = logits.shape[0], classes = logits.shape[1]
        guard labels.count == n else {
            throw BorderlineError(.shapeMismatch, "cross-entropy: \(labels.count) labels for a batch of \(n)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
            throw BorderlineError(.dataMismatch, "cross-entropy: label \(bad) is outside 0..<\(classes)")
        }
        guard n > 0 else { return (0, logits) }
        var total = 0.0
        let scale = 1 / Float(n)
        let gradient = Tensor(shape: logits.shape) { grad in
            logits.withUnsafeBufferPointer { zp in
                for r in 0..<n {
                    let z = zp.baseAddress! + r * classes, g = grad.baseAddress! + r * classes
                    let (m, sum) = VectorKernels.shiftedExp(z, into: g, count: classes)
                    let logSum = Foundation.log(sum)
                    // (m − z_y) first: exact for nearby values, so large logits lose no precision
                    // (PyTorch's log_softmax subtracts the max before the log-sum as well).
                    total += Double((m - z[labels[r]]) + logSum)
                    let inv = 1 / sum
                    for j in 0..<classes { g[j] = g[j] * inv * scale }
                    g[labels[r]] -= scale
                }
            }
        }
        return (Float(total / Double(n)), gradient)
    }

    /// Binary cross-entropy on probabilities (PyTorch's `binary_cross_entropy`):
    /// `L = −(1/K) Σ_k [t_k log p_k + (1 − t_k) log(1 − p_k)]` over all `K` elements, with each
    /// log clamped at −100 as PyTorch does, so `p ∈ {0, 1}` gives a finite loss.
    /// Gradient (PyTorch's formula, denominator floored at 1e-12):
    /// `∂L/∂p_k = (p_k − t_k) / (max(p_k (1 − p_k), 1e-12) · K)`.
    public static func binaryCrossEntropy(probabilities p: Tensor, targets t: Tensor) throws -> LossValue {
        try elementwiseMean(p, t, gradientScale: 1,
                            mismatch: "binary cross-entropy: probabilities \(p.shape) and targets \(t.shape) differ") { pk, tk, scale in
            let logP = max(Foundation.log(pk), -100), log1mP = max(Foundation.log(1 - pk), -100)
            return (-Double(tk * logP + (1 - tk) * log1mP), (pk - tk) / max((1 - pk) * pk, 1e-12) * scale)
        }
    }

    /// Mean squared error over all elements (PyTorch's `mse_loss`):
    /// `L = (1/K) Σ_k (y_k − t_k)²`, `∂L/∂y_k = 2 (y_k − t_k) / K`.
    public static func meanSquaredError(_ y: Tensor, targets t: Tensor) throws -> LossValue {
        try elementwiseMean(y, t, gradientScale: 2,
                            mismatch: "mean squared error: prediction \(y.shape) and target \(t.shape) differ") { yk, tk, scale in
            let d = yk - tk
            return (Double(d) * Double(d), d * scale)
        }
    }

    /// `L = (1/K) Σ_k ℓ(y_k, t_k)` over all `K` elements of two same-shaped tensors, with its gradient.
    /// `element(y_k, t_k, s)` returns the term `ℓ(y_k, t_k)` and `∂L/∂y_k`, where `s = gradientScale / K`
    /// is the factor the mean puts on every derivative. Throws `.shapeMismatch` with `mismatch` when
    /// the shapes differ; no elements give `(0, y)`.
    @inline(__always)
    private static func elementwiseMean(_ y: Tensor, _ t: Tensor, gradientScale: Float, mismatch: @autoclosure () -> String,
                                        _ element: (_ y: Float, _ t: Float, _ scale: Float) -> (term: Double, gradient: Float))
        throws -> LossValue {
        guard y.shape == t.shape else { throw BorderlineError(.shapeMismatch, mismatch()) }
        let k = y.count
        guard k > 0 else { return (0, y) }
        var total = 0.0
        let scale = gradientScale / Float(k)
        let gradient = Tensor(shape: y.shape) { grad in
            y.withUnsafeBufferPointer { yp in
                t.withUnsafeBufferPointer { tp in
                    for i in 0..<k {
                        let (term, derivative) = element(yp[i], tp[i], scale)
                        total += term
                        grad[i] = derivative
                    }
                }
            }
        }
        return (Float(total / Double(k)), gradient)
    }
}
