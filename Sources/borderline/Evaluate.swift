import ArgumentParser
import BorderlineCore
import BorderlineHost

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, per-class accuracy and confusion matrix of a model on a data set.")

    @Argument(help: "Model file or shipped model name.")
    var model: String = ShippedModels.defaultClassifier

    @Option(help: "Architecture JSON for a PyTorch state_dict file.")
    var architecture: String?

    @Option(help: "Data set: fashion-mnist, an IDX images file, or an HDF5 file with x and y.")
    var data: String = "fashion-mnist"

    @Option(help: "Data split for named data sets: train or test.")
    var split: DataSplit = .test

    func run() throws {
        let path = try ShippedModels.resolve(model)
        let loaded = try Model.load(contentsOf: path, architecture: architecture)
        let dataset = try DataSources.load(data, split: split)
        try dataset.validate(for: loaded)
        print(EvaluationReport(model: loaded, dataset: dataset).render(), terminator: "")
    }
}
