/// Padding of a 2-D window operation (convolution or pooling), per side.
///
/// The architecture JSON writes it as `[ph, pw]` (both sides equal) or `[top, bottom, left, right]`
/// (asymmetric, as TensorFlow's `padding="same"` needs when it pads more at the end).
public struct Padding2D: Equatable, Sendable {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
    }

    /// The same padding `h` above and below, `w` left and right.
    public init(_ h: Int, _ w: Int) { self.init(top: h, bottom: h, left: w, right: w) }

    public static let zero = Padding2D(0, 0)

    public var isSymmetric: Bool { top == bottom && left == right }

    /// `[ph, pw]` when symmetric, otherwise `[top, bottom, left, right]`.
    public var json: JSONValue { isSymmetric ? JSONValue([top, left]) : JSONValue([top, bottom, left, right]) }

    /// Reads `key`: one integer, `[ph, pw]` or `[top, bottom, left, right]`, all ≥ 0.
    static func read(_ c: ConfigReader, _ key: String = "padding") throws -> Padding2D {
        let value = c.config[key]
        guard let value, value != .null else { return .zero }
        let p: Padding2D
        if let i = value.intValue {
            p = Padding2D(i, i)
        } else if let a = value.intArray(count: 2), a.count == 2 {
            p = Padding2D(a[0], a[1])
        } else if let a = value.intArray(count: 4), a.count == 4 {
            p = Padding2D(top: a[0], bottom: a[1], left: a[2], right: a[3])
        } else {
            throw BorderlineError(.invalidConfiguration,
                "config key '\(key)' must be [ph, pw] or [top, bottom, left, right], found \(value)")
        }
        guard min(p.top, p.bottom, p.left, p.right) >= 0 else {
            throw BorderlineError(.invalidConfiguration, "config key '\(key)' must not be negative, found \(value)")
        }
        return p
    }
}

extension ConfigReader {
    /// Two positive integers (`[h, w]`, or one integer for both).
    func positivePair(_ key: String, default d: [Int]? = nil) throws -> (Int, Int) {
        let a = try ints(key, count: 2, default: d)
        guard a[0] > 0, a[1] > 0 else {
            throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be positive, found \(a)")
        }
        return (a[0], a[1])
    }

    /// A positive integer.
    func positiveInt(_ key: String, default d: Int? = nil) throws -> Int {
        let v = try int(key, default: d)
        guard v > 0 else { throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be positive, found \(v)") }
        // No layer size anywhere near this is real; a damaged file would make the layer allocate it.
        guard v < 1 << 31 else { throw BorderlineError(.invalidConfiguration, "config key '\(key)' is \(v), beyond any real layer size (at most 2³¹ − 1)") }
        return v
    }
}

/// Shape-check helpers shared by the layer implementations; each throws `.shapeMismatch` with a
/// message that says what was expected and what arrived.
enum ShapeCheck {
    static func describe(_ shapes: [[Int]]) -> String { shapes.map { "\($0)" }.joined(separator: ", ") }

    /// The single input shape, or an error if there is not exactly one input.
    static func single(_ shapes: [[Int]], expecting what: String) throws -> [Int] {
        guard shapes.count == 1 else {
            throw BorderlineError(.shapeMismatch, "expects one input \(what), got \(shapes.count) inputs (\(describe(shapes)))")
        }
        return shapes[0]
    }

    /// The single input shape, which must be `[C, H, W]` with `C == channels` (when given).
    static func image(_ shapes: [[Int]], channels: Int? = nil) throws -> (c: Int, h: Int, w: Int) {
        let what = channels.map { "[\($0), H, W]" } ?? "[C, H, W]"
        let s = try single(shapes, expecting: what)
        guard s.count == 3, s.allSatisfy({ $0 > 0 }), channels == nil || s[0] == channels else {
            throw BorderlineError(.shapeMismatch, "expects input \(what), got \(s)")
        }
        return (s[0], s[1], s[2])
    }

    /// Throws unless the window fits the padded input (at least one output position each way).
    static func window(_ g: ConvGeometry, input: (h: Int, w: Int)) throws {
        guard g.outH > 0, g.outW > 0 else {
            throw BorderlineError(.shapeMismatch,
                "kernel \(g.kernelH)×\(g.kernelW) does not fit input \(input.h)×\(input.w) with padding " +
                "[\(g.padTop), \(g.padBottom), \(g.padLeft), \(g.padRight)]")
        }
    }
}

/// A per-element loop over `count` floats read from `x` and written to `out`; the shared shape of
/// the activation kernels, kept as raw pointers so the loop vectorises and never allocates.
@inline(__always)
func elementwise(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    Tensor(shape: x.shape) { out in
        x.withUnsafeBufferPointer { xp in
            let n = xp.count
            guard n > 0 else { return }
            let src = xp.baseAddress!, dst = out.baseAddress!
            for i in 0..<n { dst[i] = f(src[i]) }
        }
    }
}

/// `out[i] = f(a[i], b[i])` over two same-sized tensors, shaped like `a`.
@inline(__always)
func elementwise(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.count == b.count, "elementwise: sizes \(a.shape) and \(b.shape) differ")
    return Tensor(shape: a.shape) { out in
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                guard ap.count > 0 else { return }
                let pa = ap.baseAddress!, pb = bp.baseAddress!, dst = out.baseAddress!
                for i in 0..<ap.count { dst[i] = f(pa[i], pb[i]) }
            }
        }
    }
}
