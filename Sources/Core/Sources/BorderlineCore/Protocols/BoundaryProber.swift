/// Finds points on the decision boundary between two classes.
///
/// **Contract.** ``probe(_:context:)`` is called once per class pair `(s, t)` of the run. It
/// returns a ``BoundarySet`` with one row per attempt (at most `context.samplesPerPair` unless
/// the prober documents otherwise): the point reached, where it started, the probabilities there,
/// and success or failure with the reason. It draws randomness only from
/// `context.randomGenerator(for:)` so that the run's seed reproduces it, spends model queries
/// through `context.classifier` / `context.gradients()` (which count them), checks
/// `context.checkInterrupted()` in long loops, and may store further arrays, numbers and
/// pictures through `context.store`. A failure of the whole pair is a thrown error (the host
/// records it and carries on with the next pair and plugin); failures of single attempts belong
/// in the set.
public protocol BoundaryProber: AnyObject {
    /// Lower-case name with dashes, unique within its plugin (`random-pair-bisection`).
    var name: String { get }
    /// One line for `borderline plugins` and the report.
    var summary: String { get }
    /// The options the prober reads from `context.options`.
    var options: [PluginOption] { get }
    /// Whether the prober needs input gradients (listed by `borderline plugins`). A prober that
    /// needs them calls `context.gradients()`, which fails with a message saying why when the
    /// classifier is black-box and no zeroth-order estimator is enabled.
    var needsGradients: Bool { get }
    /// Boundary points for one class pair.
    func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet
}

extension BoundaryProber {
    public var options: [PluginOption] { [] }
    public var needsGradients: Bool { false }
}
