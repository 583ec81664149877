import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fault points for tests only: `BORDERLINE_FAULT=point[,point…]` makes the host fail at a named
/// point so that a test can check what a crash there leaves behind. Not an option for users:
/// nothing reads it outside these points, and it is read once per process.
///
/// Points:
/// - `kill-before-commit-exchange`: SIGKILL just before the run folder swaps the finished run
///   into place (the old run must still be at `--out`).
/// - `kill-after-commit-exchange`: SIGKILL just after the swap, before the old run is removed
///   (the new run must be at `--out`).
/// - `no-commit-exchange`: behave as on a file system without renameat2(RENAME_EXCHANGE), so the
///   commit takes its fallback (move the old run aside, then rename).
/// - `kill-after-commit-move-aside`: in that fallback, SIGKILL between the two renames.
enum FaultInjection {
    static let points: Set<String> = {
        guard let value = getenv("BORDERLINE_FAULT") else { return [] }
        return Set(String(cString: value).split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }()

    /// Whether the test asked for `point`.
    static func isActive(_ point: String) -> Bool { !points.isEmpty && points.contains(point) }

    /// Kills this process with SIGKILL when the test asked for `point`: no handler, no cleanup,
    /// as a power cut or the OOM killer would.
    static func killIfRequested(_ point: String) {
        guard isActive(point) else { return }
        kill(getpid(), SIGKILL)
        while true { pause() }
    }
}
