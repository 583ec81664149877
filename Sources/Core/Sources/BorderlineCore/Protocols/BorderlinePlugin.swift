/// A plugin: a named bundle of probers, metrics and generators, loaded from a dynamic library.
///
/// **Contract.** A plugin library exports two C symbols (see ``PluginABI``):
/// `borderline_plugin_abi_version` returning the ``PluginABI/version`` it was compiled against,
/// and `borderline_plugin_create` returning a +1 retained instance of a class conforming to this
/// protocol. The host checks the version before it calls the entry point, and never unloads the
/// library. `name` is the identifier used by `--plugin NAME` and `--set NAME.option=value`:
/// lower-case letters, digits and dashes. Component names are unique within the plugin.
///
/// When a run enables the plugin, the host calls every prober for every class pair, then every
/// metric on every boundary set of the run (of any plugin), then ``finish(_:)`` once.
public protocol BorderlinePlugin: AnyObject {
    var name: String { get }
    /// The plugin's own version (semantic versioning recommended).
    var version: String { get }
    /// One line for `borderline plugins` and the report.
    var summary: String { get }
    var probers: [any BoundaryProber] { get }
    var metrics: [any Metric] { get }
    var generators: [any GeneratorProvider] { get }
    /// Called once after the plugin's probers and metrics have run (e.g. to add a picture that
    /// spans all class pairs). `context.options` is empty here.
    func finish(_ context: RunContext) throws
}

extension BorderlinePlugin {
    public var probers: [any BoundaryProber] { [] }
    public var metrics: [any Metric] { [] }
    public var generators: [any GeneratorProvider] { [] }
    public func finish(_ context: RunContext) throws {}
}
