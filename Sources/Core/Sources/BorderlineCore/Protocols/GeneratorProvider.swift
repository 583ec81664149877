/// Makes a ``Generator`` for a run: how a plugin offers a generative model (e.g. an autoencoder
/// it trains, or a decoder it loads) to the probers of every plugin.
///
/// **Contract.** ``makeGenerator(context:)`` builds the generator from the run's classifier, data
/// and this provider's options (in `context.options`); the host calls it at most once per run, on
/// the first `context.generator(named:)` request, and hands the same instance to every caller.
public protocol GeneratorProvider: AnyObject {
    /// Lower-case name with dashes, unique within its plugin.
    var name: String { get }
    /// One line for `borderline plugins`.
    var summary: String { get }
    /// The options read from `context.options` while building.
    var options: [PluginOption] { get }
    func makeGenerator(context: RunContext) throws -> any Generator
}

extension GeneratorProvider {
    public var options: [PluginOption] { [] }
}
