import ArgumentParser
import BorderlineCore
import BorderlineHost

struct Convert: ParsableCommand, ModelArgumentHelp {
    static let configuration = CommandConfiguration(
        abstract: "Convert between native, Keras .h5 and PyTorch state_dict model files.")

    static var modelHelp: String {
        "Input model file (native, Keras .h5/.keras, ONNX, or a PyTorch state_dict file with --architecture), or a shipped model name (e.g. fashion-cnn)."
    }
    static var defaultModel: String? { nil }

    @OptionGroup var modelOptions: ModelOptions<Convert>

    @Option(help: "Output format: native or keras.")
    var to: ModelFileFormat = .native

    @Option(name: [.customShort("o"), .customLong("out"), .customLong("output")], help: "Output file.")
    var output: String

    func run() throws {
        let (_, model) = try modelOptions.load()
        try model.save(to: output, format: to)
        print("wrote \(output) (\(to), \(model.parameterCount) parameters)")
    }
}
