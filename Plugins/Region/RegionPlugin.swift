import BorderlineCore
import Foundation

/// The in-tree "region" plugin: region-based classification (Cao & Gong) and decision-boundary
/// analysis of adversarial examples (He, Li & Song, ICLR 2018): boundary distances along random
/// orthonormal directions, adjacent-class purity, point vs region accuracy under FGSM, PGD, C&W
/// and OPTMARGIN, and a boundary-based adversarial detector. The prober `directions` gives every
/// class pair its boundary set; the analysis `analysis` does the rest once per run; the benign
/// boundary distances both need are computed once (the run's cache). See docs/region.md.
public final class RegionPlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(
        name: "region", version: "0.2.0",
        summary: "Region-based classification vs point classification under attacks; boundary distances along random directions, adjacent-class purity, boundary-based adversarial detector.")
    public init() {}
    public let probers: [any BoundaryProber] = [DirectionProber()]
    public let analyses: [any Analysis] = [RegionRunAnalysis()]
}

/// Prober `directions`: for every pair `s → t`, the boundary points met along random directions:
/// for each analysed benign image of `s`, the nearest boundary point along a direction whose
/// adjacent class is `t` (failure: no direction met `t` within `t_max`). The analysed images, the
/// directions and the distances along them are the analysis's (``RegionAnalysis/probe``),
/// computed on the first pair and shared through the run's cache.
public final class DirectionProber: BoundaryProber {
    public init() {}
    public let name = "directions"
    public let summary = "Boundary distances along random orthonormal directions; the pair's set holds the nearest s→t crossing per analysed benign image."

    public struct Options: PluginOptions {
        @OptionGroup var analysed: RegionImageOptions
        @OptionGroup var search: RegionDirectionOptions
        public init() {}
    }

    public func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<NoOutput> {
        let settings = RegionAnalysisSettings(images: options.analysed, directions: options.search, seed: context.seed)
        let shared = try RegionAnalysis.cachedProbe(settings: settings, context: context)
        return Probe(try pairSet(pair, shared: shared, maxDistance: options.search.maxDistance, context: context))
    }

    /// For each probed benign image of class `s`, the nearest boundary point along a direction
    /// whose adjacent class is `t`.
    func pairSet(_ pair: ClassPair, shared: RegionProbe, maxDistance: Float, context: RunContext) throws -> BoundarySet {
        let benign = shared.benign
        let d = benign.images.sampleCount, scale = Float(d).squareRoot()
        let rows = (0..<benign.rows.count).filter { context.data.labels[shared.attackedRows[benign.rows[$0]]] == pair.source }
        let m = benign.distances.directionCount
        var points = [Float](), reasons: [String?] = [], ok: [Bool] = [], starts: [Int] = []
        for i in rows {
            let x = Array(benign.images.scalars[(i * d)..<((i + 1) * d)])
            let dist = benign.distances.distances(of: i), cls = benign.distances.classes(of: i)
            let best = (0..<m).filter { cls[cls.startIndex + $0] == pair.target }.min { dist[dist.startIndex + $0] < dist[dist.startIndex + $1] }
            starts.append(shared.attackedRows[benign.rows[i]])
            if let j = best {
                let t = dist[dist.startIndex + j]
                let u = shared.directions.scalars[(j * d)..<((j + 1) * d)]
                points += zip(x, u).map { $0 + t * scale * $1 }   // clipped to the input box below
                ok.append(true); reasons.append(nil)
            } else {
                points += x
                ok.append(false); reasons.append("no direction met class \(context.classifier.className(pair.target)) within RMS distance \(maxDistance)")
            }
        }
        let shape = [rows.count] + context.classifier.inputShape
        let p = context.classifier.inputBox.clamped(Tensor(shape: shape, scalars: points))
        let probabilities = rows.isEmpty ? Tensor(zeros: [0, context.classifier.classCount]) : try context.classifier.probabilities(p)
        return try BoundarySet(pair: pair, points: p, startPoints: context.data.images.gather(batch: starts), startIndices: starts,
                               probabilities: probabilities, succeeded: ok, failureReasons: reasons,
                               iterations: [Int](repeating: 1, count: rows.count))
    }
}
