/// Shows only the probabilities of another classifier: no logits beyond `log P`, no embedding,
/// no gradients. A run with `--black-box` analyses a model this way, which is how probers and
/// metrics meant for black-box classifiers (and the zeroth-order estimator) are exercised.
public final class BlackBoxClassifier: Classifier {
    private let base: any Classifier
    public init(_ base: any Classifier) { self.base = base }
    public var inputShape: [Int] { base.inputShape }
    public var inputBox: InputBox { base.inputBox }
    public var classNames: [String] { base.classNames }
    public func probabilities(_ x: Tensor) throws -> Tensor { try base.probabilities(x) }
}
