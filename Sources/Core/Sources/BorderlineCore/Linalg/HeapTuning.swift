#if canImport(Glibc)
import Glibc
#endif

/// Keeps large freed buffers in the process heap instead of handing them back to the kernel.
///
/// A forward pass allocates tens of megabytes of activations (the CNN at batch 256: ~7 MB for
/// `conv1` alone) and frees them when the trace goes away. With glibc's defaults those blocks
/// are `mmap`ed and `munmap`ed (or trimmed off the heap top) every pass, so the next pass takes
/// a page fault, and a kernel page-zeroing, for every 4 KiB it touches: measured on the CNN,
/// half the wall time of a pass was in the kernel. Raising the mmap and trim thresholds lets
/// malloc reuse the same memory pass after pass (forward went from ~16k to ~36k images/s on
/// one core).
///
/// The cost is that up to ``trimThreshold`` bytes of freed memory stay with the process.
/// Layers that allocate large buffers call ``apply()`` (a once-only check after the first
/// call); hosts may call it at start-up. No-op on non-glibc platforms.
public enum HeapTuning {
    /// Freed memory at the heap top beyond this many bytes is returned to the system.
    public static let trimThreshold: Int32 = 512 << 20
    /// Allocations of at least this many bytes are served by `mmap` (glibc's maximum, 32 MiB).
    public static let mmapThreshold: Int32 = 32 << 20

    /// Applies the thresholds once per process. Returns whether glibc accepted them.
    @discardableResult
    public static func apply() -> Bool { applied }

    private static let applied: Bool = {
        #if os(Linux) && canImport(Glibc)
        // `mallopt` is not in Swift's Glibc module; look it up in the process's symbols.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let M_TRIM_THRESHOLD: Int32 = -1, M_MMAP_THRESHOLD: Int32 = -3   // <malloc.h>
        // Setting either threshold explicitly also switches off glibc's dynamic adjustment.
        return mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1
        #else
        return false
        #endif
    }()
}
