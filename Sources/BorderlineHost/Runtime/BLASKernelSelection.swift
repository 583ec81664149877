import CHostSystem
import BorderlineCore
import Foundation

/// Chooses OpenBLAS's kernels and threads before any arithmetic runs.
///
/// Debian's OpenBLAS 0.3.21 runs its Haswell (AVX2) kernels on recent AVX-512 CPUs — by its own
/// detection on some AMD cores, and because machine images often pin `OPENBLAS_CORETYPE=Haswell`.
/// Its SkylakeX (AVX-512) kernels are up to 2× faster on the shapes Borderline uses (see
/// docs/benchmarks.md), so Borderline picks them itself:
///
/// - `BORDERLINE_BLAS_KERNELS=auto` (default): on a CPU with AVX-512F, use OpenBLAS's SkylakeX
///   kernels, whatever `OPENBLAS_CORETYPE` says.
/// - `BORDERLINE_BLAS_KERNELS=inherit`: leave OpenBLAS's own choice (and `OPENBLAS_CORETYPE`) alone.
///
/// OpenBLAS fixes its kernel family when the library loads, before `main` runs, so the only way
/// to change it is to re-execute the process once with `OPENBLAS_CORETYPE` set;
/// `BORDERLINE_BLAS_REEXEC` marks the second run so it cannot loop.
public enum BLASKernelSelection {
    /// Re-executes the current process with AVX-512 kernels when the policy and the CPU call for
    /// it. Returns normally when nothing is to be done or the re-exec is impossible.
    public static func preferAVX512Kernels() {
        let env = ProcessInfo.processInfo.environment
        guard (env["BORDERLINE_BLAS_KERNELS"] ?? "auto") == "auto", env["BORDERLINE_BLAS_REEXEC"] == nil else { return }
        guard !BLAS.usesAVX512Kernels, cpuHasAVX512F() else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        setenv("BORDERLINE_BLAS_REEXEC", "1", 1)
        var cArgs: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        cArgs.append(nil)
        // Exec the resolved binary rather than /proc/self/exe, so the process keeps its name in ps.
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
        execv(executable, &cArgs)
        // execv only returns on failure: carry on with the kernels we have.
        unsetenv("BORDERLINE_BLAS_REEXEC")
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

    /// Sets how many threads Borderline uses: `BORDERLINE_THREADS`, or every core. Inference
    /// splits batches across them with single-threaded OpenBLAS (see ``ComputePolicy``). Also tells
    /// the allocator to keep freed memory (``borderline_keep_freed_memory``): training steps
    /// re-allocate the same tensors every step.
    /// Throws when one of Borderline's tuning variables holds a value it cannot mean:
    /// `BORDERLINE_THREADS` (a positive integer), `BORDERLINE_DENSE_THREADING` (`split`, `blas`),
    /// `BORDERLINE_SPIN_US` (a non-negative integer), `BORDERLINE_SIMD` (`avx512`, `avx2`,
    /// `portable`, `avx512-emulated`). Empty counts as unset (a scheduler's unset variable).
    public static func checkEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func check(_ name: String, expected: String, _ valid: (String) -> Bool) throws {
            guard let value = environment[name], !value.isEmpty, !valid(value) else { return }
            throw BorderlineError(.invalidArgument, "\(name) is \"\(value)\"; expected \(expected)")
        }
        try check("BORDERLINE_THREADS", expected: "a positive integer") { (Int($0) ?? 0) >= 1 }
        try check("BORDERLINE_DENSE_THREADING", expected: "split or blas") { ComputePolicy.DenseThreading(rawValue: $0) != nil }
        try check("BORDERLINE_SPIN_US", expected: "a whole number of microseconds, 0 or more") { (Int($0) ?? -1) >= 0 }
        try check("BORDERLINE_SIMD", expected: "avx512, avx2, portable or avx512-emulated") {
            ["avx512", "avx2", "portable", "avx512-emulated"].contains($0)
        }
    }

    public static func configureThreads() {
        borderline_keep_freed_memory()
        let requested = ProcessInfo.processInfo.environment["BORDERLINE_THREADS"].flatMap(Int.init)
        ComputePolicy.configure(threads: max(1, requested ?? ProcessInfo.processInfo.activeProcessorCount))
    }
}
