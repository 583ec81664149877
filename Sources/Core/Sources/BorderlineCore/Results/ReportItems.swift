import Foundation

/// A table for the report (and, as JSON, for summary.json). Put one in a component's output.
///
/// The report shows a plugin's key tables (`key: true`, one or two at most) open at the top of its
/// section and folds every other table away, so mark the one a reader should see first.
public struct ResultTable: Sendable, Encodable {
    public var title: String
    public var columns: [String]
    public var rows: [[String]]
    /// One of the plugin's two or three key results, shown open at the top of its report section.
    public var isKey: Bool
    public init(title: String, columns: [String], rows: [[String]], key: Bool = false) {
        self.title = title
        self.columns = columns
        self.rows = rows
        self.isKey = key
    }
    private enum CodingKeys: String, CodingKey { case title, columns, rows, isKey = "key" }
}

/// A picture for the report: written as a PNG into the run folder's `images/` and embedded in
/// report.html. Put one in a component's output.
///
/// The report opens a plugin's section with its key pictures (`key: true`, two or three at most);
/// the others follow, folded away when there are many.
public struct ResultPicture: Sendable, Encodable {
    /// File-name stem (`grid`); the host makes it unique within the run.
    public var name: String
    /// One sentence under the picture saying what it shows.
    public var caption: String
    public var image: PNGImage
    /// One of the plugin's two or three key results, shown at the top of its report section.
    public var isKey: Bool
    public init(name: String, caption: String, image: PNGImage, key: Bool = false) {
        self.name = name
        self.caption = caption
        self.image = image
        self.isKey = key
    }

    private enum CodingKeys: String, CodingKey { case name, caption, key }
    /// Encoders other than the host's see the name and caption only (and `key` when set).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(caption, forKey: .caption)
        if isKey { try c.encode(true, forKey: .key) }
    }
}

/// A key number for the top of a plugin's report section ("mean distance to the boundary:
/// 2.31 L2", "most fragile pair: Shirt → T-shirt/top"). Put two or three in a component's output;
/// summary.json lists them under the plugin's `highlights`. The number should also be an ordinary
/// output member where a program reads it; a highlight is what a person reads first.
public struct ResultHighlight: Sendable, Encodable, Equatable {
    /// What the number is, in words ("bisection success rate").
    public var label: String
    /// The number (NaN: shown as "—").
    public var value: Double
    /// Its unit, shown after it ("%", "L2", "s"; empty: none). With `%`, `value` is a fraction and
    /// shown times 100.
    public var unit: String
    /// A short phrase shown under the number ("Shirt → T-shirt/top", "over 45 pairs"; empty: none).
    public var detail: String
    public init(_ label: String, value: Double, unit: String = "", detail: String = "") {
        self.label = label
        self.value = value
        self.unit = unit
        self.detail = detail
    }

    /// The number as the report shows it: 4 significant digits, `%` as a percentage.
    public var formatted: String {
        guard value.isFinite else { return value.isNaN ? "—" : (value > 0 ? "∞" : "−∞") }
        if unit == "%" { return String(format: "%.1f %%", 100 * value) }
        let number = value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(format: abs(value) >= 1e-3 && abs(value) < 1e5 ? "%.4g" : "%.3e", value)
        return unit.isEmpty ? number : "\(number) \(unit)"
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
