import Dispatch
import Foundation

/// How Borderline spends the machine's cores, chosen by measurement (docs/benchmarks.md,
/// `borderline-bench --thread-study`).
///
/// - Models with convolutions or pooling run large inference batches **split across threads**,
///   each thread doing whole forward/backward passes on its share of the rows with
///   single-threaded OpenBLAS. On the im2col path their sgemms are tall and skinny (conv1 of the
///   CNN: 173,056 × 10 × 9 at batch 256), which OpenBLAS's own threading splits badly: on 2 cores
///   splitting gave 1.7× over one pass while 2 BLAS threads gave nothing. The lane kernels
///   (``LanePlan``) are single-threaded by design, so the same split is what spreads them.
/// - Dense-only models run one pass with **OpenBLAS threading**: their sgemms (256 × 784 × 50)
///   split well inside OpenBLAS (1.3× over 1 thread), and batch splitting only added overhead.
///
/// Until ``configure(threads:)`` is called, everything runs on one thread with OpenBLAS's defaults
/// untouched. Training passes (which accumulate parameter gradients) never split; they use the
/// same BLAS thread rule. The policy assumes one model call at a time: callers that run models
/// concurrently from their own threads should configure one thread.
public enum ComputePolicy {
    /// Threads Borderline may use (set by ``configure(threads:)``).
    public nonisolated(unsafe) private(set) static var threads = 1
    /// Whether ``configure(threads:)`` has been called.
    public nonisolated(unsafe) private(set) static var isConfigured = false
    /// Below this many rows per thread a batch is not worth splitting.
    public nonisolated(unsafe) static var minimumRowsPerThread = 32
    private nonisolated(unsafe) static var blasThreads = -1

    /// Lets Borderline use `threads` threads.
    public static func configure(threads: Int) {
        self.threads = max(1, threads)
        isConfigured = true
    }

    /// Back to the unconfigured state: one thread, OpenBLAS left as it is.
    public static func reset() {
        threads = 1
        isConfigured = false
        blasThreads = -1
    }

    /// Threads batched inference uses for a model of this kind (1 inside ``concurrently(_:_:)``).
    public static var inferenceThreads: Int { isInsideConcurrentRegion ? 1 : threads }

    private static let soloKey = "borderline.compute-policy.concurrent-part"

    /// Whether the calling thread runs one part of ``concurrently(_:_:)``.
    public static var isInsideConcurrentRegion: Bool { Thread.current.threadDictionary[soloKey] != nil }

    /// `body(0) … body(count − 1)` on their own threads, results in order, each part running as a
    /// single-threaded caller: model calls inside do not split their batches again and OpenBLAS
    /// runs on one thread. For data-parallel loops whose parts are independent (a training step's
    /// batch halves, each on its own model replica); the first error thrown is rethrown.
    public static func concurrently<R>(_ count: Int, _ body: (Int) throws -> R) throws -> [R] {
        if isConfigured, blasThreads != 1 {
            BLAS.setThreadCount(1)
            blasThreads = 1
        }
        let results: [Result<R, Error>] = parallelMap(Array(0..<max(0, count))) { i in
            let dictionary = Thread.current.threadDictionary
            let outer = dictionary[soloKey]
            dictionary[soloKey] = true
            defer { dictionary[soloKey] = outer }
            return Result { try body(i) }
        }
        return try results.map { try $0.get() }
    }

    /// The row ranges a batch is split into for `model`, or nil to run it in one piece.
    static func chunks(batch: Int, for model: Model) -> [Range<Int>]? {
        guard model.prefersBatchSplitting else { return nil }
        let parts = min(inferenceThreads, batch / max(1, minimumRowsPerThread))
        guard parts > 1 else { return nil }
        return (0..<parts).map { i in (batch * i / parts)..<(batch * (i + 1) / parts) }
    }

    /// Sets OpenBLAS's thread count for a pass over `model` (once configured).
    public static func prepareBLAS(for model: Model) {
        guard isConfigured, !isInsideConcurrentRegion else { return }
        let wanted = model.prefersBatchSplitting ? 1 : threads
        if wanted != blasThreads {
            BLAS.setThreadCount(wanted)
            blasThreads = wanted
        }
    }

    /// `transform` applied to every element on its own thread, results in order.
    static func parallelMap<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
        var results = [R?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { out in
            let slots = UncheckedSendable(out)
            withoutActuallyEscaping(transform) { transform in
                let f = UncheckedSendable(transform), inputs = UncheckedSendable(items)
                DispatchQueue.concurrentPerform(iterations: inputs.value.count) { i in
                    slots.value[i] = f.value(inputs.value[i])
                }
            }
        }
        return results.map { $0! }
    }
}

/// Carries a value into `concurrentPerform`'s closure; each iteration touches only its own slot.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
