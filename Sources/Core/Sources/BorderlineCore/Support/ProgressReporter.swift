/// Receives progress of long-running work (training, probing) so that a front end can draw a
/// bar. The core never prints; it reports here.
public protocol ProgressReporter: AnyObject {
    /// A new task of `total` units starts (`total` 0 when unknown).
    func begin(_ task: String, total: Int)
    /// `completed` of the current task's units are done; `detail` is a short status ("loss 0.41").
    func update(completed: Int, detail: String)
    /// The current task finished; `summary` is a one-line result.
    func end(summary: String)
}

/// Discards progress (tests, `--quiet`).
public final class SilentProgress: ProgressReporter {
    public init() {}
    public func begin(_ task: String, total: Int) {}
    public func update(completed: Int, detail: String) {}
    public func end(summary: String) {}
}
