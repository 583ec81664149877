import Foundation

/// Rebuilds a component's typed output from its ``ResultValue`` tree: the inverse of
/// ``ResultEncoder`` for `Decodable` outputs.
///
/// A run that is resumed (`borderline run --resume`) or merged from shards (`borderline merge`)
/// reads the prober and metric outputs of earlier processes from the run folder as trees; when an
/// analysis asks for them (``RunContext/outputs(of:)-5f7z2``), the host decodes them back into the
/// component's `Output` type with this decoder, so the analysis sees the values the component
/// returned. Rules, mirroring the encoder: a requested key is looked up in snake case
/// (`meanGap` → `mean_gap`); a missing key is `nil`; numbers decode to any numeric type that holds
/// them exactly (`Float` outputs were filed as the shortest decimal that reads back as the same
/// `Float`, so they round-trip bit for bit); results.h5 arrays decode to `[Float]`, `[Int]`,
/// `[Bool]`, `Tensor`, nested arrays (one level per dimension) or arrays of enums with integer raw
/// values; groups keyed `0`, `1`, … decode to arrays of structs; ``ResultTable``,
/// ``ResultPicture``, ``ResultNote``, ``StoredArray`` and ``PerPair`` decode from their own leaves.
///
/// What does not round-trip: `[String: X]` dictionaries whose keys are not already snake case (the
/// encoder converted them), and arrays of optionals (nil elements are empty groups).
public enum ResultDecoder {
    /// - Throws: `.invalidConfiguration` naming the key path and what was expected.
    public static func decode<T: Decodable>(_ type: T.Type, from tree: ResultValue) throws -> T {
        do {
            return try TreeDecoder(node: .value(tree), codingPath: []).decodeValue(T.self)
        } catch let e as BorderlineError {
            throw e
        } catch let e as DecodingError {
            throw BorderlineError(.invalidConfiguration, "output \(T.self) cannot be rebuilt from its saved results: \(describe(e))")
        } catch {
            throw BorderlineError(.invalidConfiguration, "output \(T.self) cannot be rebuilt from its saved results: \(error)")
        }
    }

    /// ``decode(_:from:)`` for a type known only at run time.
    public static func decode(any type: any Decodable.Type, from tree: ResultValue) throws -> any Decodable {
        func open<T: Decodable>(_ t: T.Type) throws -> any Decodable { try decode(t, from: tree) }
        return try open(type)
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            return "at \(describe(c.codingPath)): \(c.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func describe(_ path: [CodingKey]) -> String {
        path.isEmpty ? "the top level" : path.map { ResultEncoder.key($0.stringValue) }.joined(separator: ".")
    }
}

/// One place in a tree being decoded: a tree value, one element of a stored array, or a slice of
/// a stored array along its first axis.
enum DecodingNode {
    case value(ResultValue)
    case scalar(ArrayScalar)
    case slice(StoredArrayView)
}

/// One element of a results.h5 array, in its stored type.
enum ArrayScalar {
    case float(Float), double(Double), integer(Int64), byte(UInt8)

    var double: Double {
        switch self {
        case .float(let f): return Double(f)
        case .double(let d): return d
        case .integer(let i): return Double(i)
        case .byte(let b): return Double(b)
        }
    }
}

/// A sub-array of a ``StoredArray``: `shape` elements from flat position `offset`.
struct StoredArrayView {
    let array: StoredArray
    let offset: Int
    let shape: [Int]

    init(_ array: StoredArray) {
        self.array = array
        offset = 0
        shape = array.shape
    }

    init(array: StoredArray, offset: Int, shape: [Int]) {
        self.array = array
        self.offset = offset
        self.shape = shape
    }

    var count: Int { shape.first ?? 0 }
    var elementCount: Int { shape.reduce(1, *) }

    /// Element `i` along the first axis: a scalar for a one-dimensional slice, a slice otherwise.
    func element(_ i: Int) -> DecodingNode {
        if shape.count <= 1 { return .scalar(scalar(offset + i)) }
        let inner = Array(shape.dropFirst())
        return .slice(StoredArrayView(array: array, offset: offset + i * inner.reduce(1, *), shape: inner))
    }

    func scalar(_ flat: Int) -> ArrayScalar {
        switch array {
        case .float(let t): return .float(t.scalars[flat])
        case .float64(let v, _): return .double(v[flat])
        case .int64(let v, _): return .integer(v[flat])
        case .uint8(let v, _): return .byte(v[flat])
        }
    }

    /// The slice's values as `Float`s when the array stores float32.
    var floats: [Float]? {
        guard case .float(let t) = array else { return nil }
        return Array(t.scalars[offset..<(offset + elementCount)])
    }

    var stored: StoredArray {
        let range = offset..<(offset + elementCount)
        switch array {
        case .float(let t): return .float(Tensor(shape: shape, scalars: Array(t.scalars[range])))
        case .float64(let v, _): return .float64(values: Array(v[range]), shape: shape)
        case .int64(let v, _): return .int64(values: Array(v[range]), shape: shape)
        case .uint8(let v, _): return .uint8(values: Array(v[range]), shape: shape)
        }
    }
}

/// How the tree-aware `init(from:)`s of core types (``Tensor``, ``ResultTable``, ``PerPair``, …)
/// recognise the host's decoder and take their leaf directly.
protocol ResultTreeDecoding: Decoder {
    var node: DecodingNode { get }
}

struct TreeDecoder: ResultTreeDecoding {
    let node: DecodingNode
    var codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(TreeDecoder.describe(node))"))
    }

    static func describe(_ node: DecodingNode) -> String {
        switch node {
        case .scalar(let s): return "the array element \(s.double)"
        case .slice(let s): return "an array of shape \(s.shape)"
        case .value(let v):
            switch v {
            case .group(let m): return m.isEmpty ? "an empty group" : "a group (\(m.prefix(4).map(\.key).joined(separator: ", "))\(m.count > 4 ? ", …" : ""))"
            case .number(let d): return "the number \(d)"
            case .bool(let b): return "the boolean \(b)"
            case .string(let s): return "the text \"\(s.prefix(40))\""
            case .strings(let a): return "a list of \(a.count) texts"
            case .array(let a): return "an array of shape \(a.shape)"
            case .table: return "a table"
            case .picture: return "a picture"
            case .note: return "a note"
            case .highlight(let h): return "the highlight \"\(h.label.prefix(40))\""
            case .perPair(let e): return "per-pair values (\(e.count) pairs)"
            }
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .value(.group(let members)) = node else { throw mismatch("a group of named values") }
        return KeyedDecodingContainer(Keyed<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        switch node {
        case .value(.group(let members)): return Unkeyed(elements: members.map { .value($0.value) }, codingPath: codingPath)
        case .value(.strings(let texts)): return Unkeyed(elements: texts.map { .value(.string($0)) }, codingPath: codingPath)
        case .value(.array(let a)): return Unkeyed(slice: StoredArrayView(a), codingPath: codingPath)
        case .slice(let s): return Unkeyed(slice: s, codingPath: codingPath)
        default: throw mismatch("an array")
        }
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { Single(decoder: self) }

    /// Decodes `T` here, taking arrays of the encoder's special types straight from their leaves.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let fast = try fastPath(T.self) { return fast }
        return try T(from: self)
    }

    /// The types the encoder turns into one leaf by their static type (``ResultEncoder``).
    private func fastPath<T>(_ type: T.Type) throws -> T? {
        let id = ObjectIdentifier(T.self)
        func values() throws -> [ArrayScalar] {
            switch node {
            case .value(.array(let a)):
                let s = StoredArrayView(a)
                guard s.shape.count == 1 else { throw mismatch("a one-dimensional array") }
                return (0..<s.count).map { s.scalar($0) }
            case .slice(let s):
                guard s.shape.count == 1 else { throw mismatch("a one-dimensional array") }
                return (0..<s.count).map { s.scalar(s.offset + $0) }
            default: throw mismatch("an array")
            }
        }
        func exact<I: FixedWidthInteger>(_ s: ArrayScalar, _: I.Type) throws -> I {
            switch s {
            case .integer(let i): if let v = I(exactly: i) { return v }
            case .byte(let b): if let v = I(exactly: b) { return v }
            default: if let v = I(exactly: s.double) { return v }
            }
            throw mismatch("integers")
        }
        switch id {
        case ObjectIdentifier([Float].self):
            if case .value(.array(let a)) = node, case .float(let t) = a, t.rank == 1 { return (t.scalars as! T) }
            if case .slice(let s) = node, s.shape.count == 1, let f = s.floats { return (f as! T) }
            return (try values().map { Float($0.double) } as! T)
        case ObjectIdentifier([Double].self): return (try values().map(\.double) as! T)
        case ObjectIdentifier([Int].self): return (try values().map { try exact($0, Int.self) } as! T)
        case ObjectIdentifier([Int64].self): return (try values().map { try exact($0, Int64.self) } as! T)
        case ObjectIdentifier([Int32].self): return (try values().map { try exact($0, Int32.self) } as! T)
        case ObjectIdentifier([UInt8].self): return (try values().map { try exact($0, UInt8.self) } as! T)
        case ObjectIdentifier([Bool].self): return (try values().map { $0.double != 0 } as! T)
        case ObjectIdentifier([String].self):
            if case .value(.strings(let texts)) = node { return (texts as! T) }
            if case .value(.group(let m)) = node, m.isEmpty { return ([String]() as! T) }
            throw mismatch("a list of texts")
        default: return nil
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [(key: String, value: ResultValue)]
        var codingPath: [CodingKey]
        var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }

        func lookup(_ key: Key) -> ResultValue? {
            let wanted = ResultEncoder.key(key.stringValue)
            return members.first { $0.key == wanted }?.value
        }
        func contains(_ key: Key) -> Bool { lookup(key) != nil }
        func decodeNil(forKey key: Key) throws -> Bool { lookup(key) == nil }
        func decoder(_ key: Key) throws -> TreeDecoder {
            guard let v = lookup(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no member '\(ResultEncoder.key(key.stringValue))'"))
            }
            return TreeDecoder(node: .value(v), codingPath: codingPath + [key])
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decoder(key).decodeValue(T.self) }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try decoder(key).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try decoder(key).unkeyedContainer() }
        func superDecoder() throws -> Decoder { TreeDecoder(node: .value(.group(members)), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> Decoder { try decoder(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        var elements: [DecodingNode]?
        var slice: StoredArrayView?
        var codingPath: [CodingKey]
        var currentIndex = 0

        init(elements: [DecodingNode], codingPath: [CodingKey]) {
            self.elements = elements
            self.codingPath = codingPath
        }
        init(slice: StoredArrayView, codingPath: [CodingKey]) {
            self.slice = slice
            self.codingPath = codingPath
        }

        var count: Int? { elements?.count ?? slice?.count ?? 0 }
        var isAtEnd: Bool { currentIndex >= (count ?? 0) }

        mutating func next() throws -> TreeDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the array has only \(count ?? 0) elements"))
            }
            let node = elements?[currentIndex] ?? slice!.element(currentIndex)
            let d = TreeDecoder(node: node, codingPath: codingPath + [ResultKey("\(currentIndex)")])
            currentIndex += 1
            return d
        }
        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd else { return false }
            if let elements, case .value(.group(let m)) = elements[currentIndex], m.isEmpty {
                currentIndex += 1
                return true
            }
            return false
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(T.self) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: TreeDecoder
        var codingPath: [CodingKey] { decoder.codingPath }
        var node: DecodingNode { decoder.node }

        func decodeNil() -> Bool {
            if case .value(.group(let m)) = node { return m.isEmpty }
            return false
        }

        func number() throws -> Double {
            switch node {
            case .scalar(let s): return s.double
            case .value(.number(let d)): return d
            case .value(.bool(let b)): return b ? 1 : 0
            default: throw decoder.mismatch("a number")
            }
        }
        func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
            if case .scalar(.integer(let i)) = node, let v = I(exactly: i) { return v }
            if case .scalar(.byte(let b)) = node, let v = I(exactly: b) { return v }
            let d = try number()
            guard let v = I(exactly: d) else { throw decoder.mismatch("an integer that fits \(I.self)") }
            return v
        }

        func decode(_ type: Bool.Type) throws -> Bool {
            if case .value(.bool(let b)) = node { return b }
            if case .scalar(let s) = node { return s.double != 0 }
            throw decoder.mismatch("a boolean")
        }
        func decode(_ type: String.Type) throws -> String {
            switch node {
            case .value(.string(let s)), .value(.note(let s)): return s
            default: throw decoder.mismatch("text")
            }
        }
        func decode(_ type: Double.Type) throws -> Double { try number() }
        func decode(_ type: Float.Type) throws -> Float {
            if case .scalar(.float(let f)) = node { return f }
            return Float(try number())
        }
        func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(T.self) }
    }
}

// MARK: Core types rebuilt from their leaves

extension Tensor: Decodable {
    private enum DecodingKeys: String, CodingKey { case shape, scalars }
    /// From a result tree: its float32 array; from other decoders: `shape` and `scalars`.
    public init(from decoder: Decoder) throws {
        if let tree = decoder as? TreeDecoder {
            switch tree.node {
            case .value(.array(.float(let t))): self = t; return
            case .slice(let s): if let f = s.floats { self.init(shape: s.shape, scalars: f); return }
            default: break
            }
            if case .value(.array(let a)) = tree.node {
                let s = StoredArrayView(a)
                self.init(shape: s.shape, scalars: (0..<s.elementCount).map { Float(s.scalar($0).double) })
                return
            }
            throw tree.mismatch("a float array")
        }
        let c = try decoder.container(keyedBy: DecodingKeys.self)
        let shape = try c.decode([Int].self, forKey: .shape), scalars = try c.decode([Float].self, forKey: .scalars)
        guard shape.reduce(1, *) == scalars.count else {
            throw DecodingError.dataCorruptedError(forKey: .scalars, in: c, debugDescription: "\(scalars.count) scalars do not fill shape \(shape)")
        }
        self.init(shape: shape, scalars: scalars)
    }
}

extension StoredArray: Decodable {
    /// Only from a result tree (other encoders never see a StoredArray's bytes).
    public init(from decoder: Decoder) throws {
        guard let tree = decoder as? TreeDecoder else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a StoredArray is rebuilt only from a result tree"))
        }
        switch tree.node {
        case .value(.array(let a)): self = a
        case .slice(let s): self = s.stored
        default: throw tree.mismatch("an array")
        }
    }
}

extension ResultTable: Decodable {
    private enum DecodingKeys: String, CodingKey { case title, columns, rows, key }
    public init(from decoder: Decoder) throws {
        if let tree = decoder as? TreeDecoder {
            guard case .value(.table(let t)) = tree.node else { throw tree.mismatch("a table") }
            self = t
            return
        }
        let c = try decoder.container(keyedBy: DecodingKeys.self)
        self.init(title: try c.decode(String.self, forKey: .title), columns: try c.decode([String].self, forKey: .columns),
                  rows: try c.decode([[String]].self, forKey: .rows), key: try c.decodeIfPresent(Bool.self, forKey: .key) ?? false)
    }
}

extension ResultPicture: Decodable {
    /// Only from a result tree, which holds the image (other encoders see the name and caption).
    public init(from decoder: Decoder) throws {
        guard let tree = decoder as? TreeDecoder else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a picture is rebuilt only from a result tree, which holds its image"))
        }
        guard case .value(.picture(let p)) = tree.node else { throw tree.mismatch("a picture") }
        self = p
    }
}

extension ResultHighlight: Decodable {
    private enum DecodingKeys: String, CodingKey { case label, value, unit, detail }
    /// From a result tree: its highlight leaf; from other decoders: `label`, `value`, `unit`, `detail`.
    public init(from decoder: Decoder) throws {
        if let tree = decoder as? TreeDecoder {
            guard case .value(.highlight(let h)) = tree.node else { throw tree.mismatch("a highlight") }
            self = h
            return
        }
        let c = try decoder.container(keyedBy: DecodingKeys.self)
        self.init(try c.decode(String.self, forKey: .label), value: try c.decodeIfPresent(Double.self, forKey: .value) ?? .nan,
                  unit: try c.decodeIfPresent(String.self, forKey: .unit) ?? "", detail: try c.decodeIfPresent(String.self, forKey: .detail) ?? "")
    }
}

extension ResultNote: Decodable {
    public init(from decoder: Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }
}

extension NoOutput: Decodable {
    public init(from decoder: Decoder) throws { self.init() }
}

extension PerPair: Decodable where Value: Decodable {
    /// From a result tree: its per-pair entries; from other decoders: an object keyed `"s-t"`.
    public init(from decoder: Decoder) throws {
        if let tree = decoder as? TreeDecoder {
            guard case .value(.perPair(let entries)) = tree.node else { throw tree.mismatch("per-pair values") }
            self.init(try entries.map { e in
                (e.pair, try TreeDecoder(node: .value(e.value), codingPath: tree.codingPath + [ResultKey(e.pair.key)]).decodeValue(Value.self))
            })
            return
        }
        let c = try decoder.container(keyedBy: ResultKey.self)
        var entries: [(pair: ClassPair, value: Value)] = []
        for key in c.allKeys {
            let parts = key.stringValue.split(separator: "-")
            guard parts.count == 2, let s = Int(parts[0]), let t = Int(parts[1]) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "'\(key.stringValue)' is not a class pair s-t")
            }
            entries.append((ClassPair(s, t), try c.decode(Value.self, forKey: key)))
        }
        self.init(entries.sorted { $0.pair < $1.pair })
    }
}
