import BorderlineCore
import Foundation

/// One latent trajectory `z_0, z_1, …` with the classifier's probabilities at every point.
public struct LatentTrajectory {
    public var latentCount: Int
    public var classCount: Int
    /// `steps × L`, row-major.
    public var latents: [Float] = []
    /// `steps × K`, row-major.
    public var probabilities: [Float] = []
    /// Why the search stopped early without reaching the target, if it did.
    public var problem: String?
    public init(latentCount: Int, classCount: Int) {
        self.latentCount = latentCount
        self.classCount = classCount
    }
    public var count: Int { latents.count / max(1, latentCount) }
    public func latent(_ t: Int) -> ArraySlice<Float> { latents[(t * latentCount)..<((t + 1) * latentCount)] }
    public func probability(_ t: Int, _ k: Int) -> Float { probabilities[t * classCount + k] }
    mutating func append(latent: ArraySlice<Float>, probabilities p: ArraySlice<Float>) {
        latents += latent
        probabilities += p
    }
}

/// The one crossing definition of the plugin: a trajectory point is in the target class `C` when
/// `C` is the top class there (argmax of the probabilities; ties go to the lower index). It decides
/// `crossed_share`, `crossing_step`, `start_in_target_share` and the segment the crossing is
/// bisected on, so that every crossed trajectory has a bisected segment and vice versa.
public enum LatentCrossing {
    /// The top class at step `t`.
    public static func topClass(_ t: LatentTrajectory, _ step: Int) -> Int {
        var best = 0
        for j in 1..<max(1, t.classCount) where t.probability(step, j) > t.probability(step, best) { best = j }
        return best
    }
    /// The first step with `target` on top, or nil.
    public static func firstStep(_ t: LatentTrajectory, target: Int) -> Int? {
        (0..<t.count).first { topClass(t, $0) == target }
    }
}

/// Option 1: gradient ascent on the target probability, `z_{t+1} = z_t + η ∇_z f_C(G(z_t))`.
public struct AscentSettings: Sendable {
    public enum Rule: String, Sendable, CaseIterable {
        /// `z_{t+1} = z_t + η ∇f_C / ‖∇f_C‖`: steps of length η in latent space.
        case normalized
        /// `z_{t+1} = z_t + η ∇f_C`, the draft's update literally.
        case paper
        /// Adam ascent on log f_C (or the log-odds) with learning rate η: momentum carries the
        /// trajectory over small local maxima of f_C.
        case adam
    }
    public var stepSize: Float = 0.1
    public var maxSteps = 2000
    public var targetProbability: Float = 0.9
    public var rule: Rule = .adam
    /// What the ascent climbs: `f_C` (the draft; log f_C for the line search, same direction), or
    /// the log-odds `log f_C − log f_s` against the source class (`source` must be set).
    public var objective: Objective = .probability
    /// γ: weight of the latent prior, `− γ ‖z‖² / 2` added to the objective (0: the draft).
    public var priorWeight: Float = 0
    /// ρ: weight of an identity (anchor) term `− ρ ‖z − G⁻¹(x)‖² / 2` added to the objective,
    /// pulling every step back towards its own start `z_0 = G⁻¹(x)` (the rows of `start`), not
    /// towards 0 (0: the draft).
    public var identityWeight: Float = 0
    public var source: Int = -1
    public enum Objective: String, Sendable, CaseIterable { case probability, margin }
    /// Accept a step only when it raises f_C (halve η otherwise); see ``LatentSearch/ascend``.
    public var lineSearch = false
    public init() {}
}

/// Option 2: the whole path `z_1 … z_T` optimised jointly (Adam) on
/// `Σ_{t=1}^{T−1} |f_C(G(z_{t+1})) − t/T| + λ Σ_{t=1}^{T−1} id(z_t) [+ μ Σ_{t=1}^{T−1} ‖z_{t+1} − z_t‖²]`.
public struct PathSettings: Sendable {
    public enum Identity: String, Sendable, CaseIterable {
        /// `id(z_t) = ‖z_t − G⁻¹(x)‖₂` (latent space).
        case latent
        /// `id(z_t) = ‖G(z_t) − x‖₂` (input space).
        case pixel
    }
    public var length = 10
    public var steps = 200
    public var learningRate: Float = 0.05
    public var lambda: Float = 0.05
    public var identity: Identity = .latent
    /// μ: weight of the smoothness term `μ Σ_{t=1}^{T−1} ‖z_{t+1} − z_t‖²` linking consecutive
    /// path points (0: the draft's loss, which has no term linking z_t to z_{t+1}).
    public var smoothness: Float = 0
    public init() {}
}

public enum LatentSearch {
    /// Runs Option 1 for every row of `start` (`[M, L]`) at once towards class `target`; rows
    /// leave the batch when `f_C ≥ targetProbability` (past the crossing at 0.5) or at the step
    /// cap. Every accepted step is recorded.
    ///
    /// With `lineSearch`, a step is accepted only if it raises `f_C` (so the trajectory is
    /// monotone by construction): a rejected step halves that row's `η` and is retried from the
    /// same point with the same gradient; an accepted one grows `η` by 1.25 (up to 4× the initial
    /// value). A row whose `η` falls below 1e-4 × the initial value sits at a local maximum of
    /// `f_C` and stops. Without it, every step is taken as the draft writes it. Each attempt
    /// (accepted or not) counts towards the step cap.
    public static func ascend(_ f: any DifferentiableClassifier, start: Tensor, target: Int, settings: AscentSettings,
                              checkStop: () throws -> Void = {}, progress: ((Int, Int) -> Void)? = nil) throws -> [LatentTrajectory] {
        let m = start.batchSize, l = start.sampleCount, k = f.classCount
        guard (0..<k).contains(target) else { throw BorderlineError(.invalidArgument, "latent: target class \(target) outside 0…\(k - 1)") }
        var z = start.scalars
        var out = [LatentTrajectory](repeating: LatentTrajectory(latentCount: l, classCount: k), count: m)
        var eta = [Float](repeating: settings.stepSize, count: m)
        var gradient = [Float](repeating: 0, count: m * l)
        var needsGradient = [Bool](repeating: true, count: m)
        var moment1 = [Float](repeating: 0, count: m * l), moment2 = [Float](repeating: 0, count: m * l)
        var adamSteps = [Int](repeating: 0, count: m)
        // log f_C from the logits (log-softmax), so that f_C far below float's range still orders
        // points, and ∇ log f_C by a vector–Jacobian product on the logits with cotangent e_C − P.
        var logPC = [Float](repeating: 0, count: m)   // the objective's value (log f_C or the log-odds)
        let margin = settings.objective == .margin
        if margin && !(0..<k).contains(settings.source) {
            throw BorderlineError(.invalidArgument, "latent: the margin objective needs a source class in 0…\(k - 1)")
        }
        let anchor = start.scalars
        func value(_ lp: [Float], _ z: ArraySlice<Float>, row i: Int) -> Float {
            var prior: Float = 0, identity: Float = 0
            if settings.priorWeight > 0 { for v in z { prior += v * v } }
            if settings.identityWeight > 0 {
                for (j, v) in z.enumerated() { let e = v - anchor[i * l + j]; identity += e * e }
            }
            return (margin ? lp[target] - lp[settings.source] : lp[target]) - settings.priorWeight * prior / 2
                - settings.identityWeight * identity / 2
        }
        var current = [Float](repeating: 0, count: m * k)
        var active = Array(0..<m)
        func rows(_ idx: [Int], _ values: [Float], _ width: Int) -> Tensor {
            Tensor(shape: [idx.count, width], scalars: idx.flatMap { values[($0 * width)..<(($0 + 1) * width)] })
        }
        func logSoftmax(_ z: ArraySlice<Float>) -> [Float] {
            let mx = z.max()!
            var sum: Float = 0
            for v in z { sum += Foundation.exp(v - mx) }
            let lse = mx + Foundation.log(sum)
            return z.map { $0 - lse }
        }
        // z_0 and its probabilities.
        let z0Logits = try f.logits(start)
        for i in 0..<m {
            let lp = logSoftmax(z0Logits.scalars[(i * k)..<((i + 1) * k)])
            let p = lp.map { Foundation.exp($0) }
            out[i].append(latent: z[(i * l)..<((i + 1) * l)], probabilities: p[...])
            for j in 0..<k { current[i * k + j] = p[j] }
            logPC[i] = value(lp, z[(i * l)..<((i + 1) * l)], row: i)
        }
        active = active.filter { current[$0 * k + target] < settings.targetProbability }
        var step = 0
        while !active.isEmpty && step < settings.maxSteps {
            try checkStop()
            // Gradients where the point moved (one batched vector–Jacobian product).
            let fresh = active.filter { needsGradient[$0] }
            if !fresh.isEmpty {
                var v = [Float](repeating: 0, count: fresh.count * k)
                for (r, i) in fresh.enumerated() {
                    if margin {
                        v[r * k + target] = 1; v[r * k + settings.source] = -1
                    } else {
                        for j in 0..<k { v[r * k + j] = -current[i * k + j] }
                        v[r * k + target] += 1
                    }
                }
                let g = try f.vjp(rows(fresh, z, l), cotangent: Tensor(shape: [fresh.count, k], scalars: v), of: .logits).inputGradient
                for (r, i) in fresh.enumerated() {
                    for j in 0..<l {
                        gradient[i * l + j] = g.scalars[r * l + j] - settings.priorWeight * z[i * l + j]
                            - settings.identityWeight * (z[i * l + j] - anchor[i * l + j])
                    }
                    needsGradient[i] = false
                }
            }
            // Proposals.
            var moving: [Int] = []
            var proposal = [Float]()
            for i in active {
                var norm: Float = 0
                for j in 0..<l { norm += gradient[i * l + j] * gradient[i * l + j] }
                norm = norm.squareRoot()
                guard norm > 0, norm.isFinite else { out[i].problem = "the gradient of f_C vanished"; continue }
                // normalized: η ∇f/‖∇f‖ = η ∇log f/‖∇log f‖; paper: η ∇f = η f ∇log f.
                if settings.rule == .adam {
                    adamSteps[i] += 1
                    let t = Float(adamSteps[i])
                    let c1 = 1 - Foundation.pow(Float(0.9), t), c2 = 1 - Foundation.pow(Float(0.999), t)
                    for j in 0..<l {
                        let gj = gradient[i * l + j]
                        moment1[i * l + j] = 0.9 * moment1[i * l + j] + 0.1 * gj
                        moment2[i * l + j] = 0.999 * moment2[i * l + j] + 0.001 * gj * gj
                        proposal.append(z[i * l + j] + eta[i] * (moment1[i * l + j] / c1) / ((moment2[i * l + j] / c2).squareRoot() + 1e-8))
                    }
                } else {
                    let scale = settings.rule == .normalized ? eta[i] / norm : eta[i] * (margin ? 1 : current[i * k + target])
                    for j in 0..<l { proposal.append(z[i * l + j] + scale * gradient[i * l + j]) }
                }
                moving.append(i)
            }
            if moving.isEmpty { break }
            let logits = try f.logits(Tensor(shape: [moving.count, l], scalars: proposal))
            var still: [Int] = []
            for (r, i) in moving.enumerated() {
                let lp = logSoftmax(logits.scalars[(r * k)..<((r + 1) * k)])
                let objective = value(lp, proposal[(r * l)..<((r + 1) * l)], row: i)
                if settings.lineSearch && !(objective > logPC[i]) {
                    eta[i] *= 0.5
                    if eta[i] < 1e-4 * settings.stepSize { out[i].problem = "a local maximum of f_C"; continue }
                    still.append(i)
                    continue
                }
                let p = lp.map { Foundation.exp($0) }
                for j in 0..<l { z[i * l + j] = proposal[r * l + j] }
                out[i].append(latent: z[(i * l)..<((i + 1) * l)], probabilities: p[...])
                for j in 0..<k { current[i * k + j] = p[j] }
                logPC[i] = objective
                needsGradient[i] = true
                if settings.lineSearch { eta[i] = min(4 * settings.stepSize, eta[i] * 1.25) }
                if p[target] < settings.targetProbability { still.append(i) }
            }
            active = still
            step += 1
            progress?(step, settings.maxSteps)
        }
        return out
    }

    /// The exact crossing on every segment `[a, b]` (`[N, L]` latents) whose start has another
    /// class on top and whose end has `target` on top: bisection on
    /// `g(λ) = f_C − max_{j≠C} f_j` at `a + λ(b − a)` (the top-two tie) until `|g| < tolerance` or
    /// `maxHalvings`. Returns the points, their probabilities, the class `j` tied with `C`, the
    /// halvings and whether `|g| < tolerance` was reached. All rows are evaluated together.
    public static func bisectTopTwo(_ f: any Classifier, from a: Tensor, to b: Tensor, target: Int, tolerance: Float,
                                    maxHalvings: Int, checkStop: () throws -> Void = {}) throws
        -> (points: Tensor, probabilities: Tensor, partner: [Int], halvings: [Int], converged: [Bool]) {
        let n = a.batchSize, l = a.sampleCount, k = f.classCount
        var lo = [Float](repeating: 0, count: n), hi = [Float](repeating: 1, count: n)
        var points = a.scalars, probs = [Float](repeating: 0, count: n * k)
        var partner = [Int](repeating: -1, count: n), halvings = [Int](repeating: 0, count: n), done = [Bool](repeating: false, count: n)
        func runnerUp(_ p: ArraySlice<Float>) -> (Int, Float) {
            var best = -1, value = -Float.infinity
            for (j, v) in p.enumerated() where j != target && v > value { best = j; value = v }
            return (best, value)
        }
        var active = Array(0..<n)
        for _ in 0..<maxHalvings {
            if active.isEmpty { break }
            try checkStop()
            var mids = [Float]()
            for i in active {
                let lam = (lo[i] + hi[i]) / 2
                for j in 0..<l { mids.append(a.scalars[i * l + j] + lam * (b.scalars[i * l + j] - a.scalars[i * l + j])) }
            }
            let p = try f.probabilities(Tensor(shape: [active.count, l], scalars: mids))
            var still: [Int] = []
            for (r, i) in active.enumerated() {
                let row = p.scalars[(r * k)..<((r + 1) * k)]
                let (j, v) = runnerUp(row)
                let g = row[row.startIndex + target] - v
                let lam = (lo[i] + hi[i]) / 2
                halvings[i] += 1
                for u in 0..<l { points[i * l + u] = mids[r * l + u] }
                for u in 0..<k { probs[i * k + u] = row[row.startIndex + u] }
                partner[i] = j
                if abs(g) < tolerance { done[i] = true; continue }
                if g > 0 { hi[i] = lam } else { lo[i] = lam }
                still.append(i)
            }
            active = still
        }
        return (Tensor(shape: [n, l], scalars: points), Tensor(shape: [n, k], scalars: probs), partner, halvings, done)
    }

    /// `T` points evenly spaced (by step index) along each trajectory after `z_0`, up to its last
    /// point: an initial path for ``optimizePath``. Returns `[M·T, L]`.
    public static func resample(_ trajectories: [LatentTrajectory], points tt: Int) -> Tensor {
        let l = trajectories.first?.latentCount ?? 0
        var out = [Float](); out.reserveCapacity(trajectories.count * tt * l)
        for t in trajectories {
            let last = t.count - 1
            for j in 1...tt {
                let u = last == 0 ? 0 : Int((Float(j) * Float(last) / Float(tt)).rounded())
                out += t.latent(min(last, u))
            }
        }
        return Tensor(shape: [trajectories.count * tt, l], scalars: out)
    }

    /// Runs Option 2 for every row of `start` (`[M, L]`, `G⁻¹(x)`) together: `M·T` latents in
    /// one batch per Adam step. `images` (`[M] + classifier input`) are the source images `x`
    /// (used by the pixel identity term). The returned trajectories are `z_0 = G⁻¹(x), z_1 … z_T`.
    public static func optimizePath(_ f: any DifferentiableClassifier, generator: any Generator, start: Tensor, images: Tensor,
                                    target: Int, settings: PathSettings, initial: Tensor? = nil, checkStop: () throws -> Void = {},
                                    progress: ((Int, Int) -> Void)? = nil) throws -> (trajectories: [LatentTrajectory], stepLoss: [Float], identityLoss: [Float], smoothnessLoss: [Float]) {
        let m = start.batchSize, l = start.sampleCount, k = f.classCount, tt = settings.length
        guard tt >= 2 else { throw BorderlineError(.invalidArgument, "latent: the path needs at least 2 points, got \(tt)") }
        guard (0..<k).contains(target) else { throw BorderlineError(.invalidArgument, "latent: target class \(target) outside 0…\(k - 1)") }
        let rows = m * tt, d = images.sampleCount
        var first = [Float](); first.reserveCapacity(rows * l)
        if let initial {
            guard initial.shape == [rows, l] else {
                throw BorderlineError(.shapeMismatch, "latent: the initial path has shape \(initial.shape); expected [\(rows), \(l)]")
            }
            first = initial.scalars
        } else {
            for i in 0..<m { for _ in 0..<tt { first += start.scalars[(i * l)..<((i + 1) * l)] } }
        }
        let zp = Parameter("path", Tensor(shape: [rows, l], scalars: first))
        let adam = Adam(learningRate: settings.learningRate)
        var stepLoss = [Float](repeating: 0, count: m), idLoss = [Float](repeating: 0, count: m)
        for it in 0...settings.steps {
            try checkStop()
            let p = try f.probabilities(zp.value)
            // Step loss and its (sub)gradient cotangent on f_C: row (i, t) holds z_{t+1}, t = 0…T−1;
            // the draft's term t' = 1…T−1 compares f_C(z_{t'+1}) with t'/T, i.e. row t = t' ≥ 1 with t/T.
            var v = [Float](repeating: 0, count: rows * k)
            for i in 0..<m { stepLoss[i] = 0; idLoss[i] = 0 }
            for i in 0..<m {
                for t in 1..<tt {
                    let e = p.scalars[(i * tt + t) * k + target] - Float(t) / Float(tt)
                    stepLoss[i] += abs(e)
                    v[(i * tt + t) * k + target] = e > 0 ? 1 : (e < 0 ? -1 : 0)
                }
            }
            var grad = [Float](repeating: 0, count: rows * l)
            if it < settings.steps {
                grad = try f.vjp(zp.value, cotangent: Tensor(shape: [rows, k], scalars: v), of: .probabilities).inputGradient.scalars
            }
            // Identity term on z_1 … z_{T−1} (rows t = 0 … T−2).
            switch settings.identity {
            case .latent:
                for i in 0..<m {
                    for t in 0..<(tt - 1) {
                        let row = i * tt + t
                        var s: Float = 0
                        for j in 0..<l { let e = zp.value.scalars[row * l + j] - start.scalars[i * l + j]; s += e * e }
                        let norm = s.squareRoot()
                        idLoss[i] += norm
                        if norm > 1e-12 {
                            for j in 0..<l { grad[row * l + j] += settings.lambda * (zp.value.scalars[row * l + j] - start.scalars[i * l + j]) / norm }
                        }
                    }
                }
            case .pixel:
                let xs = try generator.generate(zp.value)
                var cot = [Float](repeating: 0, count: rows * d)
                for i in 0..<m {
                    for t in 0..<(tt - 1) {
                        let row = i * tt + t
                        var s: Float = 0
                        for j in 0..<d { let e = xs.scalars[row * d + j] - images.scalars[i * d + j]; s += e * e }
                        let norm = s.squareRoot()
                        idLoss[i] += norm
                        if norm > 1e-12 {
                            for j in 0..<d { cot[row * d + j] = settings.lambda * (xs.scalars[row * d + j] - images.scalars[i * d + j]) / norm }
                        }
                    }
                }
                if it < settings.steps {
                    let gz = try generator.vjp(zp.value, cotangent: Tensor(shape: [rows] + generator.outputShape, scalars: cot)).latentGradient.scalars
                    for j in 0..<grad.count { grad[j] += gz[j] }
                }
            }
            // Smoothness term on consecutive path points z_1 … z_T (off by default: the draft has none).
            var smoothLoss = [Float](repeating: 0, count: m)
            if settings.smoothness > 0 {
                let sm = smoothnessTerm(zp.value.scalars, paths: m, length: tt, latent: l, weight: settings.smoothness)
                smoothLoss = sm.loss
                if it < settings.steps { for j in 0..<grad.count { grad[j] += sm.gradient[j] } }
            }
            if it == settings.steps {
                var out = [LatentTrajectory](repeating: LatentTrajectory(latentCount: l, classCount: k), count: m)
                let p0 = try f.probabilities(start)
                for i in 0..<m {
                    out[i].append(latent: start.scalars[(i * l)..<((i + 1) * l)], probabilities: p0.scalars[(i * k)..<((i + 1) * k)])
                    for t in 0..<tt {
                        let row = i * tt + t
                        out[i].append(latent: zp.value.scalars[(row * l)..<((row + 1) * l)], probabilities: p.scalars[(row * k)..<((row + 1) * k)])
                    }
                }
                return (out, stepLoss, idLoss, smoothLoss)
            }
            zp.gradient = Tensor(shape: [rows, l], scalars: grad)
            adam.step([zp])
            progress?(it + 1, settings.steps)
        }
        fatalError("unreachable")
    }

    /// `μ Σ_{t=1}^{T−1} ‖z_{t+1} − z_t‖²` per path and its gradient, for `m` paths of `tt` latents
    /// of `l` values stored row after row (`[m·tt, l]`, path `i`'s point `t` in row `i·tt + t − 1`).
    /// `∂/∂z_t = 2μ(z_t − z_{t−1}) + 2μ(z_t − z_{t+1})` (each term where that neighbour exists).
    public static func smoothnessTerm(_ z: [Float], paths m: Int, length tt: Int, latent l: Int, weight mu: Float)
        -> (loss: [Float], gradient: [Float]) {
        var loss = [Float](repeating: 0, count: m), grad = [Float](repeating: 0, count: z.count)
        for i in 0..<m {
            for t in 0..<(tt - 1) {
                let a = (i * tt + t) * l, b = a + l
                for j in 0..<l {
                    let e = z[b + j] - z[a + j]
                    loss[i] += mu * e * e
                    grad[b + j] += 2 * mu * e
                    grad[a + j] -= 2 * mu * e
                }
            }
        }
        return (loss, grad)
    }
}

/// The latent prior `N(0, I_L)` of a VAE (or GAN) generator: the log-density and the radius
/// beyond which a latent counts as off the prior.
public enum LatentPrior {
    /// `log N(z; 0, I) = −‖z‖²/2 − (L/2) log 2π`.
    public static func logLikelihood(_ z: ArraySlice<Float>) -> Double {
        var s = 0.0
        for v in z { s += Double(v) * Double(v) }
        return -s / 2 - Double(z.count) / 2 * Foundation.log(2 * Double.pi)
    }

    /// The regularised lower incomplete gamma function `P(a, x)` (series for x < a + 1, else
    /// Lentz's continued fraction for `Q = 1 − P`).
    static func regularizedGammaP(_ a: Double, _ x: Double) -> Double {
        if x <= 0 { return 0 }
        let lg = logGamma(a)
        if x < a + 1 {
            var sum = 1 / a, term = 1 / a, n = a
            for _ in 0..<10_000 {
                n += 1; term *= x / n; sum += term
                if abs(term) < abs(sum) * 1e-15 { break }
            }
            return sum * Foundation.exp(-x + a * Foundation.log(x) - lg)
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b; if abs(d) < tiny { d = tiny }
            c = b + an / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return 1 - Foundation.exp(-x + a * Foundation.log(x) - lg) * h
    }

    /// `log Γ(a)` for `a > 0` (Lanczos, g = 7; absolute error about 1e-8, ample for a quantile).
    static func logGamma(_ a: Double) -> Double {
        if a < 0.5 { return Foundation.log(Double.pi / abs(Foundation.sin(Double.pi * a))) - logGamma(1 - a) }
        let c: [Double] = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
                           -176.61503916999185, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
        let x = a - 1
        var sum = c[0]
        for i in 1..<9 { sum += c[i] / (x + Double(i)) }
        let t = x + 7.5
        return 0.5 * Foundation.log(2 * Double.pi) + (x + 0.5) * Foundation.log(t) - t + Foundation.log(sum)
    }

    /// The χ distribution's CDF with `l` degrees of freedom: `P(‖z‖ ≤ r)` for `z ~ N(0, I_l)`.
    public static func chiCDF(_ r: Double, degrees l: Int) -> Double { regularizedGammaP(Double(l) / 2, r * r / 2) }

    /// The χ_l quantile: the radius `r` with `P(‖z‖ ≤ r) = p` (bisection on ``chiCDF``).
    public static func chiQuantile(_ p: Double, degrees l: Int) -> Double {
        var lo = 0.0, hi = Double(l).squareRoot() + 20
        while chiCDF(hi, degrees: l) < p { hi *= 2 }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if chiCDF(mid, degrees: l) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}
