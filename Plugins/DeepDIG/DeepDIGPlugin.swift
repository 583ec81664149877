import BorderlineCore

/// The in-tree "deepdig" plugin: DeepDIG (Karimi, Derr & Tang) borderline instances, the RPBS and
/// EPBS baselines, and the paper's boundary metrics (which work on any prober's boundary sets).
/// See docs/deepdig.md.
public final class DeepDIGPlugin: BorderlinePlugin {
    public init() {}
    public let name = "deepdig"
    public let version = "0.1.0"
    public let summary = "DeepDIG borderline instances (autoencoder adversarials + bisection), RPBS/EPBS baselines, boundary metrics and IDC."
    public let probers: [any BoundaryProber] = [DeepDIGProber(), RandomPairBaseline(), EmbeddingPairBaseline()]
    public let metrics: [any Metric] = [BorderlineSummary(), InputSpaceComplexity(), EmbeddingComplexity(), EmbeddingProjection()]

    /// Heatmaps over all class pairs and the IDC–EDC2 correlation (paper Section 6.4), see ``AllPairsSummary``.
    public func finish(_ context: RunContext) throws { try AllPairsSummary.run(context) }
}
