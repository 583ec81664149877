import Foundation

/// A table for the report (and, as JSON, for summary.json). Put one in a component's output.
public struct ResultTable: Sendable, Encodable {
    public var title: String
    public var columns: [String]
    public var rows: [[String]]
    public init(title: String, columns: [String], rows: [[String]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }
}

/// A picture for the report: written as a PNG into the run folder's `images/` and embedded in
/// report.html. Put one in a component's output.
public struct ResultPicture: Sendable, Encodable {
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

    private enum CodingKeys: String, CodingKey { case name, caption }
    /// Encoders other than the host's see the name and caption only.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(caption, forKey: .caption)
    }
}

/// A paragraph of text for the report. Put one in a component's output.
public struct ResultNote: Sendable, Encodable, ExpressibleByStringLiteral {
    public var text: String
    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { self.text = value }
}

/// Values that belong to class pairs, inside an analysis's output: the host files each pair's value
/// under that pair (results.h5 `/<plugin>/pair_<s>_<t>/<analysis>/…`, summary.json
/// `plugins.<plugin>.pairs."s-t".<analysis>.…`) instead of under the run-wide group.
public struct PerPair<Value: Encodable>: Encodable {
    public private(set) var entries: [(pair: ClassPair, value: Value)] = []
    public init() {}
    public init(_ entries: [(pair: ClassPair, value: Value)]) { self.entries = entries }
    public subscript(pair: ClassPair) -> Value? {
        get { entries.first { $0.pair == pair }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.pair == pair }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((pair, newValue))
            }
        }
    }
    public var isEmpty: Bool { entries.isEmpty }

    /// Other encoders see an object keyed by `"s-t"`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ResultKey.self)
        for (pair, value) in entries { try c.encode(value, forKey: ResultKey(pair.key)) }
    }
}

extension PerPair: PerPairEncodable {
    func encodedEntries(_ body: (ClassPair, any Encodable) throws -> Void) rethrows {
        for (pair, value) in entries { try body(pair, value) }
    }
}

/// How the host's encoder recognises ``PerPair`` whatever its value type.
protocol PerPairEncodable {
    func encodedEntries(_ body: (ClassPair, any Encodable) throws -> Void) rethrows
}

/// A coding key made from any text.
public struct ResultKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ string: String) { stringValue = string }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { stringValue = String(intValue) }
}

/// The output of a component that returns nothing beyond its boundary set.
public struct NoOutput: Encodable, Sendable {
    public init() {}
}
