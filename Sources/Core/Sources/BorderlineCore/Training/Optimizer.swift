import CKernels
import Foundation

/// Updates parameters in place from their accumulated gradients.
///
/// Optimisers skip parameters whose `isTrainable` is false (batch-norm running statistics,
/// frozen models) and keep their per-parameter state (momentum, moment estimates) keyed by the
/// parameter's identity, so the same optimiser can be stepped with any subset of parameters.
public protocol Optimizer: AnyObject {
    /// The current learning rate (schedules change it between steps).
    var learningRate: Float { get set }
    /// Applies one update to every trainable parameter in `params` from its `gradient`.
    func step(_ params: [Parameter])
}

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay, with PyTorch's `torch.optim.SGD` semantics:
///
///     d = g + λ·θ
///     b ← d                          (first step)
///     b ← μ·b + (1 − dampening)·d    (later steps)
///     d ← d + μ·b  (Nesterov)   or   d ← b
///     θ ← θ − lr·d
///
/// Without momentum (`μ = 0`) the update is plain `θ ← θ − lr·d`.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let dampening: Float
    public let weightDecay: Float
    public let nesterov: Bool
    /// Momentum buffers. Each entry also holds its parameter, which pins the identity: an
    /// `ObjectIdentifier` could otherwise be reused by a new object once the old one is freed.
    private var buffers: [ObjectIdentifier: (parameter: Parameter, buffer: [Float])] = [:]

    public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        precondition(learningRate >= 0 && momentum >= 0 && weightDecay >= 0, "SGD: negative hyper-parameter")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires momentum > 0 and zero dampening")
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func step(_ params: [Parameter]) {
        for p in params where p.isTrainable {
            let id = ObjectIdentifier(p)
            let isFirst = buffers[id] == nil
            var buffer = momentum != 0 ? (buffers.removeValue(forKey: id)?.buffer ?? [Float](repeating: 0, count: p.value.count)) : []
            let lr = learningRate, mu = momentum, damp = Float(1 - Double(dampening)), wd = weightDecay, nesterov = nesterov
            p.gradient.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { theta in
                    buffer.withUnsafeMutableBufferPointer { b in
                        for i in 0..<theta.count {
                            var d = g[i] + wd * theta[i]
                            if mu != 0 {
                                b[i] = isFirst ? d : mu * b[i] + damp * d
                                d = nesterov ? d + mu * b[i] : b[i]
                            }
                            theta[i] -= lr * d
                        }
                    }
                }
            }
            if momentum != 0 { buffers[id] = (p, buffer) }
        }
    }
}

/// Adam with PyTorch's `torch.optim.Adam` semantics (`amsgrad=False`, L2 `weight_decay` added
/// to the gradient):
///
///     g ← g + λ·θ
///     m ← β₁·m + (1 − β₁)·g
///     v ← β₂·v + (1 − β₂)·g²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// where `t` counts this parameter's steps, starting at 1. The betas are kept in Double and the
/// scalar factors (`1 − β`, the bias corrections) computed in Double before rounding to Float,
/// as PyTorch does with its Python-float hyper-parameters: with `β₂ = 0.999`, rounding `β₂` to
/// Float first would change `1 − β₂` by 1e-5 relative.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Double
    public let beta2: Double
    public let eps: Float
    public let weightDecay: Float

    /// Moment estimates of one parameter: its `count` floats from `offset` of `arena`'s m and v.
    /// `parameter` pins the identity the entry is keyed by (see ``SGD``).
    private final class Moments {
        let parameter: Parameter
        var arena: Arena
        var offset: Int
        var step = 0
        init(_ p: Parameter, arena: Arena, offset: Int) {
            parameter = p
            self.arena = arena
            self.offset = offset
        }
    }
    /// The first and second moments of a parameter list, flat and in the list's order, so one
    /// kernel call steps them all (`bk_adam_many`).
    private final class Arena {
        var m: [Float]
        var v: [Float]
        init(count: Int) {
            m = [Float](repeating: 0, count: count)
            v = [Float](repeating: 0, count: count)
        }
    }
    private var moments: [ObjectIdentifier: Moments] = [:]
    /// The moments of the last `params` list (trainable entries, first occurrences), in its order,
    /// sharing one arena: a training loop steps the same list every time, so while it stays the
    /// same there are no lookups and no allocation.
    private var lastList: [(id: ObjectIdentifier, trainable: Bool)] = []
    private var lastMoments: [Moments] = []
    private var lastArena = Arena(count: 0)
    /// Per-step scratch for the fused call: parameter and gradient pointers and sizes of `lastMoments`.
    private var thetaPointers: [UnsafeMutablePointer<Float>?] = []
    private var gradientPointers: [UnsafePointer<Float>?] = []
    private var sizes: [Int] = []

    public init(learningRate: Float = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, eps: Float = 1e-8, weightDecay: Float = 0) {
        precondition(learningRate >= 0 && (0..<1).contains(beta1) && (0..<1).contains(beta2) && eps >= 0 && weightDecay >= 0,
                     "Adam: hyper-parameter out of range")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    /// How many steps `p` has taken under this optimiser.
    public func stepCount(of p: Parameter) -> Int { moments[ObjectIdentifier(p)]?.step ?? 0 }

    /// Gathers the moments of a new list into one arena (copying those already kept).
    private func adopt(_ params: [Parameter]) {
        var seen = Set<ObjectIdentifier>()
        let list = params.filter { $0.isTrainable && seen.insert(ObjectIdentifier($0)).inserted }
        let arena = Arena(count: list.reduce(0) { $0 + $1.value.count })
        var offset = 0
        lastMoments = list.map { p in
            let id = ObjectIdentifier(p), n = p.value.count
            let s: Moments
            if let old = moments[id] {
                s = old
                arena.m.withUnsafeMutableBufferPointer { m in
                    arena.v.withUnsafeMutableBufferPointer { v in
                        old.arena.m.withUnsafeBufferPointer { (m.baseAddress! + offset).update(from: $0.baseAddress! + old.offset, count: n) }
                        old.arena.v.withUnsafeBufferPointer { (v.baseAddress! + offset).update(from: $0.baseAddress! + old.offset, count: n) }
                    }
                }
                s.arena = arena
                s.offset = offset
            } else {
                s = Moments(p, arena: arena, offset: offset)
                moments[id] = s
            }
            offset += n
            return s
        }
        lastArena = arena
        lastList = params.map { (ObjectIdentifier($0), $0.isTrainable) }
        thetaPointers = Array(repeating: nil, count: list.count)
        gradientPointers = Array(repeating: nil, count: list.count)
        sizes = list.map(\.value.count)
    }

    /// One update of every trainable parameter. When they are all at the same step (a training
    /// loop's list always is) it is one call of the fused kernel (`bk_adam_many`, the lane
    /// kernels' instruction set) over the list's flat moments; otherwise one call per step count.
    public func step(_ params: [Parameter]) {
        if !Adam.same(params, lastList) { adopt(params) }
        guard !lastMoments.isEmpty else { return }
        for (s, n) in zip(lastMoments, sizes) {
            precondition(s.parameter.value.count == n && s.parameter.gradient.count == n,
                         "Adam: parameter '\(s.parameter.name)' changed size between steps")
        }
        let w1 = Float(1 - beta1), b2 = Float(beta2), w2 = Float(1 - beta2)
        func factors(_ step: Int) -> (stepSize: Float, bc2Sqrt: Float) {
            let t = Double(step)
            let bc1 = 1 - Foundation.pow(beta1, t), bc2 = 1 - Foundation.pow(beta2, t)
            return (Float(Double(learningRate) / bc1), Float(bc2.squareRoot()))
        }
        for s in lastMoments { s.step += 1 }
        let first = lastMoments[0].step
        if lastMoments.allSatisfy({ $0.step == first }) {
            // PyTorch: exp_avg.lerp_(grad, 1 − β₁); exp_avg_sq.mul_(β₂).addcmul_(g, g, 1 − β₂).
            let f = factors(first)
            withParameterPointers(0) {
                lastArena.m.withUnsafeMutableBufferPointer { m in
                    lastArena.v.withUnsafeMutableBufferPointer { v in
                        bk_adam_many(lastMoments.count, thetaPointers, gradientPointers, sizes, m.baseAddress, v.baseAddress,
                                     w1, b2, w2, f.stepSize, f.bc2Sqrt, eps, weightDecay)
                    }
                }
            }
            return
        }
        for s in lastMoments {
            let p = s.parameter, f = factors(s.step)
            p.gradient.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { theta in
                    s.arena.m.withUnsafeMutableBufferPointer { m in
                        s.arena.v.withUnsafeMutableBufferPointer { v in
                            guard let th = theta.baseAddress else { return }
                            LaneKernels.adam(theta: th, gradient: g.baseAddress!, m: m.baseAddress! + s.offset, v: v.baseAddress! + s.offset,
                                             count: theta.count, w1: w1, b2: b2, w2: w2, stepSize: f.stepSize, bc2Sqrt: f.bc2Sqrt,
                                             eps: eps, weightDecay: weightDecay)
                        }
                    }
                }
            }
        }
    }

    /// `body` with `thetaPointers` / `gradientPointers` holding parameters `i…` of `lastMoments`
    /// (each parameter's buffers are open for the whole call).
    private func withParameterPointers(_ i: Int, _ body: () -> Void) {
        guard i < lastMoments.count else { return body() }
        let p = lastMoments[i].parameter
        p.gradient.withUnsafeBufferPointer { g in
            p.value.withUnsafeMutableBufferPointer { theta in
                thetaPointers[i] = theta.baseAddress
                gradientPointers[i] = g.baseAddress
                withParameterPointers(i + 1, body)
            }
        }
    }

    /// Whether `params` are the last list: the same objects in order, each as trainable as then.
    private static func same(_ params: [Parameter], _ last: [(id: ObjectIdentifier, trainable: Bool)]) -> Bool {
        guard params.count == last.count else { return false }
        for (p, l) in zip(params, last) where ObjectIdentifier(p) != l.id || p.isTrainable != l.trainable { return false }
        return true
    }
}

/// Step decay of the learning rate (PyTorch's `StepLR`): after `k` calls to ``step()``,
/// `lr = base · γ^⌊k / stepSize⌋`. Call ``step()`` once per epoch (or per whatever unit
/// `stepSize` counts).
public final class StepLR {
    public let optimizer: any Optimizer
    public let baseLearningRate: Float
    public let stepSize: Int
    public let gamma: Float
    /// Number of ``step()`` calls so far (PyTorch's `last_epoch`).
    public private(set) var stepCount = 0

    public init(optimizer: any Optimizer, stepSize: Int, gamma: Float = 0.1) {
        precondition(stepSize > 0, "StepLR: stepSize must be positive")
        self.optimizer = optimizer
        self.baseLearningRate = optimizer.learningRate
        self.stepSize = stepSize
        self.gamma = gamma
    }

    /// The learning rate after `count` steps (closed form, so no rounding drift accumulates).
    public func learningRate(after count: Int) -> Float {
        Float(Double(baseLearningRate) * Foundation.pow(Double(gamma), Double(count / stepSize)))
    }

    /// Advances the schedule by one step and sets the optimiser's learning rate.
    public func step() {
        stepCount += 1
        optimizer.learningRate = learningRate(after: stepCount)
    }
}
