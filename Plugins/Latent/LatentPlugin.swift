import BorderlineCore
import Foundation

/// The in-tree "latent" plugin: counterfactual trajectories in a fixed generator's latent space
/// (papers/004): gradient ascent on `f_C(G(z))` (Option 1) or a jointly optimised path (Option 2)
/// from `G⁻¹(x)`, the exact on-manifold crossing by bisection, and the straight input-space path
/// for comparison. See docs/latent.md.
public final class LatentPlugin: BorderlinePlugin {
    public init() {}
    public let name = "latent"
    public let version = "0.1.0"
    public let summary = "Latent counterfactual trajectories through a fixed generator (VAE): monotone paths across the boundary, on-manifold crossing points."
    public let probers: [any BoundaryProber] = [TrajectoryProber()]
    public let generators: [any GeneratorProvider] = [VAEGeneratorProvider()]
}

enum GeneratorOptions {
    static let all: [PluginOption] = [
        .string("decoder", default: "", help: "generator G: a model file whose input is a latent vector (default: the shipped Models/fashion-vae-decoder.h5)"),
        .string("encoder", default: "", help: "encoder for G⁻¹ (latent or VAE μ | log σ² output; default: the shipped encoder with the shipped decoder, else none; 'none' forces optimisation)"),
    ]
}

/// Offers the plugin's generator to every plugin of the run (`latent/vae`).
public final class VAEGeneratorProvider: GeneratorProvider {
    public init() {}
    public let name = "vae"
    public let summary = "A generator from model files (default: the shipped Fashion-MNIST VAE decoder and encoder)."
    public var options: [PluginOption] { GeneratorOptions.all }
    public func makeGenerator(context: RunContext) throws -> any Generator {
        try LatentGenerator.load(decoder: try context.options.string("decoder"), encoder: try context.options.string("encoder"))
    }
}

/// Probes a class pair `s → t` with one latent trajectory per correctly classified image of `s`.
public final class TrajectoryProber: BoundaryProber {
    public init() {}
    public let name = "trajectory"
    public let summary = "Latent trajectories from G⁻¹(x) towards the target class (ascent or joint path), bisected to the on-manifold crossing."
    public var options: [PluginOption] {
        GeneratorOptions.all + [
            .choice("start-filter", ["reconstruction", "none"], default: "reconstruction", help: "reconstruction: start only from images x of s whose G(G⁻¹(x)) is also classified s (needs an encoder); none: every correctly classified x"),
            .choice("method", ["ascent", "path"], default: "ascent", help: "ascent: Option 1, z += η∇f_C per step; path: Option 2, the whole path optimised jointly"),
            .number("step-size", default: 0.1, in: 1e-6...100, help: "ascent: η (latent units per step with step-rule normalized)"),
            .choice("step-rule", ["normalized", "paper", "adam"], default: "adam", help: "ascent: normalized = η∇f/‖∇f‖ (fixed step length); paper = η∇f literally; adam = Adam on log f_C with learning rate η"),
            .choice("objective", ["probability", "margin"], default: "probability", help: "ascent: climb f_C (the draft) or the log-odds log f_C − log f_s"),
            .number("prior-weight", default: 0, in: 0...100, help: "ascent: γ, adds the latent log-prior −γ‖z‖²/2 to the objective (0: the draft)"),
            .boolean("line-search", default: false, help: "ascent: accept a step only if f_C rises (else halve η and retry), so trajectories are monotone"),
            .integer("max-steps", default: 2000, in: 1...100_000, help: "ascent: step cap"),
            .number("target-probability", default: 0.9, in: 0.5...1, help: "ascent: continue past f_C > 0.5 until f_C reaches this"),
            .integer("path-length", default: 10, in: 2...1000, help: "path: T, the number of latent points z_1…z_T"),
            .integer("path-steps", default: 200, in: 1...100_000, help: "path: Adam steps"),
            .number("path-learning-rate", default: 0.05, in: 1e-6...10, help: "path: Adam learning rate"),
            .choice("path-init", ["start", "ascent"], default: "start", help: "path: initial z_1…z_T all at G⁻¹(x) (start, the draft) or evenly spaced along an Option 1 trajectory (ascent)"),
            .number("lambda", default: 0.05, in: 0...1000, help: "path: λ, weight of the identity term"),
            .choice("identity", ["latent", "pixel"], default: "latent", help: "path: identity term ‖z_t − G⁻¹(x)‖ (latent) or ‖G(z_t) − x‖ (pixel)"),
            .number("tolerance", default: 5e-4, in: 1e-7...0.5, help: "bisection: accept |f_s − f_C| below this (half the 1e-3 bar, so re-evaluation in another batch stays under it)"),
            .integer("max-halvings", default: 60, in: 1...200, help: "bisection: halving cap"),
            .choice("estimator", ["auto", "finite-differences", "nes"], default: "auto", help: "black-box f: latent-space zeroth-order gradients (auto: the run's --gradient-estimator method, else finite-differences)"),
            .number("estimator-step", default: 0.01, in: 1e-6...10, help: "black-box f: finite-difference step h / NES σ in latent units"),
            .integer("estimator-samples", default: 20, in: 1...10_000, help: "black-box f: NES direction pairs per estimate"),
            .integer("inversion-restarts", default: 4, in: 1...100, help: "no encoder: seeded Adam restarts of G⁻¹(x) by optimisation"),
            .integer("inversion-steps", default: 300, in: 1...100_000, help: "no encoder: Adam steps per inversion"),
            .integer("strip-rows", default: 6, in: 0...100, help: "trajectories drawn in the strip picture"),
            .integer("strip-frames", default: 9, in: 2...50, help: "frames per trajectory in the strip picture"),
        ]
    }

    private var cached: (key: String, generator: LatentGenerator)?

    func generator(_ o: PluginOptionValues) throws -> LatentGenerator {
        let key = try o.string("decoder") + "\u{0}" + o.string("encoder")
        if let cached, cached.key == key { return cached.generator }
        let g = try LatentGenerator.load(decoder: try o.string("decoder"), encoder: try o.string("encoder"))
        cached = (key, g)
        return g
    }

    /// The latent-space classifier with gradients: exact through `f` and `G` when `f` has them,
    /// else a zeroth-order estimator over `f ∘ G` in latent space.
    func latentGradients(_ g: LatentGenerator, context: RunContext) throws -> any DifferentiableClassifier {
        if context.environment.classifier is any DifferentiableClassifier {
            return try ComposedDifferentiableClassifier(try context.gradients(), g)
        }
        let o = context.options
        var configuration = ZerothOrderGradientEstimator.Configuration()
        let chosen = try o.string("estimator")
        configuration.method = chosen == "auto" ? (context.environment.gradientEstimator?.method ?? .finiteDifferences)
                                                : (ZerothOrderGradientEstimator.Method(rawValue: chosen) ?? .finiteDifferences)
        configuration.step = try o.float("estimator-step")
        configuration.samples = try o.int("estimator-samples")
        configuration.seed = context.seed ^ StableHash.fnv1a(context.owner + "#estimator")
        return try ZerothOrderGradientEstimator(try ComposedClassifier(context.classifier, g), configuration: configuration)
    }

    public func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
        let o = context.options, s = pair.source, c = pair.target
        let g = try generator(o)
        let f = context.classifier, k = f.classCount
        let composed = try ComposedClassifier(f, g)
        let queriesBefore = context.environment.counter.count
        let started = Date()
        var indices = context.indices(ofClass: s)
        guard !indices.isEmpty else {
            throw BorderlineError(.dataMismatch, "latent: no correctly classified images of class \(f.className(s)) in the data")
        }
        // With start-filter=reconstruction (and an encoder), keep the images whose reconstruction
        // G(G⁻¹(x)) the classifier also puts in s: a trajectory from a start already outside s
        // crosses nothing between s and t.
        let filter = try o.string("start-filter") == "reconstruction" && g.canEncode
        if filter {
            var kept: [Int] = []
            var b = 0
            while b < indices.count && kept.count < context.samplesPerPair {
                let chunk = Array(indices[b..<min(indices.count, b + 256)])
                let predicted = try f.predictions(try composed.images(try g.encode(context.data.images.gather(batch: chunk))))
                kept += zip(chunk, predicted).filter { $0.1 == s }.map(\.0)
                b += chunk.count
            }
            let examined = b
            try context.store.addNumber(Double(examined), name: "start_images_examined", pair: pair)
            try context.store.addNumber(Double(examined - min(kept.count, examined)) / Double(max(1, examined)) , name: "start_filter_rejected_share", pair: pair)
            indices = kept
            guard !indices.isEmpty else {
                throw BorderlineError(.dataMismatch, "latent: no image of class \(f.className(s)) whose reconstruction G(G⁻¹(x)) the classifier puts in \(f.className(s)); try --set latent.start-filter=none")
            }
        }
        indices = Array(indices.prefix(context.samplesPerPair))
        let m = indices.count, l = g.latentCount
        let x = context.data.images.gather(batch: indices)
        let d = x.sampleCount
        var random = context.randomGenerator(for: pair)

        // z_0 = G⁻¹(x).
        let z0: Tensor, inversionError: [Float]
        if g.canEncode {
            z0 = try g.encode(x)
            let r = try g.generate(z0)
            inversionError = (0..<m).map { i in
                var se: Float = 0
                for j in 0..<d { let e = r.scalars[i * d + j] - x.scalars[i * d + j]; se += e * e }
                return se / Float(d)
            }
        } else {
            var settings = LatentInversion.Settings()
            settings.restarts = try o.int("inversion-restarts")
            settings.steps = try o.int("inversion-steps")
            context.progress.begin("G⁻¹ by optimisation, \(m) images × \(settings.restarts) restarts", total: 0)
            (z0, inversionError) = try LatentInversion.invert(g, images: x, settings: settings, random: &random, checkStop: context.checkInterrupted)
            context.progress.end(summary: String(format: "G⁻¹ by optimisation: mean reconstruction MSE %.4f", mean(inversionError)))
        }

        // The trajectories.
        let fz = try latentGradients(g, context: context)
        let method = try o.string("method")
        var trajectories: [LatentTrajectory]
        var pathLosses: (step: [Float], identity: [Float])?
        func ascentSettings() throws -> AscentSettings {
            var settings = AscentSettings()
            settings.stepSize = try o.float("step-size")
            settings.maxSteps = try o.int("max-steps")
            settings.targetProbability = try o.float("target-probability")
            settings.rule = AscentSettings.Rule(rawValue: try o.string("step-rule")) ?? .adam
            settings.lineSearch = try o.bool("line-search")
            settings.objective = AscentSettings.Objective(rawValue: try o.string("objective")) ?? .probability
            settings.source = s
            settings.priorWeight = try o.float("prior-weight")
            return settings
        }
        func runAscent() throws -> [LatentTrajectory] {
            let settings = try ascentSettings()
            context.progress.begin("gradient ascent, \(m) trajectories", total: settings.maxSteps)
            let t = try LatentSearch.ascend(fz, start: z0, target: c, settings: settings, checkStop: context.checkInterrupted) { done, total in
                context.progress.update(completed: done, detail: "step \(done)/\(total)")
            }
            context.progress.end(summary: "gradient ascent done")
            return t
        }
        if method == "ascent" {
            trajectories = try runAscent()
        } else {
            var settings = PathSettings()
            settings.length = try o.int("path-length")
            settings.steps = try o.int("path-steps")
            settings.learningRate = try o.float("path-learning-rate")
            settings.lambda = try o.float("lambda")
            settings.identity = PathSettings.Identity(rawValue: try o.string("identity")) ?? .latent
            context.progress.begin("path optimisation, \(m) paths × \(settings.length) points", total: settings.steps)
            let initial = try o.string("path-init") == "ascent" ? LatentSearch.resample(try runAscent(), points: settings.length) : nil
            let r = try LatentSearch.optimizePath(fz, generator: g, start: z0, images: x, target: c, settings: settings,
                                                 initial: initial, checkStop: context.checkInterrupted) { done, total in
                context.progress.update(completed: done, detail: "Adam step \(done)/\(total)")
            }
            context.progress.end(summary: "path optimisation done")
            trajectories = r.trajectories
            pathLosses = (r.stepLoss, r.identityLoss)
        }

        // Per trajectory: the crossing, monotonicity, the segment around the s/t tie.
        var crossingStep = [Int](repeating: -1, count: m), violations = [Int](repeating: 0, count: m)
        var finalFC = [Float](repeating: 0, count: m)
        var segmentRows: [Int] = [], segA: [Float] = [], segB: [Float] = [], segIndex: [Int] = []
        var reasons = [String?](repeating: nil, count: m)
        var startsInTarget = [Bool](repeating: false, count: m)
        for i in 0..<m {
            let t = trajectories[i], n = t.count
            finalFC[i] = t.probability(n - 1, c)
            for step in 1..<max(1, n) where t.probability(step, c) < t.probability(step - 1, c) { violations[i] += 1 }
            // The first point with C on top: the crossing lies between it and the point before.
            let top: (Int) -> Int = { step in (0..<k).max { t.probability(step, $0) < t.probability(step, $1) }! }
            // A trajectory whose start G(G⁻¹(x)) is already in C (on top, or f_C > 0.5) crosses nothing.
            startsInTarget[i] = top(0) == c || t.probability(0, c) > 0.5
            crossingStep[i] = startsInTarget[i] ? -1 : ((0..<n).first { t.probability($0, c) > 0.5 } ?? -1)
            if let b = (0..<n).first(where: { top($0) == c }) {
                if startsInTarget[i] {
                    reasons[i] = "G(G⁻¹(x)) is already in the target class"
                } else {
                    segmentRows.append(i); segIndex.append(b)
                    segA += t.latent(b - 1); segB += t.latent(b)
                }
            } else {
                reasons[i] = "did not reach the target class: " + (t.problem ?? "step cap reached")
            }
        }

        // The exact crossing: bisection on f_C − max_{j≠C} f_j (the top-two tie) between the
        // last two trajectory points either side of the switch to C. A boundary point of the
        // pair needs the tied class to be s.
        var boundaryLatent = [Float](repeating: 0, count: m * l)
        var succeeded = [Bool](repeating: false, count: m)
        var halvings = [Int](repeating: 0, count: m)
        var partner = [Int](repeating: -1, count: m)
        var tieFound = [Bool](repeating: false, count: m)
        for i in 0..<m {  // failures keep their last point
            let t = trajectories[i]
            for j in 0..<l { boundaryLatent[i * l + j] = t.latents[(t.count - 1) * l + j] }
        }
        if !segmentRows.isEmpty {
            let ns = segmentRows.count
            let outcome = try LatentSearch.bisectTopTwo(composed, from: Tensor(shape: [ns, l], scalars: segA), to: Tensor(shape: [ns, l], scalars: segB),
                target: c, tolerance: try o.float("tolerance"), maxHalvings: try o.int("max-halvings"), checkStop: context.checkInterrupted)
            for (r, i) in segmentRows.enumerated() {
                for j in 0..<l { boundaryLatent[i * l + j] = outcome.points.scalars[r * l + j] }
                halvings[i] = outcome.halvings[r]
                partner[i] = outcome.partner[r]
                tieFound[i] = outcome.converged[r]
                succeeded[i] = outcome.converged[r] && outcome.partner[r] == s
                if !outcome.converged[r] {
                    reasons[i] = "bisection did not reach the tolerance within the halving cap"
                } else if outcome.partner[r] != s {
                    reasons[i] = "crossed into the target from a third class (\(f.className(outcome.partner[r])))"
                }
            }
        }
        let zStar = Tensor(shape: [m, l], scalars: boundaryLatent)
        let points = try composed.images(zStar)
        let pStar = try f.probabilities(points)

        // Identity distances at the boundary point and at the end of the trajectory.
        func l2(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
            var s: Float = 0
            for (u, v) in zip(a, b) { s += (u - v) * (u - v) }
            return s.squareRoot()
        }
        let finalLatents = Tensor(shape: [m, l], scalars: (0..<m).flatMap { trajectories[$0].latent(trajectories[$0].count - 1) })
        let finalImages = try g.generate(finalLatents)
        var idLatent = [Float](), idPixel = [Float](), idLatentFinal = [Float](), idPixelFinal = [Float]()
        for i in 0..<m {
            let zi = z0.scalars[(i * l)..<((i + 1) * l)], xi = x.scalars[(i * d)..<((i + 1) * d)]
            idLatent.append(l2(boundaryLatent[(i * l)..<((i + 1) * l)], zi))
            idPixel.append(l2(points.scalars[(i * d)..<((i + 1) * d)], xi))
            idLatentFinal.append(l2(finalLatents.scalars[(i * l)..<((i + 1) * l)], zi))
            idPixelFinal.append(l2(finalImages.scalars[(i * d)..<((i + 1) * d)], xi))
        }

        // Off-manifold measure along the straight input-space path x → G(z*) and along the
        // latent path z_0 → z*: encoder–decoder reconstruction error (per-pixel MSE) at 11 points.
        let crossingRows = (0..<m).filter { tieFound[$0] }
        var straightError: [Float] = [], latentPathError: [Float] = []
        if g.canEncode, !crossingRows.isEmpty {
            let a = 11
            var straight = [Float](), along = [Float]()
            for i in crossingRows {
                for q in 0..<a {
                    let alpha = Float(q) / Float(a - 1)
                    for j in 0..<d { straight.append((1 - alpha) * x.scalars[i * d + j] + alpha * points.scalars[i * d + j]) }
                    // Latent path: z_0 … z_{b−1} then z*, resampled at 11 evenly spaced positions.
                    let t = trajectories[i], b = segIndex[segmentRows.firstIndex(of: i)!]
                    let pos = alpha * Float(b)
                    let lo = Int(pos.rounded(.down)), frac = pos - Float(lo)
                    let zl = lo >= b ? Array(zStar.scalars[(i * l)..<((i + 1) * l)]) : Array(t.latent(lo))
                    let zh = lo + 1 >= b ? Array(zStar.scalars[(i * l)..<((i + 1) * l)]) : Array(t.latent(lo + 1))
                    for j in 0..<l { along.append(zl[j] + frac * (zh[j] - zl[j])) }
                }
            }
            func reconstructionError(_ imgs: Tensor) throws -> [Float] {
                let r = try g.generate(try g.encode(imgs))
                return (0..<imgs.batchSize).map { i in
                    var se: Float = 0
                    for j in 0..<d { let e = r.scalars[i * d + j] - imgs.scalars[i * d + j]; se += e * e }
                    return se / Float(d)
                }
            }
            straightError = try reconstructionError(Tensor(shape: [crossingRows.count * a] + x.sampleShape, scalars: straight))
            latentPathError = try reconstructionError(try g.generate(Tensor(shape: [crossingRows.count * a, l], scalars: along)))
            try context.store.addArray(Tensor(shape: [crossingRows.count, a], scalars: straightError), name: "straight_path_reconstruction_mse", pair: pair)
            try context.store.addArray(Tensor(shape: [crossingRows.count, a], scalars: latentPathError), name: "latent_path_reconstruction_mse", pair: pair)
            func rowMax(_ v: [Float]) -> [Float] { (0..<crossingRows.count).map { v[($0 * a)..<(($0 + 1) * a)].max()! } }
            try context.store.addNumber(Double(mean(rowMax(straightError))), name: "straight_path_max_reconstruction_mse_mean", pair: pair)
            try context.store.addNumber(Double(mean(rowMax(latentPathError))), name: "latent_path_max_reconstruction_mse_mean", pair: pair)
            try context.store.addNumber(Double(mean(stride(from: 5, to: straightError.count, by: a).map { straightError[$0] })), name: "straight_path_midpoint_reconstruction_mse_mean", pair: pair)
        }

        let queries = context.environment.counter.count - queriesBefore
        let okRows = (0..<m).filter { succeeded[$0] }
        let seconds = Date().timeIntervalSince(started)

        // Numbers.
        let store = context.store
        let crossed = crossingStep.filter { $0 >= 0 }.count
        let gaps = okRows.map { abs(pStar.scalars[$0 * k + s] - pStar.scalars[$0 * k + c]) }
        try store.addNumber(Double(m), name: "trajectories", pair: pair)
        try store.addNumber(Double(crossed) / Double(m), name: "crossed_share", pair: pair)
        try store.addNumber(Double(startsInTarget.filter { $0 }.count) / Double(m), name: "start_in_target_share", pair: pair)
        try store.addNumber(Double(okRows.count) / Double(m), name: "boundary_point_share", pair: pair)
        try store.addNumber(Double(tieFound.filter { $0 }.count) / Double(m), name: "crossing_point_share", pair: pair)
        let tieRows = (0..<m).filter { tieFound[$0] }
        try store.addNumber(Double(tieRows.map { i in abs(pStar.scalars[i * k + c] - pStar.scalars[i * k + partner[i]]) }.max() ?? .nan),
                            name: "crossing_gap_max", pair: pair)
        try store.addNumber(Double(gaps.max() ?? .nan), name: "boundary_gap_max", pair: pair)
        try store.addNumber(Double(mean(gaps)), name: "boundary_gap_mean", pair: pair)
        try store.addNumber(Double(mean(okRows.map { pStar.scalars[$0 * k + c] })), name: "boundary_f_target_mean", pair: pair)
        try store.addNumber(Double(mean(crossingStep.filter { $0 >= 0 }.map(Float.init))), name: "crossing_step_mean", pair: pair)
        try store.addNumber(Double(mean(finalFC)), name: "final_f_target_mean", pair: pair)
        try store.addNumber(Double(mean(violations.map(Float.init))), name: "monotonicity_violations_mean", pair: pair)
        try store.addNumber(Double(violations.filter { $0 == 0 }.count) / Double(m), name: "monotone_share", pair: pair)
        try store.addNumber(Double(mean(okRows.map { idLatent[$0] })), name: "identity_latent_mean", pair: pair)
        try store.addNumber(Double(mean(okRows.map { idPixel[$0] })), name: "identity_pixel_mean", pair: pair)
        try store.addNumber(Double(mean(idLatentFinal)), name: "identity_latent_final_mean", pair: pair)
        try store.addNumber(Double(mean(idPixelFinal)), name: "identity_pixel_final_mean", pair: pair)
        try store.addNumber(Double(mean(inversionError)), name: "inversion_mse_mean", pair: pair)
        try store.addNumber(Double(queries), name: "queries", pair: pair)
        try store.addNumber(Double(queries) / Double(m), name: "queries_per_trajectory", pair: pair)
        try store.addNumber(Double(mean(trajectories.map { Float($0.count) })), name: "trajectory_length_mean", pair: pair)
        try store.addNumber(seconds, name: "seconds", pair: pair)
        try store.addNumber(fz.gradientsAreEstimated ? 1 : 0, name: "gradients_estimated", pair: pair)
        if let pathLosses {
            try store.addNumber(Double(mean(pathLosses.step)), name: "path_step_loss_mean", pair: pair)
            try store.addNumber(Double(mean(pathLosses.identity)), name: "path_identity_loss_mean", pair: pair)
        }

        // Arrays: every trajectory, padded with its last point; lengths.
        let longest = trajectories.map(\.count).max() ?? 1
        var paddedZ = [Float](), paddedP = [Float]()
        for t in trajectories {
            for step in 0..<longest {
                let u = min(step, t.count - 1)
                paddedZ += t.latent(u)
                paddedP.append(t.probability(u, c))
            }
        }
        try store.addArray(Tensor(shape: [m, longest, l], scalars: paddedZ), name: "trajectory_latents", pair: pair)
        try store.addArray(Tensor(shape: [m, longest], scalars: paddedP), name: "trajectory_f_target", pair: pair)
        try store.addIntegers(trajectories.map(\.count), name: "trajectory_lengths", pair: pair)

        // Pictures.
        let rows = min(try o.int("strip-rows"), m)
        if rows > 0, ImageGrid.canDraw(f.inputShape) {
            let frames = try o.int("strip-frames")
            let pX = try f.probabilities(x.slice(batch: 0..<rows))
            var frameLatents: [Float] = [], frameMeta: [[(fC: Float, step: Int)]] = []
            for i in 0..<rows {
                let t = trajectories[i]
                // Frames evenly spaced from z_0 to the first point past the crossing, then the last point.
                let end = segmentRows.firstIndex(of: i).map { segIndex[$0] } ?? (t.count - 1)
                let shown = min(frames - (end < t.count - 1 ? 1 : 0), end + 1)
                var picks = (0..<shown).map { j in shown <= 1 ? 0 : Int((Float(j) * Float(end) / Float(shown - 1)).rounded()) }
                if end < t.count - 1 { picks.append(t.count - 1) }
                frameMeta.append(picks.map { (t.probability($0, c), $0) })
                for u in picks { frameLatents += t.latent(u) }
            }
            let frameImages = try g.generate(Tensor(shape: [frameLatents.count / l, l], scalars: frameLatents))
            var cursor = 0
            var table: [[(image: ArraySlice<Float>, fC: Float, step: Int)]] = []
            for meta in frameMeta {
                table.append(meta.map { e in
                    defer { cursor += 1 }
                    return (frameImages.scalars[(cursor * d)..<((cursor + 1) * d)], e.fC, e.step)
                })
            }
            let boundary: [(image: ArraySlice<Float>, fC: Float)?] = (0..<rows).map { i in
                tieFound[i] ? (points.scalars[(i * d)..<((i + 1) * d)], pStar.scalars[i * k + c]) : nil
            }
            let strip = try LatentPictures.strip(sources: x.slice(batch: 0..<rows), sourceProbability: (0..<rows).map { pX.scalars[$0 * k + c] },
                                                 frames: table, boundary: boundary, imageShape: f.inputShape)
            store.addPicture(ResultPicture(name: "strip", caption:
                "\(f.className(s)) → \(f.className(c)) (\(method)): per row the source x (blue), G(z_t) at evenly spaced steps t from z_0 to the first step with \(f.className(c)) on top, then the last step, and the bisected crossing point G(z*) (red); the number under each image is f_C = p(\(f.className(c))).",
                image: strip), pair: pair)
            store.addPicture(ResultPicture(name: "f-target-curves", caption:
                "f_C = p(\(f.className(c))) along the first \(min(50, m)) trajectories (\(method)), dashed line at 0.5.",
                image: try LatentPictures.curves(trajectories.prefix(50).map { t in (0..<t.count).map { t.probability($0, c) } }, target: f.className(c))), pair: pair)
        }

        let failures = reasons.enumerated().map { succeeded[$0.offset] ? nil : ($0.element ?? "bisection failed") }
        return try BoundarySet(pair: pair, points: points, startPoints: x, startIndices: indices, probabilities: pStar,
            succeeded: succeeded, failureReasons: failures, iterations: trajectories.map { $0.count - 1 }, queries: queries,
            extras: [
                "latent_point": zStar, "latent_start": z0,
                "crossing_step": Tensor(shape: [m], scalars: crossingStep.map(Float.init)),
                "final_f_target": Tensor(shape: [m], scalars: finalFC),
                "monotonicity_violations": Tensor(shape: [m], scalars: violations.map(Float.init)),
                "identity_latent": Tensor(shape: [m], scalars: idLatent),
                "identity_pixel": Tensor(shape: [m], scalars: idPixel),
                "inversion_mse": Tensor(shape: [m], scalars: inversionError),
                "bisection_halvings": Tensor(shape: [m], scalars: halvings.map(Float.init)),
                "tied_class": Tensor(shape: [m], scalars: partner.map(Float.init)),
            ])
    }
}

func mean(_ v: [Float]) -> Float { v.isEmpty ? .nan : v.reduce(0, +) / Float(v.count) }
