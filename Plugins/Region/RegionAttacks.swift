import BorderlineCore
import Foundation

/// Adversarial examples made against the point classifier, as the analysis uses them.
public struct AttackOutcome {
    public var name: String
    /// Same shape as the attacked inputs, inside the domain.
    public var adversarials: Tensor
    public var succeeded: [Bool]
    /// `‖x' − x‖₂ / √D` per row.
    public var rmsDistortion: [Float]
    public var seconds: Double
    public init(name: String, adversarials: Tensor, succeeded: [Bool], rmsDistortion: [Float], seconds: Double) {
        self.name = name
        self.adversarials = adversarials
        self.succeeded = succeeded
        self.rmsDistortion = rmsDistortion
        self.seconds = seconds
    }
    public var successRate: Double { succeeded.isEmpty ? .nan : Double(succeeded.filter { $0 }.count) / Double(succeeded.count) }
    /// Mean RMS distortion over the successful rows.
    public var meanRMSDistortion: Double {
        let ok = succeeded.indices.filter { succeeded[$0] }
        return ok.isEmpty ? .nan : ok.reduce(0.0) { $0 + Double(rmsDistortion[$1]) } / Double(ok.count)
    }
}

/// The attacks the analysis can run, by name, built from the core's attack implementations.
public enum RegionAttacks {
    public static let known = ["fgsm", "pgd-linf", "pgd-l2", "cw-l2", "optmargin"]

    public struct Parameters: Sendable {
        public var fgsmEpsilon: Float = 0.1
        public var pgdEpsilon: Float = 0.1
        public var pgdL2Epsilon: Float = 2
        public var pgdStepSize: Float = 0.01
        public var pgdSteps = 40
        /// C&W and OPTMARGIN: Carlini's reference defaults (``CarliniWagnerL2``).
        public var cwIterations = CarliniWagnerL2().iterations
        public var cwBinarySteps = CarliniWagnerL2().binarySearchSteps
        public var cwLearningRate = CarliniWagnerL2().learningRate
        public var cwInitialConstant = CarliniWagnerL2().initialConstant
        public var cwConfidence: Float = 0
        /// OPTMARGIN's ε (RMS of its perturbations); nil: the region radius `r`, as He et al. do
        /// (their ε is the radius of the region classifier they evade).
        public var optMarginEpsilon: Float?
        public init() {}
    }

    /// The names this build can run (the core attacks that exist).
    public static let available = known

    /// The attack `name`; `radius` is the region classifier's `r` (OPTMARGIN's default ε).
    static func make(_ name: String, _ p: Parameters, radius: Float) throws -> any AdversarialAttack {
        let cw = CarliniWagnerL2(confidence: p.cwConfidence, initialConstant: p.cwInitialConstant, binarySearchSteps: p.cwBinarySteps,
                                 iterations: p.cwIterations, learningRate: p.cwLearningRate)
        switch name {
        case "fgsm": return FastGradientSignMethod(epsilon: p.fgsmEpsilon)
        case "pgd-linf": return ProjectedGradientDescent(norm: .linf, epsilon: p.pgdEpsilon, stepSize: p.pgdStepSize, steps: p.pgdSteps)
        case "pgd-l2":
            return ProjectedGradientDescent(norm: .l2, epsilon: p.pgdL2Epsilon, stepSize: p.pgdStepSize * p.pgdL2Epsilon / max(p.pgdEpsilon, 1e-6), steps: p.pgdSteps)
        case "cw-l2": return cw
        case "optmargin": return OptMargin(epsilonRMS: p.optMarginEpsilon ?? radius, carliniWagner: cw)
        default: throw BorderlineError(.invalidArgument, "region: unknown attack '\(name)'; known: \(known.joined(separator: ", "))")
        }
    }

    /// Runs the attack `name` untargeted on `inputs` against `classifier`.
    public static func run(_ name: String, classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                           parameters: Parameters, radius: Float, seed: UInt64, progress: (any ProgressReporter)?) throws -> AttackOutcome {
        let attack = try make(name, parameters, radius: radius)
        let t0 = Date()
        let r = try attack.attack(classifier, inputs: inputs, labels: labels, goal: .untargeted, seed: seed, progress: progress)
        return AttackOutcome(name: name, adversarials: r.adversarials, succeeded: r.succeeded, rmsDistortion: r.rmsDistortion,
                             seconds: Date().timeIntervalSince(t0))
    }
}
