import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

@main
struct Borderline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse the decision boundaries of trained neural classifiers.",
        version: "borderline \(BorderlineVersion.string)",
        subcommands: [Inspect.self, Evaluate.self, Predict.self, Train.self, TrainVAE.self, Convert.self, Run.self, Merge.self, SlurmScriptCommand.self,
                      Compare.self, Attack.self, Plugins.self, PluginCommand.self]
    )

    /// Exit codes: 0 success, 2 bad input (file, option, data), 1 anything unexpected.
    static func main() {
        BLASKernelSelection.preferAVX512Kernels()
        BLASKernelSelection.configureThreads()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as BorderlineError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
