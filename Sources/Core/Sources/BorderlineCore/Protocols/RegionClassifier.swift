import Foundation

/// Region-based classification (Cao & Gong, "Mitigating Evasion Attacks to Deep Neural Networks
/// via Region-based Classification"): the majority vote of a point classifier `f` over a
/// hypercube around the input.
///
/// **Maths.** For an input `x ∈ ℝ^D`, radius `r` and `m` offsets `δ_j ~ U([−1, 1]^D)`, the region
/// classifier votes over `x_j = clip(x + r·δ_j, domain)` (`domain`: the base classifier's
/// ``Classifier/inputBox`` unless one is given): `P[x, k] = |{j : f(x_j) = k}| / m`, and
/// predicts `argmax_k P[x, k]` (ties: the lowest class). Logits are `log P` (the ``Classifier``
/// default). The `m` offsets are drawn once from `seed` and shared by every input, so the
/// classifier is a deterministic function of each row (the ``Classifier`` contract); each input
/// still sees `m` independent uniform points of its own hypercube. `r = 0` is the point classifier.
///
/// **Cost.** `m` evaluations of `f` per input, in batches of about `pointsPerBatch` points (all
/// `m` samples of several inputs in one batch).
///
/// It is a ``Classifier`` like any other, so every plugin can analyse it (wrap the run's
/// classifier); ``selectRadius(_:images:labels:radii:samples:seed:domain:)`` chooses `r` on
/// held-out data.
public final class RegionClassifier: Classifier {
    public let base: any Classifier
    public let radius: Float
    public let sampleCount: Int
    /// The explicit domain, or nil: the base classifier's input box (``box``).
    public let domain: ClosedRange<Float>?
    /// The box the sampled points are clipped to.
    public let box: InputBox
    public let pointsPerBatch: Int
    /// The shared offsets `δ_j`, row-major `[m, D]`, uniform in `[−1, 1]`.
    private let offsets: [Float]

    /// - Throws: `.invalidArgument` for `r < 0` or not finite, `m < 1`, an empty domain or a
    ///   non-positive batch size.
    public init(_ base: any Classifier, radius: Float, samples: Int = 1000, seed: UInt64 = 0,
                domain: ClosedRange<Float>? = nil, pointsPerBatch: Int = 8192) throws {
        guard radius.isFinite, radius >= 0 else {
            throw BorderlineError(.invalidArgument, "region classifier: radius must be a finite number ≥ 0, got \(radius)")
        }
        guard samples >= 1 else {
            throw BorderlineError(.invalidArgument, "region classifier: samples must be ≥ 1, got \(samples)")
        }
        if let domain, !(domain.lowerBound.isFinite && domain.upperBound.isFinite && domain.lowerBound < domain.upperBound) {
            throw BorderlineError(.invalidArgument, "region classifier: the domain must be a finite interval low < high, got \(domain)")
        }
        box = try domain.map { try InputBox(lower: Double($0.lowerBound), upper: Double($0.upperBound)) } ?? base.inputBox
        try box.check(inputShape: base.inputShape)
        guard pointsPerBatch >= 1 else {
            throw BorderlineError(.invalidArgument, "region classifier: pointsPerBatch must be ≥ 1, got \(pointsPerBatch)")
        }
        self.base = base
        self.radius = radius
        self.sampleCount = samples
        self.domain = domain
        self.pointsPerBatch = pointsPerBatch
        let d = base.inputShape.reduce(1, *)
        var random = RandomGenerator(seed: seed)
        var offsets = [Float](repeating: 0, count: samples * d)
        for i in offsets.indices { offsets[i] = random.nextUniform(-1, 1) }
        self.offsets = offsets
    }

    public var inputShape: [Int] { base.inputShape }
    public var inputBox: InputBox { base.inputBox }
    public var classNames: [String] { base.classNames }

    /// The vote counts `|{j : f(x_j) = k}|` of every row, row-major `[N, K]`.
    public func votes(_ x: Tensor) throws -> [Int] {
        try checkBatch(x)
        let n = x.batchSize, d = x.sampleCount, m = sampleCount, k = classCount
        var counts = [Int](repeating: 0, count: n * k)
        let rowsPerBatch = Swift.max(1, pointsPerBatch / m)
        let r = radius
        var start = 0
        while start < n {
            let end = Swift.min(n, start + rowsPerBatch)
            let rows = end - start
            var points = Tensor(shape: [rows * m] + inputShape) { out in
                x.withUnsafeBufferPointer { xs in
                    offsets.withUnsafeBufferPointer { ds in
                        for i in 0..<rows {
                            let xi = xs.baseAddress! + (start + i) * d
                            for j in 0..<m {
                                let o = out.baseAddress! + (i * m + j) * d, dj = ds.baseAddress! + j * d
                                for c in 0..<d { o[c] = xi[c] + r * dj[c] }
                            }
                        }
                    }
                }
            }
            box.clamp(&points)
            let predicted = try base.predictions(points)
            for i in 0..<rows {
                for j in 0..<m { counts[(start + i) * k + predicted[i * m + j]] += 1 }
            }
            start = end
        }
        return counts
    }

    /// The vote fractions `P[x, k] = votes / m`.
    public func probabilities(_ x: Tensor) throws -> Tensor {
        let counts = try votes(x)
        let scale = 1 / Float(sampleCount)
        return Tensor(shape: [x.batchSize, classCount], scalars: counts.map { Float($0) * scale })
    }

    /// The outcome of ``selectRadius(_:images:labels:radii:samples:seed:domain:)``.
    public struct RadiusSelection: Sendable {
        /// The chosen `r`.
        public var radius: Float
        /// The candidate radii, ascending, and the held-out accuracy of the region classifier at each.
        public var radii: [Float]
        public var accuracies: [Double]
        /// The point classifier's accuracy on the same held-out images.
        public var pointAccuracy: Double
    }

    /// Chooses the radius on held-out images (never the images it will be evaluated on).
    ///
    /// **Rule.** With `a₀` the point classifier's accuracy on the held-out images and `a(r)` the
    /// region classifier's, the chosen radius is the largest `r` of the grid with `a(r) ≥ a₀`
    /// (Cao & Gong: the largest hypercube that does not cost accuracy on benign examples).
    /// `r = 0` is always a candidate (it is the point classifier), so the rule always answers.
    /// - Throws: `.invalidArgument` for an empty or negative grid, no images, or labels that do not match.
    public static func selectRadius(_ base: any Classifier, images: Tensor, labels: [Int], radii: [Float],
                                    samples: Int, seed: UInt64, domain: ClosedRange<Float>? = nil) throws -> RadiusSelection {
        guard images.batchSize >= 1, labels.count == images.batchSize else {
            throw BorderlineError(.invalidArgument, "radius selection needs at least one held-out image and one label per image (got \(images.batchSize) images, \(labels.count) labels)")
        }
        guard !radii.isEmpty, radii.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw BorderlineError(.invalidArgument, "radius selection needs a non-empty grid of finite radii ≥ 0, got \(radii)")
        }
        let grid = Array(Set(radii + [0])).sorted()
        let n = Double(labels.count)
        func accuracy(_ predicted: [Int]) -> Double { Double(zip(predicted, labels).filter { $0 == $1 }.count) / n }
        let point = accuracy(try base.predictions(images))
        var accuracies: [Double] = []
        for r in grid {
            if r == 0 { accuracies.append(point); continue }
            let region = try RegionClassifier(base, radius: r, samples: samples, seed: seed, domain: domain)
            accuracies.append(accuracy(try region.predictions(images)))
        }
        let chosen = grid.indices.last { accuracies[$0] >= point } ?? 0
        return RadiusSelection(radius: grid[chosen], radii: grid, accuracies: accuracies, pointAccuracy: point)
    }
}
