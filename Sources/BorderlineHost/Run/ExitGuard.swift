import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Catches a plugin that ends the process (`exit(0)` inside a component) while a run is working:
/// the run's folder is still written — the plugin marked failed with why, the others' results
/// kept — and the process exits with status 1 instead of the plugin's status.
enum ExitGuard {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var handler: (() -> Void)?
        var installed = false
    }
    private static let state = State()

    /// Arms the guard: `handler` runs if the process exits before ``disarm()``.
    static func arm(_ handler: @escaping () -> Void) {
        state.lock.lock()
        defer { state.lock.unlock() }
        state.handler = handler
        if !state.installed {
            state.installed = true
            atexit { ExitGuard.fire() }
        }
    }

    static func disarm() {
        state.lock.lock()
        state.handler = nil
        state.lock.unlock()
    }

    private static func fire() {
        state.lock.lock()
        let handler = state.handler
        state.handler = nil
        state.lock.unlock()
        guard let handler else { return }
        handler()
        // Inside an exit handler, _exit ends the process with our status instead of the plugin's.
        _exit(1)
    }
}
