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
                    var m = -Float.infinity
                    for j in 0..<classes { m = max(m, z[j]) }
                    var sum: Float = 0
                    for j in 0..<classes { let e = Foundation.exp(z[j] - m); g[j] = e; sum += e }
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
        guard p.shape == t.shape else {
            throw BorderlineError(.shapeMismatch, "binary cross-entropy: probabilities \(p.shape) and targets \(t.shape) differ")
        }
        let k = p.count
        guard k > 0 else { return (0, p) }
        var total = 0.0
        let scale = 1 / Float(k)
        let gradient = Tensor(shape: p.shape) { grad in
            p.withUnsafeBufferPointer { pp in
                t.withUnsafeBufferPointer { tp in
                    for i in 0..<k {
                        let pi = pp[i], ti = tp[i]
                        let logP = max(Foundation.log(pi), -100), log1mP = max(Foundation.log(1 - pi), -100)
                        total -= Double(ti * logP + (1 - ti) * log1mP)
                        grad[i] = (pi - ti) / max((1 - pi) * pi, 1e-12) * scale
                    }
                }
            }
        }
        return (Float(total / Double(k)), gradient)
    }

    /// Mean squared error over all elements (PyTorch's `mse_loss`):
    /// `L = (1/K) Σ_k (y_k − t_k)²`, `∂L/∂y_k = 2 (y_k − t_k) / K`.
    public static func meanSquaredError(_ y: Tensor, targets t: Tensor) throws -> LossValue {
        guard y.shape == t.shape else {
            throw BorderlineError(.shapeMismatch, "mean squared error: prediction \(y.shape) and target \(t.shape) differ")
        }
        let k = y.count
        guard k > 0 else { return (0, y) }
        var total = 0.0
        let scale = 2 / Float(k)
        let gradient = Tensor(shape: y.shape) { grad in
            y.withUnsafeBufferPointer { yp in
                t.withUnsafeBufferPointer { tp in
                    for i in 0..<k {
                        let d = yp[i] - tp[i]
                        total += Double(d) * Double(d)
                        grad[i] = d * scale
                    }
                }
            }
        }
        return (Float(total / Double(k)), gradient)
    }
}
