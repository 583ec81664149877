import BorderlineCore
import Foundation

/// Chooses OpenBLAS's kernels and threads before any arithmetic runs.
///
/// Debian's OpenBLAS 0.3.21 does not recognise AVX-512 on recent AMD cores and falls back to
/// its Haswell kernels; its SkylakeX kernels are ~1.8× faster on large sgemm there. The kernel
/// family is fixed when libopenblas loads, i.e. before `main` runs, so the only reliable way to
/// pick it is the environment variable `OPENBLAS_CORETYPE` — and, when the user did not set it,
/// to re-execute ourselves once with it set. `BORDERLINE_BLAS_REEXEC` guards against loops.
/// See docs/benchmarks.md for the measurements behind this.
public enum BLASKernelSelection {
    /// Re-executes the current process with `OPENBLAS_CORETYPE=SkylakeX` when the CPU supports
    /// AVX-512F but OpenBLAS chose an older kernel family. Returns normally when nothing is to
    /// be done or the re-exec is impossible.
    public static func preferAVX512Kernels() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["BORDERLINE_BLAS_REEXEC"] == nil else { return }
        guard cpuHasAVX512F(), ["Haswell", "Zen", "Sandybridge"].contains(BLAS.coreName) else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        setenv("BORDERLINE_BLAS_REEXEC", "1", 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // execv only returns on failure: carry on with the default kernels.
        unsetenv("OPENBLAS_CORETYPE")
    }

    /// Reads the first `flags` line of /proc/cpuinfo with stdio: procfs files report size 0,
    /// which defeats Foundation's whole-file readers.
    static func cpuHasAVX512F() -> Bool {
        guard let file = fopen("/proc/cpuinfo", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).contains("avx512f")
            }
        }
        return false
    }

    /// Applies the thread count: an explicit `BORDERLINE_THREADS`/`OPENBLAS_NUM_THREADS`
    /// wins; otherwise OpenBLAS's own default (all cores) stays.
    public static func applyThreadCount() {
        if let s = ProcessInfo.processInfo.environment["BORDERLINE_THREADS"], let n = Int(s), n > 0 {
            BLAS.setThreadCount(n)
        }
    }
}
