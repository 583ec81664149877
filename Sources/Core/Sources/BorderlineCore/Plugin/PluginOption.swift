import Foundation

/// The declaration of one option, as `borderline plugins` lists it and `--set plugin.option=value`
/// (or a config file) sets it; made from an `@Option` property (``PluginOptions``).
public struct PluginOption: Sendable, Equatable {
    /// The value types an option can have.
    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        case integer(ClosedRange<Int>?)
        case number(ClosedRange<Double>?)
        case boolean
        case string
        /// One of a fixed set of words.
        case choice([String])

        public var description: String {
            switch self {
            case .integer(let r): return "integer" + (r.map { " in \($0.lowerBound)…\($0.upperBound)" } ?? "")
            case .number(let r): return "number" + (r.map { " in \($0.lowerBound)…\($0.upperBound)" } ?? "")
            case .boolean: return "boolean (true/false)"
            case .string: return "string"
            case .choice(let words): return "one of " + words.joined(separator: ", ")
            }
        }
    }

    /// The option's name, lower-case with dashes (`max-steps`).
    public var name: String
    public var kind: Kind
    /// The value used when the run does not set the option.
    public var defaultValue: JSONValue
    /// One line for `borderline plugins`.
    public var help: String

    public init(_ name: String, _ kind: Kind, default defaultValue: JSONValue, help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }

    public static func integer(_ name: String, default value: Int, in range: ClosedRange<Int>? = nil, help: String) -> PluginOption {
        PluginOption(name, .integer(range), default: .number(Double(value)), help: help)
    }
    public static func number(_ name: String, default value: Double, in range: ClosedRange<Double>? = nil, help: String) -> PluginOption {
        PluginOption(name, .number(range), default: .number(value), help: help)
    }
    public static func boolean(_ name: String, default value: Bool, help: String) -> PluginOption {
        PluginOption(name, .boolean, default: .bool(value), help: help)
    }
    public static func string(_ name: String, default value: String, help: String) -> PluginOption {
        PluginOption(name, .string, default: .string(value), help: help)
    }
    public static func choice(_ name: String, _ words: [String], default value: String, help: String) -> PluginOption {
        PluginOption(name, .choice(words), default: .string(value), help: help)
    }

    /// Checks a value (from JSON/YAML or already parsed) against the option's kind and returns it
    /// in canonical form; `.invalidArgument` names the option, the value and what was expected.
    /// Text (from `--set`) is parsed first: `value` may be `.string("0.1")` for a number option.
    public func validate(_ value: JSONValue, qualifiedName: String) throws -> JSONValue {
        func fail(_ got: String) -> BorderlineError {
            BorderlineError(.invalidArgument, "option \(qualifiedName) expects \(kind), got \(got)")
        }
        let text = value.stringValue
        switch kind {
        case .integer(let range):
            let n: Int?
            if let t = text { n = Int(t.trimmingCharacters(in: .whitespaces)) } else { n = value.intValue }
            guard let n else { throw fail(describe(value)) }
            if let range, !range.contains(n) { throw fail("\(n)") }
            return .number(Double(n))
        case .number(let range):
            let d: Double?
            if let t = text { d = Double(t.trimmingCharacters(in: .whitespaces)) } else { d = value.doubleValue }
            guard let d, d.isFinite else { throw fail(describe(value)) }
            if let range, !range.contains(d) { throw fail("\(d)") }
            return .number(d)
        case .boolean:
            if let b = value.boolValue { return .bool(b) }
            switch text?.lowercased() {
            case "true", "yes", "on", "1": return .bool(true)
            case "false", "no", "off", "0": return .bool(false)
            default: throw fail(describe(value))
            }
        case .string:
            guard let t = text else { throw fail(describe(value)) }
            return .string(t)
        case .choice(let words):
            guard let t = text, words.contains(t) else { throw fail(describe(value)) }
            return .string(t)
        }
    }

    private func describe(_ value: JSONValue) -> String {
        if let s = value.stringValue { return "'\(s)'" }
        return value.serialized()
    }
}
