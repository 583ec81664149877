import Foundation
#if canImport(XCTest)
import XCTest
#endif

/// Runs programs for tests and collects their output: the one process runner every test target
/// uses (the built `borderline` CLI, compilers, `swift build` of a scaffolded plugin).
public enum TestProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Whether the process ended by a signal (a crash), not by exiting.
        public var signalled: Bool
    }

    /// Runs `executable` with `arguments` (in `directory`, with `environment` added to this
    /// process's, `BORDERLINE_PLUGIN_PATH` removed unless given) and waits for it.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], in directory: String? = nil,
                           environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? CLI.repository.path)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "BORDERLINE_PLUGIN_PATH")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs so that neither fills up.
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let group = DispatchGroup()
        group.enter()
        let reader = out.fileHandleForReading
        DispatchQueue.global().async { outBox.data = reader.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outBox.data, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), signalled: process.terminationReason == .uncaughtSignal)
    }
}

/// The built `borderline` executable, run as a user would.
///
/// The binary is `$BORDERLINE_CLI` when set (tools/test.sh points it at the release build),
/// otherwise the newest of `.build/{release,debug}/borderline` in this checkout.
public enum CLI {
    public typealias Result = TestProcess.Result

    /// The repository checkout.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func executable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["BORDERLINE_CLI"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let candidates = ["release", "debug"].map { repository.appendingPathComponent(".build/\($0)/borderline") }
        let existing = candidates.filter { FileManager.default.isExecutableFile(atPath: $0.path) }
        let newest = existing.max { a, b in
            let da = (try? a.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            let db = (try? b.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            return da < db
        }
        guard let newest else {
            #if canImport(XCTest)
            throw XCTSkip("no built borderline executable; run `swift build` or set BORDERLINE_CLI")
            #else
            throw CocoaError(.fileNoSuchFile)
            #endif
        }
        return newest
    }

    /// Runs the CLI in the repository (or `directory`).
    @discardableResult
    public static func run(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]) throws -> Result {
        try TestProcess.run(try executable().path, arguments, in: directory, environment: environment)
    }

    /// A committed golden file of the core tests.
    public static func golden(_ name: String) -> String {
        repository.appendingPathComponent("Tests/BorderlineCoreTests/Golden/\(name)").path
    }

    /// A fresh temporary folder.
    public static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("borderline-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// summary.json of a run folder as a dictionary.
    public static func summary(_ folder: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent("summary.json"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw CocoaError(.fileReadCorruptFile) }
        return object
    }
}
