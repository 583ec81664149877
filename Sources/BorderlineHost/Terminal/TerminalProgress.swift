import BorderlineCore
import Foundation

/// Draws progress on standard error: a redrawn bar when stderr is a terminal, plain lines
/// (at most one every few seconds) when it is a file or a pipe, nothing with `--quiet`.
///
/// The ETA extrapolates the current task's elapsed time from its position: whole units
/// (`update(completed:)`, e.g. pairs) or a share within them (`update(position:)`, which the run
/// engine derives from the components' own progress), so it moves inside a long pair too.
public final class TerminalProgress: ProgressReporter {
    private let interactive: Bool
    private let quiet: Bool
    private var task = ""
    private var total = 0
    private var started = Date()
    private var lastPlainLine = Date.distantPast

    public init(quiet: Bool = false) {
        self.quiet = quiet
        self.interactive = isatty(STDERR_FILENO) != 0
    }

    public func begin(_ task: String, total: Int) {
        self.task = task
        self.total = total
        started = Date()
        lastPlainLine = .distantPast
    }

    public func update(completed: Int, detail: String) {
        draw(fraction: total > 0 ? Double(completed) / Double(total) : nil, detail: detail)
    }

    public func update(position: Double, detail: String) {
        draw(fraction: position.isFinite ? min(1, max(0, position)) : nil, detail: detail)
    }

    public func end(summary: String) {
        guard !quiet else { return }
        let elapsed = String(format: "%.1fs", Date().timeIntervalSince(started))
        write((interactive ? "\r\u{1B}[2K" : "") + "\(summary) [\(elapsed)]\n")
    }

    /// The remaining time at `fraction` (0…1) of a task after `elapsed` seconds: nil before any
    /// progress and once done.
    public static func eta(fraction: Double, elapsed: TimeInterval) -> TimeInterval? {
        guard fraction > 0, fraction < 1, elapsed.isFinite else { return nil }
        return elapsed / fraction * (1 - fraction)
    }

    /// `12s`, `4m05s`, `2h03m`.
    public static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }

    /// The counter shown for `fraction` of the task: `3/36` (whole units done) or `42%` when the
    /// task has no total.
    static func counter(fraction: Double?, total: Int) -> String {
        guard let fraction else { return total > 0 ? "0/\(total)" : "" }
        if total > 0 { return "\(Int((fraction * Double(total) + 1e-9).rounded(.down)))/\(total)" }
        return "\(Int((fraction * 100).rounded(.down)))%"
    }

    private func draw(fraction: Double?, detail: String) {
        guard !quiet else { return }
        let elapsed = Date().timeIntervalSince(started)
        let counter = TerminalProgress.counter(fraction: fraction, total: total)
        let eta = fraction.flatMap { TerminalProgress.eta(fraction: $0, elapsed: elapsed) }.map { " eta \(TerminalProgress.duration($0))" } ?? ""
        if interactive {
            let width = 28
            let filled = Int((fraction ?? 0) * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write("\r\u{1B}[2K\(task) \(bar) \(counter) \(detail)\(eta)")
        } else if Date().timeIntervalSince(lastPlainLine) >= 5 {
            lastPlainLine = Date()
            write("\(task): \(counter) \(detail) (\(String(format: "%.0f", elapsed))s\(eta.isEmpty ? "" : ",\(eta)"))\n")
        }
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
