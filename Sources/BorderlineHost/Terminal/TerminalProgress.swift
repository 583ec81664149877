import BorderlineCore
import Foundation

/// Draws progress on standard error: a redrawn bar when stderr is a terminal, plain lines
/// (at most one every few seconds) when it is a file or a pipe, nothing with `--quiet`.
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
        guard !quiet else { return }
        let elapsed = Date().timeIntervalSince(started)
        if interactive {
            let width = 28
            let fraction = total > 0 ? min(1, Double(completed) / Double(total)) : 0
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            var eta = ""
            if total > 0, completed > 0, completed < total {
                eta = String(format: " eta %.0fs", elapsed / Double(completed) * Double(total - completed))
            }
            write("\r\u{1B}[2K\(task) \(bar) \(completed)/\(total) \(detail)\(eta)")
        } else if Date().timeIntervalSince(lastPlainLine) >= 5 {
            lastPlainLine = Date()
            write("\(task): \(completed)/\(total) \(detail) (\(String(format: "%.0f", elapsed))s)\n")
        }
    }

    public func end(summary: String) {
        guard !quiet else { return }
        let elapsed = String(format: "%.1fs", Date().timeIntervalSince(started))
        write((interactive ? "\r\u{1B}[2K" : "") + "\(summary) [\(elapsed)]\n")
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
