/// Works on the whole run at once, after every prober and metric: summaries over all class pairs
/// (heatmaps, correlations), analyses that need every pair's sets together, or work that is not
/// about one pair at all.
///
/// **Contract.** ``analyse(options:context:)`` is called once per run. It reads the run's boundary
/// sets (`context.boundarySets`), the typed outputs of its plugin's probers, metrics and earlier
/// analyses (`context.outputs(of: SomeMetric.self)`), and whatever the context offers; it returns
/// a typed ``Output`` that the host files run-wide (values wrapped in ``PerPair`` under their
/// pairs). Analyses run plugin by plugin in name order, in the order each plugin lists them.
public protocol Analysis: PluginComponent {
    associatedtype Output: Encodable
    func analyse(options: Options, context: RunContext) throws -> Output
}
