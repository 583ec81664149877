import BorderlineCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a run folder's journal says about its run: `pairs/run.json`.
struct JournalHeader {
    /// SHA-256 of ``identity``: equal for every shard and every resumption of one run.
    var fingerprint: String
    /// Everything that decides the run's numbers (``RunJournal/identity(_:modelHash:)``).
    var identity: JSONValue
    /// The resolved configuration (config.json), from which `--resume` and `merge` rebuild the run.
    var configuration: JSONValue
    var shard: ShardSpec?
    /// The pairs this folder's process runs (a shard's slice, or every pair).
    var pairs: [ClassPair]

    /// 2: pair archives `BLPAIR03` (a call records why it declined its pair). Version 1 journals
    /// (`BLPAIR02` archives) are read too.
    static let formatVersion = 2

    var json: JSONValue {
        .object([
            "format": "borderline.journal", "format_version": .init(JournalHeader.formatVersion), "fingerprint": .string(fingerprint), "identity": identity,
            "configuration": configuration, "shard": shard.map { .string($0.description) } ?? .null,
            "pairs": .array(pairs.map { .string($0.description) }),
        ])
    }

    init(fingerprint: String, identity: JSONValue, configuration: JSONValue, shard: ShardSpec?, pairs: [ClassPair]) {
        self.fingerprint = fingerprint
        self.identity = identity
        self.configuration = configuration
        self.shard = shard
        self.pairs = pairs
    }

    init(json: JSONValue, file: String) throws {
        func bad(_ what: String) -> BorderlineError { BorderlineError(.unreadableFile, "is not a Borderline run journal: \(what)", file: file) }
        guard json["format"]?.stringValue == "borderline.journal" else { throw bad("its format is not borderline.journal") }
        guard let version = json["format_version"]?.intValue, (1...JournalHeader.formatVersion).contains(version) else {
            throw bad("format_version \(json["format_version"]?.serialized() ?? "missing") is not one this build reads (1 to \(JournalHeader.formatVersion))")
        }
        guard let f = json["fingerprint"]?.stringValue, let identity = json["identity"], let configuration = json["configuration"],
              let pairs = json["pairs"]?.arrayValue else { throw bad("fingerprint, identity, configuration or pairs missing") }
        self.fingerprint = f
        self.identity = identity
        self.configuration = configuration
        if let s = json["shard"]?.stringValue { shard = try ShardSpec(parsing: s) } else { shard = nil }
        self.pairs = try pairs.map { item in
            let parts = item.stringValue?.split(separator: ":") ?? []
            guard parts.count == 2, let s = Int(parts[0]), let t = Int(parts[1]) else { throw bad("pair \(item.serialized()) is not s:t") }
            return ClassPair(s, t)
        }
    }
}

/// A run folder's journal (`pairs/` in the run folder, docs/scale-out.md): `run.json` (the run's
/// configuration and fingerprint) and one file per finished step, `<s>-<t>.bin`, written as each
/// step finishes — to a temporary name, fsync'd, renamed, and the folder fsync'd — so that a run
/// killed at any moment keeps every step that finished. `borderline run --resume` continues from
/// it, `borderline merge` assembles shards from their journals. A running process holds an
/// exclusive `flock` on `pairs/.lock`, so a second process never takes over a journal in use.
final class RunJournal {
    static let folderName = "pairs"
    static let headerName = "run.json"
    static let lockName = ".lock"

    /// The journal folder (`<run folder>/pairs`).
    let folder: String
    let header: JournalHeader
    private var lock: Int32 = -1
    /// Steps saved by this process.
    private(set) var saved = 0

    private init(folder: String, header: JournalHeader) {
        self.folder = folder
        self.header = header
    }

    deinit { if lock >= 0 { close(lock) } }

    /// Starts the journal in a run's temporary folder: adopts `existing` (a journal of the same
    /// run found by ``locate(run:)``; its folder is moved here) or creates a new one; writes run.json.
    static func start(in runFolder: String, header: JournalHeader, adopting existing: LocatedJournal?) throws -> RunJournal {
        let folder = (runFolder as NSString).appendingPathComponent(folderName)
        if let existing {
            guard rename(existing.folder, folder) == 0 else {
                throw BorderlineError(.ioFailure, "cannot move the journal of the run being resumed into the new run folder: \(String(cString: strerror(errno)))", file: existing.folder)
            }
            let journal = RunJournal(folder: folder, header: header)
            journal.lock = existing.takeLock()
            existing.removeLeftover()
            try journal.writeHeader()
            return journal
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) } catch {
            throw BorderlineError(.ioFailure, "cannot create the run's journal folder: \(RunFolder.reason(error))", file: folder)
        }
        let journal = RunJournal(folder: folder, header: header)
        journal.lock = try lockJournal(folder)
        try journal.writeHeader()
        return journal
    }

    private func writeHeader() throws {
        try RunJournal.writeAtomically(Array((header.json.serialized(pretty: true) + "\n").utf8),
                                       to: (folder as NSString).appendingPathComponent(RunJournal.headerName))
    }

    /// The file of the step of `pair`.
    static func stepName(_ pair: ClassPair) -> String { "\(pair.source)-\(pair.target).bin" }

    /// Saves a finished step.
    func save(_ step: StepRecord) throws {
        try RunJournal.writeAtomically(PairArchive.encode(step, fingerprint: header.fingerprint),
                                       to: (folder as NSString).appendingPathComponent(RunJournal.stepName(step.pair)))
        saved += 1
    }

    /// Releases the lock (the run is written).
    func finish() {
        if lock >= 0 { close(lock) }
        lock = -1
    }

    // MARK: Reading

    /// run.json of a journal folder.
    static func readHeader(_ folder: String) throws -> JournalHeader {
        let file = (folder as NSString).appendingPathComponent(headerName)
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw BorderlineError(.fileNotFound, "cannot be read: the folder holds no run journal", file: file)
        }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch {
            throw BorderlineError(.unreadableFile, "is not valid JSON: \(error)", file: file)
        }
        return try JournalHeader(json: json, file: file)
    }

    /// Every finished step of a journal, checked against its fingerprint, in run order of `pairs`.
    static func readSteps(_ folder: String, header: JournalHeader) throws -> [StepRecord] {
        var steps: [StepRecord] = []
        for pair in header.pairs {
            let file = (folder as NSString).appendingPathComponent(stepName(pair))
            guard FileManager.default.fileExists(atPath: file) else { continue }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw BorderlineError(.fileNotFound, "cannot be read", file: file)
            }
            let (fingerprint, step) = try PairArchive.decode([UInt8](data), file: file)
            guard fingerprint == header.fingerprint else {
                throw BorderlineError(.invalidConfiguration, "belongs to another run (fingerprint \(fingerprint.prefix(12))…, the journal's is \(header.fingerprint.prefix(12))…)", file: file)
            }
            guard step.pair == pair else {
                throw BorderlineError(.unreadableFile, "holds the results of pair \(step.pair), not \(pair)", file: file)
            }
            steps.append(step)
        }
        return steps
    }

    // MARK: Finding a run to resume

    /// A journal found for `--resume`, locked by this process.
    final class LocatedJournal {
        let folder: String
        let header: JournalHeader
        /// The folder that held it, removed once the journal has moved (a hidden partial folder or
        /// `<run>.interrupted`); nil when it was the run folder itself.
        let leftover: String?
        private var lock: Int32

        init(folder: String, header: JournalHeader, leftover: String?, lock: Int32) {
            self.folder = folder
            self.header = header
            self.leftover = leftover
            self.lock = lock
        }
        deinit { if lock >= 0 { close(lock) } }

        func takeLock() -> Int32 {
            defer { lock = -1 }
            return lock
        }
        func removeLeftover() {
            if let leftover { try? FileManager.default.removeItem(atPath: leftover) }
        }
    }

    /// The journal of the unfinished run `final`: in the run folder itself (a run stopped by
    /// Ctrl-C, a shard), in `<final>.interrupted` (stopped by a second Ctrl-C), or in a hidden
    /// `.<name>.partial-*` folder beside it (a process that was killed); the one with the most
    /// finished steps when there are several. Nil when there is none.
    /// - Throws: `.invalidArgument` when another process still holds the journal.
    static func locate(run final: String) throws -> LocatedJournal? {
        let url = URL(fileURLWithPath: final).standardizedFileURL
        let parent = url.deletingLastPathComponent().path, name = url.lastPathComponent
        var candidates: [(folder: String, leftover: String?)] = [((url.path as NSString).appendingPathComponent(folderName), nil)]
        let interrupted = url.path + ".interrupted"
        candidates.append(((interrupted as NSString).appendingPathComponent(folderName), interrupted))
        let siblings = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for s in siblings.sorted() where s.hasPrefix(".\(name).partial-") {
            let holder = (parent as NSString).appendingPathComponent(s)
            candidates.append(((holder as NSString).appendingPathComponent(folderName), holder))
        }
        var found: [(folder: String, leftover: String?, header: JournalHeader, steps: Int)] = []
        for c in candidates where FileManager.default.fileExists(atPath: (c.folder as NSString).appendingPathComponent(headerName)) {
            guard let header = try? readHeader(c.folder) else { continue }
            let steps = ((try? FileManager.default.contentsOfDirectory(atPath: c.folder)) ?? []).filter { $0.hasSuffix(".bin") && !$0.hasPrefix(".") }.count
            found.append((c.folder, c.leftover, header, steps))
        }
        guard let best = found.enumerated().max(by: { a, b in
            a.element.steps != b.element.steps ? a.element.steps < b.element.steps : a.offset > b.offset
        })?.element else { return nil }
        let lock = try lockJournal(best.folder)
        return LocatedJournal(folder: best.folder, header: best.header, leftover: best.leftover, lock: lock)
    }

    /// Takes the journal's lock, or says which process holds it.
    static func lockJournal(_ folder: String) throws -> Int32 {
        let path = (folder as NSString).appendingPathComponent(lockName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BorderlineError(.ioFailure, "cannot open the journal's lock: \(String(cString: strerror(errno)))", file: path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EWOULDBLOCK {
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
                close(fd)
                throw BorderlineError(.invalidArgument, "another borderline process (pid \(holder)) is still running this run; wait for it or stop it first", file: folder)
            }
            // No locks on this file system (ENOLCK): go on without.
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, pid.count, 0) }
        return fd
    }

    // MARK: Atomic files

    /// Writes `bytes` to `path` so that `path` holds either its old contents or all of the new:
    /// a temporary file in the same folder, fsync, rename over `path`, fsync of the folder.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = (folder as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).tmp-\(getpid())")
        func fail(_ what: String, _ file: String) -> BorderlineError {
            BorderlineError(.ioFailure, "cannot \(what): \(String(cString: strerror(errno)))", file: file)
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("create the journal file", temporary) }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else {
            let e = fail("write the journal file", temporary)
            close(fd)
            unlink(temporary)
            throw e
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let e = fail("move the journal file into place", path)
            unlink(temporary)
            throw e
        }
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    // MARK: Identity

    /// Everything that decides a run's numbers, without paths: the model's and data's contents,
    /// the plugins and their versions, every option, the pairs, samples, seed and gradient policy.
    /// Two processes whose identities agree compute the same results for a pair.
    static func identity(_ prepared: RunEngine.Prepared, modelHash: String) -> JSONValue {
        var config = RunFolderWriter.resolvedConfiguration(prepared).objectValue ?? [:]
        // default_plugins is always false in a resolved configuration (its plugin list is complete).
        for key in ["model", "architecture", "data", "plugin_paths", "shard", "default_plugins"] { config.removeValue(forKey: key) }
        config["model_sha256"] = .string(modelHash)
        if let a = prepared.configuration.architecture { config["architecture_sha256"] = .string((try? SHA256.hex(ofFile: a)) ?? a) }
        config["data_images"] = .init(prepared.data.count)
        config["data_digest"] = .string(dataDigest(prepared))
        config["plugin_versions"] = .object(Dictionary(prepared.plugins.map { ($0.plugin.name, JSONValue.string($0.plugin.version)) }, uniquingKeysWith: { a, _ in a }))
        config["borderline"] = .string(BorderlineVersion.string)
        return .object(config)
    }

    /// FNV-1a (64 bit) of the run's data: the rows it took from the data set, their labels and
    /// their pixels.
    static func dataDigest(_ prepared: RunEngine.Prepared) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<T>(_ values: [T]) {
            values.withUnsafeBytes { raw in for b in raw { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        }
        mix(prepared.dataIndices.map { Int64($0) })
        mix(prepared.data.labels.map { Int64($0) })
        mix(prepared.data.images.scalars)
        return String(format: "%016llx", h)
    }

    static func fingerprint(_ identity: JSONValue) -> String { SHA256.hex(Data(identity.serialized().utf8)) }
}
