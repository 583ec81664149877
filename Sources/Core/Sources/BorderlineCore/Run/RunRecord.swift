import Foundation

/// An array a plugin stored, as it will appear in results.h5.
public enum StoredArray {
    case float(Tensor)
    case int64(values: [Int64], shape: [Int])
    case uint8(values: [UInt8], shape: [Int])

    public var shape: [Int] {
        switch self {
        case .float(let t): return t.shape
        case .int64(_, let s), .uint8(_, let s): return s
        }
    }
}

/// Everything one plugin produced in a run, in the order it was produced. The host turns it into
/// the plugin's part of results.h5, summary.json and report.html.
public final class PluginRecord {
    /// The status of a plugin in a run.
    public enum Status: Equatable, Sendable {
        case pending
        case ok
        case failed(String)
        case interrupted

        /// `ok`, `failed`, `interrupted` or `pending` (never started).
        public var word: String {
            switch self {
            case .pending: return "pending"
            case .ok: return "ok"
            case .failed: return "failed"
            case .interrupted: return "interrupted"
            }
        }
    }

    public struct ArrayEntry {
        public var pair: ClassPair?
        /// Slash-separated path below the pair's group, e.g. `random-pair-bisection/points`.
        public var path: String
        public var value: StoredArray
        public var attributes: [String: JSONValue]
    }
    public struct NumberEntry {
        public var pair: ClassPair?
        /// Slash-separated path, e.g. `boundary-summary/bisection.random-pair-bisection/success_rate`.
        public var path: String
        public var value: Double
    }
    public struct TableEntry {
        public var pair: ClassPair?
        public var table: ResultTable
    }
    public struct PictureEntry {
        public var pair: ClassPair?
        public var picture: ResultPicture
    }

    public let name: String
    public let version: String
    public let summary: String
    public var status: Status = .pending
    /// Failures of single pairs or components that did not stop the plugin (`component pair: why`).
    public var problems: [String] = []
    public var seconds: Double = 0
    public var queries: Int = 0
    public private(set) var arrays: [ArrayEntry] = []
    public private(set) var numbers: [NumberEntry] = []
    public private(set) var tables: [TableEntry] = []
    public private(set) var pictures: [PictureEntry] = []
    public private(set) var notes: [String] = []

    public init(name: String, version: String, summary: String) {
        self.name = name
        self.version = version
        self.summary = summary
    }

    public func add(array: StoredArray, path: String, pair: ClassPair?, attributes: [String: JSONValue] = [:]) {
        arrays.append(ArrayEntry(pair: pair, path: path, value: array, attributes: attributes))
    }
    public func add(number: Double, path: String, pair: ClassPair?) {
        numbers.append(NumberEntry(pair: pair, path: path, value: number))
    }
    public func add(table: ResultTable, pair: ClassPair?) { tables.append(TableEntry(pair: pair, table: table)) }
    public func add(picture: ResultPicture, pair: ClassPair?) { pictures.append(PictureEntry(pair: pair, picture: picture)) }
    public func add(note: String) { notes.append(note) }
}

/// The results of a whole run while it is in progress: one record per enabled plugin and every
/// boundary set produced so far (which the metrics of every plugin read).
public final class RunRecord {
    public private(set) var plugins: [PluginRecord] = []
    public private(set) var boundarySets: [BoundarySet] = []
    public init() {}

    public func add(_ plugin: PluginRecord) { plugins.append(plugin) }
    public func add(_ set: BoundarySet) { boundarySets.append(set) }
    public func plugin(named name: String) -> PluginRecord? { plugins.first { $0.name == name } }
}
