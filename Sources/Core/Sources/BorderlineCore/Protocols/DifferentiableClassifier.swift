import Foundation

/// Which output of a classifier a vector–Jacobian product differentiates.
public enum ClassifierOutput: String, Sendable, CaseIterable {
    /// The class scores `Z` (``Classifier/logits(_:)``).
    case logits
    /// The class probabilities `P = softmax(Z)` (``Classifier/probabilities(_:)``).
    case probabilities
}

/// The result of a vector–Jacobian product: the output the pass computed and the gradient with
/// respect to the input.
public struct VectorJacobianProduct {
    /// The differentiated output of the batch, `[N, K]` (logits or probabilities).
    public var output: Tensor
    /// `vₙᵀ ∂f(xₙ)/∂xₙ` for every row `n`, of the input batch's shape.
    public var inputGradient: Tensor
    public init(output: Tensor, inputGradient: Tensor) {
        self.output = output
        self.inputGradient = inputGradient
    }
}

/// A classifier that also gives vector–Jacobian products with respect to its input.
///
/// **Contract.** For a batch `x` (`[N] + inputShape`), a cotangent `V` (`[N, K]`) and an output
/// `f ∈ {Z, P}`, ``vjp(_:cotangent:of:)`` returns, for every row `n`, the gradient
/// `gₙ = Vₙᵀ · ∂f(xₙ)/∂xₙ = Σ_k V[n, k] ∂f_k(xₙ)/∂xₙ`, of the input's shape — the gradient of
/// the scalar `⟨Vₙ, f(xₙ)⟩`. Rows are independent: the whole batch costs one forward and one
/// backward pass. A one-hot `V` on class `t` gives `∂f_t/∂x`; `V = e_t − e_s` gives the gradient
/// of the margin `f_t − f_s` that boundary probers follow.
///
/// Exact implementations (``ModelClassifier``) back-propagate; ``ZerothOrderGradientEstimator``
/// estimates the same quantity from scores alone for black-box classifiers and says so through
/// ``gradientsAreEstimated``.
public protocol DifferentiableClassifier: Classifier {
    /// `Vₙᵀ ∂f(xₙ)/∂xₙ` for every row, with the output `f(x)` of the same pass.
    func vjp(_ x: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct
    /// True when the gradients are estimates (zeroth-order) rather than exact derivatives.
    var gradientsAreEstimated: Bool { get }
    /// `Vₙᵀ ∂Z(xₙ)/∂xₙ` where the cotangent `V` depends on the logits `Z` of the same forward
    /// pass (a loss gradient such as softmax − one-hot). `cotangentFromLogits(Z, rows)` receives
    /// the logits of rows `rows` of `x` (`[rows.count, K]`) and returns their cotangent of the
    /// same shape; it may be called once per chunk. The output is the logits. The default runs
    /// ``Classifier/logits(_:)`` and then ``vjp(_:cotangent:of:)`` (two forward passes);
    /// ``ModelClassifier`` does it in one.
    func vjp(_ x: Tensor, cotangentFromLogits: (Tensor, Range<Int>) -> Tensor) throws -> VectorJacobianProduct
}

extension DifferentiableClassifier {
    public var gradientsAreEstimated: Bool { false }

    public func vjp(_ x: Tensor, cotangentFromLogits: (Tensor, Range<Int>) -> Tensor) throws -> VectorJacobianProduct {
        let z = try logits(x)
        let result = try vjp(x, cotangent: cotangentFromLogits(z, 0..<x.batchSize), of: .logits)
        return VectorJacobianProduct(output: z, inputGradient: result.inputGradient)
    }

    /// The gradient of `⟨Vₙ, Z(xₙ)⟩` for every row, with the logits.
    public func logitsVJP(_ x: Tensor, cotangent: Tensor) throws -> VectorJacobianProduct {
        try vjp(x, cotangent: cotangent, of: .logits)
    }

    /// The gradient of the margin `Z_t(xₙ) − Z_s(xₙ)` for every row `n`, with `s = sources[n]`
    /// and `t = targets[n]`: the direction in which row `n` moves fastest from class `s` to `t`.
    public func marginGradient(_ x: Tensor, from sources: [Int], to targets: [Int]) throws -> VectorJacobianProduct {
        let n = x.batchSize, k = classCount
        precondition(sources.count == n && targets.count == n, "marginGradient: one source and one target per row")
        var v = [Float](repeating: 0, count: n * k)
        for r in 0..<n {
            v[r * k + targets[r]] += 1
            v[r * k + sources[r]] -= 1
        }
        return try vjp(x, cotangent: Tensor(shape: [n, k], scalars: v), of: .logits)
    }

    /// Turns a cotangent `V` on the probabilities into the equivalent cotangent on the logits:
    /// since `∂P_k/∂Z_j = P_k([k = j] − P_j)`, `Vᵀ ∂P/∂Z = P ⊙ (V − ⟨V, P⟩)` per row.
    public static func probabilityCotangentToLogits(_ v: Tensor, probabilities p: Tensor) -> Tensor {
        precondition(v.shape == p.shape && v.rank == 2, "cotangent \(v.shape) and probabilities \(p.shape) must both be [N, K]")
        let n = v.shape[0], k = v.shape[1]
        return Tensor(shape: v.shape) { out in
            v.withUnsafeBufferPointer { vp in
                p.withUnsafeBufferPointer { pp in
                    for r in 0..<n {
                        var dot: Float = 0
                        for j in 0..<k { dot += vp[r * k + j] * pp[r * k + j] }
                        for j in 0..<k { out[r * k + j] = pp[r * k + j] * (vp[r * k + j] - dot) }
                    }
                }
            }
        }
    }
}
