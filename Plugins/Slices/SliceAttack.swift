import BorderlineCore
import Foundation

/// The adversarial perturbation a slice is drawn through: an attack by name with its settings.
///
/// **Maths.** Untargeted attacks on the cross-entropy loss `L(x) = −log p_y(x)` inside the box
/// `[0, 1]^D`: FGSM `x' = clip(x + ε·sign ∇L(x))`; PGD-L∞ from a uniform random start in the
/// ε-ball, `x ← Π_{B∞(x₀, ε) ∩ [0,1]^D}(x + α·sign ∇L(x))` for `steps` steps; PGD-L2 the same with
/// the step `α·∇L/‖∇L‖₂` and projection onto the L2 ball of radius ε. `∇L` is the vector–Jacobian
/// product of the logits with the cotangent `p(x) − e_y`, one batched backward pass per step.
///
/// This is the plugin's own copy of FGSM/PGD, kept until the core attack API
/// (`ProjectedGradientDescent`, `FastGradientSignMethod`) is on main; its names and settings are
/// those of that API.
public struct SliceAttack: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case pgdLinf = "pgd-linf", pgdL2 = "pgd-l2", fgsm }
    public var kind: Kind
    public var epsilon: Float
    public var stepSize: Float
    public var steps: Int
    public var domain: ClosedRange<Float> = 0...1

    public init(kind: Kind, epsilon: Float, stepSize: Float, steps: Int) {
        self.kind = kind
        self.epsilon = epsilon
        self.stepSize = stepSize
        self.steps = steps
    }

    /// The adversarial of every row of `inputs` (labels: the classes to move away from) and the
    /// classifier's prediction there.
    public func run(_ model: any DifferentiableClassifier, inputs: Tensor, labels: [Int], seed: UInt64) throws -> (adversarials: Tensor, predictions: [Int]) {
        let n = inputs.batchSize, d = inputs.sampleCount, k = model.classCount
        guard labels.count == n, labels.allSatisfy({ (0..<k).contains($0) }) else {
            throw BorderlineError(.invalidArgument, "slices: attack needs one label in 0…\(k - 1) per input row, got \(labels)")
        }
        guard epsilon > 0, epsilon.isFinite else { throw BorderlineError(.invalidArgument, "slices: attack ε must be positive, got \(epsilon)") }
        let lo = domain.lowerBound, hi = domain.upperBound
        let x0 = inputs.scalars
        func gradient(_ x: Tensor) throws -> [Float] {
            let p = try model.probabilities(x)
            var v = p.scalars
            for r in 0..<n { v[r * k + labels[r]] -= 1 }
            return try model.logitsVJP(x, cotangent: Tensor(shape: [n, k], scalars: v)).inputGradient.scalars
        }
        var x = x0
        switch kind {
        case .fgsm:
            let g = try gradient(inputs)
            for i in 0..<(n * d) { x[i] = min(hi, max(lo, x0[i] + epsilon * (g[i] > 0 ? 1 : (g[i] < 0 ? -1 : 0)))) }
        case .pgdLinf, .pgdL2:
            var random = RandomGenerator(seed: seed)
            if kind == .pgdLinf {
                for i in 0..<(n * d) { x[i] = min(hi, max(lo, x0[i] + random.nextUniform(-epsilon, epsilon))) }
            } else {
                for r in 0..<n {
                    var z = (0..<d).map { _ in random.nextNormal() }
                    let norm = max(1e-12, z.reduce(0) { $0 + $1 * $1 }.squareRoot())
                    let radius = epsilon * pow(random.nextUniform(), 1 / Float(d))
                    for j in 0..<d { z[j] *= radius / norm; x[r * d + j] = min(hi, max(lo, x0[r * d + j] + z[j])) }
                }
            }
            for _ in 0..<max(1, steps) {
                let g = try gradient(Tensor(shape: inputs.shape, scalars: x))
                for r in 0..<n {
                    let range = (r * d)..<((r + 1) * d)
                    if kind == .pgdLinf {
                        for i in range {
                            let stepped = x[i] + stepSize * (g[i] > 0 ? 1 : (g[i] < 0 ? -1 : 0))
                            x[i] = min(hi, max(lo, min(x0[i] + epsilon, max(x0[i] - epsilon, stepped))))
                        }
                    } else {
                        let gn = max(1e-12, g[range].reduce(0) { $0 + $1 * $1 }.squareRoot())
                        for i in range { x[i] += stepSize * g[i] / gn }
                        let dn = range.reduce(Float(0)) { $0 + (x[$1] - x0[$1]) * (x[$1] - x0[$1]) }.squareRoot()
                        let shrink = dn > epsilon ? epsilon / dn : 1
                        for i in range { x[i] = min(hi, max(lo, x0[i] + (x[i] - x0[i]) * shrink)) }
                    }
                }
            }
        }
        let adversarials = Tensor(shape: inputs.shape, scalars: x)
        return (adversarials, try model.predictions(adversarials))
    }
}
