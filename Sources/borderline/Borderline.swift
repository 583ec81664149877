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

    /// Exit codes: 0 success, 2 bad input (file, option, data), 1 anything unexpected. Every error
    /// is printed on stderr as `error: …` — the argument parser's own (`Error: …`) too.
    static func main() {
        BLASKernelSelection.preferAVX512Kernels()
        BLASKernelSelection.configureThreads()
        do {
            var command = try parseAsRoot()
            try BLASKernelSelection.checkEnvironment()
            try command.run()
        } catch let error as BorderlineError {
            printError("\(error)")
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            // --help, --version, and ExitCode(n) thrown after the command printed its own message.
            if code == .success || error is ExitCode { exit(withError: error) }
            printError(fullMessage(for: error))
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    /// Writes `message` to stderr with the one error prefix, `error: `.
    static func printError(_ message: String) {
        var text = message
        for prefix in ["Error: ", "error: "] where text.hasPrefix(prefix) { text.removeFirst(prefix.count) }
        guard !text.isEmpty else { return }
        FileHandle.standardError.write(Data(("error: " + text + (text.hasSuffix("\n") ? "" : "\n")).utf8))
    }
}
