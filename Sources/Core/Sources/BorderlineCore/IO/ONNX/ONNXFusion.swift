import Foundation

/// A pattern of ONNX nodes that is one Borderline layer: exporters spell some activations out.
///
/// - GELU (exact) as torch.onnx writes it before opset 20:
///   `Div(x, √2) → Erf → Add(·, 1) → Mul(x, ·) → Mul(·, 0.5)`; the dynamo exporter multiplies
///   in the other order, `Mul(0.5, ·) → Mul(x, ·)`, and `Mul(x, 1/√2)` may replace the Div.
///   All give `y = x · ½ · (1 + erf(x/√2))`.
/// - SiLU: `Mul(x, Sigmoid(x))`.
///
/// Every intermediate tensor of a pattern must be read only inside it.
struct ONNXFusion {
    enum Kind: String {
        case gelu = "GELU"
        case silu = "SiLU"
    }

    var kind: Kind
    /// The pattern's input `x`.
    var input: String
    /// The tensor the pattern computes (the last node's output).
    var output: String
    /// Every node of the pattern, including the last (`anchor`).
    var covered: Set<Int>
    var anchor: Int

    /// Every GELU and SiLU pattern in `nodes`, keyed by the index of the pattern's last node.
    static func find(in nodes: [Onnx_NodeProto], readers: [String: Int], constants: (String) -> ONNXConstant?) -> [Int: ONNXFusion] {
        var producer: [String: Int] = [:]
        var consumers: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.output where !o.isEmpty { producer[o] = i }
            for name in n.input where !name.isEmpty { consumers[name, default: []].append(i) }
        }
        func scalar(_ name: String) -> Float? {
            guard let c = constants(name), c.count == 1, let f = try? c.floats() else { return nil }
            return f[0]
        }
        func near(_ name: String, _ target: Float) -> Bool {
            guard let v = scalar(name) else { return false }
            return abs(v - target) <= 1e-6 * max(1, abs(target))
        }
        /// The only node reading `name`, if exactly one does and nothing else (the graph output) reads it.
        func soleReader(_ name: String) -> Int? {
            guard readers[name] == 1, let c = consumers[name], c.count == 1 else { return nil }
            return c[0]
        }
        /// The other input of a two-input node.
        func other(_ n: Onnx_NodeProto, than name: String) -> String? {
            guard n.input.count == 2 else { return nil }
            if n.input[0] == name { return n.input[1] }
            if n.input[1] == name { return n.input[0] }
            return nil
        }
        func binary(_ i: Int, _ op: String) -> Onnx_NodeProto? {
            let n = nodes[i]
            return n.opType == op && n.input.count == 2 && n.output.count == 1 ? n : nil
        }

        var result: [Int: ONNXFusion] = [:]
        for (e, erf) in nodes.enumerated() where erf.opType == "Erf" && erf.input.count == 1 {
            // x / √2 (or x · 1/√2) feeding the Erf.
            guard let d = producer[erf.input[0]], soleReader(erf.input[0]) == e else { continue }
            let scaled = nodes[d]
            var x: String?
            if let div = binary(d, "Div"), near(div.input[1], Float(2).squareRoot()) {
                x = div.input[0]
            } else if let mul = binary(d, "Mul") {
                if near(mul.input[1], 1 / Float(2).squareRoot()) { x = mul.input[0] }
                else if near(mul.input[0], 1 / Float(2).squareRoot()) { x = mul.input[1] }
            }
            guard let x, scalar(x) == nil, scaled.output.count == 1 else { continue }
            // 1 + erf(…)
            guard let a = soleReader(erf.output[0]), let add = binary(a, "Add"),
                  let one = other(add, than: erf.output[0]), near(one, 1) else { continue }
            guard let m1 = soleReader(add.output[0]), let mul1 = binary(m1, "Mul"),
                  let factor = other(mul1, than: add.output[0]) else { continue }
            var covered: Set<Int> = [d, e, a, m1]
            var last = m1
            if factor == x {
                // (x · (1 + erf)) · 0.5
                guard let m2 = soleReader(mul1.output[0]), let mul2 = binary(m2, "Mul"),
                      let half = other(mul2, than: mul1.output[0]), near(half, 0.5) else { continue }
                covered.insert(m2)
                last = m2
            } else if near(factor, 0.5) {
                // x · (0.5 · (1 + erf))
                guard let m2 = soleReader(mul1.output[0]), let mul2 = binary(m2, "Mul"),
                      other(mul2, than: mul1.output[0]) == x else { continue }
                covered.insert(m2)
                last = m2
            } else if let h = producer[factor], soleReader(factor) == m1, let halfX = binary(h, "Mul"),
                      other(halfX, than: x).map({ near($0, 0.5) }) == true {
                // (x · 0.5) · (1 + erf)
                covered.insert(h)
            } else {
                continue
            }
            result[last] = ONNXFusion(kind: .gelu, input: x, output: nodes[last].output[0], covered: covered, anchor: last)
        }
        for (m, mul) in nodes.enumerated() where mul.opType == "Mul" && mul.input.count == 2 && result[m] == nil {
            for (k, name) in mul.input.enumerated() {
                guard let s = producer[name], nodes[s].opType == "Sigmoid", nodes[s].input.count == 1,
                      nodes[s].input[0] == mul.input[1 - k], soleReader(name) == m else { continue }
                result[m] = ONNXFusion(kind: .silu, input: mul.input[1 - k], output: mul.output[0], covered: [s, m], anchor: m)
                break
            }
        }
        return result
    }
}
