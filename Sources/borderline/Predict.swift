import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Predict: ParsableCommand, ModelArgumentHelp {
    static let configuration = CommandConfiguration(
        abstract: "Logits, probabilities and predicted classes of a model on a data set.",
        discussion: """
            Up to \(Predictions.tableLimit) images print as a table (predicted class, probability, runners-up, label); more print a \
            summary (accuracy when the data has labels, predictions per class) and go to a file: -o FILE, or predictions.csv in the \
            current folder. -o chooses the format by extension (.csv, .json, .h5); --json prints JSON (or writes it to -o).
            """)

    static var modelHelp: String {
        "Model file (native, Keras .h5/.keras, ONNX, or PyTorch state_dict with --architecture), or a shipped model name (default: fashion-cnn)."
    }

    @OptionGroup var modelOptions: ModelOptions<Predict>

    @Option(help: "Data set: fashion-mnist, an IDX images file, or an HDF5 file with x (and optionally y).")
    var data: String

    @Option(help: "Data split for named data sets: train or test.")
    var split: DataSplit = .test

    @Option(help: "Only the first N images.")
    var limit: Int?

    @Flag(help: "JSON for every image: logits, probabilities, class (to stdout, or to -o).")
    var json = false

    @Option(name: [.customShort("o"), .customLong("out"), .customLong("output")], help: "Write every image's predictions to this file (.csv, .json or .h5).")
    var output: String?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive, found \(limit)") }
    }

    func run() throws {
        let (path, model) = try modelOptions.load()
        var dataset = try DataSources.load(data, split: split, labelsRequired: false)
        if let limit, limit < dataset.count { dataset = dataset.prefix(limit) }
        if dataset.imageShape != model.inputShape, Tensor.count(of: dataset.imageShape) == Tensor.count(of: model.inputShape),
           model.inputShape.count == 1 {
            dataset = try dataset.reshaped(to: model.inputShape)  // flat-vector models take the images flattened
        }
        try dataset.validate(for: model)
        let format = try output.map { json ? .json : try Predictions.FileFormat.of($0) }
        let predictions = Predictions(model: model, dataset: dataset, modelSource: path,
                                      progress: TerminalProgress(quiet: quiet || dataset.count <= 4096))
        try FiniteOutputs.check(predictions.logits, model: path, data: dataset.name)
        if let output, let format {
            try predictions.write(to: output, format: format)
        }
        if json && output == nil {
            print(predictions.json(), terminator: "")
            return
        }
        if predictions.count <= Predictions.tableLimit {
            print(predictions.table(), terminator: "")
        } else {
            print(predictions.summary(), terminator: "")
            if output == nil {
                let fallback = "predictions.csv"
                try predictions.write(to: fallback, format: .csv)
                print("\nper-image predictions (logits, probabilities, classes): \(fallback)")
            }
        }
        if let output { print("\nwrote \(predictions.count) predictions to \(output)") }
    }
}
