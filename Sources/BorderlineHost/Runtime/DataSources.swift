import BorderlineCore
import Foundation

/// Which half of a named data set to use.
public enum DataSplit: String, CaseIterable, Sendable {
    case train, test
}

/// Resolves the `--data` argument: a known data-set name (`fashion-mnist`) or a file.
public enum DataSources {
    /// - Parameter labelsRequired: false lets an HDF5 file without `y` in (``Dataset/isLabelled``).
    public static func load(_ spec: String, split: DataSplit, labelsRequired: Bool = true) throws -> Dataset {
        try Dataset.load(spec, split: split == .train ? .train : .test, labelsRequired: labelsRequired)
    }
}
