import BorderlineCore
import Foundation

/// The in-tree "latent" plugin: counterfactual trajectories in a fixed generator's latent space
/// (papers/004): gradient ascent on `f_C(G(z))` (Option 1) or a jointly optimised path (Option 2)
/// from `G⁻¹(x)`, the exact on-manifold crossing by bisection, and the straight input-space path
/// for comparison. See docs/latent.md.
public final class LatentPlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(
        name: "latent", version: "0.2.0",
        summary: "Latent counterfactual trajectories through a fixed generator (VAE): monotone paths across the boundary, on-manifold crossing points.")
    public init() {}
    public let probers: [any BoundaryProber] = [TrajectoryProber()]
    public let generators: [any GeneratorProvider] = [VAEGeneratorProvider()]
    public let analyses: [any Analysis] = [LatentSummary()]
}

/// Offers the plugin's generator to every plugin of the run (`latent/vae`); the trajectory prober
/// uses it too, so the host makes it once per run.
public final class VAEGeneratorProvider: GeneratorProvider {
    public init() {}
    static let providerName = "vae"
    public let name = providerName
    public let summary = "A generator from model files (default: the shipped Fashion-MNIST VAE decoder and encoder)."

    public struct Options: PluginOptions {
        @Option(help: "generator G: a model file (or shipped model name) whose input is a latent vector (default: the shipped Models/fashion-vae-decoder.h5)")
        public var decoder = ""
        @Option(help: "encoder for G⁻¹ (latent or VAE μ | log σ² output; default: the shipped encoder with the shipped decoder, else none; 'none' forces optimisation)")
        public var encoder = ""
        public init() {}
    }

    public func makeGenerator(options: Options, context: RunContext) throws -> any Generator {
        try LatentGenerator.load(decoder: options.decoder, encoder: options.encoder, resolve: context.modelPath)
    }
}

/// Probes a class pair `s → t` with one latent trajectory per correctly classified image of `s`.
public final class TrajectoryProber: BoundaryProber {
    public init() {}
    public let name = "trajectory"
    public let summary = "Latent trajectories from G⁻¹(x) towards the target class (ascent or joint path), bisected to the on-manifold crossing."
    /// The generator the trajectories run through: this plugin's provider, `latent/vae`.
    static let generatorName = "\(LatentPlugin.manifest.name)/\(VAEGeneratorProvider.providerName)"

    public enum StartFilter: String, CaseIterable, OptionValue { case reconstruction, none }
    public enum Method: String, CaseIterable, OptionValue { case ascent, path }
    public enum PathInit: String, CaseIterable, OptionValue { case start, ascent }
    /// What an off-prior crossing is in the boundary set: a failure (`fail`, the default) or a
    /// success that is only flagged (`flag`).
    public enum OffPrior: String, CaseIterable, OptionValue { case fail, flag }
    public enum Estimator: String, CaseIterable, OptionValue {
        case auto, finiteDifferences = "finite-differences", nes
    }

    public struct Options: PluginOptions {
        @Option(help: "reconstruction: start only from images x of s whose G(G⁻¹(x)) is also classified s (needs an encoder); none: every correctly classified x")
        public var startFilter: StartFilter = .reconstruction
        @Option(help: "ascent: Option 1, z += η∇f_C per step; path: Option 2, the whole path optimised jointly")
        public var method: Method = .ascent
        @Option(help: "ascent: η (latent units per step with step-rule normalized)", in: 1e-6...100)
        public var stepSize: Float = 0.1
        @Option(help: "ascent: normalized = η∇f/‖∇f‖ (fixed step length); paper = η∇f literally; adam = Adam on log f_C with learning rate η")
        public var stepRule: AscentSettings.Rule = .adam
        @Option(help: "ascent: climb f_C (the draft) or the log-odds log f_C − log f_s")
        public var objective: AscentSettings.Objective = .probability
        @Option(help: "ascent: γ, adds the latent log-prior −γ‖z‖²/2 to the objective (0: the draft)", in: 0...100)
        public var priorWeight: Float = 0
        @Option(help: "ascent: ρ, adds the identity term −ρ‖z − G⁻¹(x)‖²/2 to the objective: a pull towards the trajectory's own start, not towards 0 (0: the draft)", in: 0...100)
        public var identityWeight: Float = 0
        @Option(help: "ascent: accept a step only if f_C rises (else halve η and retry), so trajectories are monotone")
        public var lineSearch = false
        @Option(help: "ascent: step cap", in: 1...100_000)
        public var maxSteps = 2000
        @Option(help: "ascent: continue past f_C > 0.5 until f_C reaches this", in: 0.5...1)
        public var targetProbability: Float = 0.9
        @Option(help: "path: T, the number of latent points z_1…z_T", in: 2...1000)
        public var pathLength = 10
        @Option(help: "path: Adam steps", in: 1...100_000)
        public var pathSteps = 200
        @Option(help: "path: Adam learning rate", in: 1e-6...10)
        public var pathLearningRate: Float = 0.05
        @Option(help: "path: initial z_1…z_T all at G⁻¹(x) (start, the draft) or evenly spaced along an Option 1 trajectory (ascent)")
        public var pathInit: PathInit = .start
        @Option(help: "path: λ, weight of the identity term", in: 0...1000)
        public var lambda: Float = 0.05
        @Option(help: "path: identity term ‖z_t − G⁻¹(x)‖ (latent) or ‖G(z_t) − x‖ (pixel)")
        public var identity: PathSettings.Identity = .latent
        @Option(help: "path: μ, weight of the smoothness term μ Σ‖z_{t+1} − z_t‖² linking consecutive path points (0: the draft's loss, which has none)", in: 0...1000)
        public var smoothness: Float = 0
        @Option(help: "a crossing z* is off the prior N(0, I) when ‖z*‖ exceeds the χ_L quantile at this probability (L: latent size)", in: 0.5...0.999999)
        public var offPriorP: Float = 0.999
        @Option(help: "explicit off-prior radius: ‖z*‖ above it is off the prior (0: use off-prior-p)", in: 0...10_000)
        public var offPriorNorm: Float = 0
        @Option(help: "fail: an off-prior crossing is a failed row of the boundary set; flag: it stays a success, flagged (off_prior)")
        public var offPrior: OffPrior = .fail
        /// The crossing's bisection: β bounds |f_C − max_{j≠C} f_j| (half the 1e-3 bar, so that
        /// re-evaluation in another batch stays under it), `max-halvings` caps the halvings.
        @OptionGroup public var bisection = BisectionOptions(beta: 5e-4, maxHalvings: 60)
        @Option(help: "black-box f: latent-space zeroth-order gradients (auto: the run's --gradient-estimator method, else finite-differences)")
        public var estimator: Estimator = .auto
        @Option(help: "black-box f: finite-difference step h / NES σ in latent units", in: 1e-6...10)
        public var estimatorStep: Float = 0.01
        @Option(help: "black-box f: NES direction pairs per estimate", in: 1...10_000)
        public var estimatorSamples = 20
        @Option(help: "no encoder: seeded Adam restarts of G⁻¹(x) by optimisation", in: 1...100)
        public var inversionRestarts = 4
        @Option(help: "no encoder: Adam steps per inversion", in: 1...100_000)
        public var inversionSteps = 300
        @Option(help: "trajectories drawn in the strip picture", in: 0...100)
        public var stripRows = 6
        @Option(help: "frames per trajectory in the strip picture", in: 2...50)
        public var stripFrames = 9
        public init() {}
    }

    /// What the prober files per pair beside its boundary set (`pairs."s-t".trajectory.*`;
    /// results.h5 `/latent/pair_s_t/trajectory/…`). Means are over all trajectories unless
    /// the name says otherwise (docs/latent.md). Codable: a resumed or merged run reads it back
    /// from the saved results (``LatentSummary``).
    public struct Output: Codable {
        // The start filter (start-filter=reconstruction with an encoder).
        public var startImagesExamined: Int?
        public var startFilterRejectedShare: Double?
        // Off-manifold measure: reconstruction MSE at 11 points of x → G(z*) and of z_0 → z*.
        public var straightPathReconstructionMse: Tensor?
        public var latentPathReconstructionMse: Tensor?
        public var straightPathMaxReconstructionMseMean: Double?
        public var latentPathMaxReconstructionMseMean: Double?
        public var straightPathMidpointReconstructionMseMean: Double?
        public var trajectories: Int
        public var crossedShare: Double
        public var startInTargetShare: Double
        public var boundaryPointShare: Double
        public var crossingPointShare: Double
        public var crossingGapMax: Double
        public var boundaryGapMax: Double
        public var boundaryGapMean: Double
        public var boundaryFTargetMean: Double
        public var crossingStepMean: Double
        public var finalFTargetMean: Double
        public var monotonicityViolationsMean: Double
        public var monotoneShare: Double
        public var identityLatentMean: Double
        public var identityPixelMean: Double
        public var identityLatentFinalMean: Double
        public var identityPixelFinalMean: Double
        public var inversionMseMean: Double
        /// Model queries from the start filter to the last measurement (the pictures' are not in it).
        public var queries: Int
        public var queriesPerTrajectory: Double
        public var trajectoryLengthMean: Double
        public var seconds: Double
        /// 1 when the latent gradients were estimated (black-box f), else 0.
        public var gradientsEstimated: Int
        public var pathStepLossMean: Double?
        public var pathIdentityLossMean: Double?
        public var pathSmoothnessLossMean: Double?
        // The latent prior N(0, I): ‖z*‖ and log N(z*; 0, I) at the crossing points (rows with a
        // bisected crossing), the radius beyond which a crossing is off the prior, the share of
        // crossings beyond it, and the share of all trajectories that cross on the prior.
        public var offPriorThreshold: Double
        public var offPriorShare: Double
        public var onPriorCrossedShare: Double
        public var latentNormMean: Double
        public var latentNormMax: Double
        public var priorLogLikelihoodMean: Double
        public var startLatentNormMean: Double
        /// Per trajectory: 1 when the crossing z* lies off the prior, else 0 (also 0 without a crossing).
        public var offPriorFlag: [Int]
        /// Per trajectory (row of the set): the first step with C on top (−1: none), steps where
        /// f_C fell, the crossing bisection's halvings, and the class tied with C there (−1: none).
        public var crossingStep: [Int]
        public var monotonicityViolations: [Int]
        public var bisectionHalvings: [Int]
        public var tiedClass: [Int]
        /// Every trajectory `[M, S, L]` and its f_C `[M, S]`, padded with its last point; lengths.
        public var trajectoryLatents: Tensor
        public var trajectoryFTarget: Tensor
        public var trajectoryLengths: [Int]
        public var strip: ResultPicture?
        public var fTargetCurves: ResultPicture?

        enum CodingKeys: String, CodingKey {
            case startImagesExamined = "start_images_examined", startFilterRejectedShare = "start_filter_rejected_share"
            case straightPathReconstructionMse = "straight_path_reconstruction_mse", latentPathReconstructionMse = "latent_path_reconstruction_mse"
            case straightPathMaxReconstructionMseMean = "straight_path_max_reconstruction_mse_mean"
            case latentPathMaxReconstructionMseMean = "latent_path_max_reconstruction_mse_mean"
            case straightPathMidpointReconstructionMseMean = "straight_path_midpoint_reconstruction_mse_mean"
            case trajectories, crossedShare = "crossed_share", startInTargetShare = "start_in_target_share"
            case boundaryPointShare = "boundary_point_share", crossingPointShare = "crossing_point_share"
            case crossingGapMax = "crossing_gap_max", boundaryGapMax = "boundary_gap_max", boundaryGapMean = "boundary_gap_mean"
            case boundaryFTargetMean = "boundary_f_target_mean", crossingStepMean = "crossing_step_mean", finalFTargetMean = "final_f_target_mean"
            case monotonicityViolationsMean = "monotonicity_violations_mean", monotoneShare = "monotone_share"
            case identityLatentMean = "identity_latent_mean", identityPixelMean = "identity_pixel_mean"
            case identityLatentFinalMean = "identity_latent_final_mean", identityPixelFinalMean = "identity_pixel_final_mean"
            case inversionMseMean = "inversion_mse_mean", queries, queriesPerTrajectory = "queries_per_trajectory"
            case trajectoryLengthMean = "trajectory_length_mean", seconds, gradientsEstimated = "gradients_estimated"
            case pathStepLossMean = "path_step_loss_mean", pathIdentityLossMean = "path_identity_loss_mean"
            case pathSmoothnessLossMean = "path_smoothness_loss_mean"
            case offPriorThreshold = "off_prior_threshold", offPriorShare = "off_prior_share", onPriorCrossedShare = "on_prior_crossed_share"
            case latentNormMean = "latent_norm_mean", latentNormMax = "latent_norm_max"
            case priorLogLikelihoodMean = "prior_log_likelihood_mean", startLatentNormMean = "start_latent_norm_mean"
            case offPriorFlag = "off_prior"
            case crossingStep = "crossing_step", monotonicityViolations = "monotonicity_violations"
            case bisectionHalvings = "bisection_halvings", tiedClass = "tied_class"
            case trajectoryLatents = "trajectory_latents", trajectoryFTarget = "trajectory_f_target", trajectoryLengths = "trajectory_lengths"
            case strip, fTargetCurves = "f_target_curves"
        }
    }

    /// The latent-space classifier with gradients: exact through `f` and `G` when `f` has them,
    /// else a zeroth-order estimator over `f ∘ G` in latent space.
    func latentGradients(_ g: any Generator, options o: Options, context: RunContext) throws -> any DifferentiableClassifier {
        if context.hasExactGradients {
            return try ComposedDifferentiableClassifier(try context.gradients(), g)
        }
        var configuration = ZerothOrderGradientEstimator.Configuration()
        switch o.estimator {
        case .auto: configuration.method = context.gradientEstimator?.method ?? .finiteDifferences
        case .finiteDifferences: configuration.method = .finiteDifferences
        case .nes: configuration.method = .nes
        }
        configuration.step = o.estimatorStep
        configuration.samples = o.estimatorSamples
        configuration.seed = context.seed ^ StableHash.fnv1a(context.owner + "#estimator")
        return try ZerothOrderGradientEstimator(try ComposedClassifier(context.classifier, g), configuration: configuration)
    }

    public func probe(_ pair: ClassPair, options o: Options, context: RunContext) throws -> Probe<Output> {
        let s = pair.source, c = pair.target
        let g = try context.generator(named: TrajectoryProber.generatorName)
        let f = context.classifier, k = f.classCount
        let composed = try ComposedClassifier(f, g)
        let queriesBefore = context.queriesSoFar
        let started = Date()
        var indices = context.indices(ofClass: s)
        guard !indices.isEmpty else {
            throw PairDeclined("latent: no correctly classified images of class \(s) (\(f.className(s))) in the data")
        }
        // With start-filter=reconstruction (and an encoder), keep the images whose reconstruction
        // G(G⁻¹(x)) the classifier also puts in s: a trajectory from a start already outside s
        // crosses nothing between s and t.
        let filter = o.startFilter == .reconstruction && g.canEncode
        var startImagesExamined: Int?, startFilterRejectedShare: Double?
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
            startImagesExamined = examined
            startFilterRejectedShare = Double(examined - min(kept.count, examined)) / Double(max(1, examined))
            indices = kept
            guard !indices.isEmpty else {
                throw BorderlineError(.dataMismatch, "latent: no image of class \(f.className(s)) whose reconstruction G(G⁻¹(x)) the classifier puts in \(f.className(s)); try --set latent.start-filter=none")
            }
        }
        indices = Array(indices.prefix(context.samplesPerPair))
        let m = indices.count, l = g.latentShape.reduce(1, *)
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
            settings.restarts = o.inversionRestarts
            settings.steps = o.inversionSteps
            context.progress.begin("G⁻¹ by optimisation, \(m) images × \(settings.restarts) restarts", total: 0)
            (z0, inversionError) = try LatentInversion.invert(g, images: x, settings: settings, random: &random, checkStop: context.checkInterrupted)
            context.progress.end(summary: String(format: "G⁻¹ by optimisation: mean reconstruction MSE %.4f", mean(inversionError)))
        }

        // The trajectories.
        let fz = try latentGradients(g, options: o, context: context)
        let method = o.method
        var trajectories: [LatentTrajectory]
        var pathLosses: (step: [Float], identity: [Float], smoothness: [Float])?
        func ascentSettings() -> AscentSettings {
            var settings = AscentSettings()
            settings.stepSize = o.stepSize
            settings.maxSteps = o.maxSteps
            settings.targetProbability = o.targetProbability
            settings.rule = o.stepRule
            settings.lineSearch = o.lineSearch
            settings.objective = o.objective
            settings.source = s
            settings.priorWeight = o.priorWeight
            settings.identityWeight = o.identityWeight
            return settings
        }
        func runAscent() throws -> [LatentTrajectory] {
            let settings = ascentSettings()
            context.progress.begin("gradient ascent, \(m) trajectories", total: settings.maxSteps)
            let t = try LatentSearch.ascend(fz, start: z0, target: c, settings: settings, checkStop: context.checkInterrupted) { done, total in
                context.progress.update(completed: done, detail: "step \(done)/\(total)")
            }
            context.progress.end(summary: "gradient ascent done")
            return t
        }
        if method == .ascent {
            trajectories = try runAscent()
        } else {
            var settings = PathSettings()
            settings.length = o.pathLength
            settings.steps = o.pathSteps
            settings.learningRate = o.pathLearningRate
            settings.lambda = o.lambda
            settings.identity = o.identity
            settings.smoothness = o.smoothness
            context.progress.begin("path optimisation, \(m) paths × \(settings.length) points", total: settings.steps)
            let initial = o.pathInit == .ascent ? LatentSearch.resample(try runAscent(), points: settings.length) : nil
            let r = try LatentSearch.optimizePath(fz, generator: g, start: z0, images: x, target: c, settings: settings,
                                                 initial: initial, checkStop: context.checkInterrupted) { done, total in
                context.progress.update(completed: done, detail: "Adam step \(done)/\(total)")
            }
            context.progress.end(summary: "path optimisation done")
            trajectories = r.trajectories
            pathLosses = (r.stepLoss, r.identityLoss, r.smoothnessLoss)
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
            // One crossing definition everywhere (crossed_share, crossing_step, the bisected
            // segment, the start filter's "already in C"): C is the top class. The first point
            // with C on top is the crossing step; the crossing lies between it and the point before.
            let top: (Int) -> Int = { step in LatentCrossing.topClass(t, step) }
            // A trajectory whose start G(G⁻¹(x)) already has C on top crosses nothing.
            startsInTarget[i] = top(0) == c
            crossingStep[i] = startsInTarget[i] ? -1 : (LatentCrossing.firstStep(t, target: c) ?? -1)
            if let b = LatentCrossing.firstStep(t, target: c) {
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
                target: c, tolerance: o.bisection.beta, maxHalvings: o.bisection.maxHalvings, checkStop: context.checkInterrupted)
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

        // The latent prior N(0, I): ‖z*‖, log N(z*; 0, I), and the off-prior flag on every
        // bisected crossing (tie found). With off-prior=fail an off-prior crossing is a failure.
        let offPriorRadius = o.offPriorNorm > 0 ? Double(o.offPriorNorm) : LatentPrior.chiQuantile(Double(o.offPriorP), degrees: l)
        var latentNorm = [Float](), priorLL = [Float](), startNorm = [Float]()
        for i in 0..<m {
            let zi = boundaryLatent[(i * l)..<((i + 1) * l)]
            latentNorm.append(zi.map { $0 * $0 }.reduce(0, +).squareRoot())
            priorLL.append(Float(LatentPrior.logLikelihood(zi)))
            startNorm.append(z0.scalars[(i * l)..<((i + 1) * l)].map { $0 * $0 }.reduce(0, +).squareRoot())
        }
        let offPriorFlag = (0..<m).map { tieFound[$0] && Double(latentNorm[$0]) > offPriorRadius }
        if o.offPrior == .fail {
            for i in 0..<m where offPriorFlag[i] && succeeded[i] {
                succeeded[i] = false
                reasons[i] = "crossing off the latent prior (‖z*‖ above the off-prior radius)"
            }
        }

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
        var offManifold: (straight: Tensor, latent: Tensor, straightMax: Double, latentMax: Double, straightMidpoint: Double)?
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
            func rowMax(_ v: [Float]) -> [Float] { (0..<crossingRows.count).map { v[($0 * a)..<(($0 + 1) * a)].max()! } }
            offManifold = (Tensor(shape: [crossingRows.count, a], scalars: straightError), Tensor(shape: [crossingRows.count, a], scalars: latentPathError),
                           Double(mean(rowMax(straightError))), Double(mean(rowMax(latentPathError))),
                           Double(mean(stride(from: 5, to: straightError.count, by: a).map { straightError[$0] })))
        }

        let queries = context.queriesSoFar - queriesBefore
        let okRows = (0..<m).filter { succeeded[$0] }
        let seconds = Date().timeIntervalSince(started)

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

        // Numbers.
        let crossed = crossingStep.filter { $0 >= 0 }.count
        let gaps = okRows.map { abs(pStar.scalars[$0 * k + s] - pStar.scalars[$0 * k + c]) }
        let tieRows = (0..<m).filter { tieFound[$0] }
        var output = Output(
            startImagesExamined: startImagesExamined, startFilterRejectedShare: startFilterRejectedShare,
            straightPathReconstructionMse: offManifold?.straight, latentPathReconstructionMse: offManifold?.latent,
            straightPathMaxReconstructionMseMean: offManifold?.straightMax, latentPathMaxReconstructionMseMean: offManifold?.latentMax,
            straightPathMidpointReconstructionMseMean: offManifold?.straightMidpoint,
            trajectories: m,
            crossedShare: Double(crossed) / Double(m),
            startInTargetShare: Double(startsInTarget.filter { $0 }.count) / Double(m),
            boundaryPointShare: Double(okRows.count) / Double(m),
            crossingPointShare: Double(tieFound.filter { $0 }.count) / Double(m),
            crossingGapMax: Double(tieRows.map { i in abs(pStar.scalars[i * k + c] - pStar.scalars[i * k + partner[i]]) }.max() ?? .nan),
            boundaryGapMax: Double(gaps.max() ?? .nan),
            boundaryGapMean: Double(mean(gaps)),
            boundaryFTargetMean: Double(mean(okRows.map { pStar.scalars[$0 * k + c] })),
            crossingStepMean: Double(mean(crossingStep.filter { $0 >= 0 }.map(Float.init))),
            finalFTargetMean: Double(mean(finalFC)),
            monotonicityViolationsMean: Double(mean(violations.map(Float.init))),
            monotoneShare: Double(violations.filter { $0 == 0 }.count) / Double(m),
            identityLatentMean: Double(mean(okRows.map { idLatent[$0] })),
            identityPixelMean: Double(mean(okRows.map { idPixel[$0] })),
            identityLatentFinalMean: Double(mean(idLatentFinal)),
            identityPixelFinalMean: Double(mean(idPixelFinal)),
            inversionMseMean: Double(mean(inversionError)),
            queries: queries,
            queriesPerTrajectory: Double(queries) / Double(m),
            trajectoryLengthMean: Double(mean(trajectories.map { Float($0.count) })),
            seconds: seconds,
            gradientsEstimated: fz.gradientsAreEstimated ? 1 : 0,
            pathStepLossMean: pathLosses.map { Double(mean($0.step)) },
            pathIdentityLossMean: pathLosses.map { Double(mean($0.identity)) },
            pathSmoothnessLossMean: pathLosses.flatMap { o.smoothness > 0 ? Double(mean($0.smoothness)) : nil },
            offPriorThreshold: offPriorRadius,
            offPriorShare: Double(offPriorFlag.filter { $0 }.count) / Double(max(1, tieRows.count)),
            onPriorCrossedShare: Double((0..<m).filter { crossingStep[$0] >= 0 && !offPriorFlag[$0] }.count) / Double(m),
            latentNormMean: Double(mean(tieRows.map { latentNorm[$0] })),
            latentNormMax: Double(tieRows.map { latentNorm[$0] }.max() ?? .nan),
            priorLogLikelihoodMean: Double(mean(tieRows.map { priorLL[$0] })),
            startLatentNormMean: Double(mean(startNorm)),
            offPriorFlag: offPriorFlag.map { $0 ? 1 : 0 },
            crossingStep: crossingStep, monotonicityViolations: violations, bisectionHalvings: halvings, tiedClass: partner,
            trajectoryLatents: Tensor(shape: [m, longest, l], scalars: paddedZ),
            trajectoryFTarget: Tensor(shape: [m, longest], scalars: paddedP), trajectoryLengths: trajectories.map(\.count))

        // Pictures.
        let rows = min(o.stripRows, m)
        if rows > 0, ImageGrid.canDraw(f.inputShape) {
            let frames = o.stripFrames
            let pX = try f.probabilities(x.slice(batch: 0..<rows))
            var frameLatents: [Float] = [], frameMeta: [[(fC: Float, step: Int, top: Int)]] = []
            for i in 0..<rows {
                let t = trajectories[i]
                // Frames evenly spaced from z_0 to the first point past the crossing, then the last point.
                let end = segmentRows.firstIndex(of: i).map { segIndex[$0] } ?? (t.count - 1)
                let shown = min(frames - (end < t.count - 1 ? 1 : 0), end + 1)
                var picks = (0..<shown).map { j in shown <= 1 ? 0 : Int((Float(j) * Float(end) / Float(shown - 1)).rounded()) }
                if end < t.count - 1 { picks.append(t.count - 1) }
                frameMeta.append(picks.map { (t.probability($0, c), $0, LatentCrossing.topClass(t, $0)) })
                for u in picks { frameLatents += t.latent(u) }
            }
            let frameImages = try g.generate(Tensor(shape: [frameLatents.count / l, l], scalars: frameLatents))
            var cursor = 0
            var table: [[(image: ArraySlice<Float>, fC: Float, step: Int, top: Int)]] = []
            for meta in frameMeta {
                table.append(meta.map { e in
                    defer { cursor += 1 }
                    return (frameImages.scalars[(cursor * d)..<((cursor + 1) * d)], e.fC, e.step, e.top)
                })
            }
            let boundary: [(image: ArraySlice<Float>, fC: Float, top: Int)?] = (0..<rows).map { i in
                tieFound[i] ? (points.scalars[(i * d)..<((i + 1) * d)], pStar.scalars[i * k + c], pStar.slice(batch: i..<(i + 1)).argmaxRows()[0]) : nil
            }
            let strip = try LatentPictures.strip(sources: x.slice(batch: 0..<rows), sourceProbability: (0..<rows).map { pX.scalars[$0 * k + c] },
                                                 sourceTop: pX.argmaxRows(), frames: table, boundary: boundary, imageShape: f.inputShape,
                                                 classNames: f.classNames, source: s, target: c)
            output.strip = ResultPicture(name: "strip", caption:
                "\(f.className(s)) → \(f.className(c)) (\(method.rawValue)): per row the source x (blue), G(z_t) at evenly spaced steps t from z_0 to the first step with \(f.className(c)) on top, then the last step, and the bisected crossing point G(z*) (red); under each image f_C = p(\(f.className(c))), the step, and the classifier's top class there (blue: \(f.className(s)), red: \(f.className(c)), black: a third class).",
                image: strip, key: true)
            output.fTargetCurves = ResultPicture(name: "f-target-curves", caption:
                "f_C = p(\(f.className(c))) along the first \(min(50, m)) trajectories (\(method.rawValue)), dashed line at 0.5.",
                image: try LatentPictures.curves(trajectories.prefix(50).map { t in (0..<t.count).map { t.probability($0, c) } }, target: f.className(c)), key: true)
        }

        let failures = reasons.enumerated().map { succeeded[$0.offset] ? nil : ($0.element ?? "bisection failed") }
        let set = try BoundarySet(pair: pair, points: points, startPoints: x, startIndices: indices, probabilities: pStar,
            succeeded: succeeded, failureReasons: failures, iterations: trajectories.map { $0.count - 1 }, gapTolerance: o.bisection.beta,
            extras: [
                "latent_point": zStar, "latent_start": z0,
                "final_f_target": Tensor(shape: [m], scalars: finalFC),
                "identity_latent": Tensor(shape: [m], scalars: idLatent),
                "identity_pixel": Tensor(shape: [m], scalars: idPixel),
                "inversion_mse": Tensor(shape: [m], scalars: inversionError),
                "latent_norm": Tensor(shape: [m], scalars: latentNorm),
                "prior_log_likelihood": Tensor(shape: [m], scalars: priorLL),
            ])
        return Probe(set, output: output)
    }
}

// The search settings' choices are options of the prober.
extension AscentSettings.Rule: OptionValue {}
extension AscentSettings.Objective: OptionValue {}
extension PathSettings.Identity: OptionValue {}

func mean(_ v: [Float]) -> Float { v.isEmpty ? .nan : v.reduce(0, +) / Float(v.count) }
