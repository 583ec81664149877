import Foundation

/// An evasion attack: given a batch `x`, its true labels `y` and a goal, finds `x′` in the input
/// domain close to `x` that the classifier misclassifies (untargeted) or assigns to a chosen
/// class (targeted).
///
/// **Contract.** ``attack(_:inputs:labels:goal:seed:progress:)`` processes the whole batch at
/// once (one forward/backward pass per optimisation step for all rows), returns an
/// ``AttackResult`` whose `adversarials` have the inputs' shape and lie inside the attack's
/// domain, and throws a ``BorderlineError`` (`.invalidArgument`, `.shapeMismatch`) for bad
/// arguments — never traps. The same seed gives the same result.
public protocol AdversarialAttack {
    /// Short name used on the command line: "fgsm", "pgd-linf", "pgd-l2", "cw-l2", "optmargin".
    var name: String { get }
    func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                goal: AttackGoal, seed: UInt64, progress: (any ProgressReporter)?) throws -> AttackResult
}

/// Argument checks and the loss gradients the attacks share.
enum AttackSupport {
    /// Checks the batch, labels, goal and domain; returns the steering class of each row (the
    /// label when untargeted, the target when targeted).
    static func validate(_ classifier: any Classifier, inputs: Tensor, labels: [Int], goal: AttackGoal,
                         domain: ClosedRange<Float>, attack: String) throws -> [Int] {
        try classifier.checkBatch(inputs)
        guard labels.count == inputs.batchSize else {
            throw BorderlineError(.invalidArgument, "\(attack): \(labels.count) labels for \(inputs.batchSize) inputs; give one label per input")
        }
        let k = classifier.classCount
        if let bad = labels.first(where: { $0 < 0 || $0 >= k }) {
            throw BorderlineError(.invalidArgument, "\(attack): label \(bad) is outside 0..<\(k)")
        }
        guard domain.lowerBound.isFinite, domain.upperBound.isFinite, domain.lowerBound < domain.upperBound else {
            throw BorderlineError(.invalidArgument, "\(attack): domain \(domain) must be a finite interval of positive width")
        }
        guard inputs.isFinite else {
            throw BorderlineError(.nonFiniteValues, "\(attack): the inputs contain NaN or infinity")
        }
        return try goal.steeringClasses(labels: labels, classCount: k)
    }

    static func requireNonNegative(_ value: Float, _ what: String, attack: String) throws {
        guard value.isFinite, value >= 0 else {
            throw BorderlineError(.invalidArgument, "\(attack): \(what) must be a finite number ≥ 0, got \(value)")
        }
    }

    /// The gradient of the attack objective `s · CE(Z(x), c)` with respect to `x` for every row,
    /// with `c` the steering class and `s = +1` untargeted (move away from the label), `−1`
    /// targeted (move towards the target). Since `∂CE/∂Z = softmax(Z) − e_c`, this is one
    /// vector–Jacobian product with cotangent `s (softmax(Z) − e_c)` computed from the same pass.
    static func crossEntropyGradient(_ classifier: any DifferentiableClassifier, _ x: Tensor,
                                     classes: [Int], targeted: Bool) throws -> Tensor {
        let sign: Float = targeted ? -1 : 1
        return try classifier.vjp(x) { z, rows in
            let k = z.shape[1]
            var v = z.softmaxRows()
            v.withUnsafeMutableBufferPointer { p in
                for (local, row) in rows.enumerated() {
                    p[local * k + classes[row]] -= 1
                    for j in 0..<k { p[local * k + j] *= sign }
                }
            }
            return v
        }.inputGradient
    }

    /// Clamps every element into `domain`.
    static func clip(_ p: UnsafeMutableBufferPointer<Float>, to domain: ClosedRange<Float>) {
        let lo = domain.lowerBound, hi = domain.upperBound
        for i in 0..<p.count { p[i] = Swift.min(Swift.max(p[i], lo), hi) }
    }

    /// `sign(v)` with `sign(0) = 0` (as `torch.sign`).
    @inline(__always) static func sign(_ v: Float) -> Float { v > 0 ? 1 : (v < 0 ? -1 : 0) }
}
