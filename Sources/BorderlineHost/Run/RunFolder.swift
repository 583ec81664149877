import BorderlineCore
import CHostSystem
import Foundation

/// The run folder and its temporary twin.
///
/// Everything is written into a hidden temporary folder next to the final one
/// (`.<name>.partial-<pid>-<n>`), which takes the final name only when every file is written. A
/// crash leaves only the hidden folder. An existing folder is replaced only with `--overwrite`,
/// only when it is a Borderline run folder (never another folder, the working directory or one of
/// its parents), and only by an atomic exchange once the new run is complete: at every moment
/// either the old run or the new one is at the final path (on a file system without
/// renameat2(RENAME_EXCHANGE) the old run is moved aside first; a kill between the two renames
/// leaves it as `.<name>.replaced-<pid>`, and the next run on that path puts it back). Without `--overwrite`, a folder that
/// appears at the final path while the run works (a second run with the same `--out`) is never
/// replaced; the finished run goes to a unique visible name instead and the command says so.
public struct RunFolder {
    public let finalPath: String
    public let temporaryPath: String
    public let overwrite: Bool

    /// `runs/<yyyyMMdd-HHmmss>-<model name>` in the current directory.
    public static func defaultPath(model: String) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let stem = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        return "runs/\(formatter.string(from: Date()))-\(stem)"
    }

    /// Whether `path` holds a Borderline run folder: a summary.json of the format
    /// `borderline.summary`, or the marker of an interrupted one.
    public static func isRunFolder(_ path: String) -> Bool {
        let summary = (path as NSString).appendingPathComponent("summary.json")
        if let text = try? String(contentsOfFile: summary, encoding: .utf8), let json = try? JSONValue.parse(text),
           json["format"]?.stringValue == "borderline.summary" { return true }
        return FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(InterruptFlag.markerName))
    }

    /// Checks the destination and creates the temporary folder.
    /// - Throws: `.invalidArgument` when the destination exists and `overwrite` is false, when it is
    ///   a file, or when `overwrite` would replace something that is not a run folder (or the
    ///   working directory or a folder above it); `.ioFailure` when its parent cannot be created
    ///   or written.
    public static func prepare(_ path: String, overwrite: Bool) throws -> RunFolder {
        let fm = FileManager.default
        let final = URL(fileURLWithPath: path).standardizedFileURL
        restoreSetAside(final.path)
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: final.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw BorderlineError(.invalidArgument, "the output path exists and is not a folder", file: final.path)
            }
            let real = final.resolvingSymlinksInPath().path
            let cwd = URL(fileURLWithPath: fm.currentDirectoryPath).resolvingSymlinksInPath().path
            if real == "/" || cwd == real || cwd.hasPrefix(real + "/") {
                throw BorderlineError(.invalidArgument, "the output folder is the working directory or a folder above it; a run never replaces it: choose another --out", file: final.path)
            }
            let contents = (try? fm.contentsOfDirectory(atPath: final.path)) ?? []
            if !contents.isEmpty {
                guard overwrite else {
                    throw BorderlineError(.invalidArgument, "the run folder already exists; choose another --out or pass --overwrite", file: final.path)
                }
                guard isRunFolder(final.path) else {
                    throw BorderlineError(.invalidArgument,
                        "--overwrite replaces only a Borderline run folder, and this folder holds other files (\(contents.prefix(3).joined(separator: ", "))\(contents.count > 3 ? ", …" : "")) but no summary.json of a run; choose another --out", file: final.path)
                }
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
        return RunFolder(finalPath: final.path, temporaryPath: temporary.path, overwrite: overwrite)
    }

    /// Puts back a previous run that a killed commit left set aside: on a file system without
    /// renameat2(RENAME_EXCHANGE) the commit moves the old run to `.<name>.replaced-<pid>` before
    /// renaming the new one into place, and a SIGKILL between the two leaves nothing at the final
    /// path. When the final path is absent and such a folder of a process that no longer runs
    /// holds a run folder, it takes the final name again (never replacing anything).
    static func restoreSetAside(_ finalPath: String) {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: finalPath) else { return }
        let parent = (finalPath as NSString).deletingLastPathComponent
        let prefix = ".\((finalPath as NSString).lastPathComponent).replaced-"
        guard let names = try? fm.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) == -1, errno == ESRCH else { continue }
            let aside = (parent as NSString).appendingPathComponent(name)
            guard isRunFolder(aside) else { continue }
            if borderline_rename_noreplace(aside, finalPath) == 0 || ((errno == EINVAL || errno == ENOSYS) && !fm.fileExists(atPath: finalPath) && rename(aside, finalPath) == 0) {
                FileHandle.standardError.write(Data("note: restored the previous run folder \(finalPath) from \(aside), left there by a run that was killed while replacing it\n".utf8))
                return
            }
        }
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain, ns.code == CocoaError.fileWriteOutOfSpace.rawValue { return String(cString: strerror(ENOSPC)) }
        return ns.localizedDescription
    }

    /// A path inside the temporary folder.
    public func file(_ name: String) -> String { (temporaryPath as NSString).appendingPathComponent(name) }

    /// Moves the finished folder into place and returns where it went: the final path, or — when
    /// another folder appeared there while the run worked and `overwrite` is off — a unique visible
    /// sibling (`<name>-2`, …), never replacing what is there.
    @discardableResult
    public func commit() throws -> String {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: finalPath, isDirectory: &isDirectory)
        if exists, overwrite, isDirectory.boolValue, RunFolder.isRunFolder(finalPath) || RunFolder.isEmptyFolder(finalPath) {
            // Swap atomically: at every moment one complete run is at the final path.
            FaultInjection.killIfRequested("kill-before-commit-exchange")
            if !FaultInjection.isActive("no-commit-exchange"), borderline_rename_exchange(temporaryPath, finalPath) == 0 {
                FaultInjection.killIfRequested("kill-after-commit-exchange")
                try? fm.removeItem(atPath: temporaryPath)   // now the old run
                return finalPath
            }
            // No exchange on this file system: keep the old run until the new one is in place.
            let aside = (finalPath as NSString).deletingLastPathComponent + "/.\((finalPath as NSString).lastPathComponent).replaced-\(getpid())"
            guard rename(finalPath, aside) == 0 else {
                throw BorderlineError(.ioFailure, "cannot move the previous run folder aside: \(String(cString: strerror(errno)))", file: finalPath)
            }
            FaultInjection.killIfRequested("kill-after-commit-move-aside")
            guard rename(temporaryPath, finalPath) == 0 else {
                let why = String(cString: strerror(errno))
                _ = rename(aside, finalPath)
                throw BorderlineError(.ioFailure, "cannot move the finished run into place from \(temporaryPath): \(why)", file: finalPath)
            }
            try? fm.removeItem(atPath: aside)
            return finalPath
        }
        if exists, isDirectory.boolValue, RunFolder.isEmptyFolder(finalPath) { _ = rmdir(finalPath) }
        // Never replace what is there: try the final name, then visible alternatives.
        for n in 1...1000 {
            let target = n == 1 ? finalPath : "\(finalPath)-\(n)"
            if borderline_rename_noreplace(temporaryPath, target) == 0 { return target }
            let code = errno
            if code == EEXIST || code == ENOTEMPTY { continue }
            if code == EINVAL || code == ENOSYS {
                // renameat2 unsupported: check, then rename (a narrow race instead of none).
                if fm.fileExists(atPath: target) { continue }
                if rename(temporaryPath, target) == 0 { return target }
            }
            throw BorderlineError(.ioFailure, "cannot move the finished run into place from \(temporaryPath): \(String(cString: strerror(errno)))", file: finalPath)
        }
        throw BorderlineError(.ioFailure, "cannot find a free name next to the run folder; the finished run is in \(temporaryPath)", file: finalPath)
    }

    static func isEmptyFolder(_ path: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? ["x"]).isEmpty
    }

    /// Removes the temporary folder (after a failure).
    public func discard() { try? FileManager.default.removeItem(atPath: temporaryPath) }
}
