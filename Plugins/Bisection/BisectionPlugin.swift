import BorderlineCore

/// The in-tree "bisection" plugin: the `random-pair-bisection` prober and the
/// `boundary-summary` metric (which works on the boundary sets of every prober).
public final class BisectionPlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(
        name: "bisection", version: "2.0.0",
        summary: "Boundary points by bisection between correctly classified images of two classes, and a summary of any boundary set.")
    public init() {}
    public let probers: [any BoundaryProber] = [RandomPairBisection()]
    public let metrics: [any Metric] = [BoundarySummary()]
}
