import Foundation
import XCTest

/// Runs the built `borderline` executable, as a user would.
///
/// The binary is `$BORDERLINE_CLI` when set (tools/test.sh points it at the release build),
/// otherwise the newest of `.build/{release,debug}/borderline` in this checkout.
enum CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func executable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["BORDERLINE_CLI"] { return URL(fileURLWithPath: path) }
        let candidates = ["release", "debug"].map { repository.appendingPathComponent(".build/\($0)/borderline") }
        let existing = candidates.filter { FileManager.default.isExecutableFile(atPath: $0.path) }
        let newest = existing.max { a, b in
            let da = (try? a.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            let db = (try? b.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            return da < db
        }
        guard let newest else { throw XCTSkip("no built borderline executable; run `swift build` or set BORDERLINE_CLI") }
        return newest
    }

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.currentDirectoryURL = repository
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting so a chatty child cannot block on a full pipe.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    static func golden(_ name: String) -> String {
        repository.appendingPathComponent("Tests/BorderlineCoreTests/Golden/\(name)").path
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("borderline-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
