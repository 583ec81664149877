import CKernels
import Foundation

/// A dense-only model's inference chain compiled for the fused dense kernel (`bk_dense_forward`).
///
/// Each step is one `Dense` layer with the activation after it (ReLU, leaky ReLU with slope ≥ 0,
/// sigmoid, tanh; `Dropout` is the identity in inference):
///
///     y[r, o] = act(b[o] + Σ_k x[r, k] · W[o, k])
///
/// computed in one pass over each tile of rows: the sums stay in registers, and the bias and the
/// activation are applied before the tile is stored, so there is no bias copy and no activation
/// pass over memory. The weights are packed once into the kernel's panel layout (`bk_dense_pack`)
/// and repacked only when a parameter's ``Parameter/version`` or the instruction set changes;
/// OpenBLAS packs them again on every call. A batch is split across the threads by rows, each part
/// running the whole chain with its intermediate activations in a kept workspace.
///
/// Leading `Flatten` / `Reshape` layers are absorbed when they only reinterpret the rows (as in
/// ``Model/leadingDense``). Anything else, or any other graph, has no plan.
///
/// Measured against sgemm + bias + ReLU on the FCN (784 → 50 → 50 → 10, `bench/dense_trial.c`,
/// docs/benchmarks.md): 1.70M images/s against 1.39M, split over 2 threads.
final class DensePlan {
    struct Step {
        let layer: Dense
        let act: Int32
        let slope: Float
    }

    let steps: [Step]
    /// The last model node the plan covers (the model output).
    let endNode: Int
    /// Dropout layers were absorbed as the identity: training passes run layer by layer.
    let inferenceOnly: Bool
    private let widest: Int

    /// One step's packed weights, freed when the last pass using them ends. `transposed`: `Wᵀ`
    /// packed as a layer of `in_features` outputs with no bias, for `∂L/∂x = ∂L/∂z · W`.
    private final class Packed: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
        let weightVersion: Int, biasVersion: Int, isa: Int32
        init(_ layer: Dense, isa: Int32, transposed: Bool) {
            let O = layer.outFeatures, K = layer.inFeatures
            let (rows, columns) = transposed ? (K, O) : (O, K)
            let n = Int(bk_dense_pack(nil, Int32(rows), Int32(columns), nil, nil))
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            layer.weight.value.withUnsafeBufferPointer { w in
                if transposed {
                    let wt = [Float](unsafeUninitializedCapacity: O * K) { t, count in
                        for o in 0..<O { for k in 0..<K { t[k * O + o] = w[o * K + k] } }
                        count = O * K
                    }
                    _ = bk_dense_pack(wt, Int32(K), Int32(O), nil, p)
                } else if let bias = layer.bias {
                    bias.value.withUnsafeBufferPointer { b in _ = bk_dense_pack(w.baseAddress, Int32(O), Int32(K), b.baseAddress, p) }
                } else {
                    _ = bk_dense_pack(w.baseAddress, Int32(O), Int32(K), nil, p)
                }
            }
            pointer = p
            weightVersion = layer.weight.version
            biasVersion = transposed ? 0 : layer.bias?.version ?? 0
            self.isa = isa
        }
        func isCurrent(for layer: Dense, isa: Int32, transposed: Bool) -> Bool {
            weightVersion == layer.weight.version && biasVersion == (transposed ? 0 : layer.bias?.version ?? 0) && self.isa == isa
        }
        deinit { pointer.deallocate() }
    }

    private let lock = NSLock()
    private var packed: [Packed?]
    private var packedTransposed: [Packed?]
    private var idle: [LanePlan.Workspace] = []

    /// Whether models may use their dense plans (``LaneKernels/plansEnabled``; `BORDERLINE_LANES=0`
    /// turns both kinds of plan off).
    nonisolated(unsafe) static var isEnabled = ProcessInfo.processInfo.environment["BORDERLINE_LANES"] != "0"

    /// Compiles `model`'s nodes `0...model.outputNode`, or nil when some part is not a dense step.
    init?(_ model: Model) {
        let last = model.outputNode
        func chained(_ j: Int) -> Bool { j <= last && model.nodes[j].inputs == [j - 1] }
        guard let (first, _) = model.leadingDense else { return nil }
        var steps: [Step] = []
        var i = first
        var width = model.nodeShapes[first][0]
        var dropout = false
        while i <= last {
            guard chained(i), let dense = model.nodes[i].layer as? Dense,
                  steps.isEmpty || dense.inFeatures == steps.last!.layer.outFeatures else { return nil }
            var act: (Int32, Float)? = nil
            var j = i + 1
            while j <= last, chained(j) {
                let next = model.nodes[j].layer
                if act == nil, let a = LanePlan.denseActivation(next) { act = a }
                else if next is Dropout { dropout = true }
                else { break }
                j += 1
            }
            steps.append(Step(layer: dense, act: act?.0 ?? 0, slope: act?.1 ?? 0))
            width = max(width, dense.outFeatures)
            i = j
        }
        guard !steps.isEmpty else { return nil }
        self.steps = steps
        endNode = last
        inferenceOnly = dropout
        widest = width
        packed = Array(repeating: nil, count: steps.count)
        packedTransposed = packed
    }

    /// Every step's packed weights (or their transposes), repacked where a parameter or the
    /// instruction set changed.
    private func currentPacks(transposed: Bool = false) -> [Packed] {
        let isa = bk_isa()
        lock.lock()
        defer { lock.unlock() }
        return steps.indices.map { k in
            let layer = steps[k].layer
            if let p = transposed ? packedTransposed[k] : packed[k], p.isCurrent(for: layer, isa: isa, transposed: transposed) { return p }
            let p = Packed(layer, isa: isa, transposed: transposed)
            if transposed { packedTransposed[k] = p } else { packed[k] = p }
            return p
        }
    }

    /// The model output for a batch (`[n] + outputShape`), rows split across the threads.
    func forward(_ x: Tensor, outputShape: [Int]) -> Tensor {
        let n = x.batchSize
        precondition(x.sampleCount == steps[0].layer.inFeatures, "DensePlan: input \(x.shape) does not have \(steps[0].layer.inFeatures) features per row")
        let packs = currentPacks()
        let O = steps.last!.layer.outFeatures
        let chunks = ComputePolicy.rowChunks(batch: n) ?? [0..<n]
        return Tensor(shape: [n] + outputShape) { out in
            guard n > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                let src = UncheckedSendable(xp.baseAddress!), dst = UncheckedSendable(out.baseAddress!)
                _ = ComputePolicy.parallelMap(chunks) { r in
                    self.run(src.value + r.lowerBound * self.steps[0].layer.inFeatures, rows: r.count, packs: packs,
                             into: dst.value + r.lowerBound * O)
                }
            }
        }
    }

    private func withWorkspace<R>(_ body: (LanePlan.Workspace) throws -> R) rethrows -> R {
        lock.lock()
        let ws = idle.popLast() ?? LanePlan.Workspace()
        lock.unlock()
        defer {
            if ws.floats <= LanePlan.keptWorkspaceLimit { lock.lock(); idle.append(ws); lock.unlock() }
        }
        return try body(ws)
    }

    /// The chain over `rows` rows: intermediates ping-pong between two workspace buffers, the last
    /// step writes `y`.
    private func run(_ x: UnsafePointer<Float>, rows: Int, packs: [Packed], into y: UnsafeMutablePointer<Float>) {
        withWorkspace { ws in run(x, rows: rows, packs: packs, into: y, ws: ws) }
    }

    private func run(_ x: UnsafePointer<Float>, rows: Int, packs: [Packed], into y: UnsafeMutablePointer<Float>, ws: LanePlan.Workspace) {
        let buffers = steps.count > 1 ? [ws.buffer(0, rows * widest), ws.buffer(1, rows * widest)] : []
        var input = x
        for (k, step) in steps.enumerated() {
            let K = step.layer.inFeatures, O = step.layer.outFeatures
            let output = k == steps.count - 1 ? y : buffers[k % 2]
            bk_dense_forward(input, rows, Int32(K), K, packs[k].pointer, Int32(O), step.act, step.slope, output, O)
            input = UnsafePointer(output)
        }
    }

    // MARK: Vector–Jacobian products

    /// ``Model/vjp(_:cotangent:)``: the forward pass through the fused kernel keeping every step's
    /// output, then `∂L/∂z = ∂L/∂y ⊙ act′(y)` and `∂L/∂x = ∂L/∂z · W` through the same kernel on
    /// the packed `Wᵀ`. Rows are independent, so both passes split across the threads and no
    /// BLAS call is made; the result equals the layer-by-layer one up to float summation order.
    func vjp(_ x: Tensor, cotangent: (Tensor) -> Tensor) -> (output: Tensor, inputGradient: Tensor) {
        let n = x.batchSize, last = steps.count - 1, K0 = steps[0].layer.inFeatures, O = steps[last].layer.outFeatures
        precondition(x.sampleCount == K0, "DensePlan: input \(x.shape) does not have \(K0) features per row")
        let packs = currentPacks(), transposed = currentPacks(transposed: true)
        let chunks = ComputePolicy.rowChunks(batch: n) ?? [0..<n]
        lock.lock()
        let spaces = chunks.map { _ in idle.popLast() ?? LanePlan.Workspace() }
        lock.unlock()
        defer {
            lock.lock()
            idle.append(contentsOf: spaces.filter { $0.floats <= LanePlan.keptWorkspaceLimit })
            lock.unlock()
        }
        // Step k's output for chunk i: slot 8 + k of spaces[i]; the last step's in `output`.
        let output = Tensor(shape: [n, O]) { out in
            guard n > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                let src = UncheckedSendable(xp.baseAddress!), dst = UncheckedSendable(out.baseAddress!)
                _ = ComputePolicy.parallelMap(Array(chunks.indices)) { i in
                    let r = chunks[i], ws = spaces[i]
                    var input = UnsafePointer(src.value + r.lowerBound * K0)
                    for (k, step) in self.steps.enumerated() {
                        let Ok = step.layer.outFeatures
                        let y = k == last ? dst.value + r.lowerBound * O : ws.buffer(8 + k, r.count * Ok)
                        bk_dense_forward(input, r.count, Int32(step.layer.inFeatures), step.layer.inFeatures, packs[k].pointer,
                                         Int32(Ok), step.act, step.slope, y, Ok)
                        input = UnsafePointer(y)
                    }
                }
            }
        }
        let v = cotangent(output)
        precondition(v.shape == output.shape, "Model.vjp: cotangent shape \(v.shape) ≠ output shape \(output.shape)")
        let dx = Tensor(shape: x.shape) { out in
            guard n > 0 else { return }
            output.withUnsafeBufferPointer { op in
                v.withUnsafeBufferPointer { vp in
                    let ys = UncheckedSendable(op.baseAddress!), vs = UncheckedSendable(vp.baseAddress!), dst = UncheckedSendable(out.baseAddress!)
                    _ = ComputePolicy.parallelMap(Array(chunks.indices)) { i in
                        let r = chunks[i], ws = spaces[i], rows = r.count
                        var upstream = UnsafePointer(vs.value + r.lowerBound * O)
                        for k in stride(from: last, through: 0, by: -1) {
                            let step = self.steps[k], Ok = step.layer.outFeatures, K = step.layer.inFeatures
                            var dz = upstream
                            if step.act != 0 {
                                let y = k == last ? UnsafePointer(ys.value + r.lowerBound * O) : UnsafePointer(ws.buffer(8 + k, rows * Ok))
                                let d = ws.buffer(2, rows * Ok)
                                Self.activationBackward(step, upstream, y, into: d, count: rows * Ok)
                                dz = UnsafePointer(d)
                            }
                            let next = k == 0 ? dst.value + r.lowerBound * K0 : ws.buffer(k % 2, rows * K)
                            bk_dense_forward(dz, rows, Int32(Ok), Ok, transposed[k].pointer, Int32(K), 0, 0, next, K)
                            upstream = UnsafePointer(next)
                        }
                    }
                }
            }
        }
        return (output, dx)
    }

    // MARK: Training passes

    /// One forward and one backward pass (``Model/backpropagate(_:context:parameterGradients:inputGradient:outputGradient:)``)
    /// with the layers' own arithmetic — the bias copied into the output and one sgemm with β = 1,
    /// the activation as its layer computes it, the three backward products of ``Dense`` — so the
    /// result is bit for bit the layer-by-layer one. Every activation and gradient lives in the
    /// kept workspace: only the returned output and input gradient are allocated per pass.
    func backpropagate(_ x: Tensor, parameterGradients: Bool, inputGradient: Bool,
                       outputGradient: (Tensor) throws -> Tensor) rethrows -> (output: Tensor, inputGradient: Tensor?) {
        let n = x.batchSize, last = steps.count - 1
        precondition(x.sampleCount == steps[0].layer.inFeatures, "DensePlan: input \(x.shape) does not have \(steps[0].layer.inFeatures) features per row")
        return try withWorkspace { ws in
            // Step k's output (after its activation) in slot 8 + k; the last step's in `output`.
            var output = Tensor(shape: [n, steps[last].layer.outFeatures]) { _ in }
            let outputs: [UnsafeMutablePointer<Float>] = (0..<last).map { ws.buffer(8 + $0, n * steps[$0].layer.outFeatures) }
            x.withUnsafeBufferPointer { xp in
                output.withUnsafeMutableBufferPointer { op in
                    var input = xp.baseAddress!
                    for (k, step) in steps.enumerated() {
                        let y = k == last ? op.baseAddress! : outputs[k]
                        Self.affine(step.layer, input, rows: n, into: y)
                        Self.activate(step, y, count: n * step.layer.outFeatures)
                        input = UnsafePointer(y)
                    }
                }
            }
            let g = try outputGradient(output)
            precondition(g.shape == output.shape, "Model.backpropagate: gradient shape \(g.shape) ≠ output shape \(output.shape)")
            var dx: Tensor? = nil
            output.withUnsafeBufferPointer { op in
                x.withUnsafeBufferPointer { xp in
                    g.withUnsafeBufferPointer { gp in
                        var upstream = gp.baseAddress!                 // ∂L/∂(step k's output)
                        for k in stride(from: last, through: 0, by: -1) {
                            let step = steps[k], layer = step.layer, O = layer.outFeatures, K = layer.inFeatures
                            let y = k == last ? op.baseAddress! : UnsafePointer(outputs[k])
                            let input = k == 0 ? xp.baseAddress! : UnsafePointer(outputs[k - 1])
                            // ∂L/∂z: the upstream gradient through the activation (in slot 2).
                            var dz = upstream
                            if step.act != 0 {
                                let d = ws.buffer(2, n * O)
                                Self.activationBackward(step, upstream, y, into: d, count: n * O)
                                dz = UnsafePointer(d)
                            }
                            if parameterGradients, layer.parameters.contains(where: \.isTrainable) {
                                Self.parameterGradients(layer, dz, input, rows: n)
                            }
                            guard k > 0 || inputGradient else { break }
                            if k == 0 {
                                dx = Tensor(shape: x.shape) { out in Self.inputGradient(layer, dz, rows: n, into: out.baseAddress!) }
                            } else {
                                let next = ws.buffer(k % 2, n * K)            // ping-pong: slots 0 and 1
                                Self.inputGradient(layer, dz, rows: n, into: next)
                                upstream = UnsafePointer(next)
                            }
                        }
                    }
                }
            }
            return (output, dx)
        }
    }

    /// `y = x Wᵀ + b` exactly as ``Dense/output(rows:count:)``: the bias rows, then sgemm with β = 1.
    private static func affine(_ layer: Dense, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        let O = layer.outFeatures, K = layer.inFeatures
        if let bias = layer.bias {
            bias.value.withUnsafeBufferPointer { b in
                for r in 0..<n { (y + r * O).update(from: b.baseAddress!, count: O) }
            }
        }
        layer.weight.value.withUnsafeBufferPointer { w in
            BLAS.gemm(transB: true, m: n, n: O, k: K, a: x, lda: K, b: w.baseAddress!, ldb: K,
                      beta: layer.bias == nil ? 0 : 1, c: y, ldc: O)
        }
    }

    /// The activation in place, as its layer computes it (``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``).
    private static func activate(_ step: Step, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch step.act {
        case 1: for i in 0..<count where y[i] < 0 { y[i] = 0 }
        case 2: let s = step.slope; for i in 0..<count where !(y[i] > 0) { y[i] = y[i] * s }
        case 3: LaneKernels.applySigmoid(y, count: count)
        case 4: for i in 0..<count { y[i] = Foundation.tanh(y[i]) }
        default: break
        }
    }

    /// `∂L/∂z` from `∂L/∂y` and the activation's output, as the layers' backward passes compute it
    /// (they test the input `z`; for these activations `y > 0` exactly when `z > 0`).
    private static func activationBackward(_ step: Step, _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                           into d: UnsafeMutablePointer<Float>, count: Int) {
        switch step.act {
        case 1: for i in 0..<count { d[i] = y[i] > 0 ? g[i] : 0 }
        case 2: let s = step.slope; for i in 0..<count { d[i] = y[i] > 0 ? g[i] : g[i] * s }
        case 3: for i in 0..<count { d[i] = g[i] * y[i] * (1 - y[i]) }
        case 4: for i in 0..<count { d[i] = g[i] * (1 - y[i] * y[i]) }
        default: d.update(from: g, count: count)
        }
    }

    /// `∂L/∂W += dzᵀ x`, `∂L/∂b += Σ_rows dz`, as ``Dense/backward(_:record:inputGradients:parameterGradients:)``.
    private static func parameterGradients(_ layer: Dense, _ dz: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows n: Int) {
        let O = layer.outFeatures, K = layer.inFeatures
        layer.weight.gradient.withUnsafeMutableBufferPointer { gw in
            BLAS.gemm(transA: true, m: O, n: K, k: n, a: dz, lda: O, b: x, ldb: K, beta: 1, c: gw.baseAddress!, ldc: K)
        }
        layer.bias?.gradient.withUnsafeMutableBufferPointer { gb in
            for r in 0..<n {
                let row = dz + r * O
                for j in 0..<O { gb[j] += row[j] }
            }
        }
    }

    /// `∂L/∂x = dz W`.
    private static func inputGradient(_ layer: Dense, _ dz: UnsafePointer<Float>, rows n: Int, into dx: UnsafeMutablePointer<Float>) {
        let O = layer.outFeatures, K = layer.inFeatures
        layer.weight.value.withUnsafeBufferPointer { w in
            BLAS.gemm(m: n, n: K, k: O, a: dz, lda: O, b: w.baseAddress!, ldb: K, c: dx, ldc: K)
        }
    }
}
