/// What a prober or metric throws for a class pair it cannot analyse — a class of the pair with no
/// correctly classified image among the run's data, too few images for its settings — as opposed
/// to a malfunction. The host records the pair as skipped by that component, with `reason`
/// (summary.json `skipped_pairs`, the report, the journal), and the plugin carries on with the
/// other pairs; its status stays ok and the run exits 0. Any other error a component throws on a
/// pair is recorded as a failed pair (`failed_pairs`) and makes the plugin's status failed.
///
/// ```swift
/// let sources = try context.correctlyClassifiedIndices(of: pair.source)   // throws PairDeclined when empty
/// guard sources.count >= 2 else { throw PairDeclined("needs 2 images of class \(pair.source), the run has \(sources.count)") }
/// ```
public struct PairDeclined: Error, CustomStringConvertible, Equatable, Sendable {
    /// Why the pair cannot be analysed, naming the class or setting ("no image of class 9 (Ankle boot) … is classified correctly").
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
