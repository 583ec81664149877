import BorderlineCore
import Foundation

/// The attacks `borderline attack` offers, by their command-line names.
public enum AttackKind: String, CaseIterable, Sendable {
    case fgsm
    case pgdLinf = "pgd-linf"
    case pgdL2 = "pgd-l2"
    case cwL2 = "cw-l2"
    case optmargin
}

/// Settings of one `borderline attack` run. Unset values take the defaults listed in
/// docs/attacks.md.
public struct AttackRunSettings: Sendable {
    public var kind: AttackKind
    /// Budget: L∞ radius (fgsm, pgd-linf), L2 radius (pgd-l2), RMS magnitude of the ensemble's
    /// perturbations (optmargin). C&W has none.
    public var epsilon: Float?
    /// PGD steps / C&W and OPTMARGIN Adam iterations per binary-search step.
    public var steps: Int?
    /// PGD step size / C&W and OPTMARGIN learning rate.
    public var stepSize: Float?
    /// C&W and OPTMARGIN binary-search steps over c.
    public var binarySearchSteps: Int?
    /// C&W confidence κ (OPTMARGIN's is 0 by definition).
    public var confidence: Float?
    /// C&W and OPTMARGIN initial constant c₀.
    public var initialConstant: Float?
    /// PGD: independent random restarts; per image the best is kept.
    public var restarts = 1
    /// PGD: return the best iterate of each run rather than the last.
    public var bestIterate = false
    /// Black-box attack: the model is queried for probabilities only and the attack follows
    /// zeroth-order gradient estimates (NES: Ilyas et al. 2018's query-limited PGD; or finite
    /// differences: ZOO-style). Nil: exact gradients.
    public var gradientEstimator: ZerothOrderGradientEstimator.Configuration?
    public var targeted = false
    public var seed: UInt64 = 0
    /// Rows per attack call (bounds memory: OPTMARGIN evaluates 20 copies of each).
    public var batchSize = 100
    /// Attack only images the model classifies correctly (the first `count` of them), so that
    /// success means the attack changed a correct prediction.
    public var onlyCorrect = false

    public init(kind: AttackKind) { self.kind = kind }

    /// The defaults: FGSM and PGD-L∞ ε = 0.1, PGD-L2 ε = 2 (RMS 0.071 on 784 pixels), PGD 40
    /// steps of ε/10 (L∞) or ε/8 (L2) with random start; C&W and OPTMARGIN Carlini's reference
    /// (9 binary-search steps from c₀ = 10⁻³, 1000 iterations, learning rate 10⁻², κ = 0;
    /// OPTMARGIN ε = 0.3 RMS). Every attack clips to the model's input box.
    public func makeAttack() throws -> any AdversarialAttack {
        if let s = steps, s < 1 { throw BorderlineError(.invalidArgument, "--steps must be ≥ 1, got \(s)") }
        guard restarts >= 1 else { throw BorderlineError(.invalidArgument, "--restarts must be ≥ 1, got \(restarts)") }
        let isPGD = kind == .pgdLinf || kind == .pgdL2
        if !isPGD && (restarts != 1 || bestIterate) {
            throw BorderlineError(.invalidArgument, "--restarts and --best-iterate are PGD options (pgd-linf, pgd-l2), not \(kind.rawValue)")
        }
        let isCW = kind == .cwL2 || kind == .optmargin
        if !isCW && (confidence != nil || initialConstant != nil || binarySearchSteps != nil) {
            throw BorderlineError(.invalidArgument, "--confidence, --initial-constant and --binary-search-steps are C&W/OPTMARGIN options, not \(kind.rawValue)")
        }
        switch kind {
        case .fgsm:
            return FastGradientSignMethod(epsilon: epsilon ?? 0.1)
        case .pgdLinf:
            let eps = epsilon ?? 0.1
            return ProjectedGradientDescent(norm: .linf, epsilon: eps, stepSize: stepSize ?? eps / 10, steps: steps ?? 40,
                                            restarts: restarts, bestIterate: bestIterate)
        case .pgdL2:
            let eps = epsilon ?? 2
            return ProjectedGradientDescent(norm: .l2, epsilon: eps, stepSize: stepSize ?? eps / 8, steps: steps ?? 40,
                                            restarts: restarts, bestIterate: bestIterate)
        case .cwL2, .optmargin:
            var cw = CarliniWagnerL2()
            if let s = steps { cw.iterations = s }
            if let lr = stepSize { cw.learningRate = lr }
            if let b = binarySearchSteps { cw.binarySearchSteps = b }
            if let c = initialConstant { cw.initialConstant = c }
            if kind == .cwL2 {
                guard epsilon == nil else { throw BorderlineError(.invalidArgument, "cw-l2 has no --epsilon (it minimises the distortion)") }
                if let k = confidence { cw.confidence = k }
                return cw
            }
            if let k = confidence, k != 0 {
                throw BorderlineError(.invalidArgument, "optmargin's confidence κ is 0 by definition (He et al.); --confidence \(k) applies to cw-l2 only")
            }
            return OptMargin(epsilonRMS: epsilon ?? 0.3, carliniWagner: cw)
        }
    }
}

/// The outcome of `borderline attack`: the result over all rows, the attacked rows' labels and
/// targets, the clean predictions, and the wall time of the attack itself.
public struct AttackRunOutcome: Sendable {
    public var attackName: String
    public var result: AttackResult
    /// Index of each attacked row in the data set.
    public var indices: [Int]
    public var labels: [Int]
    public var targets: [Int]?
    public var cleanPredictions: [Int]
    public var seconds: Double
    /// Black-box runs: the model queries the attack made (estimates and success checks).
    public var queries: Int?

    /// `attack`, images, clean accuracy, success rate and mean RMS distortion over the
    /// successful rows (He, Li & Song's Table 1 columns), and the time.
    public func summary() -> String {
        let n = labels.count
        let clean = zip(cleanPredictions, labels).filter { $0 == $1 }.count
        let ok = result.succeeded.filter { $0 }.count
        let lines = [
            "attack            \(attackName)\(targets == nil ? "" : " (targeted)")",
            "images            \(n)",
            String(format: "clean accuracy    %.2f %% (%d/%d)", n == 0 ? 0 : 100 * Double(clean) / Double(n), clean, n),
            String(format: "success rate      %.2f %% (%d/%d)", 100 * result.successRate, ok, n),
            "mean RMS distortion " + (ok == 0 ? "n/a (no success)" : String(format: "%.4f (over successful rows)", result.meanRMSDistortion)),
            String(format: "seconds           %.2f", seconds),
        ] + (queries.map { ["queries           \($0) (black box: probabilities only, estimated gradients)"] } ?? [])
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes the adversarials as a data set (`x` float32, `y` the true labels, readable by
    /// every command that takes `--data`), plus `succeeded`, `predictions`, `rms_distortion`,
    /// `clean_predictions`, `indices` (rows of the source set) and, when targeted, `targets`; root attribute `attack`.
    public func write(to path: String, classNames: [String]) throws {
        let set = try Dataset(name: "\(attackName) adversarials", images: result.adversarials, labels: labels, classNames: classNames)
        try set.writeHDF5(to: path, encoding: .float32)
        let file = try HDF5File.openForUpdate(path)
        let root = try file.root()
        try root.setAttribute("attack", string: attackName)
        try root.writeInt64s(result.succeeded.map { $0 ? 1 : 0 }, name: "succeeded")
        try root.writeInt64s(result.predictions.map(Int64.init), name: "predictions")
        try root.writeInt64s(cleanPredictions.map(Int64.init), name: "clean_predictions")
        try root.writeInt64s(indices.map(Int64.init), name: "indices")
        try root.writeTensor(Tensor(shape: [result.rmsDistortion.count], scalars: result.rmsDistortion), name: "rms_distortion")
        if let targets { try root.writeInt64s(targets.map(Int64.init), name: "targets") }
        try file.close()
    }
}

public enum AttackRunner {
    /// Runs the attack on the first `count` images of `data` (of those classified correctly with
    /// `onlyCorrect`) in batches of `settings.batchSize`. Targeted runs draw one target per row
    /// uniformly among the other classes (seeded).
    public static func run(_ settings: AttackRunSettings, classifier: any DifferentiableClassifier, data: Dataset,
                           count: Int, progress: (any ProgressReporter)?) throws -> AttackRunOutcome {
        guard count >= 1 else { throw BorderlineError(.invalidArgument, "--count must be ≥ 1, got \(count)") }
        guard settings.batchSize >= 1 else { throw BorderlineError(.invalidArgument, "--batch-size must be ≥ 1, got \(settings.batchSize)") }
        let attack = try settings.makeAttack()
        // A black-box attack sees the model through its probabilities alone.
        let estimator = try settings.gradientEstimator.map { try ZerothOrderGradientEstimator(BlackBoxClassifier(classifier), configuration: $0) }
        let target: any DifferentiableClassifier = estimator ?? classifier
        var indices = Array(0..<min(count, data.count))
        if settings.onlyCorrect {
            let predicted = try classifier.predictions(data.images)
            indices = Array(data.labels.indices.filter { predicted[$0] == data.labels[$0] }.prefix(count))
        }
        guard !indices.isEmpty else {
            throw BorderlineError(.dataMismatch, "no images to attack in '\(data.name)'\(settings.onlyCorrect ? " that the model classifies correctly" : "")")
        }
        let set = data.subset(indices)
        let n = set.count, k = classifier.classCount
        var targets: [Int]?
        if settings.targeted {
            guard k >= 2 else { throw BorderlineError(.invalidArgument, "a targeted attack needs at least 2 classes") }
            var g = RandomGenerator(seed: settings.seed).derived(0x7461_7267)   // "targ"
            targets = set.labels.map { ($0 + 1 + Int(g.next() % UInt64(k - 1))) % k }
        }
        let clean = try classifier.predictions(set.images)
        let started = Date()
        var parts: [AttackResult] = []
        var start = 0
        while start < n {
            let end = min(n, start + settings.batchSize)
            let labels = Array(set.labels[start..<end])
            let goal: AttackGoal = targets.map { .targeted(Array($0[start..<end])) } ?? .untargeted
            parts.append(try attack.attack(target, inputs: set.images.slice(batch: start..<end), labels: labels, goal: goal,
                                           seed: settings.seed &+ UInt64(start), progress: progress))
            start = end
        }
        let seconds = Date().timeIntervalSince(started)
        let result = AttackResult(adversarials: Tensor.concatenate(batches: parts.map(\.adversarials)),
                                  succeeded: parts.flatMap(\.succeeded), predictions: parts.flatMap(\.predictions),
                                  rmsDistortion: parts.flatMap(\.rmsDistortion))
        let name = attack.name + (estimator.map { " (black box, \($0.configuration.method.rawValue) gradients)" } ?? "")
        return AttackRunOutcome(attackName: name, result: result, indices: indices, labels: set.labels, targets: targets,
                                cleanPredictions: clean, seconds: seconds, queries: estimator?.queryCount)
    }
}
