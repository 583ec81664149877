import BorderlineCore
import Foundation

/// The run folder and its temporary twin.
///
/// Everything is written into a hidden temporary folder next to the final one
/// (`.<name>.partial-<pid>`), which is renamed into place only when every file is written. A
/// crash leaves only the hidden folder; an existing folder is replaced only with `--overwrite`,
/// and then only after the new one is complete.
public struct RunFolder {
    public let finalPath: String
    public let temporaryPath: String

    /// `runs/<yyyyMMdd-HHmmss>-<model name>` in the current directory.
    public static func defaultPath(model: String) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let stem = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        return "runs/\(formatter.string(from: Date()))-\(stem)"
    }

    /// Checks the destination and creates the temporary folder.
    /// - Throws: `.invalidArgument` when the destination exists (and `overwrite` is false) or is a
    ///   file; `.ioFailure` when its parent cannot be created or written.
    public static func prepare(_ path: String, overwrite: Bool) throws -> RunFolder {
        let fm = FileManager.default
        let final = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: final.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw BorderlineError(.invalidArgument, "the output path exists and is not a folder", file: final.path)
            }
            let contents = (try? fm.contentsOfDirectory(atPath: final.path)) ?? []
            if !contents.isEmpty && !overwrite {
                throw BorderlineError(.invalidArgument, "the run folder already exists; choose another --out or pass --overwrite", file: final.path)
            }
        }
        let parent = final.deletingLastPathComponent()
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw BorderlineError(.ioFailure, "cannot create the output folder's parent: \(RunFolder.reason(error))", file: parent.path)
        }
        let temporary = parent.appendingPathComponent(".\(final.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
            try Data().write(to: temporary.appendingPathComponent(".probe"))
            try fm.removeItem(at: temporary.appendingPathComponent(".probe"))
        } catch {
            try? fm.removeItem(at: temporary)
            throw BorderlineError(.ioFailure, "the output folder cannot be written: \(RunFolder.reason(error))", file: parent.path)
        }
        return RunFolder(finalPath: final.path, temporaryPath: temporary.path)
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }

    /// A path inside the temporary folder.
    public func file(_ name: String) -> String { (temporaryPath as NSString).appendingPathComponent(name) }

    /// Moves the finished folder into place (replacing an existing one).
    public func commit() throws {
        let fm = FileManager.default
        var replaced: String?
        if fm.fileExists(atPath: finalPath) {
            let aside = (finalPath as NSString).deletingLastPathComponent + "/.\((finalPath as NSString).lastPathComponent).replaced-\(getpid())"
            guard rename(finalPath, aside) == 0 else {
                throw BorderlineError(.ioFailure, "cannot move the previous run folder aside: \(String(cString: strerror(errno)))", file: finalPath)
            }
            replaced = aside
        }
        guard rename(temporaryPath, finalPath) == 0 else {
            let why = String(cString: strerror(errno))
            if let replaced { _ = rename(replaced, finalPath) }
            throw BorderlineError(.ioFailure, "cannot move the finished run into place from \(temporaryPath): \(why)", file: finalPath)
        }
        if let replaced { try? fm.removeItem(atPath: replaced) }
    }

    /// Removes the temporary folder (after a failure).
    public func discard() { try? FileManager.default.removeItem(atPath: temporaryPath) }
}
