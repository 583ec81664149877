import BorderlineCore
import Foundation

/// Analysis `summary`: the run's key numbers over every pair's trajectories, the cards at the top
/// of the plugin's report section (summary.json `plugins.latent.numbers.summary`):
///
/// - the share of trajectories that cross (the target class on top, reached from a start without),
/// - the share that cross with `z*` on the prior (‖z*‖ within the off-prior radius), with the pair
///   where it is lowest,
/// - the share of the bisected crossings that lie off the prior, with the largest ‖z*‖,
/// - the mean ‖z*‖ over the crossings against the mean ‖G⁻¹(x)‖ of the starts.
///
/// Counts are exact (from the per-trajectory arrays) and every sum over pairs runs in pair order,
/// so a sharded run's merged summary equals the whole run's to the last bit. It reads the
/// prober's outputs, which a resumed or merged run decodes from the saved results.
public final class LatentSummary: Analysis {
    public let name = "summary"
    public let summary = "Key numbers over all pairs: crossed, crossed on the prior, off-prior share of the crossings, mean ‖z*‖ at the crossings."
    public init() {}

    public struct Output: Codable {
        public var highlights: [ResultHighlight]
        public var pairs: Int
        public var trajectories: Int
        /// Trajectories that reach a point with the target class on top (from a start without).
        public var crossed: Int
        public var crossedShare: Double
        /// Crossed with the bisected crossing z* on the prior (‖z*‖ within `offPriorThreshold`).
        public var onPriorCrossed: Int
        public var onPriorCrossedShare: Double
        /// Bisected crossings (the top-two tie reached), those off the prior, and their share.
        public var crossings: Int
        public var offPriorCrossings: Int
        public var offPriorShare: Double
        /// Successful rows of the boundary sets: on-prior ties with the source class.
        public var boundaryPoints: Int
        public var boundaryPointShare: Double
        /// ‖z*‖ over the bisected crossings of every pair; ‖G⁻¹(x)‖ over every start.
        public var latentNormMean: Double
        public var latentNormMax: Double
        public var startLatentNormMean: Double
        public var offPriorThreshold: Double
        /// The pair with the lowest on-prior crossed share ("s-t"; nil with one pair).
        public var lowestOnPriorPair: String?
        public var lowestOnPriorCrossedShare: Double?
    }

    public func analyse(options: NoOptions, context: RunContext) throws -> Output {
        try Self.summarise(context.outputs(of: TrajectoryProber.self).map { ($0.pair, $0.output) }, className: context.classifier.className)
    }

    /// The key numbers of the prober outputs `outputs` (any order: they are taken in pair order).
    static func summarise(_ outputs: [(pair: ClassPair, output: TrajectoryProber.Output)], className: (Int) -> String) throws -> Output {
        let sorted = outputs.sorted { $0.pair < $1.pair }
        var m = 0, crossed = 0, onPrior = 0, ties = 0, offPrior = 0, boundary = 0
        var normSum = 0.0, startNormSum = 0.0, normMax = -Double.infinity
        var lowest: (pair: ClassPair, share: Double)?
        for (pair, o) in sorted {
            let n = o.trajectories
            guard n > 0 else { continue }
            m += n
            let crossedRows = o.crossingStep.map { $0 >= 0 }
            crossed += crossedRows.filter { $0 }.count
            let pairOnPrior = zip(crossedRows, o.offPriorFlag).filter { $0 && $1 == 0 }.count
            onPrior += pairOnPrior
            offPrior += o.offPriorFlag.reduce(0, +)
            // Shares of n rows: count / n, exact back to the count.
            let pairTies = Int((o.crossingPointShare * Double(n)).rounded())
            ties += pairTies
            boundary += Int((o.boundaryPointShare * Double(n)).rounded())
            if pairTies > 0, o.latentNormMean.isFinite {
                normSum += o.latentNormMean * Double(pairTies)
                normMax = max(normMax, o.latentNormMax)
            }
            startNormSum += o.startLatentNormMean * Double(n)
            let share = Double(pairOnPrior) / Double(n)
            if lowest == nil || share < lowest!.share { lowest = (pair, share) }
        }
        let threshold = sorted.first?.output.offPriorThreshold ?? .nan
        func share(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : .nan }
        var out = Output(highlights: [], pairs: sorted.count, trajectories: m, crossed: crossed, crossedShare: share(crossed, m),
                         onPriorCrossed: onPrior, onPriorCrossedShare: share(onPrior, m),
                         crossings: ties, offPriorCrossings: offPrior, offPriorShare: share(offPrior, ties),
                         boundaryPoints: boundary, boundaryPointShare: share(boundary, m),
                         latentNormMean: ties > 0 ? normSum / Double(ties) : .nan, latentNormMax: ties > 0 ? normMax : .nan,
                         startLatentNormMean: m > 0 ? startNormSum / Double(m) : .nan, offPriorThreshold: threshold,
                         lowestOnPriorPair: nil, lowestOnPriorCrossedShare: nil)
        guard m > 0 else { return out }
        func percent(_ v: Double) -> String { ResultHighlight("", value: v, unit: "%").formatted }
        // Short details, so that the four cards fit in one row of the report.
        let radius = String(format: "%.3g", threshold)
        var onPriorDetail = "‖z*‖ ≤ \(radius) of N(0, I)"
        if sorted.count > 1, let lowest {
            out.lowestOnPriorPair = lowest.pair.key
            out.lowestOnPriorCrossedShare = lowest.share
            onPriorDetail = "lowest: \(className(lowest.pair.source)) → \(className(lowest.pair.target)) \(percent(lowest.share))"
        }
        out.highlights = [
            ResultHighlight("trajectories that cross the boundary", value: out.crossedShare, unit: "%",
                            detail: "\(m) trajectories over \(sorted.count) pair\(sorted.count == 1 ? "" : "s")"),
            ResultHighlight("crossed on the prior", value: out.onPriorCrossedShare, unit: "%", detail: onPriorDetail),
            ResultHighlight("off-prior share of the crossings", value: out.offPriorShare, unit: "%",
                            detail: "\(offPrior) of \(ties) beyond ‖z*‖ = \(radius)"),
            ResultHighlight("mean ‖z*‖ at the crossings", value: out.latentNormMean,
                            detail: String(format: "largest %.3g; starts ‖G⁻¹(x)‖ %.3g", out.latentNormMax, out.startLatentNormMean)),
        ]
        return out
    }
}
