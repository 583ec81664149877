import BorderlineCore
import Foundation

/// Per-row distances between two batches: L1, L2 and L∞ of `b − a`.
public struct RowDistances {
    public var l1: [Float]
    public var l2: [Float]
    public var linf: [Float]

    public static func between(_ a: Tensor, _ b: Tensor) -> RowDistances {
        let n = a.batchSize, d = a.sampleCount
        var l1 = [Float](repeating: 0, count: n), l2 = l1, li = l1
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                for r in 0..<n {
                    var s1: Float = 0, s2: Float = 0, m: Float = 0
                    for j in 0..<d {
                        let v = abs(pb[r * d + j] - pa[r * d + j])
                        s1 += v; s2 += v * v; m = max(m, v)
                    }
                    l1[r] = s1; l2[r] = s2.squareRoot(); li[r] = m
                }
            }
        }
        return RowDistances(l1: l1, l2: l2, linf: li)
    }
}

/// The lower and upper bound of every element of one sample: an ``InputBox`` (one interval, or
/// one per channel, channel `c` covering elements `c·S ..< (c+1)·S`) spelled out per element.
public struct ElementBounds: Sendable {
    public let lower: [Float]
    public let upper: [Float]

    /// - Throws: `.shapeMismatch` when per-channel bounds do not fit `sampleShape`.
    public init(_ box: InputBox, sampleShape: [Int]) throws {
        try box.check(inputShape: sampleShape)
        let d = sampleShape.reduce(1, *), channels = box.isUniform ? 1 : box.channelCount
        let perChannel = max(1, d / max(1, channels))
        var lower = [Float](repeating: 0, count: d), upper = lower
        for i in 0..<d {
            let b = box.bounds(channel: min(channels - 1, i / perChannel))
            lower[i] = b.lower
            upper[i] = b.upper
        }
        self.lower = lower
        self.upper = upper
    }
}

/// The jacobian flip point search (Gupta, Algorithms 1–2), batched.
///
/// For every row `x₀` with top-1 class `a`: `g = ∇ₓ f_a(x₀)` (f = logit, or softmax probability),
/// one backward pass for the batch. The path is `x(α) = clip(x₀ − α g)` (clipped to the input
/// box when one is given). Phase 1 walks up an α ladder (one batched forward per rung for the rows
/// not flipped yet) until the top-1 class is no longer `a`:
///
/// - ``AlphaSchedule/scaled`` (default): `α_k = firstStep · stepGrowth^k / ‖g‖₂`, so that the first
///   (unclipped) step has length `firstStep` in input space whatever the gradient's scale, and
///   consecutive rungs are a factor `stepGrowth` apart. With a box the ladder ends at the
///   *saturation* α — the smallest α at which every coordinate that moves has reached its bound;
///   the path is constant beyond it, so a row that has not flipped there never flips on this ray.
///   Rows whose gradient is zero or not finite have no ray and count as never flipped.
/// - ``AlphaSchedule/paper``: Gupta's literal ladder `α = alphaStart, ×alphaGrowth, …` (1, 10,
///   100, … by default) up to `maxAlpha`. With `‖g‖ ≈ 50–200` its first step already has length
///   50–200 and jumps past the nearest boundary (issue 20).
///
/// Phase 2 bisects on α between the last unflipped rung `α_lo` (0 for the first) and the first
/// flipped `α_hi` (Algorithm 1; with clipping the path is not a straight line, so bisecting in α
/// keeps the points on it) until, at `x(α_hi)`, `|p_a − p_b| < tolerance` with `b` its top-1
/// class and `α_hi − α_lo ≤ bracket · α_hi`, or `maxSteps` halvings. The flip point reported is always `x(α_hi)`: it is classified
/// differently from `x₀` by construction.
public enum JacobianFlipSearch {
    /// How phase 1 chooses its α values.
    public enum AlphaSchedule: String, CaseIterable, Codable, Sendable {
        /// `firstStep · stepGrowth^k / ‖g‖` up to the saturation α (or `maxAlpha`).
        case scaled
        /// Gupta's Algorithm 2: `alphaStart · alphaGrowth^k` up to `maxAlpha`.
        case paper
    }

    public struct Configuration: Sendable {
        public var schedule: AlphaSchedule = .scaled
        /// `scaled`: the length ‖α₀ g‖₂ of the first (unclipped) step, in input units.
        public var firstStep: Float = 1e-3
        /// `scaled`: the factor between consecutive rungs.
        public var stepGrowth: Float = 1.1
        /// `paper`: the first α and the factor between rungs (Gupta: 1 and 10).
        public var alphaStart: Float = 1
        public var alphaGrowth: Float = 10
        /// The largest α tried (both schedules).
        public var maxAlpha: Float = 1e10
        public var tolerance: Float = 1e-4
        /// The bisection also narrows the α bracket to `(α_hi − α_lo) ≤ bracket · α_hi`: the gap
        /// alone can stop it with `α_lo` far below `α_hi` where the probabilities change slowly
        /// (starts next to a boundary), and the crossing may lie anywhere in between.
        public var bracket: Float = 1e-3
        public var maxSteps: Int = 60
        /// The input box the path is clipped to; nil: no clipping.
        public var box: InputBox? = .unit
        public var output: ClassifierOutput = .logits
        public var batchSize: Int = 256
        public init() {}
    }

    /// Encoded as its raw value (results.h5 `status`: 0, 1, 2).
    public enum Status: Int, Codable, Sendable { case resolved = 0, capped = 1, neverFlipped = 2 }

    public struct Outcome {
        /// The flip point (`x(α_hi)`), or the start point for rows that never flipped.
        public var points: Tensor
        public var probabilities: Tensor
        public var startClasses: [Int]
        /// The class at the flip point (−1 when the row never flipped).
        public var flipClasses: [Int]
        public var alphas: [Float]
        public var status: [Status]
        public var steps: [Int]
        public var gaps: [Float]
        /// `‖g‖₂` per row.
        public var gradientNorms: [Float]
        /// The α beyond which the clipped path no longer moves (∞ without a box, 0 when it never
        /// moves).
        public var saturationAlphas: [Float]
        public var queries: Int
    }

    /// The first class change found by ``denseFirstCrossing(_:_:configuration:steps:upTo:checkStop:)``.
    public struct DenseScan {
        /// The crossing's α (bisected like the search), NaN when no grid point changes class.
        public var alphas: [Float]
        /// `x(α)` at the crossing, the start for rows without one.
        public var points: Tensor
        /// The class at the crossing, −1 without one.
        public var classes: [Int]
        /// The α the scan ended at per row (NaN for rows without a ray).
        public var ends: [Float]
        public var queries: Int
    }

    // MARK: The path

    static func point(_ x0: UnsafeBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>, row r: Int, d: Int,
                      alpha: Float, bounds: ElementBounds?, into out: UnsafeMutablePointer<Float>) {
        if let bounds {
            for j in 0..<d {
                let v = x0[r * d + j] - alpha * g[r * d + j]
                out[j] = min(max(v, bounds.lower[j]), bounds.upper[j])
            }
        } else {
            for j in 0..<d { out[j] = x0[r * d + j] - alpha * g[r * d + j] }
        }
    }

    static func build(_ x0: Tensor, _ g: Tensor, rows: [Int], alphas: [Float], bounds: ElementBounds?) -> Tensor {
        let d = x0.sampleCount
        return Tensor(shape: [rows.count] + x0.sampleShape) { out in
            x0.withUnsafeBufferPointer { px in
                g.withUnsafeBufferPointer { pg in
                    for (i, r) in rows.enumerated() {
                        point(px, pg, row: r, d: d, alpha: alphas[i], bounds: bounds, into: out.baseAddress! + i * d)
                    }
                }
            }
        }
    }

    /// `‖g_r‖₂` and the saturation α of every row: the largest, over the coordinates with
    /// `g_j ≠ 0`, of the α at which `x₀_j − α g_j` reaches its bound (∞ without bounds).
    static func rays(_ x0: Tensor, _ g: Tensor, bounds: ElementBounds?) -> (norms: [Float], saturation: [Float]) {
        let n = x0.batchSize, d = x0.sampleCount
        var norms = [Float](repeating: 0, count: n), sat = [Float](repeating: .infinity, count: n)
        x0.withUnsafeBufferPointer { px in
            g.withUnsafeBufferPointer { pg in
                for r in 0..<n {
                    var s: Float = 0, m: Float = 0
                    for j in 0..<d {
                        let v = pg[r * d + j]
                        s += v * v
                        if let bounds, v != 0 {
                            let room = v > 0 ? px[r * d + j] - bounds.lower[j] : bounds.upper[j] - px[r * d + j]
                            m = max(m, max(0, room) / abs(v))
                        }
                    }
                    norms[r] = s.squareRoot()
                    if bounds != nil { sat[r] = m }
                }
            }
        }
        return (norms, sat)
    }

    /// The top-1 classes, probabilities and the gradient of the top-1 output at `x0`.
    static func start(_ model: any DifferentiableClassifier, _ x0: Tensor, output: ClassifierOutput) throws
        -> (classes: [Int], probabilities: Tensor, gradient: Tensor) {
        let n = x0.batchSize, k = model.classCount
        let p0 = try model.probabilities(x0)
        let a = p0.argmaxRows()
        var v = [Float](repeating: 0, count: n * k)
        for r in 0..<n { v[r * k + a[r]] = 1 }
        let g = try model.vjp(x0, cotangent: Tensor(shape: [n, k], scalars: v), of: output).inputGradient
        return (a, p0, g)
    }

    /// `|p_a − p_b|` with `b` the best class other than `a` in row `r` of `probs` (`[N, K]` flat).
    static func gap(_ probs: [Float], row r: Int, k: Int, start a: Int) -> Float {
        var best = -Float.infinity
        for j in 0..<k where j != a && probs[r * k + j] > best { best = probs[r * k + j] }
        return abs(probs[r * k + a] - best)
    }

    /// Algorithm 1 on α for the rows with a bracket `lo[r]` (start class) < `hi[r]` (another
    /// class, probabilities `hiProbs`): halves until the gap at `hi` is below the tolerance and
    /// the bracket is narrower than `bracket · hi`, or the step cap, or Float's resolution. Returns the halvings per row and the queries spent.
    static func bisect(_ model: any DifferentiableClassifier, _ x0: Tensor, _ g: Tensor, start a: [Int], bounds: ElementBounds?,
                       lo: inout [Float], hi: inout [Float], hiProbs: inout [Float], configuration c: Configuration,
                       checkStop: () throws -> Void) throws -> (steps: [Int], queries: Int) {
        let n = x0.batchSize, k = model.classCount
        var steps = [Int](repeating: 0, count: n), queries = 0
        func open(_ r: Int) -> Bool { gap(hiProbs, row: r, k: k, start: a[r]) >= c.tolerance || hi[r] - lo[r] > c.bracket * hi[r] }
        var active = (0..<n).filter { !hi[$0].isNaN && open($0) }
        while !active.isEmpty {
            try checkStop()
            let mids = active.map { (lo[$0] + hi[$0]) / 2 }
            let px = try model.probabilities(build(x0, g, rows: active, alphas: mids, bounds: bounds))
            queries += active.count
            let pred = px.argmaxRows()
            var next: [Int] = []
            for (i, r) in active.enumerated() {
                steps[r] += 1
                let stuck = mids[i] <= lo[r] || mids[i] >= hi[r]   // α resolution of Float exhausted
                if pred[i] == a[r] { lo[r] = mids[i] } else {
                    hi[r] = mids[i]
                    for j in 0..<k { hiProbs[r * k + j] = px.scalars[i * k + j] }
                }
                if open(r) && steps[r] < c.maxSteps && !stuck { next.append(r) }
            }
            active = next
        }
        return (steps, queries)
    }

    // MARK: The search

    /// Runs the search over `x` in batches of `configuration.batchSize`.
    public static func search(_ model: any DifferentiableClassifier, _ x: Tensor, configuration c: Configuration = Configuration(),
                              checkStop: () throws -> Void = {}) throws -> Outcome {
        try model.checkBatch(x)
        let bounds = try c.box.map { try ElementBounds($0, sampleShape: x.sampleShape) }
        let parts = try inBatches(x, size: c.batchSize, checkStop: checkStop) { batch in
            try searchBatch(model, batch, configuration: c, bounds: bounds, checkStop: checkStop)
        }
        if parts.isEmpty {
            return Outcome(points: x, probabilities: Tensor(zeros: [0, model.classCount]), startClasses: [], flipClasses: [],
                           alphas: [], status: [], steps: [], gaps: [], gradientNorms: [], saturationAlphas: [], queries: 0)
        }
        return Outcome(points: Tensor.concatenate(batches: parts.map(\.points)),
                       probabilities: Tensor.concatenate(batches: parts.map(\.probabilities)),
                       startClasses: parts.flatMap(\.startClasses), flipClasses: parts.flatMap(\.flipClasses),
                       alphas: parts.flatMap(\.alphas), status: parts.flatMap(\.status), steps: parts.flatMap(\.steps),
                       gaps: parts.flatMap(\.gaps), gradientNorms: parts.flatMap(\.gradientNorms),
                       saturationAlphas: parts.flatMap(\.saturationAlphas), queries: parts.reduce(0) { $0 + $1.queries })
    }

    static func searchBatch(_ model: any DifferentiableClassifier, _ x0: Tensor, configuration c: Configuration, bounds: ElementBounds?,
                            checkStop: () throws -> Void) throws -> Outcome {
        let n = x0.batchSize, k = model.classCount, d = x0.sampleCount
        // One forward for the classes, one backward (with its forward) for the gradients.
        let (a, p0, g) = try start(model, x0, output: c.output)
        var queries = 2 * n
        let (norms, saturation) = rays(x0, g, bounds: bounds)

        // Phase 1: up the α ladder until the label changes.
        var lo = [Float](repeating: 0, count: n)
        var hi = [Float](repeating: .nan, count: n)
        var alpha = [Float](repeating: c.alphaStart, count: n)
        var last = [Bool](repeating: false, count: n)
        var active = Array(0..<n)
        if c.schedule == .scaled {
            // No ray (zero or non-finite gradient) or a path that never moves: never flipped.
            active = active.filter { norms[$0] > 0 && norms[$0].isFinite && saturation[$0] > 0 }
            for r in active {
                alpha[r] = c.firstStep / norms[r]
                if alpha[r] >= min(saturation[r], c.maxAlpha) { alpha[r] = min(saturation[r], c.maxAlpha); last[r] = true }
            }
            active = active.filter { alpha[$0].isFinite && alpha[$0] > 0 }
        }
        var hiProbs = [Float](repeating: 0, count: n * k)
        while !active.isEmpty {
            try checkStop()
            let px = try model.probabilities(build(x0, g, rows: active, alphas: active.map { alpha[$0] }, bounds: bounds))
            queries += active.count
            let pred = px.argmaxRows()
            var next: [Int] = []
            for (i, r) in active.enumerated() {
                if pred[i] != a[r] {
                    hi[r] = alpha[r]
                    for j in 0..<k { hiProbs[r * k + j] = px.scalars[i * k + j] }
                    continue
                }
                lo[r] = alpha[r]
                switch c.schedule {
                case .paper:
                    let grown = alpha[r] * c.alphaGrowth
                    if grown <= c.maxAlpha && grown.isFinite && grown > alpha[r] { alpha[r] = grown; next.append(r) }
                case .scaled:
                    guard !last[r] else { continue }
                    let end = min(saturation[r], c.maxAlpha)
                    var grown = alpha[r] * c.stepGrowth
                    if !(grown < end) { grown = end; last[r] = true }
                    if grown > alpha[r] { alpha[r] = grown; next.append(r) }
                }
            }
            active = next
        }

        // Phase 2: bisection on α between lo and hi for the flipped rows.
        let (steps, bisectionQueries) = try bisect(model, x0, g, start: a, bounds: bounds, lo: &lo, hi: &hi, hiProbs: &hiProbs,
                                                   configuration: c, checkStop: checkStop)
        queries += bisectionQueries

        // The points and their classes.
        let flipped = (0..<n).filter { !hi[$0].isNaN }
        var points = x0
        var flipClasses = [Int](repeating: -1, count: n)
        var status = [Status](repeating: .neverFlipped, count: n)
        var gaps = [Float](repeating: .nan, count: n)
        var probs = p0
        if !flipped.isEmpty {
            let pts = build(x0, g, rows: flipped, alphas: flipped.map { hi[$0] }, bounds: bounds)
            points.withUnsafeMutableBufferPointer { out in
                pts.withUnsafeBufferPointer { src in
                    for (i, r) in flipped.enumerated() {
                        (out.baseAddress! + r * d).update(from: src.baseAddress! + i * d, count: d)
                    }
                }
            }
            probs.withUnsafeMutableBufferPointer { out in
                for r in flipped { for j in 0..<k { out[r * k + j] = hiProbs[r * k + j] } }
            }
            for r in flipped {
                var b = -1, best = -Float.infinity
                for j in 0..<k where hiProbs[r * k + j] > best { best = hiProbs[r * k + j]; b = j }
                flipClasses[r] = b
                gaps[r] = gap(hiProbs, row: r, k: k, start: a[r])
                status[r] = gaps[r] < c.tolerance ? .resolved : .capped
            }
        }
        return Outcome(points: points, probabilities: probs, startClasses: a, flipClasses: flipClasses,
                       alphas: (0..<n).map { hi[$0].isNaN ? .nan : hi[$0] }, status: status, steps: steps, gaps: gaps,
                       gradientNorms: norms, saturationAlphas: saturation, queries: queries)
    }

    // MARK: The dense reference scan

    /// `steps` values `α_1 < … < α_steps = end` at which the displacement `D(α) = ‖x(α) − x₀‖₂`
    /// of the clipped path of row `r` is `D(end) · i / steps`. `D²(α) = α² Σ_{b_j > α} g_j² +
    /// Σ_{b_j ≤ α} room_j²`, with `b_j = room_j / |g_j|` the α at which coordinate `j` reaches its
    /// bound, is quadratic in α between consecutive `b_j`, so each α is solved exactly (without
    /// a box every `b_j` is ∞ and the grid is uniform in α). Values that would repeat (a path that
    /// no longer moves) are dropped.
    static func pathGrid(_ x0: UnsafeBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>, row r: Int, d: Int,
                         bounds: ElementBounds?, end: Float, steps: Int) -> [Float] {
        var breaks: [(alpha: Double, g2: Double, room2: Double)] = []
        var s = 0.0   // Σ g_j² over the coordinates still moving
        for j in 0..<d {
            let v = Double(g[r * d + j])
            guard v != 0 else { continue }
            s += v * v
            if let bounds {
                let room = max(0, v > 0 ? Double(x0[r * d + j] - bounds.lower[j]) : Double(bounds.upper[j] - x0[r * d + j]))
                breaks.append((room / abs(v), v * v, room * room))
            }
        }
        breaks.sort { $0.alpha < $1.alpha }
        let e = Double(end)
        // D²(end).
        var sEnd = s, rEnd = 0.0
        for b in breaks where b.alpha <= e { sEnd -= b.g2; rEnd += b.room2 }
        let total = (e * e * max(0, sEnd) + rEnd).squareRoot()
        guard total > 0 else { return [] }
        var out: [Float] = []
        out.reserveCapacity(steps)
        var k = 0, sK = s, rK = 0.0   // the segment [breaks[k-1].alpha, breaks[k].alpha)
        for i in 1...steps {
            let t = total * Double(i) / Double(steps), t2 = t * t
            while k < breaks.count && breaks[k].alpha <= e {
                // D² at the segment's right end.
                let b = breaks[k].alpha
                if b * b * max(0, sK) + rK >= t2 { break }
                sK -= breaks[k].g2; rK += breaks[k].room2
                k += 1
            }
            let alpha = i == steps ? e : (sK > 1e-300 ? ((t2 - rK) / sK).squareRoot() : e)
            let a = Float(min(max(alpha, 0), e))
            if a > 0 && (out.last.map { a > $0 } ?? true) { out.append(a) }
        }
        if let last = out.last, last < end { out.append(end) }
        return out
    }

    /// The first class change along the same path `x(α) = clip(x₀ − α g)` found by brute force:
    /// `steps` points `α_1 < … < α_steps = end` spaced evenly in the path's displacement
    /// `D(α) = ‖x(α) − x₀‖₂` (``pathGrid(_:_:row:d:bounds:end:steps:)``: equal steps of length
    /// `D(end)/steps`, so the scan is as fine near the start as far from it, however unevenly the
    /// coordinates saturate), `end` per row from `upTo` (default, and for NaN entries: the
    /// saturation α with a box, `maxAlpha` without), then the same bisection as the search between
    /// `α_{j−1}` and the first `α_j` whose class is not the start's. A reference for tests and
    /// benchmarks (`steps` forwards per row), not a search to run on a data set.
    public static func denseFirstCrossing(_ model: any DifferentiableClassifier, _ x: Tensor, configuration c: Configuration = Configuration(),
                                          steps: Int, upTo: [Float]? = nil, checkStop: () throws -> Void = {}) throws -> DenseScan {
        try model.checkBatch(x)
        precondition(steps >= 1, "denseFirstCrossing: steps must be at least 1")
        precondition(upTo == nil || upTo!.count == x.batchSize, "denseFirstCrossing: one end per row")
        let bounds = try c.box.map { try ElementBounds($0, sampleShape: x.sampleShape) }
        var parts: [DenseScan] = []
        var offset = 0
        _ = try inBatches(x, size: c.batchSize, checkStop: checkStop) { x0 in
            let n = x0.batchSize, k = model.classCount, d = x0.sampleCount
            let (a, _, g) = try start(model, x0, output: c.output)
            var queries = 2 * n
            let (norms, saturation) = rays(x0, g, bounds: bounds)
            let ends: [Float] = (0..<n).map { r in
                guard norms[r] > 0, norms[r].isFinite else { return .nan }
                if let end = upTo?[offset + r], !end.isNaN { return end }
                return bounds != nil ? saturation[r] : c.maxAlpha
            }
            offset += n
            var lo = [Float](repeating: 0, count: n), hi = [Float](repeating: .nan, count: n)
            var hiProbs = [Float](repeating: 0, count: n * k)
            var active = (0..<n).filter { ends[$0].isFinite && ends[$0] > 0 }
            let grids: [[Float]] = x0.withUnsafeBufferPointer { px in
                g.withUnsafeBufferPointer { pg in
                    (0..<n).map { r in active.contains(r) ? pathGrid(px, pg, row: r, d: d, bounds: bounds, end: ends[r], steps: steps) : [] }
                }
            }
            var j = 1
            while !active.isEmpty && j <= steps {
                try checkStop()
                active = active.filter { j <= grids[$0].count }
                if active.isEmpty { break }
                let alphas = active.map { grids[$0][j - 1] }
                let px = try model.probabilities(build(x0, g, rows: active, alphas: alphas, bounds: bounds))
                queries += active.count
                let pred = px.argmaxRows()
                var next: [Int] = []
                for (i, r) in active.enumerated() {
                    if pred[i] != a[r] {
                        hi[r] = alphas[i]
                        for q in 0..<k { hiProbs[r * k + q] = px.scalars[i * k + q] }
                    } else {
                        lo[r] = alphas[i]
                        next.append(r)
                    }
                }
                active = next
                j += 1
            }
            queries += try bisect(model, x0, g, start: a, bounds: bounds, lo: &lo, hi: &hi, hiProbs: &hiProbs,
                                  configuration: c, checkStop: checkStop).queries
            let crossed = (0..<n).filter { !hi[$0].isNaN }
            var points = x0
            let pts = build(x0, g, rows: crossed, alphas: crossed.map { hi[$0] }, bounds: bounds)
            points.withUnsafeMutableBufferPointer { out in
                pts.withUnsafeBufferPointer { src in
                    for (i, r) in crossed.enumerated() { (out.baseAddress! + r * d).update(from: src.baseAddress! + i * d, count: d) }
                }
            }
            var classes = [Int](repeating: -1, count: n)
            for r in crossed {
                var b = -1, best = -Float.infinity
                for q in 0..<k where hiProbs[r * k + q] > best { best = hiProbs[r * k + q]; b = q }
                classes[r] = b
            }
            parts.append(DenseScan(alphas: hi, points: points, classes: classes, ends: ends, queries: queries))
        }
        if parts.isEmpty { return DenseScan(alphas: [], points: x, classes: [], ends: [], queries: 0) }
        return DenseScan(alphas: parts.flatMap(\.alphas), points: Tensor.concatenate(batches: parts.map(\.points)),
                         classes: parts.flatMap(\.classes), ends: parts.flatMap(\.ends), queries: parts.reduce(0) { $0 + $1.queries })
    }
}
