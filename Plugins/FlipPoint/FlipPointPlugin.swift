import BorderlineCore

/// The in-tree "flip-point" plugin: distance to the decision boundary along the input gradient
/// (`jacobian-flip`, Gupta's Algorithms 1–2) and DeepFool's minimal-L2 estimate (`deepfool`) for
/// the same images, and the run-wide analysis `flip-distances` over both probers' outputs. See
/// docs/flip-distance.md.
public final class FlipPointPlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(
        name: "flip-point", version: "0.2.0",
        summary: "Distance from images to the decision boundary: jacobian flip points and DeepFool, entropy relation, histograms.")
    public init() {}
    public let probers: [any BoundaryProber] = [JacobianFlipProber(), DeepFoolProber()]
    public let analyses: [any Analysis] = [FlipDistanceAnalysis()]
}
