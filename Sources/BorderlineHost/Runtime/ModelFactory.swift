import BorderlineCore
import Foundation

/// Builds untrained models for `borderline train`: the DeepDIG paper's Fashion-MNIST CNN and FCN,
/// or any architecture JSON file (docs/model-format.md) with PyTorch's default initialisation.
public enum ModelFactory {
    /// `spec` is `cnn`, `fcn` or the path of an architecture JSON file. A file's model gets
    /// ``Model/initializeParameters(seed:)`` and, when it names no classes, `classNames`.
    public static func make(_ spec: String, seed: UInt64, classNames: [String]) throws -> Model {
        switch spec {
        case "cnn": return try Model.fashionCNN(seed: seed, classNames: classNames)
        case "fcn": return try Model.fashionFCN(seed: seed, classNames: classNames)
        default:
            guard FileManager.default.fileExists(atPath: spec) else {
                throw BorderlineError(.invalidArgument,
                    "architecture '\(spec)' is not one of: cnn, fcn, or an architecture JSON file (no file at that path)")
            }
            let model = try Model.fromArchitectureFile(spec)
            model.initializeParameters(seed: seed)
            if model.classNames.isEmpty, classNames.count == model.classCount { model.classNames = classNames }
            return model
        }
    }
}

/// Accuracy, per-class accuracy and the confusion matrix, as `borderline evaluate` prints them.
public struct EvaluationReport {
    public let model: Model
    public let dataset: Dataset
    public init(model: Model, dataset: Dataset) {
        self.model = model
        self.dataset = dataset
    }

    public func render() -> String {
        let m = Evaluation.confusionMatrix(model, on: dataset)
        let total = m.joined().reduce(0, +)
        let correct = m.indices.reduce(0) { $0 + m[$1][$1] }
        let names = model.classNames.isEmpty ? m.indices.map(String.init) : model.classNames
        var out = String(format: "accuracy %.2f %% (%d/%d) on %@\n\n", 100 * Double(correct) / Double(max(total, 1)), correct, total, dataset.name)
        let w = max(12, names.map(\.count).max() ?? 0)
        out += "class".padding(toLength: w, withPad: " ", startingAt: 0) + "  accuracy   count\n"
        for (i, name) in names.enumerated() where i < m.count {
            let n = m[i].reduce(0, +)
            out += name.padding(toLength: w, withPad: " ", startingAt: 0)
                + String(format: "  %7.2f %%  %6d\n", n == 0 ? 0 : 100 * Double(m[i][i]) / Double(n), n)
        }
        out += "\nconfusion (rows: true class, columns: predicted)\n"
        for row in m { out += row.map { String(format: "%5d", $0) }.joined() + "\n" }
        return out
    }
}
