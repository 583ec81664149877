import BorderlineCore
import Foundation

/// The attacks `borderline attack` offers, by their command-line names.
public enum AttackKind: String, CaseIterable, Sendable {
    case fgsm
    case pgdLinf = "pgd-linf"
    case pgdL2 = "pgd-l2"
    case cwL2 = "cw-l2"
    case optmargin
    /// DeepFool (Moosavi-Dezfooli et al. 2016): minimal-L2, untargeted; `DeepFoolSearch`.
    case deepfool
    /// Square Attack L∞ (Andriushchenko et al. 2020): score-based black box (probabilities only).
    case squareLinf = "square-linf"

    /// Attacks that query scores only (no gradients, exact or estimated).
    public var isScoreBased: Bool { self == .squareLinf }
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
    /// DeepFool: the factor `1 + overshoot` on the total perturbation (default 0.02).
    public var overshoot: Float?
    /// Square attack: the initial fraction of the image a square covers (default 0.05).
    public var pInit: Float?
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
        if kind != .deepfool && overshoot != nil {
            throw BorderlineError(.invalidArgument, "--overshoot is a DeepFool option (deepfool), not \(kind.rawValue)")
        }
        if kind != .squareLinf && pInit != nil {
            throw BorderlineError(.invalidArgument, "--p-init is a Square attack option (square-linf), not \(kind.rawValue)")
        }
        if kind.isScoreBased && gradientEstimator != nil {
            throw BorderlineError(.invalidArgument, "\(kind.rawValue) queries probabilities only already; --gradient-estimator is for the gradient attacks (fgsm, pgd-linf, pgd-l2, cw-l2, optmargin, deepfool)")
        }
        switch kind {
        case .deepfool:
            guard epsilon == nil else { throw BorderlineError(.invalidArgument, "deepfool has no --epsilon (it minimises the L2 distortion)") }
            guard stepSize == nil else { throw BorderlineError(.invalidArgument, "deepfool has no --step-size (each step goes to the linearised boundary)") }
            guard !targeted else { throw BorderlineError(.invalidArgument, "deepfool is untargeted; --targeted needs pgd-linf, pgd-l2, cw-l2 or square-linf") }
            return DeepFool(maxIterations: steps ?? 50, overshoot: overshoot ?? 0.02)
        case .squareLinf:
            guard stepSize == nil else { throw BorderlineError(.invalidArgument, "square-linf has no --step-size (its steps are ±ε squares)") }
            return SquareAttack(epsilon: epsilon ?? 0.1, iterations: steps ?? 1000, pInit: pInit ?? 0.05)
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
    /// Per image, the queries the attack spent on it, for attacks that count them (square-linf:
    /// probability queries; deepfool: forward passes and gradients); nil otherwise.
    public var queriesPerImage: [Int]? { result.queries }

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
            "mean L2 distortion " + (ok == 0 ? "n/a (no success)" : String(format: "%.4f (over successful rows)", meanL2Distortion)),
            String(format: "seconds           %.2f", seconds),
        ] + (queries.map { ["queries           \($0) (black box: probabilities only, estimated gradients)"] } ?? [])
          + (queries == nil ? queriesLine.map { [$0] } ?? [] : [])
        return lines.joined(separator: "\n") + "\n"
    }

    /// Mean `‖x′ − x‖₂` over the successful rows (RMS · √D; NaN when none succeeded).
    public var meanL2Distortion: Double {
        result.meanRMSDistortion * Double(result.adversarials.sampleCount).squareRoot()
    }

    /// `queries  total, mean per image, median over the successful images`, for attacks that
    /// count their queries per image.
    var queriesLine: String? {
        guard let q = result.queries, !q.isEmpty else { return nil }
        let total = q.reduce(0, +)
        let successful = q.indices.filter { result.succeeded[$0] }.map { q[$0] }.sorted()
        let median = successful.isEmpty ? "n/a" : String(successful.count % 2 == 1 ? Double(successful[successful.count / 2])
            : Double(successful[successful.count / 2 - 1] + successful[successful.count / 2]) / 2)
        let what = attackName.hasPrefix("square") ? "probability queries only" : "forward passes and gradients"
        return String(format: "queries           %d (mean %.1f per image; median %@ over successful images; %@)",
                      total, Double(total) / Double(q.count), median, what)
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
        if let q = result.queries { try root.writeInt64s(q.map(Int64.init), name: "queries") }
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
            let inputs = set.images.slice(batch: start..<end), seed = settings.seed &+ UInt64(start)
            if let scoreBased = attack as? any ScoreBasedAttack {
                // A score-based attack sees the model through its probabilities alone.
                parts.append(try scoreBased.attack(scores: BlackBoxClassifier(classifier), inputs: inputs, labels: labels, goal: goal,
                                                   seed: seed, progress: progress))
            } else {
                parts.append(try attack.attack(target, inputs: inputs, labels: labels, goal: goal, seed: seed, progress: progress))
            }
            start = end
        }
        let seconds = Date().timeIntervalSince(started)
        var result = AttackResult(adversarials: Tensor.concatenate(batches: parts.map(\.adversarials)),
                                  succeeded: parts.flatMap(\.succeeded), predictions: parts.flatMap(\.predictions),
                                  rmsDistortion: parts.flatMap(\.rmsDistortion),
                                  queries: parts.allSatisfy { $0.queries != nil } ? parts.flatMap { $0.queries! } : nil)
        // What the command reports is checked on the exact model: every example must lie inside
        // the model's input box, and success is what the exact model says of the returned
        // examples (classified differently from the label, or as the target), classified again
        // here in one pass — a point the attack counted that lands back in its class is a failure.
        let box = classifier.inputBox
        guard box.contains(result.adversarials, tolerance: 1e-6) else {
            throw BorderlineError(.invalidConfiguration, "\(attack.name): an adversarial example left the model's input box \(box) (internal check)")
        }
        let recheck = try classifier.predictions(result.adversarials)
        result.predictions = recheck
        result.succeeded = recheck.indices.map { r in targets.map { recheck[r] == $0[r] } ?? (recheck[r] != set.labels[r]) }
        let name = attack.name + (estimator.map { " (black box, \($0.configuration.method.rawValue) gradients)" }
            ?? (attack is any ScoreBasedAttack ? " (black box, probabilities only)" : ""))
        return AttackRunOutcome(attackName: name, result: result, indices: indices, labels: set.labels, targets: targets,
                                cleanPredictions: clean, seconds: seconds, queries: estimator?.queryCount)
    }
}
