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
/// from the seed and pair only), so DeepFool and jacobian-flip can be compared per image.
enum FlipStarts {
    static let option = PluginOption.choice("starts", ["pair", "all-images"], default: "pair",
        help: "pair: samples correct images of s and t; all-images: every data image once, sharded over the pairs")

    static func indices(_ pair: ClassPair, context: RunContext) throws -> [Int] {
        if try context.options.string("starts") == "all-images" {
            guard let p = context.pairs.firstIndex(of: pair) else { return [] }
            return stride(from: p, to: context.data.count, by: context.pairs.count).map { $0 }
        }
        let n = context.samplesPerPair
        var random = RandomGenerator(seed: context.seed ^ StableHash.fnv1a("flip-point/starts#\(pair.key)"))
        var out: [Int] = []
        for (c, count) in [(pair.source, (n + 1) / 2), (pair.target, n / 2)] where count > 0 {
            let pool = context.indices(ofClass: c)
            if pool.isEmpty {
                throw BorderlineError(.dataMismatch, "no image of class \(c) (\(context.classifier.className(c))) is classified correctly")
            }
            var drawn: [Int] = []
            while drawn.count < count { drawn += random.permutation(pool.count).map { pool[$0] } }
            out += drawn.prefix(count)
        }
        return out
    }

    static func clip(_ context: RunContext) throws -> ClosedRange<Float>? {
        try context.options.bool("clip") ? Float(try context.options.double("clip-low"))...Float(try context.options.double("clip-high")) : nil
    }

    static let clipOptions: [PluginOption] = [
        .boolean("clip", default: true, help: "keep every point inside the input domain [clip-low, clip-high]"),
        .number("clip-low", default: 0, help: "lower end of the input domain"),
        .number("clip-high", default: 1, help: "upper end of the input domain"),
        .integer("batch-size", default: 256, in: 1...100_000, help: "rows per batched forward/backward"),
    ]

    static func distanceExtras(start: Tensor, points: Tensor, valid: [Bool]) -> [String: Tensor] {
        let d = RowDistances.between(start, points)
        let n = valid.count
        func masked(_ v: [Float]) -> Tensor { Tensor(shape: [n], scalars: (0..<n).map { valid[$0] ? v[$0] : .nan }) }
        return ["l1": masked(d.l1), "l2": masked(d.l2), "linf": masked(d.linf)]
    }
}

/// Prober `jacobian-flip`: ``JacobianFlipSearch`` from each start image.
final class JacobianFlipProber: BoundaryProber {
    let name = "jacobian-flip"
    let summary = "Step x − α∇f_top (α ×10 until the label changes), then bisect on α until |p_a − p_b| < tolerance (Gupta, Alg. 1–2)."
    let needsGradients = true
    let options: [PluginOption] = [
        FlipStarts.option,
        .choice("gradient-of", ["logit", "probability"], default: "logit", help: "differentiate the top-1 logit or its softmax probability"),
        .number("alpha-start", default: 1, in: 1e-12...1e12, help: "first α"),
        .number("max-alpha", default: 1e10, in: 1e-12...1e30, help: "largest α tried before the point counts as never flipped"),
        .number("tolerance", default: 1e-4, in: 1e-7...0.5, help: "|p_a − p_b| at the flip point"),
        .integer("max-steps", default: 60, in: 1...200, help: "bisection halvings before the point counts as capped"),
    ] + FlipStarts.clipOptions

    func configuration(_ context: RunContext) throws -> JacobianFlipSearch.Configuration {
        var c = JacobianFlipSearch.Configuration()
        c.alphaStart = try context.options.float("alpha-start")
        c.maxAlpha = try context.options.float("max-alpha")
        c.tolerance = try context.options.float("tolerance")
        c.maxSteps = try context.options.int("max-steps")
        c.clip = try FlipStarts.clip(context)
        c.output = try context.options.string("gradient-of") == "probability" ? .probabilities : .logits
        c.batchSize = try context.options.int("batch-size")
        return c
    }

    func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
        let model = try context.gradients()
        let idx = try FlipStarts.indices(pair, context: context)
        let start = context.data.images.gather(batch: idx)
        let c = try configuration(context)
        // Queries through the run's counter, so a zeroth-order estimator's queries are included.
        let clock = Date(), queriesBefore = context.environment.counter.count
        let o = try JacobianFlipSearch.search(model, start, configuration: c, checkStop: context.checkInterrupted)
        try context.store.addNumber(Date().timeIntervalSince(clock), name: "search_seconds", pair: pair)
        let n = idx.count
        let reasons: [String?] = o.status.map {
            switch $0 {
            case .resolved: return nil
            case .capped: return "flipped, but |p_a − p_b| ≥ \(c.tolerance) after the bisection step cap"
            case .neverFlipped: return "never flipped up to α = \(c.maxAlpha)"
            }
        }
        var extras = FlipStarts.distanceExtras(start: start, points: o.points, valid: o.status.map { $0 != .neverFlipped })
        extras["flip_class"] = Tensor(shape: [n], scalars: o.flipClasses.map(Float.init))
        extras["start_class"] = Tensor(shape: [n], scalars: o.startClasses.map(Float.init))
        extras["alpha"] = Tensor(shape: [n], scalars: o.alphas)
        extras["status"] = Tensor(shape: [n], scalars: o.status.map { Float($0.rawValue) })
        extras["gap"] = Tensor(shape: [n], scalars: o.gaps)
        let never = (0..<n).filter { o.status[$0] == .neverFlipped }
        try context.store.addNumber(Double(never.count), name: "never_flipped", pair: pair)
        try context.store.addNumber(Double(o.status.filter { $0 == .capped }.count), name: "capped", pair: pair)
        try context.store.addNumber(Double(o.status.filter { $0 == .resolved }.count), name: "resolved", pair: pair)
        if !never.isEmpty { try context.store.addIntegers(never.map { idx[$0] }, name: "never_flipped_indices", pair: pair) }
        return try BoundarySet(pair: pair, points: o.points, startPoints: start, startIndices: idx, probabilities: o.probabilities,
                               succeeded: o.status.map { $0 == .resolved }, failureReasons: reasons, iterations: o.steps,
                               queries: context.environment.counter.count - queriesBefore, extras: extras)
    }
}

/// Prober `deepfool`: ``DeepFoolSearch`` from the same start images as `jacobian-flip`.
final class DeepFoolProber: BoundaryProber {
    let name = "deepfool"
    let summary = "DeepFool: iterated minimal-L2 step to the nearest linearised boundary, overshoot on the total perturbation."
    let needsGradients = true
    let options: [PluginOption] = [
        FlipStarts.option,
        .integer("max-iterations", default: 50, in: 1...1000, help: "DeepFool iterations before a point counts as not flipped"),
        .number("overshoot", default: 0.02, in: 0...10, help: "x_i = x0 + (1 + overshoot)·r_tot at every iterate"),
        .integer("candidates", default: 10, in: 1...1000, help: "candidate classes (highest logits besides the predicted one)"),
    ] + FlipStarts.clipOptions

    func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
        let model = try context.gradients()
        let idx = try FlipStarts.indices(pair, context: context)
        let start = context.data.images.gather(batch: idx)
        var c = DeepFoolSearch.Configuration()
        c.maxIterations = try context.options.int("max-iterations")
        c.overshoot = try context.options.float("overshoot")
        c.candidates = try context.options.int("candidates")
        c.clip = try FlipStarts.clip(context)
        c.batchSize = try context.options.int("batch-size")
        // Queries through the run's counter, so a zeroth-order estimator's queries are included.
        let clock = Date(), queriesBefore = context.environment.counter.count
        let o = try DeepFoolSearch.search(model, start, configuration: c, checkStop: context.checkInterrupted)
        try context.store.addNumber(Date().timeIntervalSince(clock), name: "search_seconds", pair: pair)
        let n = idx.count
        var extras = FlipStarts.distanceExtras(start: start, points: o.points, valid: o.flipped)
        extras["flip_class"] = Tensor(shape: [n], scalars: (0..<n).map { o.flipped[$0] ? Float(o.finalClasses[$0]) : -1 })
        extras["start_class"] = Tensor(shape: [n], scalars: o.startClasses.map(Float.init))
        try context.store.addNumber(Double(o.flipped.filter { !$0 }.count), name: "not_flipped", pair: pair)
        return try BoundarySet(pair: pair, points: o.points, startPoints: start, startIndices: idx, probabilities: o.probabilities,
                               succeeded: o.flipped,
                               failureReasons: o.flipped.map { $0 ? nil : "not flipped within \(c.maxIterations) iterations" },
                               iterations: o.iterations, queries: context.environment.counter.count - queriesBefore, extras: extras)
    }
}
