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

/// Option 1: gradient ascent on the target probability, `z_{t+1} = z_t + η ∇_z f_C(G(z_t))`.
public struct AscentSettings: Sendable {
    public enum Rule: String, Sendable, CaseIterable {
        /// `z_{t+1} = z_t + η ∇f_C / ‖∇f_C‖`: steps of length η in latent space.
        case normalized
        /// `z_{t+1} = z_t + η ∇f_C`, the draft's update literally.
        case paper
    }
    public var stepSize: Float = 0.1
    public var maxSteps = 300
    public var targetProbability: Float = 0.9
    public var rule: Rule = .normalized
    public init() {}
}

/// Option 2: the whole path `z_1 … z_T` optimised jointly (Adam) on
/// `Σ_{t=1}^{T−1} |f_C(G(z_{t+1})) − t/T| + λ Σ_{t=1}^{T−1} id(z_t)`.
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
    public init() {}
}

public enum LatentSearch {
    /// Runs Option 1 for every row of `start` (`[M, L]`) at once towards class `target`; rows
    /// leave the batch when `f_C ≥ targetProbability` (past the crossing at 0.5) or at the step
    /// cap. Every step is recorded.
    public static func ascend(_ f: any DifferentiableClassifier, start: Tensor, target: Int, settings: AscentSettings,
                              checkStop: () throws -> Void = {}, progress: ((Int, Int) -> Void)? = nil) throws -> [LatentTrajectory] {
        let m = start.batchSize, l = start.sampleCount, k = f.classCount
        guard (0..<k).contains(target) else { throw BorderlineError(.invalidArgument, "latent: target class \(target) outside 0…\(k - 1)") }
        var z = start.scalars
        var out = [LatentTrajectory](repeating: LatentTrajectory(latentCount: l, classCount: k), count: m)
        var active = Array(0..<m)
        var step = 0
        while !active.isEmpty {
            try checkStop()
            let batch = Tensor(shape: [active.count, l], scalars: active.flatMap { z[($0 * l)..<(($0 + 1) * l)] })
            let last = step == settings.maxSteps
            var v = [Float](repeating: 0, count: active.count * k)
            for r in active.indices { v[r * k + target] = 1 }
            let p: Tensor, g: Tensor?
            if last {
                p = try f.probabilities(batch); g = nil
            } else {
                let r = try f.vjp(batch, cotangent: Tensor(shape: [active.count, k], scalars: v), of: .probabilities)
                p = r.output; g = r.inputGradient
            }
            var still: [Int] = []
            for (r, i) in active.enumerated() {
                out[i].append(latent: z[(i * l)..<((i + 1) * l)], probabilities: p.scalars[(r * k)..<((r + 1) * k)])
                let pc = p.scalars[r * k + target]
                if pc >= settings.targetProbability || last { continue }
                guard let g else { continue }
                var norm: Float = 0
                for j in 0..<l { norm += g.scalars[r * l + j] * g.scalars[r * l + j] }
                norm = norm.squareRoot()
                guard norm > 0, norm.isFinite else { out[i].problem = "the gradient of f_C vanished"; continue }
                let scale = settings.rule == .normalized ? settings.stepSize / norm : settings.stepSize
                for j in 0..<l { z[i * l + j] += scale * g.scalars[r * l + j] }
                still.append(i)
            }
            active = still
            step += 1
            progress?(step, settings.maxSteps)
        }
        return out
    }

    /// Runs Option 2 for every row of `start` (`[M, L]`, `G⁻¹(x)`) together: `M·T` latents in
    /// one batch per Adam step. `images` (`[M] + classifier input`) are the source images `x`
    /// (used by the pixel identity term). The returned trajectories are `z_0 = G⁻¹(x), z_1 … z_T`.
    public static func optimizePath(_ f: any DifferentiableClassifier, generator: any Generator, start: Tensor, images: Tensor,
                                    target: Int, settings: PathSettings, checkStop: () throws -> Void = {},
                                    progress: ((Int, Int) -> Void)? = nil) throws -> (trajectories: [LatentTrajectory], stepLoss: [Float], identityLoss: [Float]) {
        let m = start.batchSize, l = start.sampleCount, k = f.classCount, tt = settings.length
        guard tt >= 2 else { throw BorderlineError(.invalidArgument, "latent: the path needs at least 2 points, got \(tt)") }
        guard (0..<k).contains(target) else { throw BorderlineError(.invalidArgument, "latent: target class \(target) outside 0…\(k - 1)") }
        let rows = m * tt, d = images.sampleCount
        var initial = [Float](); initial.reserveCapacity(rows * l)
        for i in 0..<m { for _ in 0..<tt { initial += start.scalars[(i * l)..<((i + 1) * l)] } }
        let zp = Parameter("path", Tensor(shape: [rows, l], scalars: initial))
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
                return (out, stepLoss, idLoss.map { $0 })
            }
            zp.gradient = Tensor(shape: [rows, l], scalars: grad)
            adam.step([zp])
            progress?(it + 1, settings.steps)
        }
        fatalError("unreachable")
    }
}
