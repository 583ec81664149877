import CKernels
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
/// - Dense-only models follow ``denseThreading``: with OpenBLAS's AVX-512 (SkylakeX) kernels one
///   pass with **OpenBLAS threading** (its 2-thread sgemm split 256 × 784 × 50 well there, and
///   batch splitting only added overhead); with its AVX2 (Haswell/Zen) kernels a **batch split**
///   like the convolutional models' (the FCN's three sgemms: 1.31–1.34M images/s split against
///   1.00M through 2 OpenBLAS threads, `bench/sgemm_trial.c`).
///
/// Until ``configure(threads:)`` is called, everything runs on one thread with OpenBLAS's defaults
/// untouched. Training passes (which accumulate parameter gradients) never split; like
/// vector–Jacobian products they run dense-only models through threaded OpenBLAS and
/// convolutional ones on one BLAS thread. The policy assumes one model call at a time: callers that run models
/// concurrently from their own threads should configure one thread.
public enum ComputePolicy {
    /// Threads Borderline may use (set by ``configure(threads:)``).
    public nonisolated(unsafe) private(set) static var threads = 1
    /// Whether ``configure(threads:)`` has been called.
    public nonisolated(unsafe) private(set) static var isConfigured = false
    /// Below this many rows per thread a batch is not worth splitting.
    public nonisolated(unsafe) static var minimumRowsPerThread = 32
    private nonisolated(unsafe) static var blasThreads = -1

    /// How a dense-only model uses the threads in inference.
    public enum DenseThreading: String, Sendable {
        /// Batches split across the threads, each part with single-threaded OpenBLAS.
        case splitBatches = "split"
        /// One pass through OpenBLAS's own threads.
        case threadedBLAS = "blas"
    }

    /// Dense-only models' threading: `BORDERLINE_DENSE_THREADING=split|blas`, or by OpenBLAS's
    /// kernel family — threaded BLAS for its AVX-512 kernels, batch splits otherwise (measured on
    /// each, docs/benchmarks.md). Either way a row's result does not depend on the others.
    public nonisolated(unsafe) static var denseThreading: DenseThreading = {
        if let env = ProcessInfo.processInfo.environment["BORDERLINE_DENSE_THREADING"], let choice = DenseThreading(rawValue: env) {
            return choice
        }
        return BLAS.usesAVX512Kernels ? .threadedBLAS : .splitBatches
    }()

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

    /// Whether the calling thread runs one part of ``concurrently(_:_:)``.
    public static var isInsideConcurrentRegion: Bool { bk_solo_part() != 0 }

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
            let outer = bk_solo_part()
            bk_set_solo_part(1)
            defer { bk_set_solo_part(outer) }
            return Result { try body(i) }
        }
        return try results.map { try $0.get() }
    }

    /// Whether passes over `model` split their batches; `gradient`: a vector–Jacobian product or a
    /// training pass, which for dense-only models runs one pass through threaded OpenBLAS (a split
    /// must slice the rows out and join the gradients again; docs/benchmarks.md, round 3).
    static func splits(_ model: Model, gradient: Bool) -> Bool {
        gradient ? model.isConvolutional : model.prefersBatchSplitting
    }

    /// The row ranges a batch is split into for `model`, or nil to run it in one piece.
    static func chunks(batch: Int, for model: Model, gradient: Bool = false) -> [Range<Int>]? {
        guard splits(model, gradient: gradient) else { return nil }
        return rowChunks(batch: batch)
    }

    /// The row ranges a batch of independent rows is split into, or nil for one piece: up to
    /// ``inferenceThreads`` parts of at least ``minimumRowsPerThread`` rows.
    static func rowChunks(batch: Int) -> [Range<Int>]? {
        let parts = min(inferenceThreads, batch / max(1, minimumRowsPerThread))
        guard parts > 1 else { return nil }
        return (0..<parts).map { i in (batch * i / parts)..<(batch * (i + 1) / parts) }
    }

    /// Sets OpenBLAS's thread count for a pass over `model` (once configured).
    public static func prepareBLAS(for model: Model, gradient: Bool = false) {
        guard isConfigured, !isInsideConcurrentRegion else { return }
        let wanted = splits(model, gradient: gradient) ? 1 : threads
        if wanted != blasThreads {
            BLAS.setThreadCount(wanted)
            blasThreads = wanted
        }
    }

    /// `transform` applied to every element on its own thread, results in order.
    ///
    /// The parts run on Borderline's spinning fork-join pool (`bk_parallel_for`): parking and
    /// waking Dispatch workers costs 150–200 µs per call on a VM, as much as a whole FCN forward
    /// (docs/benchmarks.md). When another thread holds the pool, Dispatch runs them instead.
    static func parallelMap<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
        var results = [R?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { out in
            let slots = UncheckedSendable(out)
            withoutActuallyEscaping(transform) { transform in
                let f = UncheckedSendable(transform), inputs = UncheckedSendable(items)
                let part = PoolPart { i in slots.value[i] = f.value(inputs.value[i]) }
                let ran = withExtendedLifetime(part) {
                    bk_parallel_for(items.count, Int32(clamping: cores), { context, i in
                        Unmanaged<PoolPart>.fromOpaque(context!).takeUnretainedValue().run(i)
                    }, Unmanaged.passUnretained(part).toOpaque())
                }
                if ran == 0 {
                    DispatchQueue.concurrentPerform(iterations: inputs.value.count) { i in part.run(i) }
                }
            }
        }
        return results.map { $0! }
    }
}

extension ComputePolicy {
    /// Threads a parallel map may use: every core, as Dispatch would (callers size their parts).
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
}

/// The body of a ``ComputePolicy/parallelMap(_:_:)`` call, handed to the C pool as its context.
private final class PoolPart: @unchecked Sendable {
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
    @inline(__always) func run(_ index: Int) { body(index) }
}

/// Carries a value into `concurrentPerform`'s closure; each iteration touches only its own slot.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
