import BorderlineCore
import Foundation

/// Which data images a flip-point prober starts from for a class pair.
///
/// The flip-point probers are per-image: each start walks to *its* nearest boundary (along the
/// gradient, or DeepFool's linearised one), whichever class lies beyond it. The pair API is kept
/// as follows (`starts` option):
/// - `pair` (default): `samples` correctly classified images, the first half drawn from class `s`,
///   the rest from class `t`; the class reached is recorded per row (`flip_class`) and need not be
///   the other class of the pair.
/// - `all-images`: the pairs only shard the run's data: image `i` (every image, misclassified ones
///   starting from their predicted class) goes to pair number `i mod P` of the run's `P` pairs, so
///   each image is probed exactly once in the run (`--samples` is ignored).
/// Both probers of the plugin draw the same starts for the same seed and pair (the draw derives
/// from the seed, the plugin's name and the pair only), so DeepFool and jacobian-flip can be
/// compared per image.
enum FlipStarts {
    enum Choice: String, CaseIterable, OptionValue {
        case pair
        case allImages = "all-images"
    }

    /// The `starts` option, shared by both probers.
    struct Options: PluginOptions {
        @Option(help: "pair: samples correct images of s and t; all-images: every data image once, sharded over the pairs")
        var starts = Choice.pair
        @Option(help: "starts=pair: images per pair (0: the run's --samples); the default run (model atlas) uses a few", in: 0...1_000_000)
        var perPair = 0
    }

    static func indices(_ pair: ClassPair, options: Options, context: RunContext) throws -> [Int] {
        if options.starts == .allImages {
            guard let p = context.pairs.firstIndex(of: pair) else { return [] }
            return stride(from: p, to: context.data.count, by: context.pairs.count).map { $0 }
        }
        let n = options.perPair > 0 ? options.perPair : context.samplesPerPair
        // One stream for the plugin (not per prober), so that both probers draw the same starts.
        var random = RandomGenerator(seed: context.seed ^ StableHash.fnv1a("\(context.plugin)/starts#\(pair.key)"))
        var out: [Int] = []
        for (c, count) in [(pair.source, (n + 1) / 2), (pair.target, n / 2)] where count > 0 {
            let pool = try context.correctlyClassifiedIndices(of: c)   // none: the pair is skipped
            var drawn: [Int] = []
            while drawn.count < count { drawn += random.permutation(pool.count).map { pool[$0] } }
            out += drawn.prefix(count)
        }
        return out
    }

    /// Per-row float arrays in the probers' sets (`extras`), which any metric may read.
    enum Extras {
        static let l1 = "l1", l2 = "l2", linf = "linf", alpha = "alpha", gap = "gap"
    }

    static func distanceExtras(start: Tensor, points: Tensor, valid: [Bool]) -> [String: Tensor] {
        let d = RowDistances.between(start, points)
        let n = valid.count
        func masked(_ v: [Float]) -> Tensor { Tensor(shape: [n], scalars: (0..<n).map { valid[$0] ? v[$0] : .nan }) }
        return [Extras.l1: masked(d.l1), Extras.l2: masked(d.l2), Extras.linf: masked(d.linf)]
    }
}

/// Clipping and batch size, shared by both probers. The box is the classifier's
/// ``Classifier/inputBox`` (the model's declared valid inputs, `[0, 1]` unless its file says
/// otherwise, possibly per channel); the plugin has no bounds of its own (issue 15).
struct FlipDomainOptions: PluginOptions {
    @Option(help: "keep every point inside the model's input box")
    var clip = true
    @Option(help: "rows per batched forward/backward", in: 1...100_000)
    var batchSize = 256

    /// The box to clip to, nil without clipping.
    func box(for classifier: any Classifier) throws -> InputBox? {
        guard clip else { return nil }
        let box = classifier.inputBox
        try box.check(inputShape: classifier.inputShape)
        return box
    }
}

/// The settings a prober searched with, recorded in its output so that the run-wide analysis
/// runs its random-input baselines with the run's settings (also after `--resume` or a merge).
struct JacobianSettings: Codable, Equatable {
    var gradientOf: String
    var alphaSchedule: String
    var firstStep: Float
    var stepGrowth: Float
    var alphaStart: Float
    var alphaGrowth: Float
    var maxAlpha: Float
    var tolerance: Float
    var bracket: Float?
    var maxSteps: Int
    var clip: Bool
    var batchSize: Int

    init(_ c: JacobianFlipSearch.Configuration) {
        gradientOf = c.output == .probabilities ? "probability" : "logit"
        alphaSchedule = c.schedule.rawValue
        firstStep = c.firstStep; stepGrowth = c.stepGrowth
        alphaStart = c.alphaStart; alphaGrowth = c.alphaGrowth; maxAlpha = c.maxAlpha
        tolerance = c.tolerance; bracket = c.bracket; maxSteps = c.maxSteps
        clip = c.box != nil
        batchSize = c.batchSize
    }

    /// The configuration these settings describe, clipping to `box` when they clip.
    func configuration(box: InputBox) throws -> JacobianFlipSearch.Configuration {
        var c = JacobianFlipSearch.Configuration()
        guard let schedule = JacobianFlipSearch.AlphaSchedule(rawValue: alphaSchedule) else {
            throw BorderlineError(.invalidArgument, "unknown alpha schedule '\(alphaSchedule)' in a jacobian-flip output")
        }
        c.schedule = schedule
        c.output = gradientOf == "probability" ? .probabilities : .logits
        c.firstStep = firstStep; c.stepGrowth = stepGrowth
        c.alphaStart = alphaStart; c.alphaGrowth = alphaGrowth; c.maxAlpha = maxAlpha
        c.tolerance = tolerance; c.maxSteps = maxSteps
        if let bracket { c.bracket = bracket }
        c.box = clip ? box : nil
        c.batchSize = batchSize
        return c
    }
}

/// DeepFool's settings, recorded in its output (see ``JacobianSettings``).
struct DeepFoolSettings: Codable, Equatable {
    var maxIterations: Int
    var overshoot: Float
    var candidates: Int
    var clip: Bool
    var batchSize: Int

    init(_ c: DeepFoolSearch.Configuration) {
        maxIterations = c.maxIterations; overshoot = c.overshoot; candidates = c.candidates
        clip = c.box != nil; batchSize = c.batchSize
    }

    func configuration(box: InputBox) -> DeepFoolSearch.Configuration {
        var c = DeepFoolSearch.Configuration()
        c.maxIterations = maxIterations; c.overshoot = overshoot; c.candidates = candidates
        c.box = clip ? box : nil
        c.batchSize = batchSize
        return c
    }
}

/// Prober `jacobian-flip`: ``JacobianFlipSearch`` from each start image.
final class JacobianFlipProber: BoundaryProber {
    let name = "jacobian-flip"
    let summary = "Step x − α∇f_top up an α ladder (scaled to ‖∇f‖ so the first crossing is found; or the paper's α = 1, 10, …) until the label changes, then bisect on α until |p_a − p_b| < tolerance (Gupta, Alg. 1–2)."
    let needsGradients = true

    enum GradientOf: String, CaseIterable, OptionValue { case logit, probability }

    struct Options: PluginOptions {
        @OptionGroup var start: FlipStarts.Options
        @Option(help: "differentiate the top-1 logit or its softmax probability")
        var gradientOf = GradientOf.logit
        @Option(help: "scaled: α_k = first-step·step-growth^k/‖∇f‖ up to the box's saturation α (finds the first crossing); paper: Gupta's literal α = alpha-start·10^k")
        var alphaSchedule = JacobianFlipSearch.AlphaSchedule.scaled
        @Option(help: "alpha-schedule=scaled: length ‖α₀∇f‖₂ of the first step in input units", in: 1e-9...1e6)
        var firstStep: Float = 1e-3
        @Option(help: "alpha-schedule=scaled: factor between consecutive α", in: 1.01...1000)
        var stepGrowth: Float = 1.1
        @Option(help: "alpha-schedule=paper: first α (Gupta: 1; each next one ×10)", in: 1e-12...1e12)
        var alphaStart: Float = 1
        @Option(help: "largest α tried before the point counts as never flipped", in: 1e-12...1e30)
        var maxAlpha: Float = 1e10
        @Option(help: "|p_a − p_b| at the flip point", in: 1e-7...0.5)
        var tolerance: Float = 1e-4
        @Option(help: "the bisection also narrows α_hi − α_lo to at most bracket·α_hi", in: 1e-7...1)
        var bracket: Float = 1e-3
        @Option(help: "bisection halvings before the point counts as capped", in: 1...200)
        var maxSteps = 60
        @OptionGroup var domain: FlipDomainOptions

        /// The search's configuration, clipping to `box` when `clip` is on.
        func configuration(box: InputBox? = .unit) -> JacobianFlipSearch.Configuration {
            var c = JacobianFlipSearch.Configuration()
            c.schedule = alphaSchedule
            c.firstStep = firstStep
            c.stepGrowth = stepGrowth
            c.alphaStart = alphaStart
            c.maxAlpha = maxAlpha
            c.tolerance = tolerance
            c.bracket = bracket
            c.maxSteps = maxSteps
            c.box = domain.clip ? box : nil
            c.output = gradientOf == .probability ? .probabilities : .logits
            c.batchSize = domain.batchSize
            return c
        }
    }

    /// Per pair: outcome counts, the data-set indices (of the full data set, like the set's
    /// `start_indices`) of the starts that never flipped, the search's time, the settings it ran
    /// with, and per row the start's class, the class beyond the flip point (−1: none) and the
    /// outcome (0 resolved, 1 capped, 2 never flipped).
    struct Output: Codable {
        var resolved: Int
        var capped: Int
        var neverFlipped: Int
        var neverFlippedIndices: [Int]?
        var searchSeconds: Double
        var settings: JacobianSettings?
        var startClass: [Int]
        var flipClass: [Int]
        var status: [JacobianFlipSearch.Status]
    }

    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Output> {
        let model = try context.gradients()
        let idx = try FlipStarts.indices(pair, options: options.start, context: context)
        let start = context.data.images.gather(batch: idx)
        let c = options.configuration(box: try options.domain.box(for: context.classifier))
        let clock = Date()
        let o = try JacobianFlipSearch.search(model, start, configuration: c, checkStop: context.checkInterrupted)
        let seconds = Date().timeIntervalSince(clock)
        let n = idx.count
        let reasons: [String?] = o.status.map {
            switch $0 {
            case .resolved: return nil
            case .capped: return "flipped, but |p_a − p_b| ≥ \(c.tolerance) after the bisection step cap"
            case .neverFlipped:
                return c.schedule == .scaled && c.box != nil
                    ? "never flipped along the clipped ray (up to its saturation α, beyond which it no longer moves, or α = \(c.maxAlpha))"
                    : "never flipped up to α = \(c.maxAlpha)"
            }
        }
        var extras = FlipStarts.distanceExtras(start: start, points: o.points, valid: o.status.map { $0 != .neverFlipped })
        extras[FlipStarts.Extras.alpha] = Tensor(shape: [n], scalars: o.alphas)
        extras[FlipStarts.Extras.gap] = Tensor(shape: [n], scalars: o.gaps)
        let never = (0..<n).filter { o.status[$0] == .neverFlipped }
        let set = try BoundarySet(pair: pair, points: o.points, startPoints: start, startIndices: idx, probabilities: o.probabilities,
                                  succeeded: o.status.map { $0 == .resolved }, failureReasons: reasons, iterations: o.steps,
                                  extras: extras)
        return Probe(set, output: Output(
            resolved: o.status.filter { $0 == .resolved }.count, capped: o.status.filter { $0 == .capped }.count,
            neverFlipped: never.count, neverFlippedIndices: never.isEmpty ? nil : context.dataSetIndices(ofRows: never.map { idx[$0] }),
            searchSeconds: seconds, settings: JacobianSettings(c), startClass: o.startClasses, flipClass: o.flipClasses, status: o.status))
    }
}

/// Prober `deepfool`: ``DeepFoolSearch`` from the same start images as `jacobian-flip`.
final class DeepFoolProber: BoundaryProber {
    let name = "deepfool"
    let summary = "DeepFool: iterated minimal-L2 step to the nearest linearised boundary, overshoot on the total perturbation."
    let needsGradients = true

    struct Options: PluginOptions {
        @OptionGroup var start: FlipStarts.Options
        @Option(help: "DeepFool iterations before a point counts as not flipped", in: 1...1000)
        var maxIterations = 50
        @Option(help: "x_i = x0 + (1 + overshoot)·r_tot at every iterate", in: 0...10)
        var overshoot: Float = 0.02
        @Option(help: "candidate classes (highest logits besides the predicted one)", in: 1...1000)
        var candidates = 10
        @OptionGroup var domain: FlipDomainOptions
    }

    /// Per pair: how many starts did not flip, the search's time, the settings it ran with, and
    /// per row the start's class and the class at the final point when it flipped (−1 otherwise).
    struct Output: Codable {
        var notFlipped: Int
        var searchSeconds: Double
        var settings: DeepFoolSettings?
        var startClass: [Int]
        var flipClass: [Int]
    }

    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Output> {
        let model = try context.gradients()
        let idx = try FlipStarts.indices(pair, options: options.start, context: context)
        let start = context.data.images.gather(batch: idx)
        var c = DeepFoolSearch.Configuration()
        c.maxIterations = options.maxIterations
        c.overshoot = options.overshoot
        c.candidates = options.candidates
        c.box = try options.domain.box(for: context.classifier)
        c.batchSize = options.domain.batchSize
        let clock = Date()
        let o = try DeepFoolSearch.search(model, start, configuration: c, checkStop: context.checkInterrupted)
        let seconds = Date().timeIntervalSince(clock)
        let n = idx.count
        let set = try BoundarySet(pair: pair, points: o.points, startPoints: start, startIndices: idx, probabilities: o.probabilities,
                                  succeeded: o.flipped,
                                  failureReasons: o.flipped.map { $0 ? nil : "not flipped within \(c.maxIterations) iterations" },
                                  iterations: o.iterations,
                                  extras: FlipStarts.distanceExtras(start: start, points: o.points, valid: o.flipped))
        return Probe(set, output: Output(
            notFlipped: o.flipped.filter { !$0 }.count, searchSeconds: seconds, settings: DeepFoolSettings(c), startClass: o.startClasses,
            flipClass: (0..<n).map { o.flipped[$0] ? o.finalClasses[$0] : -1 }))
    }
}

extension JacobianFlipSearch.AlphaSchedule: OptionValue {}
