import Foundation

/// A data set as a run sees it: the images and labels, the run classifier's predicted class for
/// every image, and where it came from.
public struct RunData: Sendable {
    /// A name unique within the run (`run`, `train:auto`, …), the key of cached work on the data.
    public let id: String
    public let dataset: Dataset
    /// `argmax P` of the run's classifier for every image.
    public let predictions: [Int]
    /// Where the images came from, in words (for notes and captions).
    public let origin: String

    public init(id: String, dataset: Dataset, predictions: [Int], origin: String) {
        self.id = id
        self.dataset = dataset
        self.predictions = predictions
        self.origin = origin
    }

    public var images: Tensor { dataset.images }
    public var labels: [Int] { dataset.labels }
    public var count: Int { dataset.count }

    /// Rows labelled `c` (and, by default, that the classifier also assigns to `c`).
    public func indices(ofClass c: Int, correctlyClassified: Bool = true) -> [Int] {
        let labels = dataset.labels
        return labels.indices.filter { labels[$0] == c && (!correctlyClassified || predictions[$0] == c) }
    }
}

/// Which images a component learns or draws from, as an option value: `auto` (the training split
/// of the run's named data set, else the run's data), `run` (the run's data) or a data-set
/// argument (`fashion-mnist`, an IDX or HDF5 file), whose training split is used.
public struct DataChoice: Hashable, Sendable, CustomStringConvertible {
    public var spec: String
    public init(_ spec: String) { self.spec = spec }
    public static let auto = DataChoice("auto")
    public static let run = DataChoice("run")
    public var description: String { spec }
}

/// Predictions of a classifier on a whole data set, in batches of 512.
func batchedPredictions(_ classifier: any Classifier, _ images: Tensor) throws -> [Int] {
    var predictions: [Int] = []
    predictions.reserveCapacity(images.batchSize)
    var start = 0
    while start < images.batchSize {
        let end = Swift.min(images.batchSize, start + 512)
        predictions += try classifier.predictions(images.slice(batch: start..<end))
        start = end
    }
    return predictions
}
