import Foundation

/// A trained classifier as probers and metrics see it: a function from a batch of inputs to a
/// probability distribution over `classCount` classes, per row.
///
/// **Contract.** For a batch `x` of shape `[N] + inputShape`, ``probabilities(_:)`` returns
/// `P ∈ [0, 1]^{N×K}` with `Σ_k P[n, k] = 1` and ``logits(_:)`` returns `Z ∈ ℝ^{N×K}` with
/// `softmax(Z[n]) = P[n]`. Logits are therefore defined up to a per-row constant; a black-box
/// classifier that only exposes probabilities gives `Z = log P` (the default implementation).
/// The predicted class of row `n` is `argmax_k P[n, k]`. Implementations are deterministic (the
/// same batch gives the same scores) and must not depend on the batch's other rows.
///
/// A classifier that can also differentiate its outputs with respect to its input conforms to
/// ``DifferentiableClassifier``. ``ModelClassifier`` adapts a ``Model``.
public protocol Classifier: AnyObject {
    /// The shape of one input sample, e.g. `[1, 28, 28]` (channels first) or `[784]`.
    var inputShape: [Int] { get }
    /// The valid inputs (``InputBox``): whatever clips or samples in input space stays inside
    /// it. Defaults to `[0, 1]` for every element.
    var inputBox: InputBox { get }
    /// One name per class, in output order (`classCount` of them).
    var classNames: [String] { get }
    /// The class probabilities `P` of a batch: `[N, K]`.
    func probabilities(_ x: Tensor) throws -> Tensor
    /// Class scores `Z` with `softmax(Z) = P`: `[N, K]`. Defaults to `log P` (clamped at
    /// `log(1e-30)`), which is what a black-box classifier can offer.
    func logits(_ x: Tensor) throws -> Tensor
    /// The shape of one embedding vector, or nil when the classifier exposes no embedding.
    var embeddingShape: [Int]? { get }
    /// The penultimate-layer representation of a batch, `[N] + embeddingShape`, or nil when the
    /// classifier exposes none (black-box classifiers never do).
    func embedding(_ x: Tensor) throws -> Tensor?
}

extension Classifier {
    /// Number of classes `K`.
    public var classCount: Int { classNames.count }

    /// The unit box `[0, 1]`, for classifiers that declare none.
    public var inputBox: InputBox { .unit }

    public func logits(_ x: Tensor) throws -> Tensor {
        try probabilities(x).map { Foundation.log(Swift.max($0, 1e-30)) }
    }

    public var embeddingShape: [Int]? { nil }
    public func embedding(_ x: Tensor) throws -> Tensor? { nil }

    /// The predicted class of every row: `argmax_k P[n, k]`.
    public func predictions(_ x: Tensor) throws -> [Int] { try probabilities(x).argmaxRows() }

    /// The name of class `k`, or its number when `k` is out of range.
    public func className(_ k: Int) -> String { k >= 0 && k < classNames.count ? classNames[k] : String(k) }

    /// Throws `.shapeMismatch` unless `x` is a batch of this classifier's inputs.
    public func checkBatch(_ x: Tensor) throws {
        guard x.rank == inputShape.count + 1, x.sampleShape == inputShape else {
            throw BorderlineError(.shapeMismatch, "input batch has shape \(x.shape); the classifier expects [batch] + \(inputShape)")
        }
    }
}

extension Tensor {
    /// Row-wise softmax of a `[N, K]` tensor, `p_k = e^{z_k − m} / Σ_j e^{z_j − m}` with
    /// `m = max_j z_j` so large scores do not overflow.
    public func softmaxRows() -> Tensor {
        precondition(rank == 2, "softmaxRows: expected [N, K], got \(shape)")
        let n = shape[0], k = shape[1]
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { z in
                for r in 0..<n {
                    VectorKernels.softmax(z.baseAddress! + r * k, into: out.baseAddress! + r * k, count: k)
                }
            }
        }
    }
}
