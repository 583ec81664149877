/// Makes a ``Generator`` for a run: how a plugin offers a generative model (e.g. an autoencoder
/// it trains, or a decoder it loads) to the components of every plugin.
///
/// **Contract.** ``makeGenerator(options:context:)`` builds the generator from the run's
/// classifier, data and this provider's options; the host calls it at most once per run, on the
/// first `context.generator(named:)` request, and hands the same instance to every caller.
public protocol GeneratorProvider: PluginComponent {
    func makeGenerator(options: Options, context: RunContext) throws -> any Generator
}
