/// Measures something about boundary points, whichever prober found them.
///
/// **Contract.** ``evaluate(_:context:)`` is called once for every boundary set of the run —
/// the sets of every enabled plugin's probers, not only its own plugin's — and reads only the
/// set's documented fields (points, start and end points, probabilities, success flags, …) plus
/// the classifier and data in `context`. It never asks which prober made the set (its `producer`
/// is for labels only). It returns named numbers, arrays, tables and pictures; a set it cannot
/// use (e.g. no successful attempts) gives an empty or explanatory result rather than an error.
public protocol Metric: AnyObject {
    /// Lower-case name with dashes, unique within its plugin (`boundary-summary`).
    var name: String { get }
    /// One line for `borderline plugins` and the report.
    var summary: String { get }
    /// The options the metric reads from `context.options`.
    var options: [PluginOption] { get }
    /// The metric's results for one boundary set.
    func evaluate(_ set: BoundarySet, context: RunContext) throws -> MetricResult
}

extension Metric {
    public var options: [PluginOption] { [] }
}
