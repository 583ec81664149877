import CKernels

/// The instruction set of the lane kernels (``LanePlan``'s direct convolutions, the fused Adam
/// step): AVX-512 (16 lanes), AVX2 + FMA (8 lanes) or portable code (4 lanes), chosen from the
/// CPU at first use. `BORDERLINE_SIMD=avx512|avx2|portable` caps it (tests run every one), and
/// `BORDERLINE_SIMD=avx512-emulated` runs AVX-512's blocking on AVX2 (see ``InstructionSet/avx512Emulated``).
public enum LaneKernels {
    public enum InstructionSet: Int32, CaseIterable, Sendable {
        case portable = 1, avx2 = 2, avx512 = 3
        /// The AVX-512 configuration (16 lanes, five output channels per register block, the same
        /// kernel source) compiled for AVX2, where each 16-lane vector becomes two 8-lane halves.
        /// Never chosen automatically: it lets a machine without AVX-512 test the block shapes,
        /// remainders and lane layout that AVX-512 machines run; only the encoding differs.
        case avx512Emulated = 4
        public var name: String { ["", "portable", "AVX2", "AVX-512", "AVX-512 blocking on AVX2"][Int(rawValue)] }
    }

    /// The instruction set in force.
    public static var instructionSet: InstructionSet { InstructionSet(rawValue: bk_isa()) ?? .portable }

    /// Images per lane block.
    public static var lanes: Int { Int(bk_lanes()) }

    /// Forces `set` (capped at what the CPU has; nil: automatic) and returns the one in force.
    /// Call it while no model runs; models recompile their plans for the new lane width.
    @discardableResult
    public static func select(_ set: InstructionSet?) -> InstructionSet {
        InstructionSet(rawValue: bk_select_isa(set?.rawValue ?? 0)) ?? .portable
    }

    /// Whether models run through their lane plans (``LanePlan``) and dense plans (``DensePlan``)
    /// where they have one (default true; `BORDERLINE_LANES=0` turns them off). Tests compare both paths.
    public static var plansEnabled: Bool {
        get { LanePlan.isEnabled }
        set { LanePlan.isEnabled = newValue; DensePlan.isEnabled = newValue }
    }

    /// One Adam update over `count` floats (see ``Adam``), vectorised:
    /// `g' = g + λθ; m += w1·(g' − m); v = b2·v + w2·g'²; θ −= stepSize · m / (√v / bc2Sqrt + eps)`.
    @inline(__always)
    public static func adam(theta: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                            v: UnsafeMutablePointer<Float>, count: Int, w1: Float, b2: Float, w2: Float, stepSize: Float,
                            bc2Sqrt: Float, eps: Float, weightDecay: Float) {
        bk_adam(theta, gradient, m, v, count, w1, b2, w2, stepSize, bc2Sqrt, eps, weightDecay)
    }

    /// `y ← σ(y)` in place over `count` floats: `1 / (1 + e^−y)` for `y ≥ 0`, `e^y / (1 + e^y)` below.
    @inline(__always)
    static func applySigmoid(_ y: UnsafeMutablePointer<Float>, count: Int) {
        bk_act_apply(y, count, 3)
    }
}
