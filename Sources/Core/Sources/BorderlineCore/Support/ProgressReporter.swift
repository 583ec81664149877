/// Receives progress of long-running work (training, probing) so that a front end can draw a
/// bar. The core never prints; it reports here.
public protocol ProgressReporter: AnyObject {
    /// A new task of `total` units starts (`total` 0 when unknown).
    func begin(_ task: String, total: Int)
    /// `completed` of the current task's units are done; `detail` is a short status ("loss 0.41").
    func update(completed: Int, detail: String)
    /// How far the whole current piece of work is, as a share `position` in 0…1, with a short
    /// status. For a component, the piece of work is its current call (a prober on one pair, a
    /// metric on one set, an analysis) across every task it begins, so that a call with several
    /// phases (DeepDIG: train A1, train A2, bisect) reports one position that only grows; the
    /// host turns it into a position within the run's bar and an ETA that moves within a pair.
    /// For the host's own bar, the piece of work is the current task (`begin` … `end`).
    /// The default implementation does nothing (front ends that only draw `update(completed:)`).
    func update(position: Double, detail: String)
    /// The current task finished; `summary` is a one-line result.
    func end(summary: String)
}

extension ProgressReporter {
    public func update(position: Double, detail: String) {}
}

/// Discards progress (tests, `--quiet`).
public final class SilentProgress: ProgressReporter {
    public init() {}
    public func begin(_ task: String, total: Int) {}
    public func update(completed: Int, detail: String) {}
    public func update(position: Double, detail: String) {}
    public func end(summary: String) {}
}
