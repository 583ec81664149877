import BorderlineCore
import Foundation

/// Distances to the decision boundary along random directions (He, Li & Song, "Decision Boundary
/// Analysis of Adversarial Examples", ICLR 2018).
///
/// **Maths.** For an input `x ∈ ℝ^D` with prediction `c₀ = f(x)` and a unit direction `u`
/// (`‖u‖₂ = 1`), the point at RMS distance `t` is `x(t) = clip(x + t·√D·u, domain)` (`domain`: the
/// classifier's ``Classifier/inputBox`` unless the settings fix one), so that
/// `‖x(t) − x‖₂ / √D = t` before clipping. The boundary distance along `u` is the first `t` with
/// `f(x(t)) ≠ c₀`, searched up to `t_max`: a coarse scan `t_k = t_max·k/S` (`k = 1…S`) brackets the
/// first change in `(t_{k−1}, t_k]`, then `B` bisection halvings shrink the bracket to
/// `t_max / (S·2^B)`, keeping `f = c₀` at the low end. The recorded distance is the high end and
/// the class met is `f` there (the class adjacent across that boundary). Directions with no
/// change up to `t_max` record `t_max` and class `−1`.
///
/// Every step evaluates all still-active directions of one input in one batch (1568 points for
/// all 784 QR directions of a 28×28 image and their negatives).
public struct DirectionSettings: Sendable, Hashable {
    /// `t_max`, the largest RMS distance searched.
    public var maxDistance: Float = 1
    /// `S`, the coarse-scan steps.
    public var coarseSteps: Int = 10
    /// `B`, the bisection halvings after the bracket.
    public var bisectionSteps: Int = 12
    /// One interval for every element; nil (the default): the classifier's input box.
    public var domain: ClosedRange<Float>? = nil
    public init() {}

    /// - Throws: `.invalidArgument` naming the bad setting.
    public func validate() throws {
        guard maxDistance.isFinite, maxDistance > 0 else {
            throw BorderlineError(.invalidArgument, "direction distances: max-distance must be a finite number > 0, got \(maxDistance)")
        }
        guard coarseSteps >= 1 else { throw BorderlineError(.invalidArgument, "direction distances: coarse-steps must be ≥ 1, got \(coarseSteps)") }
        guard bisectionSteps >= 0 else { throw BorderlineError(.invalidArgument, "direction distances: bisection-steps must be ≥ 0, got \(bisectionSteps)") }
        if let domain, !(domain.lowerBound < domain.upperBound) {
            throw BorderlineError(.invalidArgument, "direction distances: the domain must be an interval low < high, got \(domain)")
        }
    }
}

/// The boundary distances of `N` inputs along `M` directions each.
public struct DirectionDistances: Sendable {
    /// Row-major `[N, M]`: the RMS distance along each direction (`t_max` where none was found).
    public var distances: [Float]
    /// Row-major `[N, M]`: the class met across the boundary, `−1` where none was found.
    public var classes: [Int]
    /// `f(x)` of each input.
    public var originalClasses: [Int]
    public var directionCount: Int
    public var inputCount: Int { originalClasses.count }

    public init(distances: [Float], classes: [Int], originalClasses: [Int], directionCount: Int) {
        self.distances = distances
        self.classes = classes
        self.originalClasses = originalClasses
        self.directionCount = directionCount
    }

    public func distances(of i: Int) -> ArraySlice<Float> { distances[(i * directionCount)..<((i + 1) * directionCount)] }
    public func classes(of i: Int) -> ArraySlice<Int> { classes[(i * directionCount)..<((i + 1) * directionCount)] }
}

public enum DirectionProbe {
    /// The default direction set for `D`-dimensional inputs: the `D` columns of the QR basis of a
    /// seeded Gaussian `D × D` matrix, then their negatives (`2D` unit vectors, `[2D, D]`).
    /// With `count < 2D`, the first `⌈count/2⌉` basis vectors and their negatives, cut to `count`.
    public static func directions(dimension d: Int, count: Int? = nil, seed: UInt64) throws -> Tensor {
        let total = count ?? 2 * d
        guard total >= 1, total <= 2 * d else {
            throw BorderlineError(.invalidArgument, "directions: count must be in 1…\(2 * d) for \(d)-dimensional inputs (the basis and its negatives), got \(total)")
        }
        let half = (total + 1) / 2
        var random = RandomGenerator(seed: seed)
        let basis = try OrthonormalBasis.random(dimension: d, count: half, generator: &random)
        var scalars = basis
        scalars.reserveCapacity(2 * half * d)
        scalars += basis.map { -$0 }
        return Tensor(shape: [total, d], scalars: Array(scalars.prefix(total * d)))
    }

    /// Boundary distances of every row of `images` along every row of `directions` (`[M, D]`,
    /// unit vectors).
    /// - Throws: `.invalidArgument` for bad settings or directions that do not fit the inputs.
    public static func measure(_ classifier: any Classifier, images: Tensor, directions: Tensor,
                               settings: DirectionSettings = DirectionSettings(),
                               checkStop: () throws -> Void = {}, progress: (Int, Int) -> Void = { _, _ in }) throws -> DirectionDistances {
        try settings.validate()
        try classifier.checkBatch(images)
        let n = images.batchSize, d = images.sampleCount
        guard directions.rank == 2, directions.shape[1] == d, directions.shape[0] >= 1 else {
            throw BorderlineError(.invalidArgument, "directions have shape \(directions.shape); expected [M, \(d)] for inputs of \(d) values")
        }
        let m = directions.shape[0]
        let original = try classifier.predictions(images)
        var distances = [Float](repeating: settings.maxDistance, count: n * m)
        var classes = [Int](repeating: -1, count: n * m)
        let scale = Float(d).squareRoot()
        let box = try settings.domain.map { try InputBox(lower: Double($0.lowerBound), upper: Double($0.upperBound)) } ?? classifier.inputBox
        try box.check(inputShape: classifier.inputShape)
        let inputShape = classifier.inputShape

        // The points x + t_j·√D·u_j for the listed directions, one batch.
        func points(image i: Int, rows: [Int], steps: [Float]) -> Tensor {
            var t = Tensor(shape: [rows.count] + inputShape) { out in
                images.withUnsafeBufferPointer { xs in
                    directions.withUnsafeBufferPointer { us in
                        let x = xs.baseAddress! + i * d
                        for (r, j) in rows.enumerated() {
                            let u = us.baseAddress! + j * d, o = out.baseAddress! + r * d, s = steps[r] * scale
                            for c in 0..<d { o[c] = x[c] + s * u[c] }
                        }
                    }
                }
            }
            box.clamp(&t)
            return t
        }

        for i in 0..<n {
            try checkStop()
            let c0 = original[i]
            // Coarse scan: bracket the first change.
            var active = Array(0..<m)
            var lo = [Float](repeating: 0, count: m), hi = [Float](repeating: 0, count: m), met = [Int](repeating: -1, count: m)
            var bracketed: [Int] = []
            let step = settings.maxDistance / Float(settings.coarseSteps)
            for k in 1...settings.coarseSteps where !active.isEmpty {
                let t = step * Float(k)
                let predicted = try classifier.predictions(points(image: i, rows: active, steps: [Float](repeating: t, count: active.count)))
                var still: [Int] = []
                for (r, j) in active.enumerated() {
                    if predicted[r] != c0 {
                        lo[j] = t - step; hi[j] = t; met[j] = predicted[r]
                        bracketed.append(j)
                    } else {
                        still.append(j)
                    }
                }
                active = still
            }
            // Bisection inside the brackets, all bracketed directions per batch.
            if !bracketed.isEmpty {
                for _ in 0..<settings.bisectionSteps {
                    let mids = bracketed.map { (lo[$0] + hi[$0]) / 2 }
                    let predicted = try classifier.predictions(points(image: i, rows: bracketed, steps: mids))
                    for (r, j) in bracketed.enumerated() {
                        if predicted[r] == c0 { lo[j] = mids[r] } else { hi[j] = mids[r]; met[j] = predicted[r] }
                    }
                }
            }
            for j in bracketed {
                distances[i * m + j] = hi[j]
                classes[i * m + j] = met[j]
            }
            progress(i + 1, n)
        }
        return DirectionDistances(distances: distances, classes: classes, originalClasses: original, directionCount: m)
    }
}

/// Adjacent-class purity (He et al.): how much of the surrounding boundary belongs to few classes.
public enum AdjacentClassPurity {
    /// For one input's classes met (`−1`: no boundary), the purity of the top `k` classes for
    /// `k = 1…classCount`: with `n_(1) ≥ n_(2) ≥ …` the directions meeting each class, sorted,
    /// `purity_k = (n_(1) + … + n_(k)) / M` over all `M` directions — the largest cumulative fraction
    /// of directions that reach a boundary adjacent to one of `k` classes.
    public static func curve<C: Collection>(_ classes: C, classCount: Int) -> [Double] where C.Element == Int {
        guard classCount >= 1 else { return [] }
        var counts = [Int](repeating: 0, count: classCount)
        for c in classes where c >= 0 && c < classCount { counts[c] += 1 }
        counts.sort(by: >)
        let total = Double(Swift.max(1, classes.count))
        var cumulative = 0
        return counts.map { cumulative += $0; return Double(cumulative) / total }
    }
}
