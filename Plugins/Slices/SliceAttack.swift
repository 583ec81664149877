import BorderlineCore
import Foundation

/// The adversarial perturbation a slice is drawn through: one of the core's attacks
/// (`BorderlineCore/Attacks`) by name, untargeted, with the plugin's settings.
///
/// **Maths.** Untargeted attacks on the cross-entropy loss `L(x) = −log p_y(x)` inside the
/// classifier's input box (``Classifier/inputBox``) (see each attack's documentation): FGSM `x' = clip(x + ε·sign ∇L(x))`; PGD-L∞ /
/// PGD-L2 from a random start in the ε-ball, `steps` steps of size `α` projected onto the ball and
/// the box; Carlini–Wagner L2 with the core's defaults (ε, α and steps do not apply).
public struct SliceAttack: Sendable {
    public enum Kind: String, Sendable, CaseIterable, OptionValue { case pgdLinf = "pgd-linf", pgdL2 = "pgd-l2", fgsm, cwL2 = "cw-l2" }
    public var kind: Kind
    public var epsilon: Float
    public var stepSize: Float
    public var steps: Int
    /// The box the attacks keep to; nil: the classifier's ``Classifier/inputBox``.
    public var domain: ClosedRange<Float>? = nil

    public init(kind: Kind, epsilon: Float, stepSize: Float, steps: Int) {
        self.kind = kind
        self.epsilon = epsilon
        self.stepSize = stepSize
        self.steps = steps
    }

    /// The core attack these settings describe.
    public var attack: any AdversarialAttack {
        switch kind {
        case .pgdLinf: return ProjectedGradientDescent(norm: .linf, epsilon: epsilon, stepSize: stepSize, steps: steps, domain: domain)
        case .pgdL2: return ProjectedGradientDescent(norm: .l2, epsilon: epsilon, stepSize: stepSize, steps: steps, domain: domain)
        case .fgsm: return FastGradientSignMethod(epsilon: epsilon, domain: domain)
        case .cwL2: return CarliniWagnerL2(domain: domain)
        }
    }

    /// The adversarial of every row of `inputs` (labels: the classes to move away from) and the
    /// classifier's prediction there.
    public func run(_ model: any DifferentiableClassifier, inputs: Tensor, labels: [Int], seed: UInt64) throws -> (adversarials: Tensor, predictions: [Int]) {
        let result = try attack.attack(model, inputs: inputs, labels: labels, goal: .untargeted, seed: seed, progress: nil)
        return (result.adversarials, result.predictions)
    }
}
