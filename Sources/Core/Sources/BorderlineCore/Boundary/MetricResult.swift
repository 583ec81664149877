import Foundation

/// A table a plugin contributes to the report (and, as JSON, to summary.json).
public struct ResultTable: Sendable {
    public var title: String
    public var columns: [String]
    public var rows: [[String]]
    public init(title: String, columns: [String], rows: [[String]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }
}

/// A picture a plugin contributes to the report: written as a PNG into the run folder's
/// `images/` and embedded in report.html.
public struct ResultPicture {
    /// File-name stem (`grid`); the host makes it unique within the run.
    public var name: String
    /// One sentence under the picture saying what it shows.
    public var caption: String
    public var image: PNGImage
    public init(name: String, caption: String, image: PNGImage) {
        self.name = name
        self.caption = caption
        self.image = image
    }
}

/// What a ``Metric`` computes from one boundary set: named numbers (summary.json and the report),
/// arrays (results.h5), tables and pictures (the report).
public struct MetricResult {
    /// Named scalars in the order they should be shown.
    public var numbers: [(name: String, value: Double)]
    /// Named arrays, stored in results.h5.
    public var arrays: [(name: String, value: Tensor)]
    public var tables: [ResultTable]
    public var pictures: [ResultPicture]

    public init(numbers: [(name: String, value: Double)] = [], arrays: [(name: String, value: Tensor)] = [],
                tables: [ResultTable] = [], pictures: [ResultPicture] = []) {
        self.numbers = numbers
        self.arrays = arrays
        self.tables = tables
        self.pictures = pictures
    }

    /// The value of a named number, if present.
    public func number(_ name: String) -> Double? { numbers.first { $0.name == name }?.value }
}
