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
                         domain: ClosedRange<Float>?, attack: String) throws -> [Int] {
        try classifier.checkBatch(inputs)
        guard labels.count == inputs.batchSize else {
            throw BorderlineError(.invalidArgument, "\(attack): \(labels.count) labels for \(inputs.batchSize) inputs; give one label per input")
        }
        let k = classifier.classCount
        if let bad = labels.first(where: { $0 < 0 || $0 >= k }) {
            throw BorderlineError(.invalidArgument, "\(attack): label \(bad) is outside 0..<\(k)")
        }
        _ = try box(domain, for: classifier, attack: attack)
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
        try crossEntropyVJP(classifier, x, classes: classes, targeted: targeted).inputGradient
    }

    /// ``crossEntropyGradient(_:_:classes:targeted:)`` with the logits of the same pass (`output`).
    static func crossEntropyVJP(_ classifier: any DifferentiableClassifier, _ x: Tensor,
                                classes: [Int], targeted: Bool) throws -> VectorJacobianProduct {
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
        }
    }

    /// The attack objective `s · CE(Z, c)` of every row from its logits `[N, K]` (the quantity
    /// the gradient steps increase), and whether the row already meets the goal.
    static func objective(logits z: Tensor, classes: [Int], labels: [Int], goal: AttackGoal) -> (loss: [Float], success: [Bool]) {
        let n = z.batchSize, k = z.sampleCount
        let sign: Float = goal.isTargeted ? -1 : 1
        let predicted = z.argmaxRows()
        var loss = [Float](repeating: 0, count: n), success = [Bool](repeating: false, count: n)
        z.withUnsafeBufferPointer { p in
            for r in 0..<n {
                // CE(Z, c) = log Σ_j exp(Z_j − max Z) + max Z − Z_c (stable).
                var top = -Float.infinity
                for j in 0..<k { top = Swift.max(top, p[r * k + j]) }
                var sum: Float = 0
                for j in 0..<k { sum += Foundation.exp(p[r * k + j] - top) }
                loss[r] = sign * (Foundation.log(sum) + top - p[r * k + classes[r]])
                success[r] = goal.isSuccess(prediction: predicted[r], row: r, labels: labels)
            }
        }
        return (loss, success)
    }

    /// The box an attack keeps its iterates in: the explicit `domain` when one is given (one
    /// interval for every element), otherwise the classifier's ``Classifier/inputBox`` (the model's
    /// declared valid inputs, possibly per channel).
    /// - Throws: `.invalidArgument` for an explicit domain that is not a finite interval of
    ///   positive width, `.shapeMismatch` when per-channel bounds do not fit the input shape.
    static func box(_ domain: ClosedRange<Float>?, for classifier: any Classifier, attack: String) throws -> InputBox {
        guard let domain else {
            let box = classifier.inputBox
            try box.check(inputShape: classifier.inputShape)
            return box
        }
        guard domain.lowerBound.isFinite, domain.upperBound.isFinite, domain.lowerBound < domain.upperBound else {
            throw BorderlineError(.invalidArgument, "\(attack): domain \(domain) must be a finite interval of positive width")
        }
        return try InputBox(lower: Double(domain.lowerBound), upper: Double(domain.upperBound))
    }

    /// The lower and upper bound of every element of one sample of shape `sampleShape` (channel
    /// `c` covers elements `c·S ..< (c+1)·S`, `S = D / C`), for attacks that need them per element.
    static func elementBounds(_ box: InputBox, sampleShape: [Int]) -> (lower: [Float], upper: [Float]) {
        let d = sampleShape.reduce(1, *), channels = box.isUniform ? 1 : box.channelCount
        let perChannel = Swift.max(1, d / Swift.max(1, channels))
        var lower = [Float](repeating: 0, count: d), upper = lower
        for i in 0..<d {
            let b = box.bounds(channel: Swift.min(channels - 1, i / perChannel))
            lower[i] = b.lower
            upper[i] = b.upper
        }
        return (lower, upper)
    }

    /// `sign(v)` with `sign(0) = 0` (as `torch.sign`).
    @inline(__always) static func sign(_ v: Float) -> Float { v > 0 ? 1 : (v < 0 ? -1 : 0) }
}
