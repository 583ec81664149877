import Foundation

/// Where a prober, metric or plugin puts results beyond its return value: arrays (results.h5),
/// numbers (summary.json and the report), tables, pictures and notes (the report).
///
/// A store is scoped to one plugin and one component: `addArray(t, name: "steps", pair: p)` in
/// prober `walk` of plugin `demo` lands at `/demo/pair_s_t/walk/steps` in results.h5 and a number
/// at `plugins.demo.pairs."s-t".walk.<name>` in summary.json. Arrays and numbers without a pair
/// go to the group `all` and to `plugins.<name>.numbers`. `name` may contain `/` to nest.
public struct RunStore {
    public let record: PluginRecord
    /// The component (prober, metric, generator) writing, or nil for the plugin itself.
    public let component: String?

    public init(record: PluginRecord, component: String?) {
        self.record = record
        self.component = component
    }

    private func path(_ name: String) throws -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw BorderlineError(.invalidArgument, "\(record.name): result name '\(name)' must be non-empty words separated by single '/'")
        }
        return component.map { "\($0)/\(name)" } ?? name
    }

    /// Stores a float32 array.
    public func addArray(_ value: Tensor, name: String, pair: ClassPair? = nil) throws {
        record.add(array: .float(value), path: try path(name), pair: pair)
    }
    /// Stores an int64 array (`shape` defaults to one dimension).
    public func addIntegers(_ values: [Int], shape: [Int]? = nil, name: String, pair: ClassPair? = nil) throws {
        let shape = shape ?? [values.count]
        guard Tensor.count(of: shape) == values.count else {
            throw BorderlineError(.invalidArgument, "\(record.name): \(values.count) integers do not fill shape \(shape) (result '\(name)')")
        }
        record.add(array: .int64(values: values.map(Int64.init), shape: shape), path: try path(name), pair: pair)
    }
    /// Stores a uint8 array (images).
    public func addBytes(_ values: [UInt8], shape: [Int], name: String, pair: ClassPair? = nil) throws {
        guard Tensor.count(of: shape) == values.count else {
            throw BorderlineError(.invalidArgument, "\(record.name): \(values.count) bytes do not fill shape \(shape) (result '\(name)')")
        }
        record.add(array: .uint8(values: values, shape: shape), path: try path(name), pair: pair)
    }
    /// Records a named number.
    public func addNumber(_ value: Double, name: String, pair: ClassPair? = nil) throws {
        record.add(number: value, path: try path(name), pair: pair)
    }
    /// Adds a table to the plugin's report section (and to summary.json).
    public func addTable(_ table: ResultTable, pair: ClassPair? = nil) {
        record.add(table: table, pair: pair)
    }
    /// Adds a picture to the plugin's report section (written as a PNG under `images/`).
    public func addPicture(_ picture: ResultPicture, pair: ClassPair? = nil) {
        record.add(picture: picture, pair: pair)
    }
    /// Adds a paragraph of text to the plugin's report section.
    public func addNote(_ text: String) { record.add(note: text) }
}
