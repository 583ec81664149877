import ArgumentParser
import BorderlineCore
import BorderlineHost

extension DataSplit: ExpressibleByArgument {}
extension ModelFileFormat: ExpressibleByArgument {}

/// How a command describes its model argument in `--help`.
protocol ModelArgumentHelp {
    static var modelHelp: ArgumentHelp { get }
}

/// The model a command works on: a model file or shipped model name, plus the architecture JSON a
/// PyTorch state_dict file needs. `inspect` and `evaluate` share it through `@OptionGroup`;
/// `Help` (the command) supplies its own help text for the model argument.
struct ModelOptions<Help: ModelArgumentHelp>: ParsableArguments {
    @Argument(help: Help.modelHelp)
    var model: String = ShippedModels.defaultClassifier

    @Option(help: "Architecture JSON for a PyTorch state_dict file.")
    var architecture: String?

    /// Resolves a shipped model name to its file and loads the model from it.
    func load() throws -> (path: String, model: Model) {
        let path = try ShippedModels.resolve(model)
        return (path, try Model.load(contentsOf: path, architecture: architecture))
    }
}

// BorderlineCore has plugin-option property wrappers of the same names; in this module the
// argument parser's are meant.
typealias Option = ArgumentParser.Option
typealias OptionGroup = ArgumentParser.OptionGroup
