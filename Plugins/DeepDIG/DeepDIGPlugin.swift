import BorderlineCore

/// The in-tree "deepdig" plugin: DeepDIG (Karimi, Derr & Tang) borderline instances, the RPBS and
/// EPBS baselines, the paper's boundary metrics (which work on any prober's boundary sets), and
/// the whole-run views of every boundary and every class pair. See docs/deepdig.md.
public final class DeepDIGPlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(
        name: "deepdig", version: "0.2.0",
        summary: "DeepDIG borderline instances (autoencoder adversarials + bisection), RPBS/EPBS baselines, boundary metrics and IDC.")
    public init() {}
    public let probers: [any BoundaryProber] = [DeepDIGProber(), RandomPairBaseline(), EmbeddingPairBaseline()]
    public let metrics: [any Metric] = [BorderlineSummary(), InputSpaceComplexity(), EmbeddingComplexity(), EmbeddingProjection()]
    /// `boundary` first: `all-pairs` reads its values.
    public let analyses: [any Analysis] = [BoundaryAnalysis(), AllPairsAnalysis()]
}
