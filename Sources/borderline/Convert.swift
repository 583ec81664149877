import ArgumentParser
import BorderlineCore
import BorderlineHost

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert between native, Keras .h5 and PyTorch state_dict model files.")

    @Argument(help: "Input model file (native, Keras .h5, or a PyTorch state_dict file with --architecture).")
    var input: String

    @Option(help: "Architecture JSON for a PyTorch state_dict input.")
    var architecture: String?

    @Option(help: "Output format: native or keras.")
    var to: ModelFileFormat = .native

    @Option(name: [.short, .long], help: "Output file.")
    var output: String

    func run() throws {
        let model = try Model.load(contentsOf: input, architecture: architecture)
        try model.save(to: output, format: to)
        print("wrote \(output) (\(to), \(model.parameterCount) parameters)")
    }
}
