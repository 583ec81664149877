/// Finds points on the decision boundary between two classes.
///
/// **Contract.** ``probe(_:options:context:)`` is called once per class pair `(s, t)` of the run
/// and returns a ``BoundarySet`` with one row per attempt (at most `context.samplesPerPair` unless
/// the prober documents otherwise): the point reached, where it started, the probabilities there,
/// and success or failure with the reason. Beside the set it may return a typed ``Output`` for the
/// pair (numbers, arrays, tables, pictures — see ``ResultEncoder``), which the host files under
/// the pair and which the plugin's analyses can read back (``RunContext/outputs(of:)-5f7z2``).
///
/// It draws randomness only from `context.randomGenerator(for:)`, spends model queries through
/// `context.classifier` / `context.gradients()` (the host counts them and fills in the set's
/// `queries`), and calls `context.checkInterrupted()` in long loops. A failure of the whole pair is
/// a thrown error (the host records it and carries on); failures of single attempts belong in the
/// set. Probers run before metrics and analyses, plugin by plugin in name order; a prober that
/// reads the boundary sets of other probers sets ``readsBoundarySets`` and then runs after all
/// probers that do not.
public protocol BoundaryProber: PluginComponent {
    associatedtype Output: Encodable = NoOutput
    /// Whether the prober needs input gradients (listed by `borderline plugins`). A prober that
    /// needs them calls `context.gradients()`, which fails with a message saying why when the
    /// classifier is black-box and no zeroth-order estimator is enabled.
    var needsGradients: Bool { get }
    /// Whether the prober reads `context.boundarySets` (the sets of the probers that do not).
    var readsBoundarySets: Bool { get }
    /// Boundary points for one class pair.
    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Output>
}

extension BoundaryProber {
    public var needsGradients: Bool { false }
    public var readsBoundarySets: Bool { false }
}

/// What a prober returns for one pair: the boundary set and the prober's own output beside it.
public struct Probe<Output: Encodable> {
    public var set: BoundarySet
    public var output: Output
    public init(_ set: BoundarySet, output: Output) {
        self.set = set
        self.output = output
    }
}

extension Probe where Output == NoOutput {
    /// A boundary set and nothing else.
    public init(_ set: BoundarySet) {
        self.init(set, output: NoOutput())
    }
}
