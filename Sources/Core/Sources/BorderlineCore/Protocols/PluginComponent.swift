/// What every part of a plugin — prober, metric, analysis, generator provider — has: a name, a
/// one-line summary and its typed options.
///
/// `name` is lower-case letters, digits and dashes, unique within the plugin; it names the
/// component in `--set plugin.component.option=value`, in results.h5 and in summary.json.
/// `Options` is a ``PluginOptions`` struct (``NoOptions`` when the component has none); the host
/// decodes the run's values into it before the run starts and passes it to every call.
public protocol PluginComponent: AnyObject {
    associatedtype Options: PluginOptions = NoOptions
    var name: String { get }
    /// One line for `borderline plugins` and the report.
    var summary: String { get }
}

extension PluginComponent {
    /// The options this component declares (for `borderline plugins`, `--set` and config.json).
    public func declaredOptions() throws -> [DeclaredOption] { try OptionSchema.declarations(of: Options.self) }

    /// The component's options holding `values` (name → checked value; defaults for the rest),
    /// after ``PluginOptions/validate()`` of the options and of each of their groups.
    public func makeOptions(_ values: [String: JSONValue]) throws -> any PluginOptions {
        let options = try OptionSchema.instance(of: Options.self, values: values)
        try OptionSchema.validate(options)
        return options
    }

    /// `options` as this component's own type.
    func typed(_ options: any PluginOptions) throws -> Options {
        guard let typed = options as? Options else {
            throw BorderlineError(.invalidConfiguration, "\(name): options of type \(type(of: options)) given where \(Options.self) is declared")
        }
        return typed
    }
}

// The host calls components through these, with the options it decoded before the run.
extension BoundaryProber {
    public func probe(_ pair: ClassPair, erasedOptions options: any PluginOptions, context: RunContext) throws -> (set: BoundarySet, output: any Encodable) {
        let result = try probe(pair, options: try typed(options), context: context)
        return (result.set, result.output)
    }
}

extension Metric {
    public func evaluate(_ set: BoundarySet, erasedOptions options: any PluginOptions, context: RunContext) throws -> any Encodable {
        try evaluate(set, options: try typed(options), context: context)
    }
}

extension Analysis {
    public func analyse(erasedOptions options: any PluginOptions, context: RunContext) throws -> any Encodable {
        try analyse(options: try typed(options), context: context)
    }
}
