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
        var rows: [[String]] = [["#", "layer", "type", "inputs", "output shape", "parameters"]]
        for (i, node) in model.nodes.enumerated() {
            let inputs = node.inputs.map { $0 == -1 ? "input" : model.nodes[$0].name }.joined(separator: ", ")
            let params = node.layer.parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count }
            var name = node.name
            if i == model.embeddingNode { name += " (embedding)" }
            if i == model.outputNode { name += " (output)" }
            rows.append(["\(i)", name, node.layer.typeName, inputs, "\(model.nodeShapes[i])", params == 0 ? "–" : "\(params)"])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = "model       \(source)\n"
        out += "input       \(model.inputShape) (per sample, channels first)\n"
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
}
