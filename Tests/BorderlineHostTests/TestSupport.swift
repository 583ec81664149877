import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// Paths and helpers shared by the host tests.
enum TestSupport {
    /// The repository checkout.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder of the running test executable: the build folder, which holds the in-tree
    /// plugin libraries SwiftPM built alongside the tests.
    static var buildFolder: String { PluginDiscovery.builtInFolder()! }

    /// The in-tree Bisection plugin library of this build.
    static var bisectionLibrary: String { (buildFolder as NSString).appendingPathComponent("libBisectionPlugin.so") }

    /// The `borderline` executable end-to-end tests run: `$BORDERLINE_CLI`, else the one of this
    /// build, else `.build/release/borderline`, else `.build/debug/borderline`.
    static func cli() throws -> String {
        if let env = ProcessInfo.processInfo.environment["BORDERLINE_CLI"], !env.isEmpty { return env }
        let candidates = [(buildFolder as NSString).appendingPathComponent("borderline"),
                          repository.appendingPathComponent(".build/release/borderline").path,
                          repository.appendingPathComponent(".build/debug/borderline").path]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no borderline executable (set BORDERLINE_CLI or build the borderline product)")
        }
        return found
    }

    /// `--plugin-path` arguments that make the in-tree plugins available to `cli()` even when its
    /// own folder lacks them (e.g. `swift build -c release --product borderline` builds no plugins).
    static func inTreePluginArguments() throws -> [String] {
        let cliFolder = (try cli() as NSString).deletingLastPathComponent
        if FileManager.default.fileExists(atPath: (cliFolder as NSString).appendingPathComponent("libBisectionPlugin.so")) { return [] }
        return ["--plugin-path", buildFolder]
    }

    /// The shipped CNN, else the golden CNN fixture.
    static var model: String {
        let shipped = repository.appendingPathComponent("Models/fashion-cnn.h5").path
        if FileManager.default.fileExists(atPath: shipped) { return shipped }
        return repository.appendingPathComponent("Tests/BorderlineCoreTests/Golden/cnn.native.h5").path
    }

    static func fashionMNISTOrSkip() throws -> Dataset {
        do { return try Dataset.named("fashion-mnist", split: .test) } catch {
            throw XCTSkip("fashion-mnist is not installed: \(error)")
        }
    }

    /// A fresh temporary folder, removed at the end of the test.
    static func temporaryFolder(_ test: XCTestCase) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("borderline-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    typealias ProcessResult = TestProcess.Result

    /// Runs an executable and collects its output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: String? = nil,
                    environment: [String: String] = [:]) throws -> ProcessResult {
        try TestProcess.run(executable, arguments, in: directory, environment: environment)
    }

    /// Runs the CLI.
    @discardableResult
    static func borderline(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
        try run(try cli(), arguments, in: directory, environment: environment)
    }

    /// Compiles a C file into a shared library (fixtures for plugin files that are not plugins).
    static func compileSharedLibrary(_ source: String, named name: String, in folder: String) throws -> String {
        let c = (folder as NSString).appendingPathComponent(name + ".c")
        let so = (folder as NSString).appendingPathComponent(name)
        try source.write(toFile: c, atomically: true, encoding: .utf8)
        let compiler = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let compiler else { throw XCTSkip("no C compiler to build the fixture library") }
        let r = try run(compiler, ["-shared", "-fPIC", "-o", so, c])
        guard r.status == 0 else { throw XCTSkip("cannot compile the fixture library: \(r.stderr)") }
        try FileManager.default.removeItem(atPath: c)
        chmod(so, 0o755)
        return so
    }
}

/// A two-class classifier on `[2]` inputs with known boundary: logits `(0, w·x₀)`, so
/// `p₁ = σ(w x₀)` and the boundary is the line `x₀ = 0`.
final class LogisticLine: Classifier {
    let w: Float
    init(w: Float = 4) { self.w = w }
    var inputShape: [Int] { [2] }
    var classNames: [String] { ["left", "right"] }
    func probabilities(_ x: Tensor) throws -> Tensor { try logits(x).softmaxRows() }
    func logits(_ x: Tensor) throws -> Tensor {
        try checkBatch(x)
        return Tensor(shape: [x.batchSize, 2], scalars: (0..<x.batchSize).flatMap { [0, w * x.scalars[$0 * 2]] })
    }
}
