import Foundation

/// What a ``BoundaryProber`` produces for one class pair: one row per attempt to find a point on
/// the decision boundary between `pair.source` and `pair.target`.
///
/// Row `i` of every array belongs to attempt `i`. A *successful* attempt's point `x*` satisfies
/// the prober's own closeness criterion (e.g. `|p_s(x*) − p_t(x*)| < β`); a failed attempt keeps
/// the last point it reached and says why it failed. Metrics read only these fields, so they work
/// on the sets of every prober.
public struct BoundarySet {
    /// The class pair the attempts are between.
    public var pair: ClassPair
    /// The boundary points (or the last point of a failed attempt): `[M] + inputShape`.
    public var points: Tensor
    /// Where each attempt started: `[M] + inputShape`.
    public var startPoints: Tensor
    /// For probers that work between two points (bisection), the second one; nil otherwise.
    public var endPoints: Tensor?
    /// The data-set index of each start point, −1 for a synthetic start.
    public var startIndices: [Int]
    /// The data-set index of each end point, −1 for a synthetic one; nil without end points.
    public var endIndices: [Int]?
    /// The classifier's probabilities at each point: `[M, K]`.
    public var probabilities: Tensor
    /// Whether each attempt succeeded.
    public var succeeded: [Bool]
    /// Why each failed attempt failed (nil for successes), in words a person understands.
    public var failureReasons: [String?]
    /// How many refinement steps each attempt took (0 for probers that do not iterate).
    public var iterations: [Int]
    /// `β` of the prober's success criterion when it is `|p_s(x*) − p_t(x*)| < β` (bisection,
    /// DeepDIG, slices, latent crossings): the host checks every successful row against it and
    /// marks a prober whose "successes" are not ties of the set's own pair as broken. nil for
    /// probers whose points are crossings, not ties (flip points, region's direction distances).
    public var gapTolerance: Float?
    /// Model queries (input samples evaluated, forward or backward) spent on the set; the host
    /// fills it in from its own count of the prober's queries.
    public var queries: Int
    /// Further per-attempt arrays particular to the prober (stored in results.h5 next to the rest).
    public var extras: [String: Tensor]
    /// `plugin/prober` of the prober that made the set (filled in by the host).
    public var producer: String
    /// The producer as one key of a results path, `plugin.prober` (summary.json
    /// `pairs."s-t".<metric>.<producerKey>`): what metrics' outputs are filed under, and what a
    /// component that files values per producer keys them by.
    public var producerKey: String { producer.replacingOccurrences(of: "/", with: ".") }

    /// Creates a set and checks that every array has one row per attempt.
    public init(pair: ClassPair, points: Tensor, startPoints: Tensor, endPoints: Tensor? = nil,
                startIndices: [Int], endIndices: [Int]? = nil, probabilities: Tensor,
                succeeded: [Bool], failureReasons: [String?], iterations: [Int], gapTolerance: Float? = nil, queries: Int = 0,
                extras: [String: Tensor] = [:], producer: String = "") throws {
        let m = points.batchSize
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw BorderlineError(.shapeMismatch, "boundary set \(pair): \(what) (the set has \(m) attempts, points \(points.shape))") }
        }
        try check(points.rank >= 2, "points must be [attempts] + input shape")
        try check(startPoints.shape == points.shape, "start points have shape \(startPoints.shape)")
        if let endPoints { try check(endPoints.shape == points.shape, "end points have shape \(endPoints.shape)") }
        try check(startIndices.count == m, "\(startIndices.count) start indices")
        if let endIndices { try check(endIndices.count == m && endPoints != nil, "end indices need end points, one per attempt") }
        try check(probabilities.rank == 2 && probabilities.shape[0] == m, "probabilities have shape \(probabilities.shape)")
        try check(succeeded.count == m, "\(succeeded.count) success flags")
        try check(failureReasons.count == m, "\(failureReasons.count) failure reasons")
        try check(iterations.count == m, "\(iterations.count) iteration counts")
        for (name, t) in extras { try check(t.batchSize == m, "extra array '\(name)' has shape \(t.shape)") }
        if let gapTolerance, !(gapTolerance > 0 && gapTolerance < 1) {
            throw BorderlineError(.invalidArgument, "boundary set \(pair): the gap tolerance β must lie in (0, 1), got \(gapTolerance)")
        }
        self.pair = pair
        self.points = points
        self.startPoints = startPoints
        self.endPoints = endPoints
        self.startIndices = startIndices
        self.endIndices = endIndices
        self.probabilities = probabilities
        self.succeeded = succeeded
        self.failureReasons = failureReasons
        self.iterations = iterations
        self.gapTolerance = gapTolerance
        self.queries = queries
        self.extras = extras
        self.producer = producer
    }

    /// Number of attempts `M`.
    public var count: Int { succeeded.count }
    /// Number of successful attempts.
    public var successCount: Int { succeeded.filter { $0 }.count }
    /// Indices of the successful attempts.
    public var successfulIndices: [Int] { succeeded.indices.filter { succeeded[$0] } }

    /// `|p_s(x) − p_t(x)|` at every point: 0 exactly on the boundary of the pair.
    public var probabilityGaps: [Float] {
        let k = probabilities.shape[1]
        return (0..<count).map { i in
            abs(probabilities.scalars[i * k + pair.source] - probabilities.scalars[i * k + pair.target])
        }
    }

    /// The successful rows whose `|p_s − p_t|` exceeds ``gapTolerance`` (allowing float rounding
    /// of the stored probabilities); empty without a tolerance.
    public var successesOffTheBoundary: [Int] {
        guard let beta = gapTolerance else { return [] }
        let gaps = probabilityGaps
        return successfulIndices.filter { !(gaps[$0] <= beta * (1 + 1e-3) + 1e-6) }
    }

    /// How often each failure reason occurs, most frequent first.
    public var failureHistogram: [(reason: String, count: Int)] {
        var counts: [String: Int] = [:]
        for case let r? in failureReasons { counts[r, default: 0] += 1 }
        return counts.map { ($0.key, $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
    }
}
