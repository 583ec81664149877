import BorderlineCore
import Foundation

/// Compares two run folders number for number and array for array (`borderline compare A B`):
/// every value of summary.json, every dataset (values bit for bit, shapes, types) and attribute
/// of results.h5, every picture in images/ byte for byte, config.json, and report.html's text with
/// its numbers masked (they are compared in summary.json and results.h5; this checks the page's
/// sections, notes, tables and pictures in their order, however the page prints times).
///
/// Left out, because they describe the work rather than its results: wall-clock times and speeds
/// (``isTiming(_:)``: every key or attribute with a word `seconds` or ending in `per_second` —
/// `seconds`, `component_seconds`, flip-point's `search_seconds`, region's `seconds_attack_fgsm`,
/// slices' `points_per_second`), the run-wide query totals
/// (`model_queries` and `shared_model_queries` at the top of summary.json: a sharded run repeats
/// run-wide work such as classifying the training split in every shard), paths (`model.path`,
/// each plugin's `file`, results.h5's `model` attribute, config.json's `model`, `architecture`,
/// `data`, `plugin_paths`), and `shard` (a shard folder's slice). Per-pair, per-set, per-plugin and
/// per-component query counts are results and are compared.
public enum RunComparison {
    /// The differences between run folders `a` and `b` (empty: equal), at most `limit`.
    /// - Throws: `BorderlineError` when a folder is not a readable run folder.
    public static func differences(_ a: String, _ b: String, limit: Int = 50) throws -> [String] {
        var out = Differences(limit: limit)
        try compareSummary(a, b, &out)
        try compareConfig(a, b, &out)
        try compareResults(a, b, &out)
        compareImages(a, b, &out)
        compareReport(a, b, &out)
        return out.items
    }

    /// Whether a key names a time or a speed: a snake-case word `seconds`, or `…per_second`.
    public static func isTiming(_ key: String) -> Bool {
        key.split(separator: "_").contains("seconds") || key.hasSuffix("per_second")
    }

    struct Differences {
        let limit: Int
        var items: [String] = []
        var full: Bool { items.count >= limit }
        mutating func add(_ s: String) { if !full { items.append(s) } }
    }

    static func json(_ folder: String, _ name: String) throws -> JSONValue {
        let file = (folder as NSString).appendingPathComponent(name)
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw BorderlineError(.fileNotFound, "cannot be read: not a run folder", file: file)
        }
        do { return try JSONValue.parse(text) } catch { throw BorderlineError(.unreadableFile, "is not valid JSON: \(error)", file: file) }
    }

    static func compareJSON(_ x: JSONValue?, _ y: JSONValue?, _ path: String, skip: (String) -> Bool, _ out: inout Differences) {
        if out.full { return }
        switch (x, y) {
        case (.object(let p)?, .object(let q)?):
            for k in Set(p.keys).union(q.keys).sorted() where !skip(path + "/" + k) {
                guard p[k] != nil, q[k] != nil else { out.add("\(path)/\(k): only in \(p[k] != nil ? "the first" : "the second")"); continue }
                compareJSON(p[k], q[k], path + "/" + k, skip: skip, &out)
            }
        case (.array(let p)?, .array(let q)?):
            guard p.count == q.count else { out.add("\(path): \(p.count) vs \(q.count) elements"); return }
            for i in p.indices { compareJSON(p[i], q[i], "\(path)[\(i)]", skip: skip, &out) }
        default:
            if x != y { out.add("\(path): \(x?.serialized() ?? "none") vs \(y?.serialized() ?? "none")") }
        }
    }

    static func compareSummary(_ a: String, _ b: String, _ out: inout Differences) throws {
        let skipped: Set<String> = ["/seconds", "/model_queries", "/shared_model_queries", "/model/path", "/shard"]
        compareJSON(try json(a, "summary.json"), try json(b, "summary.json"), "summary.json", skip: { path in
            let p = String(path.dropFirst("summary.json".count))
            let parts = p.split(separator: "/")
            if skipped.contains(p) || parts.last.map({ isTiming(String($0)) }) == true { return true }
            // plugins/<name>/file
            return parts.count == 3 && parts[0] == "plugins" && parts[2] == "file"
        }, &out)
    }

    static func compareConfig(_ a: String, _ b: String, _ out: inout Differences) throws {
        let skipped: Set<String> = ["/model", "/architecture", "/data", "/plugin_paths", "/shard"]
        compareJSON(try json(a, "config.json"), try json(b, "config.json"), "config.json",
                    skip: { skipped.contains(String($0.dropFirst("config.json".count))) }, &out)
    }

    // MARK: results.h5

    static func compareResults(_ a: String, _ b: String, _ out: inout Differences) throws {
        let fa = try HDF5File.open((a as NSString).appendingPathComponent("results.h5"))
        let fb = try HDF5File.open((b as NSString).appendingPathComponent("results.h5"))
        defer { try? fa.close(); try? fb.close() }
        try compareGroup(try fa.root(), try fb.root(), "/", &out)
    }

    static func compareAttributes(_ x: HDF5Object, _ y: HDF5Object, _ path: String, _ out: inout Differences) throws {
        let skipped: Set<String> = path == "/" ? ["model"] : []
        let p = Set(try x.attributeNames().filter { !isTiming($0) }).subtracting(skipped)
        let q = Set(try y.attributeNames().filter { !isTiming($0) }).subtracting(skipped)
        for name in p.symmetricDifference(q).sorted() { out.add("results.h5 \(path) attribute \(name): only in \(p.contains(name) ? "the first" : "the second")") }
        for name in p.intersection(q).sorted() {
            let tx = try x.attributeType(name), ty = try y.attributeType(name)
            guard tx == ty else { out.add("results.h5 \(path) attribute \(name): type \(tx) vs \(ty)"); continue }
            if case .string = tx {
                let u = try x.stringArrayAttribute(name), v = try y.stringArrayAttribute(name)
                if u != v { out.add("results.h5 \(path) attribute \(name): \(u.prefix(4)) vs \(v.prefix(4))") }
            } else if tx.isNumeric {
                let u = try x.doubleArrayAttribute(name), v = try y.doubleArrayAttribute(name)
                if u.map(\.bitPattern) != v.map(\.bitPattern) { out.add("results.h5 \(path) attribute \(name): \(u.prefix(4)) vs \(v.prefix(4))") }
            }
        }
    }

    static func compareGroup(_ x: HDF5Group, _ y: HDF5Group, _ path: String, _ out: inout Differences) throws {
        try compareAttributes(x, y, path, &out)
        let p = Set(try x.memberNames()), q = Set(try y.memberNames())
        for name in p.symmetricDifference(q).sorted() { out.add("results.h5 \(H5Path.join(path, name)): only in \(p.contains(name) ? "the first" : "the second")") }
        for name in p.intersection(q).sorted() {
            if out.full { return }
            let full = H5Path.join(path, name)
            let kx = x.kind(of: name), ky = y.kind(of: name)
            guard kx == ky else { out.add("results.h5 \(full): a \(String(describing: kx)) vs a \(String(describing: ky))"); continue }
            if kx == .group {
                try compareGroup(try x.group(name), try y.group(name), full, &out)
            } else if kx == .dataset {
                let dx = try x.dataset(name), dy = try y.dataset(name)
                try compareAttributes(dx, dy, full, &out)
                guard dx.shape == dy.shape, dx.elementType == dy.elementType else {
                    out.add("results.h5 \(full): \(dx.elementType) \(dx.shape) vs \(dy.elementType) \(dy.shape)")
                    continue
                }
                let equal: Bool
                switch dx.elementType {
                case .float: equal = try dx.readDoubles().map(\.bitPattern) == (try dy.readDoubles()).map(\.bitPattern)
                case .signedInteger, .unsignedInteger(bytes: 2...): equal = try dx.readInt64s() == (try dy.readInt64s())
                case .unsignedInteger: equal = try dx.readUInt8s() == (try dy.readUInt8s())
                default: equal = true
                }
                if !equal { out.add("results.h5 \(full): values differ") }
            }
        }
    }

    enum H5Path {
        static func join(_ a: String, _ b: String) -> String { a.hasSuffix("/") ? a + b : a + "/" + b }
    }

    // MARK: pictures and report

    static func compareImages(_ a: String, _ b: String, _ out: inout Differences) {
        let ia = (a as NSString).appendingPathComponent("images"), ib = (b as NSString).appendingPathComponent("images")
        let p = Set((try? FileManager.default.contentsOfDirectory(atPath: ia)) ?? []), q = Set((try? FileManager.default.contentsOfDirectory(atPath: ib)) ?? [])
        for name in p.symmetricDifference(q).sorted() { out.add("images/\(name): only in \(p.contains(name) ? "the first" : "the second")") }
        for name in p.intersection(q).sorted() {
            let x = FileManager.default.contents(atPath: (ia as NSString).appendingPathComponent(name))
            let y = FileManager.default.contents(atPath: (ib as NSString).appendingPathComponent(name))
            if x != y { out.add("images/\(name): the pictures differ") }
        }
    }

    /// report.html with the page title (the folder's name), file paths and every number masked.
    static func maskedReport(_ folder: String) -> [String] {
        guard var text = try? String(contentsOfFile: (folder as NSString).appendingPathComponent("report.html"), encoding: .utf8) else { return [] }
        // Pictures are compared as files: their base64 copies in the page are masked whole.
        for pattern in [#"<title>[^<]*</title>"#, #"data:image/png;base64,[A-Za-z0-9+/=]*"#, #"/[^\s"<>]*/"#, #"[−-]?[0-9][0-9.,]*(e[-+]?[0-9]+)?"#] {
            if let re = try? NSRegularExpression(pattern: pattern) {
                text = re.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "…")
            }
        }
        return text.components(separatedBy: "\n")
    }

    static func compareReport(_ a: String, _ b: String, _ out: inout Differences) {
        let x = maskedReport(a), y = maskedReport(b)
        guard x != y else { return }
        if let i = zip(x, y).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            out.add("report.html line \(i + 1) differs (numbers and paths masked): \(x[i].prefix(160)) | \(y[i].prefix(160))")
        } else {
            out.add("report.html: \(x.count) vs \(y.count) lines")
        }
    }
}
