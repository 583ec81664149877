import Foundation
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var interruptCount: Int32 = 0

/// Ctrl-C (SIGINT) and SIGTERM handling for runs: the first signal asks the run to stop after the
/// current step (it then writes what finished, marked `interrupted`); a second one exits at once
/// (the unfinished run folder stays hidden under its temporary name).
public enum InterruptFlag {
    /// Installs the handlers.
    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            interruptCount += 1
            if interruptCount > 1 { _exit(130) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    /// Whether a stop was requested.
    public static func isSet() -> Bool { interruptCount > 0 }
}
