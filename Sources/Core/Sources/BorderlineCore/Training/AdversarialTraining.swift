import Foundation

/// Adversarial training (Madry, Makelov, Schmidt, Tsipras & Vladu 2018): each mini-batch is
/// replaced by adversarial examples of the current model before the parameter step, so training
/// minimises the robust loss
///
///     min_θ  E_(x,y) [ max_{‖δ‖∞ ≤ ε, x + δ ∈ D} CE(f_θ(x + δ), y) ],
///
/// the inner maximum approximated by `pgd-linf` (``ProjectedGradientDescent``: uniform random
/// start in the ε-ball, `steps` signed-gradient steps of size `stepSize`, each projected onto the
/// ball and the box) or `fgsm` (``FastGradientSignMethod``: one step of size ε, Goodfellow et
/// al. 2015). `D` is the model's input box (``Model/inputBox``). The attack sees the model in
/// inference mode (dropout off, batch norm on running statistics); every PGD step is one
/// batched forward and input-gradient pass through the engine.
public struct AdversarialTrainingConfiguration: Sendable, Codable, Equatable {
    public enum Method: String, Sendable, Codable, CaseIterable {
        case pgdLinf = "pgd-linf"
        case fgsm
    }

    public var method: Method
    /// L∞ radius ε.
    public var epsilon: Float
    /// PGD iterations (ignored by FGSM).
    public var steps: Int
    /// PGD step size α (ignored by FGSM).
    public var stepSize: Float
    /// PGD starts from a uniform random point of the ε-ball (Madry et al.).
    public var randomStart: Bool

    /// Defaults: 7 steps of `α = 2.5·ε/7` with a random start (Madry et al.'s CIFAR-10 recipe,
    /// whose step size reaches the ball's far side from any start).
    public init(method: Method, epsilon: Float, steps: Int = 7, stepSize: Float? = nil, randomStart: Bool = true) {
        self.method = method
        self.epsilon = epsilon
        self.steps = steps
        self.stepSize = stepSize ?? 2.5 * epsilon / Float(max(steps, 1))
        self.randomStart = randomStart
    }

    public func validate() throws {
        guard epsilon.isFinite, epsilon > 0 else {
            throw BorderlineError(.invalidArgument, "adversarial training: epsilon must be a positive number, got \(epsilon)")
        }
        guard method == .fgsm || steps > 0 else {
            throw BorderlineError(.invalidArgument, "adversarial training: PGD steps must be positive, got \(steps)")
        }
        guard method == .fgsm || (stepSize.isFinite && stepSize > 0) else {
            throw BorderlineError(.invalidArgument, "adversarial training: PGD step size must be a positive number, got \(stepSize)")
        }
    }

    /// Adversarial examples of `classifier`'s model for the batch `x` with true labels `labels`
    /// (untargeted: each row moves to increase its label's cross-entropy), inside the model's box.
    func adversarialBatch(_ classifier: ModelClassifier, _ x: Tensor, labels: [Int], seed: UInt64) throws -> Tensor {
        let box = classifier.inputBox
        let hull = box.hull
        let domain = hull.lower...max(hull.upper, hull.lower)
        var adversarial: Tensor
        switch method {
        case .pgdLinf:
            adversarial = try ProjectedGradientDescent(norm: .linf, epsilon: epsilon, stepSize: stepSize, steps: steps,
                                                       randomStart: randomStart, domain: domain)
                .perturb(classifier, inputs: x, classes: labels, targeted: false, seed: seed)
        case .fgsm:
            adversarial = try FastGradientSignMethod(epsilon: epsilon, domain: domain)
                .perturb(classifier, inputs: x, classes: labels, targeted: false)
        }
        // The attacks clip to one interval; a per-channel box is enforced on the result (the
        // clip moves every coordinate towards x, which is inside the box, so the ε-ball holds).
        if !box.isUniform { box.clamp(&adversarial) }
        return adversarial
    }
}
