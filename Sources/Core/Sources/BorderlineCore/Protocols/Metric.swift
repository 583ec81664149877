/// Measures something about boundary points, whichever prober found them.
///
/// **Contract.** ``evaluate(_:options:context:)`` is called once for every boundary set of the
/// run — the sets of every enabled plugin's probers, not only its own plugin's — and reads only
/// the set's documented fields (points, start and end points, probabilities, success flags, …)
/// plus the classifier and data in `context`. It never asks which prober made the set (its
/// `producer` is for labels only). It returns a typed ``Output`` (numbers, arrays, tables,
/// pictures; see ``ResultEncoder``) that the host files under the set's pair and producer; a set
/// it cannot use (e.g. no successful attempts) gives NaNs or `nil`s rather than an error.
public protocol Metric: PluginComponent {
    associatedtype Output: Encodable
    /// The metric's results for one boundary set.
    func evaluate(_ set: BoundarySet, options: Options, context: RunContext) throws -> Output
}
