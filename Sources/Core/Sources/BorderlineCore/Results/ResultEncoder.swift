import Foundation

/// Turns a component's `Encodable` output into a ``ResultValue`` tree.
///
/// Rules (docs/writing-plugins.md, "Outputs"):
/// - property names become snake-case keys (`meanGap` → `mean_gap`, `edc1Test` → `edc1_test`);
///   explicit `CodingKeys` are converted the same way, so `success_rate` stays as it is;
/// - `Double`, `Float`, integers → numbers; `Bool` → booleans; `String` → text; `nil` is left out;
/// - `Tensor`, arrays of numbers or booleans and rectangular nested arrays of them → arrays
///   (`Float` → float32, `Double` → float64, integers → int64, `Bool`/`UInt8` → uint8);
///   `[String]` → a list of text;
/// - ``ResultTable``, ``ResultPicture``, ``ResultNote``, ``ResultHighlight`` → the report; ``PerPair`` → per pair;
/// - nested structs and `[String: X]` dictionaries → groups; arrays of structs → groups keyed
///   `0`, `1`, ….
public enum ResultEncoder {
    /// - Throws: `.invalidConfiguration` naming the key for a name that cannot be a results.h5
    ///   path component (empty, `/`, `.`, `..`) or two members with one name.
    public static func encode(_ value: any Encodable) throws -> ResultValue {
        let root = Node()
        do {
            try encodeValue(value, into: root, path: [])
        } catch let e as BorderlineError {
            throw e
        } catch {
            throw BorderlineError(.invalidConfiguration, "output cannot be encoded: \(error)")
        }
        return try root.finish(path: [])
    }

    /// The key a property name becomes.
    public static func key(_ name: String) -> String {
        var out = ""
        var previous: Character?
        for c in name {
            if c.isUppercase, let p = previous, p.isLowercase || p.isNumber { out.append("_") }
            out.append(contentsOf: c.lowercased())
            previous = c
        }
        return out
    }

    static func encodeValue(_ value: any Encodable, into node: Node, path: [String]) throws {
        if let special = try special(value, path: path) {
            node.kind = .leaf(special)
            return
        }
        if let perPair = value as? PerPairEncodable {
            var entries: [(ClassPair, Node)] = []
            try perPair.encodedEntries { pair, v in
                let child = Node()
                try encodeValue(v, into: child, path: path + [pair.key])
                entries.append((pair, child))
            }
            node.kind = .perPair(entries)
            return
        }
        try value.encode(to: TreeEncoder(node: node, codingPath: path.map(ResultKey.init)))
    }

    /// Types that map straight to a leaf.
    static func special(_ value: any Encodable, path: [String]) throws -> ResultValue? {
        // Arrays by their static type: `[] as? [Float]` succeeds for an empty array of anything.
        let type = ObjectIdentifier(Swift.type(of: value))
        switch type {
        case ObjectIdentifier([Float].self): let v = value as! [Float]; return .array(.float(Tensor(shape: [v.count], scalars: v)))
        case ObjectIdentifier([Double].self): let v = value as! [Double]; return .array(.float64(values: v, shape: [v.count]))
        case ObjectIdentifier([Int].self): let v = value as! [Int]; return .array(.int64(values: v.map(Int64.init), shape: [v.count]))
        case ObjectIdentifier([Int64].self): let v = value as! [Int64]; return .array(.int64(values: v, shape: [v.count]))
        case ObjectIdentifier([Int32].self): let v = value as! [Int32]; return .array(.int64(values: v.map(Int64.init), shape: [v.count]))
        case ObjectIdentifier([UInt8].self): let v = value as! [UInt8]; return .array(.uint8(values: v, shape: [v.count]))
        case ObjectIdentifier([Bool].self): let v = value as! [Bool]; return .array(.uint8(values: v.map { $0 ? 1 : 0 }, shape: [v.count]))
        case ObjectIdentifier([String].self): return .strings(value as! [String])
        default: break
        }
        switch value {
        case let t as Tensor: return .array(.float(t))
        case let v as ResultTable: return .table(v)
        case let v as ResultPicture: return .picture(v)
        case let v as ResultNote: return .note(v.text)
        case let v as ResultHighlight: return .highlight(v)
        case let v as StoredArray: return .array(v)
        default: return nil
        }
    }
}

/// The tree while it is being encoded.
final class Node {
    enum Scalar { case float32(Float), float64(Double), integer(Int64), bool(Bool), string(String) }
    enum Kind {
        case empty
        case scalar(Scalar)
        case leaf(ResultValue)
        case keyed([(String, Node)])
        case unkeyed([Node])
        case perPair([(ClassPair, Node)])
    }
    var kind: Kind = .empty

    func child(forKey key: String) -> Node {
        if case .keyed(var members) = kind {
            let n = Node()
            members.append((key, n))
            kind = .keyed(members)
            return n
        }
        let n = Node()
        kind = .keyed([(key, n)])
        return n
    }

    func appendElement() -> Node {
        let n = Node()
        if case .unkeyed(var items) = kind { items.append(n); kind = .unkeyed(items) } else { kind = .unkeyed([n]) }
        return n
    }

    func finish(path: [String]) throws -> ResultValue {
        switch kind {
        case .empty: return .empty
        case .leaf(let v): return v
        case .scalar(let s):
            switch s {
            case .float32(let f): return .number(Double("\(f)") ?? Double(f))
            case .float64(let d): return .number(d)
            case .integer(let i): return .number(Double(i))
            case .bool(let b): return .bool(b)
            case .string(let s): return .string(s)
            }
        case .keyed(let members):
            var seen = Set<String>()
            var out: [(key: String, value: ResultValue)] = []
            for (rawKey, node) in members {
                let key = ResultEncoder.key(rawKey)
                guard !key.isEmpty, !key.contains("/"), key != ".", key != ".." else {
                    throw BorderlineError(.invalidConfiguration, "output key '\(rawKey)' at \(Node.describe(path)) cannot name a result (no '/', '.', '..' or empty names)")
                }
                guard seen.insert(key).inserted else {
                    throw BorderlineError(.invalidConfiguration, "output has two members named '\(key)' at \(Node.describe(path))")
                }
                if case .empty = node.kind { continue }   // nil optionals leave no trace
                out.append((key, try node.finish(path: path + [key])))
            }
            return .group(out)
        case .perPair(let entries):
            return .perPair(try entries.map { ($0.0, try $0.1.finish(path: path + [$0.0.key])) })
        case .unkeyed(let items):
            if let array = Node.numericArray(items) ?? Node.stacked(items) { return .array(array) }
            if !items.isEmpty, items.allSatisfy({ if case .scalar(.string) = $0.kind { return true } else { return false } }) {
                return .strings(items.map { if case .scalar(.string(let s)) = $0.kind { return s } else { return "" } })
            }
            return .group(try items.enumerated().map { ("\($0.offset)", try $0.element.finish(path: path + ["\($0.offset)"])) })
        }
    }

    static func describe(_ path: [String]) -> String { path.isEmpty ? "the top level" : path.joined(separator: ".") }

    /// Arrays of one shape and element type (`[[Int]]`, `[Tensor]`) stacked along a new first axis.
    static func stacked(_ items: [Node]) -> StoredArray? {
        let arrays = items.compactMap { n -> StoredArray? in if case .leaf(.array(let a)) = n.kind { return a } else { return nil } }
        guard !arrays.isEmpty, arrays.count == items.count, let first = arrays.first,
              arrays.allSatisfy({ $0.shape == first.shape }) else { return nil }
        let shape = [arrays.count] + first.shape
        switch first {
        case .float:
            let parts = arrays.compactMap { a -> [Float]? in if case .float(let t) = a { return t.scalars } else { return nil } }
            return parts.count == arrays.count ? .float(Tensor(shape: shape, scalars: parts.flatMap { $0 })) : nil
        case .float64:
            let parts = arrays.compactMap { a -> [Double]? in if case .float64(let v, _) = a { return v } else { return nil } }
            return parts.count == arrays.count ? .float64(values: parts.flatMap { $0 }, shape: shape) : nil
        case .int64:
            let parts = arrays.compactMap { a -> [Int64]? in if case .int64(let v, _) = a { return v } else { return nil } }
            return parts.count == arrays.count ? .int64(values: parts.flatMap { $0 }, shape: shape) : nil
        case .uint8:
            let parts = arrays.compactMap { a -> [UInt8]? in if case .uint8(let v, _) = a { return v } else { return nil } }
            return parts.count == arrays.count ? .uint8(values: parts.flatMap { $0 }, shape: shape) : nil
        }
    }

    /// A rectangular nest of unkeyed containers of numbers or booleans as one array (the widest
    /// element type wins), or nil.
    static func numericArray(_ items: [Node]) -> StoredArray? {
        var shape: [Int] = []
        var flat: [Scalar] = []
        var leafDepth: Int?
        func walk(_ nodes: [Node], depth: Int) -> Bool {
            if depth == shape.count { shape.append(nodes.count) } else if shape[depth] != nodes.count { return false }
            for n in nodes {
                switch n.kind {
                case .scalar(let s):
                    if case .string = s { return false }
                    if leafDepth == nil { leafDepth = depth }
                    guard leafDepth == depth else { return false }
                    flat.append(s)
                case .unkeyed(let inner):
                    if let leafDepth, depth >= leafDepth { return false }
                    guard walk(inner, depth: depth + 1) else { return false }
                default: return false
                }
            }
            return true
        }
        guard !items.isEmpty, walk(items, depth: 0), flat.count == shape.reduce(1, *) else { return nil }
        var hasFloat32 = false, hasFloat64 = false, hasInteger = false
        for s in flat {
            switch s {
            case .float32: hasFloat32 = true
            case .float64: hasFloat64 = true
            case .integer: hasInteger = true
            case .bool, .string: break
            }
        }
        func double(_ s: Scalar) -> Double {
            switch s {
            case .float32(let f): return Double(f)
            case .float64(let d): return d
            case .integer(let i): return Double(i)
            case .bool(let b): return b ? 1 : 0
            case .string: return .nan
            }
        }
        if hasFloat64 || (hasFloat32 && hasInteger) { return .float64(values: flat.map(double), shape: shape) }
        if hasFloat32 { return .float(Tensor(shape: shape, scalars: flat.map { Float(double($0)) })) }
        if hasInteger { return .int64(values: flat.map { Int64(double($0)) }, shape: shape) }
        return .uint8(values: flat.map { double($0) != 0 ? 1 : 0 }, shape: shape)
    }
}

/// The `Encoder` that fills a ``Node``.
private struct TreeEncoder: Encoder {
    let node: Node
    var codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var path: [String] { codingPath.map(\.stringValue) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .keyed = node.kind {} else { node.kind = .keyed([]) }
        return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
    }
    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .unkeyed = node.kind {} else { node.kind = .unkeyed([]) }
        return Unkeyed(node: node, codingPath: codingPath)
    }
    func singleValueContainer() -> SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        var codingPath: [CodingKey]
        var path: [String] { codingPath.map(\.stringValue) }
        mutating func encodeNil(forKey key: Key) throws {}
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try ResultEncoder.encodeValue(value, into: node.child(forKey: key.stringValue), path: path + [key.stringValue])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            TreeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            TreeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { TreeEncoder(node: node.child(forKey: "super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> Encoder { TreeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        var codingPath: [CodingKey]
        var count: Int { if case .unkeyed(let items) = node.kind { return items.count } else { return 0 } }
        mutating func encodeNil() throws { _ = node.appendElement() }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let index = "\(count)"
            try ResultEncoder.encodeValue(value, into: node.appendElement(), path: codingPath.map(\.stringValue) + [index])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            TreeEncoder(node: node.appendElement(), codingPath: codingPath).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            TreeEncoder(node: node.appendElement(), codingPath: codingPath).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { TreeEncoder(node: node.appendElement(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        var codingPath: [CodingKey]
        mutating func encodeNil() throws { node.kind = .empty }
        mutating func encode(_ value: Bool) throws { node.kind = .scalar(.bool(value)) }
        mutating func encode(_ value: String) throws { node.kind = .scalar(.string(value)) }
        mutating func encode(_ value: Double) throws { node.kind = .scalar(.float64(value)) }
        mutating func encode(_ value: Float) throws { node.kind = .scalar(.float32(value)) }
        mutating func encode(_ value: Int) throws { node.kind = .scalar(.integer(Int64(value))) }
        mutating func encode(_ value: Int8) throws { node.kind = .scalar(.integer(Int64(value))) }
        mutating func encode(_ value: Int16) throws { node.kind = .scalar(.integer(Int64(value))) }
        mutating func encode(_ value: Int32) throws { node.kind = .scalar(.integer(Int64(value))) }
        mutating func encode(_ value: Int64) throws { node.kind = .scalar(.integer(value)) }
        mutating func encode(_ value: UInt) throws { node.kind = .scalar(.integer(Int64(truncatingIfNeeded: value))) }
        mutating func encode(_ value: UInt8) throws { node.kind = .scalar(.integer(Int64(value))) }
        mutating func encode(_ value: UInt16) throws { node.kind = .scalar(.integer(Int64(value))) }
        mutating func encode(_ value: UInt32) throws { node.kind = .scalar(.integer(Int64(value))) }
        mutating func encode(_ value: UInt64) throws { node.kind = .scalar(.integer(Int64(truncatingIfNeeded: value))) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try ResultEncoder.encodeValue(value, into: node, path: codingPath.map(\.stringValue))
        }
    }
}

extension Tensor: Encodable {
    private enum CodingKeys: String, CodingKey { case shape, scalars }
    /// Encoders other than the host's see the shape and the scalars.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(shape, forKey: .shape)
        try c.encode(scalars, forKey: .scalars)
    }
}
