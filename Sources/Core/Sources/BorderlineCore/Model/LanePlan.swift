import CKernels
import Foundation

/// A sequential convolutional classifier compiled for the lane kernels (`CKernels`): each block of
/// `L` images (L = 16 on AVX-512, 8 on AVX2) runs in the lanes of one SIMD register, so a
/// convolution is a direct sum over its taps — no patch matrix — and every image gets exactly the
/// scalar arithmetic `y[o, p] = b[o] + Σ_t W[o, t] · x[p + t]`. Dense layers multiply feature-major
/// `[F][N]` activations with one sgemm.
///
/// **Steps.** The chain is cut into steps that each make one pass over memory:
/// - conv: `Conv2D` (groups 1, dilation 1) with a following non-overlapping zero-padded
///   `MaxPool2D` and/or `ReLU` / `LeakyReLU` (slope ≥ 0) fused behind it, in either order. Both
///   orders are the same function: `act` and `+ b` are monotone, so
///   `pool(act(z + b)) = act(max(z) + b)` exactly, and the full-resolution `z` never leaves
///   registers. A `Flatten` after it only changes where the output is written.
/// - dense: `Dense` with a following activation (ReLU, leaky ReLU, sigmoid, tanh).
/// `Dropout` is the identity in inference. Anything else (or any other graph) has no plan, and
/// the model runs layer by layer.
///
/// **Backward.** The pooled gradient is routed to each window's arg-max (saved by the forward
/// pass as the window index) into a zero-bordered buffer `G`; the input gradient is then the
/// forward kernel run on `G` with the flipped, transposed kernel (a full correlation), and the
/// weight gradient `Σ_p G[o, p] · x[p + t]` accumulates per lane and is summed over the lanes at
/// the end. The same rules as the layers (first maximum wins; ReLU′(0) = 0) hold, so gradients
/// match the layer-by-layer path up to float summation order.
final class LanePlan {
    struct Conv {
        let layer: Conv2D
        let C: Int, H: Int, W: Int
        let top: Int, left: Int, Hp: Int, Wp: Int      // padded input buffer
        let O: Int, kh: Int, kw: Int, sh: Int, sw: Int
        let OH: Int, OW: Int                            // convolution output
        let pkh: Int, pkw: Int                          // pool window (1 × 1: none)
        let PH: Int, PW: Int                            // step output grid
        let act: Int32, slope: Float
        var flattenChannelsLast = false
        var T: Int { C * kh * kw }
        var inputElements: Int { C * Hp * Wp }
        /// The gradient buffer: conv output (oy, ox) sits at (kh − 1 + oy·sh, kw − 1 + ox·sw).
        var Gh: Int { (OH - 1) * sh + 2 * kh - 1 }
        var Gw: Int { (OW - 1) * sw + 2 * kw - 1 }
    }
    struct DenseStep {
        let layer: Dense
        let F: Int, O: Int
        let act: Int32, slope: Float
    }
    enum Step {
        case conv(Conv)
        case dense(DenseStep)
    }

    let steps: [Step]
    /// The last model node each step covers (its output is that node's output).
    let endNodes: [Int]
    let lanes: Int
    /// Dropout layers were absorbed as the identity: the plan serves inference only.
    let inferenceOnly: Bool
    /// Tap offsets (floats) of each conv step's forward kernel and of its input-gradient kernel.
    private let forwardOffsets: [[Int]]
    private let backwardOffsets: [[Int]]

    /// Lanes of the instruction set in force (plans are compiled for it).
    static var currentLanes: Int { Int(bk_lanes()) }

    /// Whether models may use their lane plans (tests compare both paths).
    nonisolated(unsafe) static var isEnabled = ProcessInfo.processInfo.environment["BORDERLINE_LANES"] != "0"

    /// Compiles `model`'s nodes `0...model.outputNode`, or nil when some part has no lane kernel.
    init?(_ model: Model) {
        let L = Int(bk_lanes())
        lanes = L
        var steps: [Step] = [], ends: [Int] = []
        var dropout = false
        var shape = model.inputShape
        var i = 0
        let last = model.outputNode
        func chained(_ j: Int) -> Bool { j <= last && model.nodes[j].inputs == [j - 1] }
        while i <= last {
            guard chained(i) else { return nil }
            let layer = model.nodes[i].layer
            if let conv = layer as? Conv2D {
                guard shape.count == 3, LanePlan.isPlain(conv), steps.allSatisfy({ if case .conv = $0 { true } else { false } }) else { return nil }
                let g = conv.geometry(height: shape[1], width: shape[2])
                var pool: (Int, Int)? = nil, act: (Int32, Float)? = nil
                var j = i + 1
                while j <= last, chained(j) {
                    let next = model.nodes[j].layer
                    if pool == nil, let p = next as? MaxPool2D, p.stride == p.kernelSize, p.padding == .zero,
                       p.kernelSize.h <= g.outH, p.kernelSize.w <= g.outW {
                        pool = p.kernelSize
                    } else if act == nil, next is ReLU {
                        act = (1, 0)
                    } else if act == nil, let r = next as? LeakyReLU, r.negativeSlope >= 0 {
                        act = (2, Float(r.negativeSlope))
                    } else if next is Dropout {
                        dropout = true
                    } else { break }
                    j += 1
                }
                let (pkh, pkw) = pool ?? (1, 1)
                var step = Conv(layer: conv, C: conv.inChannels, H: shape[1], W: shape[2],
                                top: conv.padding.top, left: conv.padding.left,
                                Hp: shape[1] + conv.padding.top + conv.padding.bottom,
                                Wp: shape[2] + conv.padding.left + conv.padding.right,
                                O: conv.outChannels, kh: conv.kernelSize.h, kw: conv.kernelSize.w,
                                sh: conv.stride.h, sw: conv.stride.w, OH: g.outH, OW: g.outW,
                                pkh: pkh, pkw: pkw, PH: g.outH / pkh, PW: g.outW / pkw,
                                act: act?.0 ?? 0, slope: act?.1 ?? 0)
                shape = [step.O, step.PH, step.PW]
                if j <= last, chained(j), let f = model.nodes[j].layer as? Flatten {
                    step.flattenChannelsLast = f.order == .channelsLast
                    shape = [Tensor.count(of: shape)]
                    j += 1
                }
                steps.append(.conv(step))
                ends.append(j - 1)
                i = j
            } else if let dense = layer as? Dense {
                guard shape == [dense.inFeatures], !steps.isEmpty else { return nil }
                var act: (Int32, Float) = (0, 0)
                var j = i + 1
                var hasAct = false
                while j <= last, chained(j) {
                    let next = model.nodes[j].layer
                    if !hasAct, let a = LanePlan.denseActivation(next) { act = a; hasAct = true }
                    else if next is Dropout { dropout = true }
                    else { break }
                    j += 1
                }
                steps.append(.dense(DenseStep(layer: dense, F: dense.inFeatures, O: dense.outFeatures, act: act.0, slope: act.1)))
                shape = [dense.outFeatures]
                ends.append(j - 1)
                i = j
            } else {
                return nil
            }
        }
        // The last conv step must hand a flat feature vector to a dense step, or be the end.
        for (k, s) in steps.enumerated() {
            guard case .conv(let c) = s, k + 1 < steps.count else { continue }
            if case .dense = steps[k + 1], ends[k] == ends[k] {
                guard model.nodes[ends[k]].layer is Flatten else { return nil }
            } else if case .conv(let n) = steps[k + 1] {
                guard !(model.nodes[ends[k]].layer is Flatten), n.C == c.O, n.H == c.PH, n.W == c.PW else { return nil }
            }
        }
        guard case .dense = steps.last, case .conv = steps.first else { return nil }
        self.steps = steps
        self.endNodes = ends
        self.inferenceOnly = dropout
        forwardOffsets = steps.map { s in
            guard case .conv(let c) = s else { return [] }
            var off: [Int] = []
            for ch in 0..<c.C { for a in 0..<c.kh { for b in 0..<c.kw { off.append(((ch * c.Hp + a) * c.Wp + b) * L) } } }
            return off
        }
        backwardOffsets = steps.map { s in
            guard case .conv(let c) = s else { return [] }
            var off: [Int] = []
            for o in 0..<c.O { for a in 0..<c.kh { for b in 0..<c.kw { off.append(((o * c.Gh + a) * c.Gw + b) * L) } } }
            return off
        }
    }

    /// The kernels' code (and slope) of an activation they fuse behind a dense layer: 1 ReLU,
    /// 2 leaky ReLU with slope ≥ 0, 3 sigmoid, 4 tanh; nil for any other layer.
    static func denseActivation(_ layer: any Layer) -> (Int32, Float)? {
        if layer is ReLU { return (1, 0) }
        if let r = layer as? LeakyReLU, r.negativeSlope >= 0 { return (2, Float(r.negativeSlope)) }
        if layer is Sigmoid { return (3, 0) }
        if layer is Tanh { return (4, 0) }
        return nil
    }

    /// Groups 1 and dilation 1: grouped and dilated convolutions run layer by layer.
    static func isPlain(_ conv: Conv2D) -> Bool {
        conv.groups == 1 && conv.dilation.h == 1 && conv.dilation.w == 1
    }

    /// The step whose output is node `node`'s output, if any.
    func step(endingAt node: Int) -> Int? { endNodes.firstIndex(of: node) }

    // MARK: Workspace

    /// Scratch memory of one thread's passes, kept between calls (no allocation in steady state).
    /// Buffers grow to the largest batch seen; their zero borders are never written.
    final class Workspace {
        private var buffers: [Int: (pointer: UnsafeMutablePointer<Float>, count: Int)] = [:]
        /// Buffer `slot` with at least `count` floats; zero-filled when (re)allocated.
        func buffer(_ slot: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
            if let b = buffers[slot], b.count >= count { return b.pointer }
            if let b = buffers[slot] { free(b.pointer) }
            let bytes = max(64, (count * 4 + 63) / 64 * 64)
            let p = aligned_alloc(64, bytes)!.bindMemory(to: Float.self, capacity: bytes / 4)
            p.initialize(repeating: 0, count: bytes / 4)
            buffers[slot] = (p, bytes / 4)
            return p
        }
        /// Floats held, all buffers together.
        var floats: Int { buffers.values.reduce(0) { $0 + $1.count } }
        deinit { for b in buffers.values { free(b.pointer) } }
    }

    /// A workspace larger than this (floats; 256 MiB) is freed after its call instead of being
    /// kept: one huge batch should not pin its memory for the model's lifetime.
    static let keptWorkspaceLimit = 64 << 20

    private func giveBack(_ w: Workspace) {
        guard w.floats <= LanePlan.keptWorkspaceLimit else { return }
        lock.lock()
        idle.append(w)
        lock.unlock()
    }

    private let lock = NSLock()
    private var idle: [Workspace] = []
    func withWorkspace<R>(_ body: (Workspace) throws -> R) rethrows -> R {
        lock.lock()
        let w = idle.popLast() ?? Workspace()
        lock.unlock()
        defer { giveBack(w) }
        return try body(w)
    }

    // Buffer slots: 10·k + role for step k.
    private enum Role: Int { case input = 0, output, argmax, weights, flipped, grad, dx, dy, wgrad, bgrad, bias }
    private func slot(_ k: Int, _ r: Role) -> Int { 16 * k + r.rawValue }

    /// A copy of a layer's bias in the workspace (nil without one).
    private func bias(_ p: Parameter?, _ k: Int, _ ws: Workspace) -> UnsafeMutablePointer<Float>? {
        guard let p else { return nil }
        let b = ws.buffer(slot(k, .bias), p.value.count)
        p.value.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: $0.count) }
        return b
    }

    /// Whether step `k` ends in a dense layer (plans hand out only those outputs).
    func isDense(_ k: Int) -> Bool { if case .dense = steps[k] { true } else { false } }

    /// Where step `k` writes its output (floats): block stride, channel, row and column strides
    /// and origin. `N` is the padded batch (feature-major leading dimension); `keep` means every
    /// block keeps its own buffer (training, vjp) rather than one block being reused.
    private func outputLayout(_ k: Int, N: Int, keep: Bool) -> (bs: Int, cs: Int, rs: Int, xs: Int, origin: Int) {
        let L = lanes
        guard case .conv(let c) = steps[k] else { return (L, N, 0, 0, 0) }
        if k + 1 < steps.count, case .conv(let n) = steps[k + 1] {
            return (keep ? n.inputElements * L : 0, n.Hp * n.Wp * L, n.Wp * L, L, (n.top * n.Wp + n.left) * L)
        }
        if c.flattenChannelsLast { return (L, N, c.PW * c.O * N, c.O * N, 0) }
        return (L, c.PH * c.PW * N, c.PW * N, N, 0)
    }

    private func descriptor(_ c: Conv, _ out: (bs: Int, cs: Int, rs: Int, xs: Int, origin: Int), inputBlockStride: Int) -> bk_conv_desc {
        let L = lanes
        return bk_conv_desc(T: Int32(c.T), O: Int32(c.O), PH: Int32(c.PH), PW: Int32(c.PW), PKH: Int32(c.pkh), PKW: Int32(c.pkw),
                            x_rs: c.sh * c.Wp * L, x_xs: c.sw * L, x_bs: inputBlockStride,
                            y_cs: out.cs, y_rs: out.rs, y_xs: out.xs, y_bs: out.bs, act: c.act, slope: c.slope)
    }

    /// `W[o, c, i, j]` as `[T][O]` (the forward kernel's layout).
    private func packed(_ c: Conv, into w: UnsafeMutablePointer<Float>) {
        c.layer.weight.value.withUnsafeBufferPointer { src in
            for o in 0..<c.O { for t in 0..<c.T { w[t * c.O + o] = src[o * c.T + t] } }
        }
    }

    /// `W'[(o, i', j'), c] = W[o, c, kh−1−i', kw−1−j']`: the input-gradient kernel's layout.
    private func flipped(_ c: Conv, into w: UnsafeMutablePointer<Float>) {
        c.layer.weight.value.withUnsafeBufferPointer { src in
            for o in 0..<c.O { for ch in 0..<c.C { for a in 0..<c.kh { for b in 0..<c.kw {
                w[((o * c.kh + a) * c.kw + b) * c.C + ch] = src[((o * c.C + ch) * c.kh + (c.kh - 1 - a)) * c.kw + (c.kw - 1 - b)]
            } } } }
        }
    }

    // MARK: Forward

    /// Runs rows `x[0..<n]` (row-major images) through steps `0...lastStep`; returns the
    /// feature-major `[F][N]` output of `lastStep` (a dense step) and `N`.
    private func run(_ x: UnsafePointer<Float>?, n: Int, through lastStep: Int, keep: Bool, ws: Workspace,
                     firstStep: ((_ block: Int, _ rows: Int, _ descriptor: inout bk_conv_desc, _ destination: UnsafeMutablePointer<Float>) -> Void)? = nil) -> (UnsafeMutablePointer<Float>, Int) {
        let L = lanes
        let blocks = (n + L - 1) / L, N = blocks * L
        guard case .conv(let first) = steps[0] else { fatalError("LanePlan: the first step is a convolution") }
        let input = firstStep == nil ? ws.buffer(slot(0, .input), (keep ? blocks : 1) * first.inputElements * L) : ws.buffer(slot(0, .input), 1)
        // The conv segment, block by block (in inference one block's activations stay in cache).
        let convSteps = steps.prefix { if case .conv = $0 { true } else { false } }.count
        let lastConv = min(convSteps, lastStep + 1)
        var weights: [UnsafeMutablePointer<Float>] = [], biases: [UnsafeMutablePointer<Float>?] = []
        for k in 0..<lastConv {
            guard case .conv(let c) = steps[k] else { continue }
            let w = ws.buffer(slot(k, .weights), c.T * c.O)
            packed(c, into: w)
            weights.append(w)
            biases.append(bias(c.layer.bias, k, ws))
        }
        // Output buffers: for conv → conv the next step's (padded) input; the last conv writes feature-major.
        var outs: [UnsafeMutablePointer<Float>] = [], args: [UnsafeMutablePointer<Float>?] = []
        for k in 0..<lastConv {
            guard case .conv(let c) = steps[k] else { continue }
            let count: Int
            if k + 1 < steps.count, case .conv(let nx) = steps[k + 1] { count = (keep ? blocks : 1) * nx.inputElements * L }
            else { count = c.O * c.PH * c.PW * N }
            outs.append(k + 1 < lastConv ? ws.buffer(slot(k + 1, .input), count) : ws.buffer(slot(k, .output), count))
            args.append(keep && c.pkh * c.pkw > 1 ? ws.buffer(slot(k, .argmax), count) : nil)
        }
        for b in 0..<blocks {
            let rows = min(L, n - b * L)
            var src = input
            var k0 = 0
            if let firstStep {
                // Step 0's output comes from the caller (affine probes: interpolated conv outputs).
                let out = outputLayout(0, N: N, keep: false)
                var d = descriptor(first, out, inputBlockStride: 0)
                d.y_bs = 0
                firstStep(b, rows, &d, outs[0] + out.origin + b * out.bs)
                if 1 < lastConv { src = outs[0] + b * out.bs }
                k0 = 1
            } else {
                let xb = input + (keep ? b * first.inputElements * L : 0)
                bk_to_lanes(x! + b * L * first.C * first.H * first.W, Int32(rows), Int32(first.C), Int32(first.H), Int32(first.W),
                            Int32(first.top), Int32(first.left), Int32(first.Hp), Int32(first.Wp), 1, xb)
                src = xb
            }
            for k in k0..<lastConv {
                guard case .conv(let c) = steps[k] else { continue }
                let out = outputLayout(k, N: N, keep: keep)
                var d = descriptor(c, out, inputBlockStride: 0)
                d.y_bs = 0
                let dst = outs[k] + out.origin + b * out.bs
                let arg = args[k].map { $0 + out.origin + b * out.bs }
                forwardOffsets[k].withUnsafeBufferPointer { off in
                    bk_conv_forward(&d, Int32(c.pkh), Int32(c.pkw), 1, src, off.baseAddress, weights[k], biases[k], dst, arg)
                }
                if k + 1 < lastConv { src = outs[k] + b * out.bs }
            }
        }
        var current = ws.buffer(slot(lastConv - 1, .output), 0)
        if lastConv - 1 > lastStep { fatalError("LanePlan: a plan ends with a dense step") }
        for k in lastConv...max(lastConv, lastStep) where k <= lastStep {
            guard case .dense(let d) = steps[k] else { continue }
            let y = ws.buffer(slot(k, .output), d.O * N)
            let src = current
            d.layer.weight.value.withUnsafeBufferPointer { w in
                BLAS.gemm(m: d.O, n: N, k: d.F, a: w.baseAddress!, lda: d.F, b: src, ldb: N, c: y, ldc: N)
            }
            bk_bias_act(y, Int32(d.O), N, bias(d.layer.bias, k, ws), d.act <= 2 ? d.act : 0, d.slope)
            if d.act > 2 { bk_act_apply(y, d.O * N, d.act) }
            current = y
        }
        return (current, N)
    }

    /// Step `lastStep`'s output for `x` as row-major `[n] + shape`.
    func forward(_ x: Tensor, through lastStep: Int, shape: [Int]) -> Tensor {
        let n = x.batchSize
        guard n > 0 else { return Tensor(zeros: [0] + shape) }
        return withWorkspace { ws in
            x.withUnsafeBufferPointer { xp in
                let (y, N) = run(xp.baseAddress!, n: n, through: lastStep, keep: false, ws: ws)
                return LanePlan.rows(y, features: Tensor.count(of: shape), N: N, n: n, shape: shape, lanes: lanes)
            }
        }
    }

    /// Feature-major `[F][N]` → row-major `[n][F]`.
    private static func rows(_ y: UnsafePointer<Float>, features F: Int, N: Int, n: Int, shape: [Int], lanes L: Int) -> Tensor {
        Tensor(shape: [n] + shape) { out in
            bk_from_lanes(y, L, N, 0, 0, Int32(n), Int32(F), 1, 1, 0, 0, out.baseAddress!)
        }
    }

    // MARK: Affine probes

    /// The first convolution of a set of anchor images without its bias, at full resolution (no
    /// pool, no activation), one anchor after the other: anchor `a`'s element `(o, y, x)` at
    /// `a·E + (o·OH + y)·OW + x`. What ``forwardMixtures(_:indices:weights:arity:through:shape:)``
    /// interpolates. Contiguous per anchor (not in lanes) because a lane block of queries reads
    /// whole outputs of two to four anchors: 27 KB each for the CNN, kept in cache across the
    /// blocks of a segment.
    final class AnchorConvolutions: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
        let anchors: Int
        /// Floats per anchor (E).
        let stride: Int
        init(anchors: Int, stride: Int) {
            self.anchors = anchors
            self.stride = stride
            let count = max(1, anchors) * stride
            pointer = aligned_alloc(64, max(64, (count * 4 + 63) / 64 * 64))!.bindMemory(to: Float.self, capacity: count)
        }
        deinit { free(pointer) }
    }

    /// Floats ``anchorConvolutions(_:)`` holds per anchor: the first convolution's full output.
    var anchorFloats: Int {
        guard case .conv(let c) = steps[0] else { return 0 }
        return c.O * c.OH * c.OW
    }

    /// `conv₁(A_j)` without bias for every anchor row of `anchors` (row-major images).
    func anchorConvolutions(_ anchors: Tensor) -> AnchorConvolutions {
        guard case .conv(let c) = steps[0] else { fatalError("LanePlan: the first step is a convolution") }
        let L = lanes, n = anchors.batchSize, blocks = (n + L - 1) / L
        let E = c.O * c.OH * c.OW
        let result = AnchorConvolutions(anchors: n, stride: E)
        withWorkspace { ws in
            let input = ws.buffer(slot(0, .input), c.inputElements * L)
            let lanesOut = ws.buffer(slot(0, .output), E * L)
            let w = ws.buffer(slot(0, .weights), c.T * c.O)
            packed(c, into: w)
            var d = bk_conv_desc(T: Int32(c.T), O: Int32(c.O), PH: Int32(c.OH), PW: Int32(c.OW), PKH: 1, PKW: 1,
                                 x_rs: c.sh * c.Wp * L, x_xs: c.sw * L, x_bs: 0,
                                 y_cs: c.OH * c.OW * L, y_rs: c.OW * L, y_xs: L, y_bs: 0, act: 0, slope: 0)
            anchors.withUnsafeBufferPointer { xp in
                for b in 0..<blocks {
                    let rows = min(L, n - b * L)
                    bk_to_lanes(xp.baseAddress! + b * L * c.C * c.H * c.W, Int32(rows), Int32(c.C), Int32(c.H), Int32(c.W),
                                Int32(c.top), Int32(c.left), Int32(c.Hp), Int32(c.Wp), 1, input)
                    forwardOffsets[0].withUnsafeBufferPointer { off in
                        bk_conv_forward(&d, 1, 1, 1, input, off.baseAddress, w, nil, lanesOut, nil)
                    }
                    for l in 0..<rows {
                        let dst = result.pointer + (b * L + l) * E
                        for e in 0..<E { dst[e] = lanesOut[e * L + l] }
                    }
                }
            }
        }
        return result
    }

    /// Most anchors one lane-block may mix (the kernel's register budget).
    static let maximumAnchorsPerBlock = 64

    /// Step `lastStep`'s output, row-major `[Q] + shape`, at the query points
    /// `x_q = Σ_t weights[q·arity + t] · A_{indices[q·arity + t]}` (weights summing to 1): the first
    /// convolution is interpolated from `anchors` (``anchorConvolutions(_:)``) with its pool, bias
    /// and activation fused behind, the rest runs as ``forward(_:through:shape:)``. Needs
    /// `arity · L ≤ 64`.
    func forwardMixtures(_ anchors: AnchorConvolutions, indices: ArraySlice<Int>, weights: ArraySlice<Float>, arity: Int,
                         through lastStep: Int, shape: [Int]) -> Tensor {
        guard case .conv(let c) = steps[0] else { fatalError("LanePlan: the first step is a convolution") }
        let L = lanes, n = indices.count / arity
        precondition(arity * L <= LanePlan.maximumAnchorsPerBlock, "LanePlan: \(arity) anchors per query exceed a block's budget")
        guard n > 0 else { return Tensor(zeros: [0] + shape) }
        let i0 = indices.startIndex, w0 = weights.startIndex
        var coef = [Float](repeating: 0, count: LanePlan.maximumAnchorsPerBlock * L)
        var ids = [Int](repeating: -1, count: LanePlan.maximumAnchorsPerBlock)
        var pointers = [UnsafePointer<Float>?](repeating: nil, count: LanePlan.maximumAnchorsPerBlock)
        return withWorkspace { ws in
            let b = bias(c.layer.bias, 0, ws)
            let (y, N) = run(nil, n: n, through: lastStep, keep: false, ws: ws) { block, rows, d, destination in
                var used = 0
                coef.withUnsafeMutableBufferPointer { cp in
                    for lane in 0..<rows {
                        let q = block * L + lane
                        for t in 0..<arity {
                            let a = indices[i0 + q * arity + t]
                            var j = 0
                            while j < used, ids[j] != a { j += 1 }
                            if j == used {
                                ids[j] = a
                                pointers[j] = UnsafePointer(anchors.pointer + a * anchors.stride)
                                for l in 0..<L { cp[j * L + l] = 0 }
                                used += 1
                            }
                            cp[j * L + lane] += weights[w0 + q * arity + t]
                        }
                    }
                    pointers.withUnsafeBufferPointer { pp in
                        bk_mix_pool_act(&d, Int32(c.pkh), Int32(c.pkw), Int32(c.OH), Int32(c.OW), Int32(used), pp.baseAddress!, 1,
                                        cp.baseAddress!, b, destination)
                    }
                }
            }
            return LanePlan.rows(y, features: Tensor.count(of: shape), N: N, n: n, shape: shape, lanes: lanes)
        }
    }

    // MARK: Backward

    /// A forward pass kept for ``finishGradient(_:outputGradient:parameterGradients:inputGradient:)``;
    /// it holds a workspace until then.
    final class PendingGradient {
        let workspace: Workspace
        let x: Tensor
        let N: Int
        let output: Tensor
        init(workspace: Workspace, x: Tensor, N: Int, output: Tensor) {
            self.workspace = workspace
            self.x = x
            self.N = N
            self.output = output
        }
    }

    /// The forward half of a gradient: runs every step keeping what backward needs.
    func beginGradient(_ x: Tensor, outputShape: [Int]) -> PendingGradient {
        lock.lock()
        let ws = idle.popLast() ?? Workspace()
        lock.unlock()
        let n = x.batchSize
        let (y, N) = x.withUnsafeBufferPointer { xp in run(xp.baseAddress!, n: n, through: steps.count - 1, keep: true, ws: ws) }
        let output = LanePlan.rows(y, features: Tensor.count(of: outputShape), N: N, n: n, shape: outputShape, lanes: lanes)
        return PendingGradient(workspace: ws, x: x, N: N, output: output)
    }

    /// The backward half: `∂L/∂x` for `g = ∂L/∂(output)` when `inputGradient`; adds `∂L/∂θ` into
    /// the trainable parameters when `parameterGradients`. Returns the workspace.
    func finishGradient(_ pending: PendingGradient, outputGradient g: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor? {
        let ws = pending.workspace, x = pending.x, N = pending.N, n = x.batchSize, L = lanes
        defer { giveBack(ws) }
        let lastStep = steps.count - 1
        precondition(g.shape == pending.output.shape, "LanePlan: gradient shape \(g.shape) ≠ output shape \(pending.output.shape)")
        let F = pending.output.sampleCount
        do {
            let blocks = N / L
            // ∂L/∂y feature-major, zero in the padded lanes.
            var dy = ws.buffer(slot(lastStep, .dy), F * N)
            dy.update(repeating: 0, count: F * N)
            g.withUnsafeBufferPointer { gp in
                for r in 0..<n { for f in 0..<F { dy[f * N + r] = gp[r * F + f] } }
            }
            let convSteps = steps.prefix { if case .conv = $0 { true } else { false } }.count
            // Dense steps, last to first.
            for k in stride(from: lastStep, through: convSteps, by: -1) {
                guard case .dense(let d) = steps[k] else { continue }
                let yk = ws.buffer(slot(k, .output), 0)
                let xk = k == convSteps ? ws.buffer(slot(k - 1, .output), 0) : ws.buffer(slot(k - 1, .output), 0)
                if d.act != 0 { bk_act_backward(dy, yk, d.O * N, d.act, d.slope) }
                let dz = UnsafePointer(dy)
                if parameterGradients, d.layer.weight.isTrainable {
                    d.layer.weight.gradient.withUnsafeMutableBufferPointer { gw in
                        BLAS.gemm(transB: true, m: d.O, n: d.F, k: N, a: dz, lda: N, b: xk, ldb: N, beta: 1, c: gw.baseAddress!, ldc: d.F)
                    }
                    if let bias = d.layer.bias, bias.isTrainable {
                        bias.gradient.withUnsafeMutableBufferPointer { gb in
                            for o in 0..<d.O { gb[o] += VectorKernels.sum(dz + o * N, count: N) }
                        }
                    }
                }
                let dx = ws.buffer(slot(k, .dx), d.F * N)
                d.layer.weight.value.withUnsafeBufferPointer { w in
                    BLAS.gemm(transA: true, m: d.F, n: N, k: d.O, a: w.baseAddress!, lda: d.F, b: dz, ldb: N, c: dx, ldc: N)
                }
                dy = dx
            }
            // Conv steps, last to first, block by block.
            var dyLayout = outputLayout(convSteps - 1, N: N, keep: true)
            dyLayout.origin = 0
            var dyBase = UnsafePointer(dy)
            var inputGrad: Tensor? = nil
            for k in stride(from: convSteps - 1, through: 0, by: -1) {
                guard case .conv(let c) = steps[k] else { continue }
                let out = outputLayout(k, N: N, keep: true)
                let yBase = (k + 1 < convSteps ? ws.buffer(slot(k + 1, .input), 0) : ws.buffer(slot(k, .output), 0)) + out.origin
                let aBase = c.pkh * c.pkw > 1 ? UnsafePointer(ws.buffer(slot(k, .argmax), 0) + out.origin) : nil
                let xBase = ws.buffer(slot(k, .input), 0)
                let G = ws.buffer(slot(k, .grad), c.O * c.Gh * c.Gw * L)
                let needDX = k > 0 || inputGradient
                let wantParams = parameterGradients && c.layer.weight.isTrainable
                let wgrad = wantParams ? ws.buffer(slot(k, .wgrad), c.O * c.T * L) : nil
                let bgrad = wantParams && c.layer.bias?.isTrainable == true ? ws.buffer(slot(k, .bgrad), c.O * L) : nil
                wgrad?.update(repeating: 0, count: c.O * c.T * L)
                bgrad?.update(repeating: 0, count: c.O * L)
                var flippedW: UnsafeMutablePointer<Float>? = nil
                if needDX { flippedW = ws.buffer(slot(k, .flipped), c.T * c.O); flipped(c, into: flippedW!) }
                let dxElements = c.inputElements
                let dxAll = needDX ? ws.buffer(slot(k, .dx), blocks * dxElements * L) : nil
                var desc = descriptor(c, out, inputBlockStride: 0)
                let Gorigin = ((c.kh - 1) * c.Gw + (c.kw - 1)) * L
                for b in 0..<blocks {
                    bk_pool_act_backward(&desc, Int32(c.pkh), Int32(c.pkw), 1, yBase + b * out.bs, 0,
                                         dyBase + dyLayout.origin + b * dyLayout.bs, 0, dyLayout.cs, dyLayout.rs, dyLayout.xs,
                                         aBase.map { $0 + b * out.bs }, 0,
                                         G + Gorigin, 0, c.Gh * c.Gw * L, c.sh * c.Gw * L, c.sw * L)
                    let xb = xBase + b * c.inputElements * L
                    if let wgrad {
                        forwardOffsets[k].withUnsafeBufferPointer { off in
                            bk_conv_weight_grad(Int32(c.T), Int32(c.O), Int32(c.OH), Int32(c.OW), 1, xb, 0, c.sh * c.Wp * L, c.sw * L,
                                                off.baseAddress, G + Gorigin, 0, c.Gh * c.Gw * L, c.sh * c.Gw * L, c.sw * L, wgrad, bgrad)
                        }
                    }
                    if let dxAll, let flippedW {
                        // Full correlation of G with the flipped kernel over the covered rows and columns.
                        var dd = bk_conv_desc(T: Int32(c.O * c.kh * c.kw), O: Int32(c.C),
                                              PH: Int32((c.OH - 1) * c.sh + c.kh), PW: Int32((c.OW - 1) * c.sw + c.kw), PKH: 1, PKW: 1,
                                              x_rs: c.Gw * L, x_xs: L, x_bs: 0,
                                              y_cs: c.Hp * c.Wp * L, y_rs: c.Wp * L, y_xs: L, y_bs: 0, act: 0, slope: 0)
                        backwardOffsets[k].withUnsafeBufferPointer { off in
                            bk_conv_forward(&dd, 1, 1, 1, G, off.baseAddress, flippedW, nil, dxAll + b * dxElements * L, nil)
                        }
                    }
                }
                if let wgrad {
                    c.layer.weight.gradient.withUnsafeMutableBufferPointer { gw in
                        for o in 0..<c.O { for t in 0..<c.T { gw[o * c.T + t] += VectorKernels.sum(wgrad + (o * c.T + t) * L, count: L) } }
                    }
                    if let bgrad, let bias = c.layer.bias {
                        bias.gradient.withUnsafeMutableBufferPointer { gb in
                            for o in 0..<c.O { gb[o] += VectorKernels.sum(bgrad + o * L, count: L) }
                        }
                    }
                }
                guard let dxAll else { break }
                if k == 0 {
                    inputGrad = Tensor(shape: x.shape) { out in
                        bk_from_lanes(dxAll, dxElements * L, c.Hp * c.Wp * L, c.Wp * L, L, Int32(n), Int32(c.C), Int32(c.H), Int32(c.W),
                                      Int32(c.top), Int32(c.left), out.baseAddress!)
                    }
                } else {
                    dyBase = UnsafePointer(dxAll)
                    dyLayout = (dxElements * L, c.Hp * c.Wp * L, c.Wp * L, L, (c.top * c.Wp + c.left) * L)
                }
            }
            return inputGrad
        }
    }
}
