import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Signals seen so far. Atomic because the signal handler writes it while the run loop reads it;
/// a plain global could legally be cached in a register by the optimiser and never seen to change.
private let interruptCount = Atomic<Int32>(0)

/// Ctrl-C (SIGINT) and SIGTERM handling for runs: the first signal asks the run to stop after the
/// current step (it then writes what finished, marked `interrupted`); a second one exits at once
/// (the unfinished run folder stays hidden under its temporary name).
public enum InterruptFlag {
    /// Installs the handlers.
    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            // Lock-free atomics are async-signal-safe; nothing else happens in the handler.
            let (_, seen) = interruptCount.add(1, ordering: .relaxed)
            if seen > 1 { _exit(130) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    /// Whether a stop was requested.
    public static func isSet() -> Bool { interruptCount.load(ordering: .relaxed) > 0 }
}
