import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every plugin found, where from, and its probers, metrics, generators and options.",
        discussion: "Exits with status 2 when a plugin file cannot be loaded or a --plugin-path folder does not exist.")

    @Option(name: .customLong("plugin-path"), help: "Also look for plugins in this folder (repeatable).")
    var pluginPaths: [String] = []

    func run() throws {
        let listing = PluginListing(discovery: PluginDiscovery(pluginPaths: pluginPaths))
        print(listing.render(), terminator: "")
        if listing.hasProblems { throw ExitCode(2) }
    }
}

struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Work with plugins.",
        subcommands: [PluginNew.self])
}
