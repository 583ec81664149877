import BorderlineCore
import Foundation

/// Which half of a named data set to use.
public enum DataSplit: String, CaseIterable, Sendable {
    case train, test
}

/// Resolves the `--data` argument: a known data-set name (`fashion-mnist`) or a file.
public enum DataSources {
    public static func load(_ spec: String, split: DataSplit) throws -> Dataset {
        try Dataset.load(spec, split: split == .train ? .train : .test)
    }
}
