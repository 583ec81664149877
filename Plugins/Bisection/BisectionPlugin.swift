import BorderlineCore

/// The in-tree "bisection" plugin: the `random-pair-bisection` prober, the `boundary-summary`
/// metric (which works on the boundary sets of every prober) and the whole-run `atlas` (class ×
/// class heatmaps of success, distance and intruding classes; the most fragile pairs).
public final class BisectionPlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(
        name: "bisection", version: "2.0.0",
        summary: "Boundary points by bisection between correctly classified images of two classes, a summary of any boundary set, and a class × class atlas of the run.")
    public init() {}
    public let probers: [any BoundaryProber] = [RandomPairBisection()]
    public let metrics: [any Metric] = [BoundarySummary()]
    public let analyses: [any Analysis] = [BoundaryAtlas()]
}
