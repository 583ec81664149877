import Foundation

/// OPTMARGIN (He, Li & Song, "Decision Boundary Analysis of Adversarial Examples", ICLR 2018):
/// a Carlini–Wagner L2 attack against an ensemble of `copies` versions of the classifier,
/// `f_i(x′) = f(x′ + v_i)`, so that the adversarial stays misclassified under small random
/// perturbations and evades region-based classification (Cao & Gong).
///
/// **Maths.** `v_1 … v_{copies−1}` are random orthogonal vectors of RMS magnitude `ε`
/// (`‖v_i‖₂ = ε √D`: a random orthonormal frame from a QR factorisation, scaled), fixed for the
/// whole optimisation, and `v_copies = 0`. With the C&W change of variables, it minimises
///
///     ‖x′ − x‖₂² + c · Σ_i ℓ(Z(x′ + v_i)),   ℓ = max(Z_y − max_{j≠y} Z_j, 0)   (untargeted, κ = 0)
///
/// (targeted: `max(max_{j≠t} Z_j − Z_t, 0)`), with C&W's per-row binary search over `c`, and an
/// iterate succeeds only when all `copies` members are fooled. The copies are not clipped to the
/// domain (the ensemble is `f(x′ + v_i)` as defined); `x′` itself always is inside it.
/// Each row draws its own frame from a stream derived from `seed` and its row index, so a row's
/// result does not depend on the other rows of the batch.
///
/// **Defaults** (He et al., MNIST): ε = 0.3 RMS — He et al. set ε to the radius of the region
/// classifier they evade (Cao & Gong's r = 0.3 on MNIST); the region plugin passes its own r —
/// 20 copies, κ = 0, and the C&W defaults of ``CarliniWagnerL2`` (Carlini's reference). The
/// confidence of `carliniWagner` is forced to 0 (the paper's κ). `x′` stays in the classifier's
/// input box (or `carliniWagner.domain`).
///
/// **Batching.** All running rows × all copies go through one forward and one backward pass
/// per iteration (`rows × copies` inputs).
public struct OptMargin: AdversarialAttack, Sendable {
    public var epsilonRMS: Float
    public var copies: Int
    public var carliniWagner: CarliniWagnerL2
    public var name: String { "optmargin" }

    public init(epsilonRMS: Float = 0.3, copies: Int = 20, carliniWagner: CarliniWagnerL2 = .init()) {
        self.epsilonRMS = epsilonRMS
        self.copies = copies
        self.carliniWagner = carliniWagner
        self.carliniWagner.confidence = 0
    }

    /// The fixed perturbations of every row, `[N, copies, D]` row-major: `copies − 1` orthogonal
    /// vectors of RMS `ε` then a zero vector.
    public func perturbations(rows n: Int, dimension d: Int, seed: UInt64) throws -> [Float] {
        guard copies - 1 <= d else {
            throw BorderlineError(.invalidArgument, "optmargin: \(copies - 1) orthogonal perturbations do not fit in \(d) dimensions")
        }
        var out = [Float](repeating: 0, count: n * copies * d)
        let scale = epsilonRMS * Float(d).squareRoot()
        let root = RandomGenerator(seed: seed)
        for r in 0..<n {
            var g = root.derived(UInt64(r))
            let frame = try OrthonormalBasis.random(dimension: d, count: copies - 1, generator: &g)
            for i in 0..<frame.count { out[r * copies * d + i] = scale * frame[i] }
        }
        return out
    }

    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int],
                       goal: AttackGoal, seed: UInt64 = 0, progress: (any ProgressReporter)? = nil) throws -> AttackResult {
        let classes = try carliniWagner.validate(classifier, inputs: inputs, labels: labels, goal: goal, attack: name)
        try AttackSupport.requireNonNegative(epsilonRMS, "epsilon (RMS)", attack: name)
        guard copies >= 1 else { throw BorderlineError(.invalidArgument, "optmargin: copies must be ≥ 1, got \(copies)") }
        let v = try perturbations(rows: inputs.batchSize, dimension: inputs.sampleCount, seed: seed)
        return try attack(classifier, inputs: inputs, labels: labels, goal: goal, perturbations: v, progress: progress)
    }

    /// The attack with given perturbations `v` (`[N, copies, D]` row-major, e.g. from
    /// ``perturbations(rows:dimension:seed:)`` or another implementation) instead of seeded ones.
    /// `succeeded` is judged on the unperturbed adversarial (rows where no iterate fooled all
    /// copies are returned unchanged, so they count as failures unless already misclassified).
    public func attack(_ classifier: any DifferentiableClassifier, inputs: Tensor, labels: [Int], goal: AttackGoal,
                       perturbations v: [Float], progress: (any ProgressReporter)?) throws -> AttackResult {
        let classes = try carliniWagner.validate(classifier, inputs: inputs, labels: labels, goal: goal, attack: name)
        guard copies >= 1, v.count == inputs.batchSize * copies * inputs.sampleCount else {
            throw BorderlineError(.invalidArgument, "optmargin: \(v.count) perturbation values for \(inputs.batchSize) rows × \(copies) copies × \(inputs.sampleCount)")
        }
        let adversarials = try carliniWagner.optimise(classifier, inputs: inputs, classes: classes, targeted: goal.isTargeted,
                                                      perturbations: v, copies: copies, task: name, progress: progress)
        return try AttackResult(classifier: classifier, inputs: inputs, adversarials: adversarials, labels: labels, goal: goal)
    }
}
