import Foundation

/// An array as results.h5 stores it.
public enum StoredArray: Sendable {
    case float(Tensor)
    case float64(values: [Double], shape: [Int])
    case int64(values: [Int64], shape: [Int])
    case uint8(values: [UInt8], shape: [Int])

    public var shape: [Int] {
        switch self {
        case .float(let t): return t.shape
        case .float64(_, let s), .int64(_, let s), .uint8(_, let s): return s
        }
    }

    /// The first dimension (rows), 0 for a scalar shape.
    public var rows: Int { shape.first ?? 0 }
}

/// An array of any shape and element type in a component's output (e.g. an `[H, W]` grid of class
/// indices: `.int64(values:shape:)`): the host's ``ResultEncoder`` files it as it is.
extension StoredArray: Encodable {
    private enum CodingKeys: String, CodingKey { case shape, values }
    /// Encoders other than the host's see the shape and the values.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(shape, forKey: .shape)
        switch self {
        case .float(let t): try c.encode(t.scalars, forKey: .values)
        case .float64(let v, _): try c.encode(v, forKey: .values)
        case .int64(let v, _): try c.encode(v, forKey: .values)
        case .uint8(let v, _): try c.encode(v, forKey: .values)
        }
    }
}

/// A component's output as the host files it: what the ``ResultEncoder`` made of an `Encodable`
/// value. Numbers, booleans and text go to summary.json (and become attributes in results.h5);
/// arrays (`Tensor`, `[Float]`, `[Int]`, nested rectangular arrays, …) become results.h5 datasets;
/// tables, pictures, notes and highlights go to the report; ``PerPair`` values are filed under their pairs.
public indirect enum ResultValue: Sendable {
    case group([(key: String, value: ResultValue)])
    case number(Double)
    case bool(Bool)
    case string(String)
    case strings([String])
    case array(StoredArray)
    case table(ResultTable)
    case picture(ResultPicture)
    case note(String)
    case highlight(ResultHighlight)
    case perPair([(pair: ClassPair, value: ResultValue)])

    /// The empty group.
    public static let empty = ResultValue.group([])

    /// A member of a group by its (snake-case) key.
    public subscript(key: String) -> ResultValue? {
        guard case .group(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The number at a group path, for tests and tools (`value["boundary_summary", "success_rate"]`).
    public func number(_ path: String...) -> Double? {
        var node: ResultValue? = self
        for k in path { node = node?[k] }
        if case .number(let d)? = node { return d }
        if case .bool(let b)? = node { return b ? 1 : 0 }
        return nil
    }
}

/// One leaf of a result tree and where it goes: the pair it belongs to (nil: run-wide) and the path
/// of keys below the component's location.
public struct ResultLeaf: Sendable {
    public var pair: ClassPair?
    public var path: [String]
    public var value: ResultValue
}

extension ResultValue {
    /// Every leaf (anything but groups and per-pair maps) in output order; ``PerPair`` entries carry
    /// their pair.
    public func leaves(pair: ClassPair? = nil, path: [String] = []) -> [ResultLeaf] {
        switch self {
        case .group(let members):
            return members.flatMap { $0.value.leaves(pair: pair, path: path + [$0.key]) }
        case .perPair(let entries):
            return entries.flatMap { $0.value.leaves(pair: $0.pair, path: path) }
        default:
            return [ResultLeaf(pair: pair, path: path, value: self)]
        }
    }
}
