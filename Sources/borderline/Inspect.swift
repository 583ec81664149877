import ArgumentParser
import BorderlineCore
import BorderlineHost

struct Inspect: ParsableCommand, ModelArgumentHelp {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's layers, shapes, parameter count, input shape and class names.")

    static var modelHelp: String {
        "Model file (native, Keras .h5/.keras, ONNX, or PyTorch state_dict with --architecture), or a shipped model name (default: fashion-cnn)."
    }

    @OptionGroup var modelOptions: ModelOptions<Inspect>

    @Option(help: "Also report accuracy on this data set (a name such as fashion-mnist, or a file).")
    var data: String?

    @Option(help: "Data split for named data sets: train or test.")
    var split: DataSplit = .test

    func run() throws {
        let (path, loaded) = try modelOptions.load()
        print(ModelCard(model: loaded, source: path).render(), terminator: "")
        if let data {
            let dataset = try DataSources.load(data, split: split)
            try dataset.validate(for: loaded)
            try FiniteOutputs.check(loaded, on: dataset.images, name: path, data: dataset.name)
            let accuracy = Evaluation.accuracy(loaded, on: dataset)
            print("\naccuracy    \(String(format: "%.2f", 100 * accuracy)) % on \(dataset.count) images of \(dataset.name)")
        }
    }
}
