import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// Loading plugin libraries through the loader the CLI uses, and refusing bad ones.
final class PluginLoaderTests: XCTestCase {
    func inTreeBisection() throws -> LoadedPlugin {
        guard FileManager.default.fileExists(atPath: TestSupport.bisectionLibrary) else {
            throw XCTSkip("libBisectionPlugin.so was not built next to the tests (build all products)")
        }
        return try PluginLoader.load(TestSupport.bisectionLibrary, origin: .builtIn)
    }

    /// The cast across the dlopen boundary succeeds only when host and plugin share one core:
    /// a plugin that carried its own copy would fail here.
    func testInTreePluginSharesTheHostsCoreAndRunsThroughTheProtocols() throws {
        let loaded = try inTreeBisection()
        let object: AnyObject = loaded.plugin
        XCTAssertNotNil(object as? any BorderlinePlugin)
        XCTAssertEqual(loaded.plugin.name, "bisection")
        XCTAssertEqual(loaded.plugin.probers.map(\.name), ["random-pair-bisection"])
        XCTAssertEqual(loaded.plugin.metrics.map(\.name), ["boundary-summary"])
        // Loading again gives the same object (the library is loaded once and never unloaded).
        XCTAssertTrue(try PluginLoader.load(TestSupport.bisectionLibrary, origin: .builtIn).plugin === loaded.plugin)
        // Discovery of the build folder finds it.
        let discovered = PluginDiscovery(pluginPaths: [], environment: [:], builtInFolder: TestSupport.buildFolder).survey()
        XCTAssertTrue(discovered.problems.isEmpty, "\(discovered.problems)")
        XCTAssertEqual(discovered.library(named: "bisection")?.manifest, BisectionManifest.expected)

        // Call the prober and the metric through the core protocols on the shipped model.
        let data = try TestSupport.fashionMNISTOrSkip().prefix(400)
        let model = try Model.load(contentsOf: TestSupport.model)
        let environment = try RunEnvironment(classifier: ModelClassifier(model), data: data, pairs: [ClassPair(7, 9)],
                                             samplesPerPair: 6, seed: 1)
        let queriesBefore = environment.counter.count
        let record = PluginRecord(name: "bisection", version: loaded.plugin.version, summary: "")
        let prober = loaded.plugin.probers[0]
        let options = try RunEngine.resolveOptions(["bisection.beta": .string("0.05")], plugins: [loaded.plugin])
        let (set, _) = try prober.probe(ClassPair(7, 9), erasedOptions: options["bisection"]!["random-pair-bisection"]!.options,
                                        context: environment.context(plugin: record, component: prober.name, kind: .prober, visibleSets: []))
        XCTAssertEqual(set.count, 6)
        XCTAssertGreaterThan(set.successCount, 0)
        for i in set.successfulIndices { XCTAssertLessThan(set.probabilityGaps[i], 0.05) }
        XCTAssertEqual(environment.counter.count - queriesBefore, 6 * 2 + set.iterations.reduce(0, +), "every query of the prober is counted")
        let metric = loaded.plugin.metrics[0]
        let output = try metric.evaluate(set, erasedOptions: options["bisection"]!["boundary-summary"]!.options,
                                         context: environment.context(plugin: record, component: metric.name, kind: .metric, visibleSets: [set]))
        let tree = try ResultEncoder.encode(output)
        XCTAssertEqual(tree.number("attempts"), 6)
        XCTAssertEqual(tree.number("success_rate")!, Double(set.successCount) / 6, accuracy: 1e-12)
        guard case .picture? = tree["grid"] else { return XCTFail("the metric draws its grid: \(tree)") }
    }

    func testFileWithoutAnySymbolIsNotAPlugin() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let so = try TestSupport.compileSharedLibrary("int unrelated(void) { return 0; }\n", named: "libUnrelatedPlugin.so", in: dir)
        XCTAssertThrowsError(try PluginLoader.load(so, origin: .pluginPath)) { error in
            XCTAssertTrue("\(error)".contains("is not a Borderline plugin of this version: it exports no borderline_plugin_abi_version symbol"), "\(error)")
            XCTAssertTrue("\(error)".hasPrefix(so), "the message names the file: \(error)")
        }
    }

    func testPluginWithoutEntrySymbolIsRefused() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let so = try TestSupport.compileSharedLibrary("""
            int borderline_plugin_abi_version(void) { return \(PluginABI.hostVersion); }
            const char *borderline_plugin_manifest(void) { return "{\\"name\\": \\"no-entry\\", \\"version\\": \\"1\\"}"; }
            """, named: "libNoEntryPlugin.so", in: dir)
        let library = try PluginLoader.open(so, origin: .pluginPath)
        XCTAssertEqual(library.manifest.name, "no-entry", "the manifest is read without creating the plugin")
        XCTAssertThrowsError(try PluginLoader.create(library)) { error in
            XCTAssertTrue("\(error)".contains("exports no borderline_plugin_create symbol"), "\(error)")
        }
    }

    func testSymbolsThatAreDataAreRefusedNotCalled() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let so = try TestSupport.compileSharedLibrary("int borderline_plugin_abi_version = 1;\n", named: "libDataPlugin.so", in: dir)
        XCTAssertThrowsError(try PluginLoader.open(so, origin: .pluginPath)) { error in
            XCTAssertTrue("\(error)".contains("its symbol borderline_plugin_abi_version is not a function"), "\(error)")
        }
    }

    func testManifestFileSparesOpeningALibraryTheRunDoesNotNeed() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let copy = (dir as NSString).appendingPathComponent("libBisectionPlugin.so")
        try FileManager.default.copyItem(atPath: try inTreeBisection().file, toPath: copy)
        let discovery = PluginDiscovery(pluginPaths: [dir], environment: [:], builtInFolder: nil)
        let first = discovery.survey()
        XCTAssertEqual(first.library(named: "bisection")?.fromSidecar, false)
        XCTAssertTrue(FileManager.default.fileExists(atPath: PluginDiscovery.manifestFile(for: copy)), "the host writes the manifest file")
        let second = discovery.survey()
        XCTAssertEqual(second.library(named: "bisection")?.fromSidecar, true, "the second survey reads the file, not the library")
        // A changed library makes the manifest file stale: the library is opened again.
        let later = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: copy)
        XCTAssertEqual(discovery.survey().library(named: "bisection")?.fromSidecar, false)
    }

    func testABIMismatchNamesBothVersions() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let so = try TestSupport.compileSharedLibrary("""
            int borderline_plugin_abi_version(void) { return 999; }
            void *borderline_plugin_create(void) { return 0; }
            """, named: "libFuturePlugin.so", in: dir)
        XCTAssertThrowsError(try PluginLoader.load(so, origin: .pluginPath)) { error in
            XCTAssertTrue("\(error)".contains("built for ABI version 0x3e7, this host implements version 0x"), "\(error)")
        }
    }

    func testUnsafeFilesAreRefusedWithTheReason() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let source = try inTreeBisection().file
        let copy = (dir as NSString).appendingPathComponent("libCopyPlugin.so")
        try FileManager.default.copyItem(atPath: source, toPath: copy)
        chmod(copy, 0o775)
        XCTAssertThrowsError(try PluginLoader.checkSafety(of: copy)) { error in
            XCTAssertTrue("\(error)".contains("group-writable (mode 775)"), "\(error)")
            XCTAssertTrue("\(error)".contains("chmod go-w"), "\(error)")
        }
        chmod(copy, 0o757)
        XCTAssertThrowsError(try PluginLoader.checkSafety(of: copy)) { XCTAssertTrue("\($0)".contains("world-writable"), "\($0)") }
        chmod(copy, 0o755)
        XCTAssertNoThrow(try PluginLoader.checkSafety(of: copy))
        // A safe file in a folder others may write to is refused too (they could swap it).
        chmod(dir, 0o777)
        XCTAssertThrowsError(try PluginLoader.checkSafety(of: copy)) { XCTAssertTrue("\($0)".contains("its folder \(dir) is world-writable"), "\($0)") }
        let link = (try TestSupport.temporaryFolder(self) as NSString).appendingPathComponent("libLinkPlugin.so")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: copy)
        XCTAssertThrowsError(try PluginLoader.checkSafety(of: link), "through a symlink as well")
        chmod(dir, 0o755)
        if getuid() == 0 {
            // Only root can give a file away to test the ownership rule.
            chown(copy, 4321, 4321)
            XCTAssertThrowsError(try PluginLoader.checkSafety(of: copy)) { error in
                XCTAssertTrue("\(error)".contains("owned by user id 4321"), "\(error)")
            }
        }
    }

    func testDiscoveryOrderAndWhatCountsAsAPluginFile() throws {
        XCTAssertTrue(PluginLoader.isPluginFileName("libBisectionPlugin.so"))
        XCTAssertFalse(PluginLoader.isPluginFileName("libBorderlineCore.so"))
        XCTAssertFalse(PluginLoader.isPluginFileName("libPlugin.so"))
        let d = PluginDiscovery(pluginPaths: ["/a", "/b"], environment: ["BORDERLINE_PLUGIN_PATH": "/c::/d"], builtInFolder: "/e")
        XCTAssertEqual(d.folders.map(\.path), ["/a", "/b", "/c", "/d", "/e"])
        XCTAssertEqual(d.folders.map(\.origin), [.pluginPath, .pluginPath, .environment, .environment, .builtIn])
        let none = PluginDiscovery(pluginPaths: [], environment: [:], builtInFolder: nil)
        XCTAssertTrue(none.folders.isEmpty, "the current directory is never searched implicitly")
        XCTAssertEqual(PluginDiscovery(pluginPaths: ["/does/not/exist"], environment: [:], builtInFolder: nil).survey().missingFolders,
                       ["/does/not/exist"])
    }
}

/// What the in-tree bisection library's manifest says.
enum BisectionManifest {
    static let expected = PluginManifest(name: "bisection", version: "2.0.0",
        summary: "Boundary points by bisection between correctly classified images of two classes, a summary of any boundary set, and a class × class atlas of the run.")
}
