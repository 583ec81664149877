import ArgumentParser
import BorderlineCore
import BorderlineHost

struct Evaluate: ParsableCommand, ModelArgumentHelp {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, per-class accuracy and confusion matrix of a model on a data set.")

    static var modelHelp: String { "Model file or shipped model name (default: fashion-cnn)." }

    @OptionGroup var modelOptions: ModelOptions<Evaluate>

    @Option(help: "Data set: fashion-mnist, an IDX images file, or an HDF5 file with x and y.")
    var data: String = "fashion-mnist"

    @Option(help: "Data split for named data sets: train or test.")
    var split: DataSplit = .test

    func run() throws {
        let (path, loaded) = try modelOptions.load()
        let dataset = try DataSources.load(data, split: split)
        try dataset.validate(for: loaded)
        try FiniteOutputs.check(loaded, on: dataset.images, name: path, data: dataset.name)
        print(EvaluationReport(model: loaded, dataset: dataset).render(), terminator: "")
    }
}
