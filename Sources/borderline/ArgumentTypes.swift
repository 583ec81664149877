import ArgumentParser
import BorderlineCore
import BorderlineHost

extension DataSplit: ExpressibleByArgument {}
extension ModelFileFormat: ExpressibleByArgument {}

/// How a command describes its model argument in `--help`, and whether it has a default.
protocol ModelArgumentHelp {
    static var modelHelp: String { get }
    /// The model when none is given (nil: the command needs one).
    static var defaultModel: String? { get }
}

extension ModelArgumentHelp {
    static var defaultModel: String? { ShippedModels.defaultClassifier }
}

/// The model a command works on, the same way in every command that takes one (`inspect`,
/// `evaluate`, `predict`, `convert`, `run`, `attack`): the first argument or `--model`, both
/// accepted (giving both with different values is an error); a model file or a shipped model
/// name (`fashion-cnn`, `fashion-fcn`, …); plus the architecture JSON a PyTorch state_dict file
/// needs. `Help` (the command) supplies the help text and the default.
struct ModelOptions<Help: ModelArgumentHelp>: ParsableArguments {
    @Argument(help: ArgumentHelp(Help.modelHelp + " Also accepted as --model.", valueName: "model"))
    var positional: String?

    @Option(name: .customLong("model"), help: ArgumentHelp("The model, as the first argument (either is accepted).", valueName: "model"))
    var option: String?

    @Option(help: "Architecture JSON for a PyTorch state_dict model file.")
    var architecture: String?

    func validate() throws {
        if let positional, let option, positional != option {
            throw ValidationError("the model is given twice, as '\(positional)' and as --model '\(option)'; give it once (first argument or --model)")
        }
        if positional == nil, option == nil, Help.defaultModel == nil {
            throw ValidationError("missing the model: give a model file or a shipped model name (such as fashion-cnn) as the first argument or with --model")
        }
    }

    /// What the user gave (first argument or `--model`), nil when neither.
    var given: String? { positional ?? option }

    /// The model named, or the command's default.
    var name: String { given ?? Help.defaultModel ?? ShippedModels.defaultClassifier }

    /// Resolves a shipped model name to its file and loads the model from it.
    func load() throws -> (path: String, model: Model) {
        let path = try ShippedModels.resolve(name)
        return (path, try Model.load(contentsOf: path, architecture: architecture))
    }
}

// BorderlineCore has plugin-option property wrappers of the same names; in this module the
// argument parser's are meant.
typealias Option = ArgumentParser.Option
typealias OptionGroup = ArgumentParser.OptionGroup
