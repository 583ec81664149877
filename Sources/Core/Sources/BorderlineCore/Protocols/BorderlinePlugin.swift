/// A plugin: a named bundle of probers, metrics, analyses and generators, loaded from a dynamic
/// library.
///
/// **Contract.** ``manifest`` names the plugin (`--plugin NAME`, `--set NAME.option=value`:
/// lower-case letters, digits and dashes), its version and one line of summary; the host reads it
/// through the library's manifest symbol without creating the plugin, and creates it (`init()`,
/// through the entry symbol, see ``PluginABI``) only when a run enables it or `borderline plugins`
/// lists it. Component names are unique within the plugin.
///
/// In a run, the host calls every prober for every class pair, then every metric on every
/// boundary set of the run (of any plugin), then every analysis once; plugins take turns in name
/// order, so the order of `--plugin` flags never changes a result.
public protocol BorderlinePlugin: AnyObject {
    static var manifest: PluginManifest { get }
    init()
    var probers: [any BoundaryProber] { get }
    var metrics: [any Metric] { get }
    var analyses: [any Analysis] { get }
    var generators: [any GeneratorProvider] { get }
}

extension BorderlinePlugin {
    public var name: String { Self.manifest.name }
    public var version: String { Self.manifest.version }
    public var summary: String { Self.manifest.summary }
    public var manifest: PluginManifest { Self.manifest }

    public var probers: [any BoundaryProber] { [] }
    public var metrics: [any Metric] { [] }
    public var analyses: [any Analysis] { [] }
    public var generators: [any GeneratorProvider] { [] }

    /// Every component with its kind: probers, metrics, analyses, generators.
    public var components: [(kind: ComponentKind, component: any PluginComponent)] {
        probers.map { (ComponentKind.prober, $0 as any PluginComponent) } + metrics.map { (.metric, $0 as any PluginComponent) }
            + analyses.map { (.analysis, $0 as any PluginComponent) } + generators.map { (.generator, $0 as any PluginComponent) }
    }
}

/// The four kinds of plugin component.
public enum ComponentKind: String, Sendable {
    case prober, metric, analysis, generator
}
