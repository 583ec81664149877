import Foundation

/// The options of one component (prober, metric, analysis or generator provider), declared once as
/// properties of a struct and read as typed values:
///
/// ```swift
/// struct Options: PluginOptions {
///     @Option(help: "β: the largest |p_s − p_t| accepted as on the boundary", in: 1e-6...0.5)
///     var beta = 0.01
///     @Option(help: "halvings per segment before an attempt fails", in: 1...60)
///     var maxHalvings = 30
/// }
/// ```
///
/// The option's name is the property's name in kebab case (`maxHalvings` → `max-halvings`, set with
/// `--set plugin.max-halvings=40`) unless `name:` gives another; its default is the property's
/// initial value, its kind (integer, number, boolean, text or one of a fixed set of words) follows
/// from the property's type. The host lists the declarations (`borderline plugins`), checks every
/// value a run sets against them (type and range) and against ``validate()`` before any analysis
/// starts, and hands the component an instance holding the run's values.
///
/// Only `@Option` and `@OptionGroup` properties may appear in an options struct.
public protocol PluginOptions: Decodable {
    /// The defaults.
    init()
    /// Checks that need several options at once (e.g. a step no larger than a maximum); throw a
    /// ``BorderlineError`` of kind `.invalidArgument` naming the options. Called by the host before
    /// the run starts, so a bad combination exits with status 2.
    func validate() throws
}

extension PluginOptions {
    public func validate() throws {}
}

/// The options of a component that has none.
public struct NoOptions: PluginOptions {
    public init() {}
}

/// A type an option can have: `Int`, `Double`, `Float`, `Bool`, `String`, or an enum with
/// `String` raw values that is `CaseIterable` (a choice between words):
///
/// ```swift
/// enum Reconstruction: String, CaseIterable, OptionValue { case mse, bce }
/// ```
public protocol OptionValue: Decodable, Sendable {
    /// The kind `borderline plugins` shows, given the declared range (as doubles), if any.
    static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind
    /// The value as JSON (defaults in listings and config.json).
    var jsonValue: JSONValue { get }
}

extension Int: OptionValue {
    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind {
        .integer(range.map { Int($0.lowerBound)...Int($0.upperBound) })
    }
    public var jsonValue: JSONValue { .number(Double(self)) }
}

extension Double: OptionValue {
    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind { .number(range) }
    public var jsonValue: JSONValue { .number(self) }
}

extension Float: OptionValue {
    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind { .number(range) }
    /// Through its shortest decimal text, so that `0.1` is listed as 0.1, not 0.10000000149.
    public var jsonValue: JSONValue { .number(Double("\(self)") ?? Double(self)) }
}

extension Bool: OptionValue {
    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind { .boolean }
    public var jsonValue: JSONValue { .bool(self) }
}

extension String: OptionValue {
    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind { .string }
    public var jsonValue: JSONValue { .string(self) }
}

extension OptionValue where Self: RawRepresentable & CaseIterable, RawValue == String {
    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind { .choice(allCases.map(\.rawValue)) }
    public var jsonValue: JSONValue { .string(rawValue) }
}

/// One option of a ``PluginOptions`` struct: its value, help line and (for numbers) range.
@propertyWrapper
public struct Option<Value: OptionValue>: Decodable, Sendable {
    public var wrappedValue: Value
    let declaredName: String?
    let help: String
    let range: ClosedRange<Double>?

    /// An option without a range (booleans, text, choices, unbounded numbers).
    public init(wrappedValue: Value, name: String? = nil, help: String) {
        self.wrappedValue = wrappedValue
        self.declaredName = name
        self.help = help
        self.range = nil
    }

    /// An integer option whose values must lie in `range`.
    public init(wrappedValue: Value, name: String? = nil, help: String, in range: ClosedRange<Int>) where Value == Int {
        self.wrappedValue = wrappedValue
        self.declaredName = name
        self.help = help
        self.range = Double(range.lowerBound)...Double(range.upperBound)
    }

    /// A number option whose values must lie in `range`.
    public init(wrappedValue: Value, name: String? = nil, help: String, in range: ClosedRange<Double>) where Value: BinaryFloatingPoint {
        self.wrappedValue = wrappedValue
        self.declaredName = name
        self.help = help
        self.range = range
    }

    /// Reads the run's value (the host's decoder supplies it; declarations are read from `init()`).
    public init(from decoder: Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode(Value.self)
        declaredName = nil
        help = ""
        range = nil
    }
}

/// A group of options declared in another struct, flattened into the component's options (their
/// names are not prefixed), so several components can share one declaration:
///
/// ```swift
/// struct Options: PluginOptions {
///     @OptionGroup var bisection: BisectionOptions   // beta, max-halvings
///     @Option(help: "…") var gridRows = 6
/// }
/// ```
@propertyWrapper
public struct OptionGroup<Group: PluginOptions>: Decodable {
    public var wrappedValue: Group
    public init() { wrappedValue = Group() }
    public init(wrappedValue: Group) { self.wrappedValue = wrappedValue }
    public init(from decoder: Decoder) throws { wrappedValue = try Group(from: decoder) }
}

extension OptionGroup: Sendable where Group: Sendable {}

/// Groups check themselves: ``OptionSchema/validate(_:)`` calls every group's `validate()`.
private protocol ValidatingGroup {
    func validateGroup() throws
}

extension OptionGroup: ValidatingGroup {
    fileprivate func validateGroup() throws {
        try wrappedValue.validate()
        try OptionSchema.validateGroups(of: wrappedValue)
    }
}

/// The options every bisection-based prober shares, under the same names in every plugin.
public struct BisectionOptions: PluginOptions, Sendable {
    @Option(help: "β: a point counts as on the boundary when |p_s − p_t| < β", in: 1e-7...0.5)
    public var beta: Float = 0.01
    @Option(help: "halvings of a segment before the attempt fails", in: 1...60)
    public var maxHalvings = 30
    public init() {}
    public init(beta: Float, maxHalvings: Int) {
        self.beta = beta
        self.maxHalvings = maxHalvings
    }
    /// The core bisection's configuration.
    public var configuration: BoundaryBisection.Configuration { .init(tolerance: beta, maxSteps: maxHalvings) }
}

// MARK: - Declarations and decoding (used by the host)

/// Something `Mirror` finds in an options struct that declares options.
private protocol OptionDeclaring {
    func declarations(label: String, path: [String]) throws -> [DeclaredOption]
}

/// One declared option and where it sits in the options struct (property labels, for decoding).
public struct DeclaredOption: Sendable {
    public var option: PluginOption
    /// Property names from the options struct down to the option (several with option groups).
    public var path: [String]
}

extension Option: OptionDeclaring {
    fileprivate func declarations(label: String, path: [String]) throws -> [DeclaredOption] {
        let name = declaredName ?? OptionNames.kebab(label)
        return [DeclaredOption(option: PluginOption(name, Value.optionKind(range: range), default: wrappedValue.jsonValue, help: help),
                               path: path + [label])]
    }
}

extension OptionGroup: OptionDeclaring {
    fileprivate func declarations(label: String, path: [String]) throws -> [DeclaredOption] {
        try OptionSchema.declarations(of: wrappedValue, path: path + [label])
    }
}

/// Option names derived from property names.
public enum OptionNames {
    /// `maxHalvings` → `max-halvings`, `pgdL2Epsilon` → `pgd-l2-epsilon`, `useURLCache` → `use-url-cache`.
    public static func kebab(_ name: String) -> String {
        let chars = Array(name)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0 {
                let previous = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out.append("-") }
            }
            out.append(contentsOf: c.lowercased())
        }
        return out
    }
}

/// Reads the declarations of an options type and builds instances from resolved values.
public enum OptionSchema {
    /// Every option `type` declares, in declaration order.
    /// - Throws: `.invalidConfiguration` for a property that is not an `@Option`/`@OptionGroup`,
    ///   or two options with one name.
    public static func declarations<O: PluginOptions>(of type: O.Type) throws -> [DeclaredOption] {
        let all = try declarations(of: O(), path: [])
        var seen = Set<String>()
        for d in all where !seen.insert(d.option.name).inserted {
            throw BorderlineError(.invalidConfiguration, "\(O.self) declares two options named '\(d.option.name)'")
        }
        return all
    }

    fileprivate static func declarations(of value: Any, path: [String]) throws -> [DeclaredOption] {
        try Mirror(reflecting: value).children.flatMap { child -> [DeclaredOption] in
            let label = child.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 } ?? "?"
            guard let declaring = child.value as? OptionDeclaring else {
                throw BorderlineError(.invalidConfiguration,
                    "\(type(of: value)).\(label) is not an @Option or @OptionGroup; an options struct holds only options")
            }
            return try declaring.declarations(label: label, path: path)
        }
    }

    /// Runs `validate()` of `options` and of every ``OptionGroup`` in it (nested groups too).
    public static func validate<O: PluginOptions>(_ options: O) throws {
        try options.validate()
        try validateGroups(of: options)
    }

    static func validateGroups(of value: Any) throws {
        for child in Mirror(reflecting: value).children {
            if let group = child.value as? ValidatingGroup { try group.validateGroup() }
        }
    }

    /// An instance of `type` holding `values` (option name → value already checked against the
    /// declarations; missing names keep their defaults).
    public static func instance<O: PluginOptions>(of type: O.Type, values: [String: JSONValue]) throws -> O {
        let root = OptionTree.group([:])
        var tree = root
        for d in try declarations(of: type) {
            tree.insert(values[d.option.name] ?? d.option.defaultValue, at: d.path)
        }
        do {
            return try O(from: OptionTreeDecoder(node: tree, codingPath: []))
        } catch let e as BorderlineError {
            throw e
        } catch {
            throw BorderlineError(.invalidConfiguration, "\(O.self) could not be built from its options: \(error)")
        }
    }
}

/// Resolved values laid out like the options struct (groups nest).
private enum OptionTree {
    case value(JSONValue)
    case group([String: OptionTree])

    mutating func insert(_ value: JSONValue, at path: [String]) {
        guard let head = path.first else { self = .value(value); return }
        guard case .group(var children) = self else { return }
        var child = children[head] ?? .group([:])
        child.insert(value, at: Array(path.dropFirst()))
        children[head] = child
        self = .group(children)
    }
}

/// A `Decoder` over an ``OptionTree``: keyed containers for structs and groups, single values for
/// options (numbers, booleans, text, raw values of choices).
private struct OptionTreeDecoder: Decoder {
    let node: OptionTree
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ what: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(what)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .group(let children) = node else { throw mismatch("a group of options") }
        return KeyedDecodingContainer(Keyed(children: children, codingPath: codingPath))
    }
    func unkeyedContainer() throws -> UnkeyedDecodingContainer { throw mismatch("no lists in options") }
    func singleValueContainer() throws -> SingleValueDecodingContainer {
        guard case .value(let v) = node else { throw mismatch("a single option value") }
        return Single(value: v, codingPath: codingPath)
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let children: [String: OptionTree]
        let codingPath: [CodingKey]
        var allKeys: [Key] { children.keys.compactMap { Key(stringValue: $0) } }
        func contains(_ key: Key) -> Bool { children[key.stringValue] != nil }
        func child(_ key: Key) throws -> OptionTreeDecoder {
            guard let node = children[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no option for property \(key.stringValue)"))
            }
            return OptionTreeDecoder(node: node, codingPath: codingPath + [key])
        }
        func decodeNil(forKey key: Key) throws -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: child(key)) }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try child(key).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
        func superDecoder() throws -> Decoder { OptionTreeDecoder(node: .group(children), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
    }

    struct Single: SingleValueDecodingContainer {
        let value: JSONValue
        let codingPath: [CodingKey]
        func fail(_ what: String) -> DecodingError {
            .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(what), got \(value.serialized())"))
        }
        func decodeNil() -> Bool { value == .null }
        func decode(_ type: Bool.Type) throws -> Bool { guard let b = value.boolValue else { throw fail("true or false") }; return b }
        func decode(_ type: String.Type) throws -> String { guard let s = value.stringValue else { throw fail("text") }; return s }
        func decode(_ type: Double.Type) throws -> Double { guard let d = value.doubleValue else { throw fail("a number") }; return d }
        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
        func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
            guard let d = value.doubleValue, d == d.rounded(), let i = I(exactly: d) else { throw fail("an integer") }
            return i
        }
        func decode(_ type: Int.Type) throws -> Int { try integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: OptionTreeDecoder(node: .value(value), codingPath: codingPath)) }
    }
}
