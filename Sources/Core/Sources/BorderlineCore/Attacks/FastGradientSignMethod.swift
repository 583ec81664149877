import Foundation

/// The fast gradient sign method (Goodfellow, Shlens & Szegedy 2015): one step of size `ε` along
/// the sign of the loss gradient,
///
///     x′ = clip_D(x + ε · sign(∇ₓ CE(Z(x), y)))      (untargeted: increase the label's loss)
///     x′ = clip_D(x − ε · sign(∇ₓ CE(Z(x), t)))      (targeted: decrease the target's loss)
///
/// with `D` the input domain — the classifier's ``Classifier/inputBox`` unless `domain` overrides
/// it — so `‖x′ − x‖∞ ≤ ε`. One forward and one backward pass for the
/// whole batch. `sign(0) = 0`: elements with an exactly-zero gradient do not move.
public struct FastGradientSignMethod: AdversarialAttack {
    public var epsilon: Float
    /// One interval for every element; nil (the default): the classifier's input box.
    public var domain: ClosedRange<Float>?
    public var name: String { "fgsm" }

    public init(epsilon: Float, domain: ClosedRange<Float>? = nil) {
        self.epsilon = epsilon
        self.domain = domain
    }

    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        let classes = try AttackSupport.validate(classifier, inputs: inputs, labels: labels, goal: goal, domain: domain, attack: name)
        try AttackSupport.requireNonNegative(epsilon, "epsilon", attack: name)
        progress?.begin("fgsm", total: 1)
        let adversarials = try perturb(classifier, inputs: inputs, classes: classes, targeted: goal.isTargeted)
        let result = try AttackResult(classifier: classifier, inputs: inputs, adversarials: adversarials, labels: labels, goal: goal)
        progress?.update(completed: 1, detail: "")
        progress?.end(summary: String(format: "fgsm: %.1f%% succeeded", 100 * result.successRate))
        return result
    }

    /// `x′` for a batch whose arguments were checked (`classes`: the steering class of every
    /// row); adversarial training (``ClassifierTraining``) calls this once per mini-batch.
    func perturb(_ classifier: any DifferentiableClassifier, inputs: Tensor, classes: [Int], targeted: Bool) throws -> Tensor {
        var adversarials = inputs
        guard inputs.batchSize > 0 else { return adversarials }
        let box = try AttackSupport.box(domain, for: classifier, attack: name)
        let g = try AttackSupport.crossEntropyGradient(classifier, inputs, classes: classes, targeted: targeted)
        let eps = epsilon
        adversarials.withUnsafeMutableBufferPointer { x in
            g.withUnsafeBufferPointer { g in
                for i in 0..<x.count { x[i] += eps * AttackSupport.sign(g[i]) }
            }
        }
        box.clamp(&adversarials)
        return adversarials
    }
}
