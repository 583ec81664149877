import BorderlineCore
import Foundation

/// A person-readable description of a model: its layers, shapes and parameter counts.
public struct ModelCard {
    public let model: Model
    public let source: String
    public init(model: Model, source: String) {
        self.model = model
        self.source = source
    }

    /// The layer table and headline facts, as printed by `borderline inspect`.
    public func render() -> String {
        var rows: [[String]] = [["#", "layer", "type", "details", "inputs", "output shape", "parameters"]]
        for (i, node) in model.nodes.enumerated() {
            let inputs = node.inputs.map { $0 == -1 ? "input" : model.nodes[$0].name }.joined(separator: ", ")
            let params = node.layer.parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count }
            var name = node.name
            if i == model.embeddingNode { name += " (embedding)" }
            if i == model.outputNode { name += " (output)" }
            rows.append(["\(i)", name, node.layer.typeName, ModelCard.details(of: node.layer), inputs, "\(model.nodeShapes[i])",
                         params == 0 ? "–" : "\(params)"])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = "model       \(source)\n"
        out += "input       \(model.inputShape) (per sample, channels first)\n"
        out += "input box   \(model.inputBox)\(model.inputBox == .unit ? " (default)" : "")\n"
        out += "outputs     \(model.classCount)\n"
        out += "parameters  \(model.parameterCount) trainable\n"
        if !model.classNames.isEmpty {
            out += "classes     " + model.classNames.enumerated().map { "\($0) \($1)" }.joined(separator: ", ") + "\n"
        }
        if let e = model.embeddingNode { out += "embedding   \(model.nodes[e].name) \(model.nodeShapes[e])\n" }
        for (k, v) in model.metadata.sorted(by: { $0.key < $1.key }) {
            out += "\(k.padding(toLength: max(12, k.count + 1), withPad: " ", startingAt: 0))\(v.stringValue ?? v.serialized())\n"
        }
        out += "\n"
        for (r, row) in rows.enumerated() {
            out += row.enumerated().map { c, s in
                c == row.count - 1 ? String(repeating: " ", count: widths[c] - s.count) + s : s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
            if r == 0 { out += widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ") + "\n" }
        }
        return out
    }

    /// The hyper-parameters that tell layers of one type apart, briefly (`3×3 s2 p1 depthwise`,
    /// `tanh`, `[−0.5, 0.7]`); empty for layers without any.
    public static func details(of layer: any Layer) -> String {
        func pair(_ p: (h: Int, w: Int)) -> String { p.h == p.w ? "\(p.h)" : "\(p.h)×\(p.w)" }
        func number(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e6 ? String(Int(x)) : String(format: "%.4g", x) }
        func numbers(_ xs: [Double]) -> String { xs.count == 1 ? number(xs[0]) : "[" + xs.map(number).joined(separator: ", ") + "]" }
        func padding(_ p: Padding2D) -> String {
            if p == .zero { return "" }
            return p.isSymmetric ? " p\(p.top == p.left ? "\(p.top)" : "\(p.top)×\(p.left)")" : " p[\(p.top),\(p.bottom),\(p.left),\(p.right)]"
        }
        switch layer {
        case let c as Conv2D:
            var s = "\(c.kernelSize.h)×\(c.kernelSize.w)"
            if c.stride != (1, 1) { s += " s\(pair(c.stride))" }
            s += padding(c.padding)
            if c.dilation != (1, 1) { s += " d\(pair(c.dilation))" }
            if c.groups > 1 { s += c.groups == c.inChannels ? " depthwise" : " groups \(c.groups)" }
            return s
        case let p as MaxPool2D:
            return "\(p.kernelSize.h)×\(p.kernelSize.w)" + (p.stride != p.kernelSize ? " s\(pair(p.stride))" : "") + padding(p.padding)
        case let p as AvgPool2D:
            return "\(p.kernelSize.h)×\(p.kernelSize.w)" + (p.stride != p.kernelSize ? " s\(pair(p.stride))" : "") + padding(p.padding)
                + (p.padding != .zero && !p.countIncludePad ? " (padding excluded)" : "")
        case let p as AdaptiveAvgPool2D: return "→ \(p.outputSize.h)×\(p.outputSize.w)"
        case let u as UpSampling2D: return "×\(pair(u.scale)) nearest"
        case let g as GELU: return g.approximate == .tanh ? "tanh approximation" : "erf"
        case let e as ELU: return "α \(number(e.alpha))"
        case let l as LeakyReLU: return "slope \(number(l.negativeSlope))"
        case let c as Clip: return "[\(c.minimum.map(number) ?? "−∞"), \(c.maximum.map(number) ?? "∞")]"
        case let p as PReLU: return p.numParameters == 1 ? "one slope" : "\(p.numParameters) slopes"
        case let n as LayerNorm: return "over \(n.normalizedShape)" + (n.weight == nil ? ", no affine" : "")
        case let n as GroupNorm: return "\(n.numGroups) groups" + (n.weight == nil ? ", no affine" : "")
        case let b as BatchNorm: return "eps \(number(b.eps))"
        case let c as Concatenate: return "axis \(c.axis)"
        case let r as Rescaling: return "×\(numbers(r.scaleValues)) + \(numbers(r.offsetValues))"
        case let n as Normalization:
            return "mean \(numbers(n.meanValues)), " + (n.stdValues.map { "std \(numbers($0))" } ?? "variance \(numbers(n.varianceValues ?? []))")
        case let d as Dropout: return "p \(number(d.p))"
        case let f as Flatten: return f.order == .channelsLast ? "channels last" : ""
        default: return ""
        }
    }
}
