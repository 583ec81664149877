import Foundation

/// A seeded, portable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
/// Every random choice in Borderline goes through one of these so that a seed reproduces a
/// run on any machine.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Float?

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    @inlinable static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = RandomGenerator.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = RandomGenerator.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [low, high).
    public mutating func nextUniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * nextUniform() }

    /// Standard normal (Box–Muller; the second value of each pair is kept for the next call).
    public mutating func nextNormal() -> Float {
        if let v = spareNormal { spareNormal = nil; return v }
        var u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2 * Foundation.log(u1)).squareRoot()
        spareNormal = Float(r * Foundation.sin(2 * .pi * u2))
        return Float(r * Foundation.cos(2 * .pi * u2))
    }

    /// A generator for an independent stream derived from this one's seed material and `stream`.
    public func derived(_ stream: UInt64) -> RandomGenerator {
        RandomGenerator(seed: s.0 ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ s.3)
    }

    /// A tensor of uniform samples in [low, high).
    public mutating func uniform(shape: [Int], low: Float, high: Float) -> Tensor {
        var g = self
        let t = Tensor(shape: shape) { p in for i in 0..<p.count { p[i] = g.nextUniform(low, high) } }
        self = g
        return t
    }

    /// A tensor of normal samples.
    public mutating func normal(shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        var g = self
        let t = Tensor(shape: shape) { p in for i in 0..<p.count { p[i] = mean + std * g.nextNormal() } }
        self = g
        return t
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(next() % UInt64(i + 1))
                a.swapAt(i, j)
            }
        }
        return a
    }
}
