import BorderlineCore
import Foundation

/// report.html: one self-contained page (styles inline, pictures as base64 data URIs) with the
/// run's status and failures, the model card, the data and configuration, and one section per
/// plugin built from what the plugin put into the run store: boundary-set counts, its numbers as
/// tables (one row per class pair), its tables, notes and pictures.
struct ReportPage {
    let prepared: RunEngine.Prepared
    let record: RunRecord
    let status: RunStatus
    let seconds: Double
    let totalQueries: Int
    let accuracy: Double
    let modelHash: String
    let pictures: [String: (file: String, data: Data)]
    let filed: [String: FiledResults]

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func format(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "—" : (v > 0 ? "∞" : "−∞") }
        if v == v.rounded(), abs(v) < 1e9 { return String(Int(v)) }
        return String(format: abs(v) >= 1e-3 && abs(v) < 1e5 ? "%.4g" : "%.3e", v)
    }

    func table(_ columns: [String], _ rows: [[String]], caption: String? = nil) -> String {
        var h = "<table>"
        if let caption { h += "<caption>\(ReportPage.escape(caption))</caption>" }
        // A key–value table (all headers empty) gets no header row.
        if columns.contains(where: { !$0.isEmpty }) {
            h += "<tr>" + columns.map { "<th>\(ReportPage.escape($0))</th>" }.joined() + "</tr>"
        }
        for r in rows { h += "<tr>" + r.map { "<td>\(ReportPage.escape($0))</td>" }.joined() + "</tr>" }
        return h + "</table>\n"
    }

    func pairLabel(_ p: ClassPair) -> String {
        "\(p.source):\(p.target) \(prepared.classifier.className(p.source)) → \(prepared.classifier.className(p.target))"
    }

    func html() -> String {
        let e = ReportPage.escape
        let config = prepared.configuration
        let failed = record.plugins.filter { if case .failed = $0.status { return true } else { return false } }
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Borderline run — \(e(URL(fileURLWithPath: prepared.folder.finalPath).lastPathComponent))</title>
        <style>
        body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
        h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.4em}
        table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;font-size:.92em}
        th{background:#f3f3f3}caption{text-align:left;font-weight:600;padding:.3em 0}
        pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
        .status{display:inline-block;padding:.1em .6em;border-radius:.3em;font-weight:600}
        .ok{background:#d9f2d9}.failed{background:#f8d0d0}.interrupted,.pending{background:#fde9b8}
        figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}figcaption{font-size:.85em;color:#555;max-width:40em}
        .problems li{color:#8a1f1f}
        </style></head><body>
        <h1>Borderline run</h1>

        """
        let overall = status == .interrupted ? "interrupted" : (failed.isEmpty ? "ok" : "failed")
        h += "<p>Status: <span class=\"status \(overall)\">\(status == .interrupted ? "interrupted — partial results" : (failed.isEmpty ? "complete" : "complete, \(failed.count) plugin(s) failed"))</span> · "
        h += "\(ReportPage.format((seconds * 10).rounded() / 10)) s · \(totalQueries) model queries · seed \(config.seed) · Borderline \(BorderlineVersion.string)</p>\n"
        if status == .interrupted {
            h += "<p><strong>This run was interrupted.</strong> The sections below show only what finished; plugins marked interrupted or pending are incomplete.</p>\n"
        }
        if !failed.isEmpty {
            h += "<h2 id=\"failures\">Failures</h2><ul class=\"problems\">"
            for r in failed {
                if case .failed(let why) = r.status { h += "<li><strong>\(e(r.name))</strong>: \(e(why))" }
                if r.problems.count > 1 { h += " (and \(r.problems.count - 1) more, listed in its section)" }
                h += "</li>"
            }
            h += "</ul>\n"
        }

        // Model card and data.
        h += "<h2 id=\"model\">Model</h2>\n"
        h += table(["", ""], [
            ["file", prepared.modelPath], ["sha256", modelHash],
            ["input shape", "\(prepared.model.inputShape)"], ["classes", "\(prepared.classifier.classCount)"],
            ["parameters", "\(prepared.model.parameterCount)"],
            ["accuracy on the run's images", String(format: "%.2f %%", 100 * accuracy)],
            ["analysed as", config.blackBox ? "black box (probabilities only)" + (config.gradientEstimator.map { ", gradients estimated by \($0)" } ?? "") : "white box (exact gradients)"],
        ])
        h += "<details><summary>Layers</summary><pre>\(e(ModelCard(model: prepared.model, source: prepared.modelPath).render()))</pre></details>\n"
        h += "<h2 id=\"data\">Data and configuration</h2>\n"
        h += table(["", ""], [
            ["data set", "\(prepared.fullDataName) (\(config.split.rawValue) split)"],
            ["images used", "\(prepared.data.count)" + (config.imagesPerClass > 0 ? " (at most the first \(config.imagesPerClass) of each class of the pairs)" : "")],
            ["class pairs", prepared.pairs.map(\.description).joined(separator: ", ")],
            ["attempts per pair", "\(config.samples)"],
            ["plugins", prepared.plugins.map { "\($0.plugin.name) \($0.plugin.version)" }.joined(separator: ", ")],
        ])

        // Plugins.
        for (index, plugin) in record.plugins.enumerated() {
            h += section(plugin, index: index)
        }
        h += "<hr><p style=\"font-size:.85em;color:#666\">Files: results.h5 (every array), summary.json (every number), config.json (the resolved configuration; "
        h += "<code>borderline run --config config.json --out NEW</code> repeats the run), images/ (the pictures above).</p>\n"
        h += "</body></html>\n"
        return h
    }

    func section(_ plugin: PluginRecord, index: Int) -> String {
        let e = ReportPage.escape
        let loaded = prepared.plugins.first { $0.plugin.name == plugin.name }
        var h = "<h2 id=\"plugin-\(e(plugin.name))\">\(e(plugin.name)) <small>\(e(plugin.version))</small> "
        h += "<span class=\"status \(plugin.status.word)\">\(plugin.status.word)</span></h2>\n"
        h += "<p>\(e(plugin.summary))</p>\n"
        h += "<p style=\"font-size:.85em;color:#666\">\(e(loaded?.file ?? "")) · \(ReportPage.format((plugin.seconds * 10).rounded() / 10)) s · \(plugin.queries) model queries</p>\n"
        if !plugin.problems.isEmpty {
            h += "<ul class=\"problems\">" + plugin.problems.map { "<li>\(e($0))</li>" }.joined() + "</ul>\n"
        }
        let results = filed[plugin.name]!
        for note in plugin.notes { h += "<p>\(e(note.text))</p>\n" }
        for note in results.notes { h += "<p>\(e(note.text))</p>\n" }

        // Boundary sets of this plugin's probers.
        let sets = record.boundarySets.filter { $0.producer.hasPrefix(plugin.name + "/") }
        if !sets.isEmpty {
            let rows = sets.map { s -> [String] in
                let top = s.failureHistogram.first.map { "\($0.reason) (×\($0.count))" } ?? ""
                return [String(s.producer.dropFirst(plugin.name.count + 1)), pairLabel(s.pair), "\(s.count)", "\(s.successCount)", "\(s.queries)", top]
            }
            h += table(["prober", "pair", "attempts", "successes", "model queries", "most frequent failure"], rows, caption: "Boundary sets")
        }

        // Numbers: one table per group (path without its last component), rows = pairs.
        var groups: [String] = []
        var columns: [String: [String]] = [:]
        var cells: [String: [String: [String: Double]]] = [:]   // group → row → column → value
        let numbers = results.scalars.compactMap { entry -> (pair: ClassPair?, path: [String], value: Double)? in
            switch entry.value {
            case .number(let d): return (entry.pair, entry.path, d)
            case .bool(let b): return (entry.pair, entry.path, b ? 1 : 0)
            default: return nil
            }
        }
        for n in numbers {
            let group = n.path.dropLast().joined(separator: " / ")
            let column = n.path.last!
            let row = n.pair.map(pairLabel) ?? "all pairs"
            if columns[group] == nil { groups.append(group); columns[group] = [] }
            if !columns[group]!.contains(column) { columns[group]!.append(column) }
            cells[group, default: [:]][row, default: [:]][column] = n.value
        }
        for g in groups {
            let cols = columns[g]!
            var rowOrder: [String] = []
            for n in numbers where n.path.dropLast().joined(separator: " / ") == g {
                let row = n.pair.map(pairLabel) ?? "all pairs"
                if !rowOrder.contains(row) { rowOrder.append(row) }
            }
            let rows = rowOrder.map { r in [r] + cols.map { c in cells[g]?[r]?[c].map(ReportPage.format) ?? "" } }
            h += table(["pair"] + cols, rows, caption: g.isEmpty ? "Numbers" : g)
        }
        for t in results.tables {
            h += table(t.table.columns, t.table.rows, caption: t.table.title)
        }
        for (i, p) in results.pictures.enumerated() {
            guard let file = pictures["\(plugin.name)#\(i)"] else { continue }
            let caption = (p.entry.pair.map { pairLabel($0) + ": " } ?? "") + p.picture.caption
            h += "<figure><img alt=\"\(e(p.picture.caption))\" src=\"data:image/png;base64,\(file.data.base64EncodedString())\">"
            h += "<figcaption>\(e(caption)) <a href=\"\(e(file.file))\">\(e(file.file))</a></figcaption></figure>\n"
        }
        return h
    }
}
