import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct PluginNew: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Scaffold an out-of-tree plugin package (SwiftPM) whose one prober builds and loads as is.")

    @Argument(help: "Plugin name: lower-case letters, digits and dashes (what --plugin NAME selects).")
    var name: String

    @Option(help: "Folder to create the package in (the package goes to PATH/NAME; default: the current folder).")
    var path: String = "."

    @Option(help: "The Borderline core package to depend on (default: Sources/Core of this checkout).")
    var core: String?

    func run() throws {
        guard let corePath = core ?? PluginScaffold.locateCore() else {
            throw BorderlineError(.fileNotFound, "cannot find Sources/Core of a Borderline checkout next to this executable; pass --core PATH or set BORDERLINE_CORE_PATH")
        }
        let scaffold = try PluginScaffold(name: name, parent: path, corePath: corePath)
        try scaffold.write()
        print("""
        created \(scaffold.folder) (plugin '\(scaffold.name)', library lib\(scaffold.productName).so, core \(scaffold.corePath))
        next:
          cd \(scaffold.folder) && swift build
          borderline plugins --plugin-path \(scaffold.folder)/.build/debug
          borderline run --plugin-path \(scaffold.folder)/.build/debug --plugin \(scaffold.name) --pairs 0:6 --samples 20
        """)
    }
}
