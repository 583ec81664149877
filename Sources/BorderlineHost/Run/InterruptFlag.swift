import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Signals seen so far. Atomic because the signal handler writes it while the run loop reads it;
/// a plain global could legally be cached in a register by the optimiser and never seen to change.
private let interruptCount = Atomic<Int32>(0)
/// What the second signal does with the unfinished run folder: C strings made in advance (a
/// signal handler may not allocate), as pointer bits; 0 when no run folder is being written.
private let pendingTemporary = Atomic<Int>(0)
private let pendingVisible = Atomic<Int>(0)
private let pendingMarker = Atomic<Int>(0)

/// Ctrl-C (SIGINT) and SIGTERM handling for runs: the first signal asks the run to stop after the
/// current step and says so on stderr (the run then writes what finished, marked `interrupted`);
/// a second one stops at once: the unfinished run folder is renamed to a visible
/// `<name>.interrupted` holding a note that says what happened, and the process exits with 130.
public enum InterruptFlag {
    /// The note a force-stopped run folder holds.
    public static let markerName = "INTERRUPTED.txt"

    /// Installs the handlers.
    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            // Only async-signal-safe calls here: atomics, write, rename, open, close, _exit.
            let (_, seen) = interruptCount.add(1, ordering: .relaxed)
            if seen == 1 {
                let text = "\nstopping after the current step, then writing what finished (Ctrl-C again to stop at once)\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
                return
            }
            let temporary = pendingTemporary.load(ordering: .relaxed), visible = pendingVisible.load(ordering: .relaxed)
            let marker = pendingMarker.load(ordering: .relaxed)
            if temporary != 0, visible != 0, marker != 0,
               let t = UnsafePointer<CChar>(bitPattern: temporary), let v = UnsafePointer<CChar>(bitPattern: visible),
               let m = UnsafePointer<CChar>(bitPattern: marker), rename(t, v) == 0 {
                let fd = open(m, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if fd >= 0 {
                    let note = "This run was stopped at once by a second Ctrl-C (or SIGTERM) before its results were written.\nNothing in this folder is a complete result; run again (or without the second Ctrl-C, to keep what finished).\n"
                    _ = note.withCString { write(fd, $0, strlen($0)) }
                    close(fd)
                }
                let text = "\nstopped at once; the unfinished run is marked in its folder (.interrupted)\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
            }
            _exit(130)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    /// Whether a stop was requested.
    public static func isSet() -> Bool { interruptCount.load(ordering: .relaxed) > 0 }

    /// Tells the handler which folder a forced stop should make visible (`nil`: none).
    public static func track(temporary: String?, final: String?) {
        pendingTemporary.store(0, ordering: .relaxed)
        pendingVisible.store(0, ordering: .relaxed)
        pendingMarker.store(0, ordering: .relaxed)
        guard let temporary, let final else { return }
        // Leaked on purpose: a few bytes per run, and the handler may read them at any moment.
        let visible = final + ".interrupted"
        pendingMarker.store(Int(bitPattern: strdup((visible as NSString).appendingPathComponent(markerName))), ordering: .relaxed)
        pendingVisible.store(Int(bitPattern: strdup(visible)), ordering: .relaxed)
        pendingTemporary.store(Int(bitPattern: strdup(temporary)), ordering: .relaxed)
    }
}
