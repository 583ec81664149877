import BorderlineCore
import Foundation

/// The bytes of one journal file (`pairs/<s>-<t>.bin`, docs/scale-out.md): the calls of one step of
/// a run — boundary sets, output trees, notes, problems, seconds and queries — exactly as they were
/// made (floats as their bit patterns, order kept), so that a resumed or merged run files the
/// same numbers as a run that never stopped.
///
/// Layout: the magic `BLPAIR03`, the run's fingerprint (text), the step's pair, the calls, the
/// payload length and the magic `BLPAIREND`. Integers are little-endian; this host writes and
/// reads only on little-endian machines (x86-64, arm64). Versions: 02 — boundary sets carry their
/// gap tolerance; 03 — each call records, after its problems, why it declined the pair
/// (``PairDeclined``; an optional string). Version 02 archives (no such field) are still read.
enum PairArchive {
    static let magic = Array("BLPAIR03".utf8)
    /// 02: boundary sets carry their gap tolerance, no declined reasons (still read).
    static let magicVersion2 = Array("BLPAIR02".utf8)
    static let endMagic = Array("BLPAIREND".utf8)

    /// `version` 2 writes the previous layout (no declined reasons; for tests of reading old journals).
    static func encode(_ step: StepRecord, fingerprint: String, version: Int = 3) -> [UInt8] {
        var w = ByteWriter()
        w.version = version
        w.bytes(version >= 3 ? magic : magicVersion2)
        w.string(fingerprint)
        w.pair(step.pair)
        w.int(step.calls.count)
        for call in step.calls { w.call(call) }
        let length = w.buffer.count
        w.int(length)
        w.bytes(endMagic)
        return w.buffer
    }

    /// - Throws: `.unreadableFile` naming `file` for bytes that are not a complete archive.
    static func decode(_ bytes: [UInt8], file: String) throws -> (fingerprint: String, step: StepRecord) {
        var r = ByteReader(bytes: bytes, file: file)
        let signature = Array(bytes.prefix(magic.count))
        guard bytes.count >= magic.count + endMagic.count + 8, signature == magic || signature == magicVersion2 else {
            throw BorderlineError(.unreadableFile, "is not a Borderline pair archive (no BLPAIR03 or BLPAIR02 signature; journals of an older Borderline cannot be resumed)", file: file)
        }
        r.version = signature == magic ? 3 : 2
        guard Array(bytes.suffix(endMagic.count)) == endMagic else {
            throw BorderlineError(.unreadableFile, "is incomplete (no end marker): written by a run that stopped while writing it", file: file)
        }
        r.position = magic.count
        let fingerprint = try r.string()
        let pair = try r.pair()
        let n = try r.count()
        var calls: [CallRecord] = []
        for _ in 0..<n { calls.append(try r.call()) }
        let length = try r.int()
        guard length == r.position - 8, r.position + endMagic.count == bytes.count else {
            throw BorderlineError(.unreadableFile, "is damaged (its length does not match its contents)", file: file)
        }
        return (fingerprint, StepRecord(pair: pair, calls: calls))
    }
}

struct ByteWriter {
    var buffer: [UInt8] = []
    /// The archive's format version (see ``PairArchive``).
    var version = 3

    mutating func bytes(_ b: [UInt8]) { buffer.append(contentsOf: b) }
    mutating func u8(_ v: UInt8) { buffer.append(v) }
    mutating func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func double(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { buffer.append(contentsOf: $0) } }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        int(utf8.count)
        bytes(utf8)
    }
    mutating func optionalString(_ s: String?) {
        bool(s != nil)
        if let s { string(s) }
    }
    mutating func strings(_ a: [String]) {
        int(a.count)
        for s in a { string(s) }
    }
    mutating func pair(_ p: ClassPair) { int(p.source); int(p.target) }
    mutating func shape(_ s: [Int]) {
        int(s.count)
        for d in s { int(d) }
    }
    mutating func raw<T>(_ values: [T]) { values.withUnsafeBytes { buffer.append(contentsOf: $0) } }
    mutating func tensor(_ t: Tensor) {
        shape(t.shape)
        t.withUnsafeBufferPointer { p in buffer.append(contentsOf: UnsafeRawBufferPointer(p)) }
    }
    mutating func ints(_ v: [Int]) {
        int(v.count)
        raw(v.map { Int64($0) })
    }

    mutating func set(_ s: BoundarySet) {
        pair(s.pair)
        string(s.producer)
        int(s.queries)
        tensor(s.points)
        tensor(s.startPoints)
        bool(s.endPoints != nil)
        if let e = s.endPoints { tensor(e) }
        ints(s.startIndices)
        bool(s.endIndices != nil)
        if let e = s.endIndices { ints(e) }
        tensor(s.probabilities)
        raw(s.succeeded.map { UInt8($0 ? 1 : 0) })
        for r in s.failureReasons { optionalString(r) }
        ints(s.iterations)
        bool(s.gapTolerance != nil)
        if let beta = s.gapTolerance { raw([beta]) }
        let extras = s.extras.sorted { $0.key < $1.key }
        int(extras.count)
        for (name, t) in extras { string(name); tensor(t) }
    }

    mutating func value(_ v: ResultValue) {
        switch v {
        case .group(let members):
            u8(0); int(members.count)
            for m in members { string(m.key); value(m.value) }
        case .number(let d): u8(1); double(d)
        case .bool(let b): u8(2); bool(b)
        case .string(let s): u8(3); string(s)
        case .strings(let a): u8(4); strings(a)
        case .array(let a):
            u8(5)
            switch a {
            case .float(let t): u8(0); tensor(t)
            case .float64(let values, let s): u8(1); shape(s); raw(values.map(\.bitPattern))
            case .int64(let values, let s): u8(2); shape(s); raw(values)
            case .uint8(let values, let s): u8(3); shape(s); raw(values)
            }
        case .table(let t):
            // Key tables and pictures have tags of their own, so archives without them read as before.
            u8(t.isKey ? 11 : 6); string(t.title); strings(t.columns); int(t.rows.count)
            for row in t.rows { strings(row) }
        case .picture(let p):
            u8(p.isKey ? 12 : 7); string(p.name); string(p.caption)
            int(p.image.width); int(p.image.height); int(p.image.channels); raw(p.image.pixels)
        case .note(let n): u8(8); string(n)
        case .highlight(let h): u8(10); string(h.label); double(h.value); string(h.unit); string(h.detail)
        case .perPair(let entries):
            u8(9); int(entries.count)
            for e in entries { pair(e.pair); value(e.value) }
        }
    }

    mutating func call(_ c: CallRecord) {
        string(c.plugin)
        string(c.component)
        string(c.kind.rawValue)
        bool(c.readsSets)
        bool(c.pair != nil)
        if let p = c.pair { pair(p) }
        optionalString(c.producer)
        double(c.seconds)
        int(c.queries)
        int(c.notes.count)
        for n in c.notes { string(n.plugin); optionalString(n.component); string(n.text) }
        int(c.problems.count)
        for p in c.problems { string(p.plugin); string(p.message) }
        if version >= 3 { optionalString(c.declined) }
        bool(c.set != nil)
        if let s = c.set { set(s) }
        bool(c.tree != nil)
        if let t = c.tree { value(t) }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    let file: String
    var position = 0
    /// The archive's format version (2: `BLPAIR02`, 3: `BLPAIR03`).
    var version = 3

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    func damaged(_ what: String) -> BorderlineError {
        BorderlineError(.unreadableFile, "is damaged: \(what) at byte \(position) of \(bytes.count)", file: file)
    }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - position else { throw damaged("\(n) bytes expected") }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
    mutating func u8() throws -> UInt8 { try take(1).first! }
    mutating func int() throws -> Int {
        let b = try take(8)
        var v: Int64 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: b) }
        return Int(Int64(littleEndian: v))
    }
    /// A count of elements, each at least `size` bytes, that fits in what is left.
    mutating func count(size: Int = 1) throws -> Int {
        let n = try int()
        guard n >= 0, n <= (bytes.count - position) / max(size, 1) else { throw damaged("count \(n) out of range") }
        return n
    }
    mutating func double() throws -> Double {
        let b = try take(8)
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: b) }
        return Double(bitPattern: UInt64(littleEndian: v))
    }
    mutating func bool() throws -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        default: throw damaged("a flag that is neither 0 nor 1")
        }
    }
    mutating func string() throws -> String {
        let n = try count()
        guard let s = String(bytes: try take(n), encoding: .utf8) else { throw damaged("text that is not UTF-8") }
        return s
    }
    mutating func optionalString() throws -> String? { try bool() ? try string() : nil }
    mutating func strings() throws -> [String] {
        let n = try count(size: 8)
        return try (0..<n).map { _ in try string() }
    }
    mutating func pair() throws -> ClassPair { ClassPair(try int(), try int()) }
    mutating func shape() throws -> [Int] {
        let rank = try count(size: 8)
        let s = try (0..<rank).map { _ in try int() }
        guard s.allSatisfy({ $0 >= 0 }) else { throw damaged("a negative dimension in \(s)") }
        return s
    }
    mutating func raw<T>(_ type: T.Type, count n: Int) throws -> [T] {
        let size = MemoryLayout<T>.stride
        guard n <= (bytes.count - position) / max(size, 1) else { throw damaged("\(n) values expected") }
        let b = try take(n * size)
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyBytes(from: b)
            initialized = n
        }
    }
    mutating func elements(of shape: [Int]) throws -> Int {
        var n = 1
        for d in shape {
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, m <= bytes.count else { throw damaged("shape \(shape) larger than the file") }
            n = m
        }
        return n
    }
    mutating func tensor() throws -> Tensor {
        let s = try shape()
        return Tensor(shape: s, scalars: try raw(Float.self, count: try elements(of: s)))
    }
    mutating func ints() throws -> [Int] {
        let n = try count(size: 8)
        return try raw(Int64.self, count: n).map { Int($0) }
    }

    mutating func set() throws -> BoundarySet {
        let pair = try pair()
        let producer = try string()
        let queries = try int()
        let points = try tensor(), start = try tensor()
        let end = try bool() ? try tensor() : nil
        let startIndices = try ints()
        let endIndices = try bool() ? try ints() : nil
        let probabilities = try tensor()
        let m = startIndices.count
        let succeeded = try raw(UInt8.self, count: m).map { $0 != 0 }
        let reasons = try (0..<m).map { _ in try optionalString() }
        let iterations = try ints()
        let gapTolerance = try bool() ? try raw(Float.self, count: 1)[0] : nil
        let n = try count(size: 16)
        var extras: [String: Tensor] = [:]
        for _ in 0..<n { extras[try string()] = try tensor() }
        do {
            return try BoundarySet(pair: pair, points: points, startPoints: start, endPoints: end, startIndices: startIndices,
                                   endIndices: endIndices, probabilities: probabilities, succeeded: succeeded, failureReasons: reasons,
                                   iterations: iterations, gapTolerance: gapTolerance, queries: queries, extras: extras, producer: producer)
        } catch let e as BorderlineError {
            throw damaged("a boundary set that does not fit together (\(e.message))")
        }
    }

    mutating func value(depth: Int = 0) throws -> ResultValue {
        guard depth < 200 else { throw damaged("results nested deeper than 200 levels") }
        let tag = try u8()
        switch tag {
        case 0:
            let n = try count(size: 9)
            return .group(try (0..<n).map { _ in (try string(), try value(depth: depth + 1)) })
        case 1: return .number(try double())
        case 2: return .bool(try bool())
        case 3: return .string(try string())
        case 4: return .strings(try strings())
        case 5:
            let kind = try u8()
            if kind == 0 { return .array(.float(try tensor())) }
            let s = try shape(), n = try elements(of: s)
            switch kind {
            case 1: return .array(.float64(values: try raw(UInt64.self, count: n).map(Double.init(bitPattern:)), shape: s))
            case 2: return .array(.int64(values: try raw(Int64.self, count: n), shape: s))
            case 3: return .array(.uint8(values: try raw(UInt8.self, count: n), shape: s))
            default: throw damaged("an unknown array type \(kind)")
            }
        case 6, 11:
            let title = try string(), columns = try strings()
            let n = try count(size: 8)
            return .table(ResultTable(title: title, columns: columns, rows: try (0..<n).map { _ in try strings() }, key: tag == 11))
        case 7, 12:
            let name = try string(), caption = try string()
            let w = try int(), h = try int(), c = try int()
            let (wh, o1) = w.multipliedReportingOverflow(by: h)
            let (n, o2) = wh.multipliedReportingOverflow(by: c)
            guard w >= 0, h >= 0, c >= 0, !o1, !o2 else { throw damaged("a picture of \(w)×\(h)×\(c)") }
            let pixels = try raw(UInt8.self, count: n)
            do {
                return .picture(ResultPicture(name: name, caption: caption, image: try PNGImage(width: w, height: h, channels: c, pixels: pixels), key: tag == 12))
            } catch {
                throw damaged("a picture that is not an image (\(error))")
            }
        case 8: return .note(try string())
        case 10: return .highlight(ResultHighlight(try string(), value: try double(), unit: try string(), detail: try string()))
        case 9:
            let n = try count(size: 17)
            return .perPair(try (0..<n).map { _ in (try pair(), try value(depth: depth + 1)) })
        case let tag: throw damaged("an unknown result tag \(tag)")
        }
    }

    mutating func call() throws -> CallRecord {
        let plugin = try string(), component = try string()
        let kindName = try string()
        guard let kind = ComponentKind(rawValue: kindName) else { throw damaged("an unknown component kind '\(kindName)'") }
        let readsSets = try bool()
        let pair = try bool() ? try pair() : nil
        let producer = try optionalString()
        let seconds = try double(), queries = try int()
        let n = try count(size: 17)
        let notes = try (0..<n).map { _ in CallRecord.Note(plugin: try string(), component: try optionalString(), text: try string()) }
        let m = try count(size: 16)
        let problems = try (0..<m).map { _ in (plugin: try string(), message: try string()) }
        let declined = version >= 3 ? try optionalString() : nil
        let set = try bool() ? try set() : nil
        let tree = try bool() ? try value() : nil
        return CallRecord(plugin: plugin, component: component, kind: kind, readsSets: readsSets, pair: pair, producer: producer,
                          seconds: seconds, queries: queries, notes: notes, problems: problems, declined: declined, set: set, tree: tree, value: nil)
    }
}
