/// A layer type that can be rebuilt from its architecture-JSON configuration.
public protocol ConfigurableLayer: Layer {
    /// The type name under which the layer is registered.
    static var typeName: String { get }
    /// Rebuilds the layer from `config`; parameters are created with placeholder values and
    /// are expected to be overwritten by the loader.
    init(config: JSONValue) throws
    /// Every key `init(config:)` reads. The registry refuses configurations with other keys
    /// (a typo such as `"strides"` would otherwise silently build another model) and suggests
    /// the nearest known key. `nil` (the default, for layer types that do not declare their
    /// keys) skips the check.
    static var configKeys: [String]? { get }
}

extension ConfigurableLayer {
    public var typeName: String { Self.typeName }
    public static var configKeys: [String]? { nil }
}

/// Maps architecture type names to layer types. The built-in layers are registered up front;
/// plugins may register their own layer types before loading models that use them.
public enum LayerRegistry {
    nonisolated(unsafe) private static var types: [String: any ConfigurableLayer.Type] = {
        var t: [String: any ConfigurableLayer.Type] = [:]
        for type in builtinLayerTypes { t[type.typeName] = type }
        return t
    }()

    /// Registers a layer type (replacing one of the same name).
    public static func register(_ type: any ConfigurableLayer.Type) { types[type.typeName] = type }

    /// All registered type names, sorted.
    public static var typeNames: [String] { types.keys.sorted() }

    /// The registered type of that name, if any.
    public static func type(named typeName: String) -> (any ConfigurableLayer.Type)? { types[typeName] }

    /// Builds a layer of the named type.
    ///
    /// - Throws: `.unknownLayerType` for an unregistered type (with a "did you mean" when a
    ///   registered name is close), `.invalidConfiguration` when `config` is not an object, has a
    ///   key the type does not read (see ``ConfigurableLayer/configKeys``) or a malformed value.
    ///   Messages start with `layer '<name>' (<type>)`.
    public static func make(typeName: String, config: JSONValue, layerName: String) throws -> any Layer {
        guard let type = types[typeName] else {
            throw BorderlineError(.unknownLayerType,
                "layer '\(layerName)' has unknown type '\(typeName)'\(Suggestion.didYouMean(typeName, among: typeNames)); " +
                "known types: \(typeNames.joined(separator: ", "))")
        }
        do {
            if config != .null {
                guard let keys = config.objectValue else {
                    throw BorderlineError(.invalidConfiguration, "'config' must be an object, found \(Architecture.brief(config))")
                }
                if let known = type.configKeys {
                    for key in keys.keys.sorted() where !known.contains(key) {
                        let list = known.isEmpty ? "it takes no configuration" : "it reads \(known.map { "'\($0)'" }.joined(separator: ", "))"
                        throw BorderlineError(.invalidConfiguration,
                            "unknown config key '\(key)'\(Suggestion.didYouMean(key, among: known)); \(list)")
                    }
                }
            }
            return try type.init(config: config == .null ? .object([:]) : config)
        } catch var e as BorderlineError {
            e.message = "layer '\(layerName)' (\(typeName)): \(e.message)"
            throw e
        }
    }
}

/// Reads typed fields from a layer configuration with messages that say what was expected.
public struct ConfigReader {
    public let config: JSONValue
    public init(_ config: JSONValue) { self.config = config }

    public func int(_ key: String, default d: Int? = nil) throws -> Int {
        if let v = config[key], let i = v.intValue { return i }
        if config[key] == nil || config[key] == .null, let d { return d }
        throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be an integer, found \(config[key].map(\.description) ?? "nothing")")
    }
    public func double(_ key: String, default d: Double? = nil) throws -> Double {
        if let v = config[key], let x = v.doubleValue { return x }
        if config[key] == nil || config[key] == .null, let d { return d }
        throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be a number, found \(config[key].map(\.description) ?? "nothing")")
    }
    public func bool(_ key: String, default d: Bool? = nil) throws -> Bool {
        if let v = config[key], let b = v.boolValue { return b }
        if config[key] == nil || config[key] == .null, let d { return d }
        throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be true or false, found \(config[key].map(\.description) ?? "nothing")")
    }
    /// A number, or nil when the key is absent or null.
    public func optionalDouble(_ key: String) throws -> Double? {
        guard let v = config[key], v != .null else { return nil }
        guard let x = v.doubleValue else {
            throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be a number, found \(v)")
        }
        return x
    }
    public func string(_ key: String, default d: String? = nil) throws -> String {
        if let v = config[key], let s = v.stringValue { return s }
        if config[key] == nil || config[key] == .null, let d { return d }
        throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be a string, found \(config[key].map(\.description) ?? "nothing")")
    }
    /// An integer list of length `count`, or one integer meaning all `count` equal.
    public func ints(_ key: String, count: Int, default d: [Int]? = nil) throws -> [Int] {
        if let v = config[key], let a = v.intArray(count: count), a.count == count { return a }
        if config[key] == nil || config[key] == .null, let d { return d }
        throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be \(count) integers, found \(config[key].map(\.description) ?? "nothing")")
    }
    public func intList(_ key: String) throws -> [Int] {
        if let a = config[key]?.arrayValue {
            let ints = a.compactMap(\.intValue)
            if ints.count == a.count { return ints }
        }
        throw BorderlineError(.invalidConfiguration, "config key '\(key)' must be a list of integers, found \(config[key].map(\.description) ?? "nothing")")
    }
}
