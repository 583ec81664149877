import Foundation
/// Counts model queries: every input row evaluated forward (scores, embedding) or through a
/// vector–Jacobian product adds one. The run gives each plugin a counting view of the classifier
/// and records the plugin's count in summary.json.
public final class QueryCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    public init() {}
    /// Rows counted so far.
    public var count: Int { lock.withLock { total } }
    /// Counts `n` more rows (safe from concurrent model calls).
    public func add(_ n: Int) { lock.withLock { total += n } }
}

/// A ``Classifier`` that counts the rows it evaluates into a ``QueryCounter``.
public final class QueryCountingClassifier: Classifier {
    public let base: any Classifier
    public let counter: QueryCounter
    public init(_ base: any Classifier, counter: QueryCounter) {
        self.base = base
        self.counter = counter
    }
    public var inputShape: [Int] { base.inputShape }
    public var inputBox: InputBox { base.inputBox }
    public var classNames: [String] { base.classNames }
    public var embeddingShape: [Int]? { base.embeddingShape }
    public func probabilities(_ x: Tensor) throws -> Tensor {
        counter.add(x.batchSize)
        return try base.probabilities(x)
    }
    public func logits(_ x: Tensor) throws -> Tensor {
        counter.add(x.batchSize)
        return try base.logits(x)
    }
    public func embedding(_ x: Tensor) throws -> Tensor? {
        counter.add(x.batchSize)
        return try base.embedding(x)
    }
}

/// A ``DifferentiableClassifier`` that counts the rows it evaluates into a ``QueryCounter``.
/// A vector–Jacobian product of `N` rows counts `N` (one forward and one backward pass each);
/// an estimator underneath counts its own queries through the classifier it wraps.
public final class QueryCountingDifferentiableClassifier: DifferentiableClassifier {
    public let base: any DifferentiableClassifier
    public let counter: QueryCounter
    private let countsVJP: Bool
    /// - Parameter countVJPs: false when `base` already counts its queries (an estimator over a
    ///   counting classifier), so they are not counted twice.
    public init(_ base: any DifferentiableClassifier, counter: QueryCounter, countVJPs: Bool = true) {
        self.base = base
        self.counter = counter
        self.countsVJP = countVJPs
    }
    public var inputShape: [Int] { base.inputShape }
    public var inputBox: InputBox { base.inputBox }
    public var classNames: [String] { base.classNames }
    public var embeddingShape: [Int]? { base.embeddingShape }
    public var gradientsAreEstimated: Bool { base.gradientsAreEstimated }
    public func probabilities(_ x: Tensor) throws -> Tensor {
        if countsVJP { counter.add(x.batchSize) }
        return try base.probabilities(x)
    }
    public func logits(_ x: Tensor) throws -> Tensor {
        if countsVJP { counter.add(x.batchSize) }
        return try base.logits(x)
    }
    public func embedding(_ x: Tensor) throws -> Tensor? {
        if countsVJP { counter.add(x.batchSize) }
        return try base.embedding(x)
    }
    public func vjp(_ x: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct {
        if countsVJP { counter.add(x.batchSize) }
        return try base.vjp(x, cotangent: cotangent, of: output)
    }
    public func vjp(_ x: Tensor, cotangentFromLogits: (Tensor, Range<Int>) -> Tensor) throws -> VectorJacobianProduct {
        if countsVJP { counter.add(x.batchSize) }
        return try base.vjp(x, cotangentFromLogits: cotangentFromLogits)
    }
}
