import BorderlineCore
import Foundation

/// report.html: one self-contained page (styles inline, pictures as base64 data URIs), laid out so a
/// person sees the run at a glance (docs/report.md): a table of contents, the run's status and
/// failures, the model and data side by side, then one section per plugin that opens with the
/// plugin's key numbers (``ResultHighlight``), key pictures and key tables, shows its per-pair
/// numbers as class × class heatmaps when the pairs span 3 or more classes, and folds everything
/// else into `<details>`: boundary-set counts, number tables (human column headers; one row per
/// pair), tables of one kind together, the other pictures. Wide tables scroll inside the page.
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

    /// A table inside a div that scrolls sideways, so no table is wider than the page.
    func table(_ columns: [String], _ rows: [[String]], caption: String? = nil) -> String {
        var h = "<div class=\"scroll\"><table>"
        if let caption { h += "<caption>\(ReportPage.escape(caption))</caption>" }
        // A key–value table (all headers empty) gets no header row.
        if columns.contains(where: { !$0.isEmpty }) {
            h += "<tr>" + columns.map { "<th>\(ReportPage.escape(ReportPage.header($0)))</th>" }.joined() + "</tr>"
        }
        for r in rows { h += "<tr>" + r.map { "<td>\(ReportPage.escape($0))</td>" }.joined() + "</tr>" }
        return h + "</table></div>\n"
    }

    /// A column header in words: `mean_distance_to_start` → "mean distance to start",
    /// `evaluation_seconds` → "evaluation (s)", `l2`/`linf` → "L2"/"L∞".
    static func header(_ key: String) -> String {
        // Only identifiers (lower-case letters, digits, `_`, `-`): a header already in words stays as it is.
        guard !key.isEmpty, key.allSatisfy({ ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "_" || $0 == "-" }) else { return key }
        let words: [String: String] = ["l1": "L1", "l2": "L2", "linf": "L∞", "iou": "IoU", "pca": "PCA", "edc": "EDC", "svm": "SVM",
                                       "auc": "AUC", "knn": "kNN", "id": "ID", "deepfool": "DeepFool", "pct": "%", "p10": "10th percentile",
                                       "p90": "90th percentile", "cw": "C&W", "pgd": "PGD", "fgsm": "FGSM", "eps": "ε", "epsilon": "ε"]
        var parts = key.split(whereSeparator: { $0 == "_" || $0 == "-" }).map { words[String($0)] ?? String($0) }
        if parts.count > 1, parts.last == "seconds" { parts[parts.count - 1] = "(s)" }
        return parts.joined(separator: " ")
    }

    /// A folded block: its summary line and what it holds (nothing when it is empty).
    static func folded(_ summary: String, _ body: String, open: Bool = false) -> String {
        body.isEmpty ? "" : "<details\(open ? " open" : "")><summary>\(escape(summary))</summary>\n\(body)</details>\n"
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
        body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:84em;padding:0 1em;color:#222}
        h1{font-size:1.6em;margin-bottom:.3em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}h3{margin-top:1.2em}
        table{border-collapse:collapse;margin:.4em 0 .8em}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;font-size:.88em}
        th{background:#f3f3f3;font-weight:600}caption{text-align:left;font-weight:600;padding:.3em 0}
        .scroll{overflow-x:auto;max-width:100%}
        pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
        .status{display:inline-block;padding:.1em .6em;border-radius:.3em;font-weight:600}
        .ok{background:#d9f2d9}.failed{background:#f8d0d0}.interrupted,.pending{background:#fde9b8}
        figure{display:inline-table;margin:.4em 1em .4em 0;vertical-align:top}figure img{max-width:100%;height:auto;display:block}
        figcaption{display:table-caption;caption-side:bottom;font-size:.82em;color:#555;padding-top:.2em}.row figure{margin:0}
        .problems li{color:#8a1f1f}
        nav.toc{background:#f7f7f7;border:1px solid #e3e3e3;padding:.4em .9em;font-size:.92em}nav.toc a{margin-right:1.2em}
        .cards{display:flex;flex-wrap:wrap;gap:.6em;margin:.6em 0}
        .card{border:1px solid #d8d8d8;border-radius:.4em;padding:.4em .8em;min-width:10em;max-width:22em;background:#fbfbfb}
        .card .v{font-size:1.35em;font-weight:650}.card .l{font-size:.82em;color:#555}.card .d{font-size:.8em;color:#333}
        details{margin:.3em 0}summary{cursor:pointer;color:#1a4f8a}
        .row{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}
        .side{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}
        table.heat td,table.heat th{padding:0;width:2.6em;height:1.9em;text-align:center;font-size:.72em;border:1px solid #fff}
        table.heat th{background:none;font-weight:500;color:#444}table.heat th.r{text-align:right;padding-right:.4em;width:auto;white-space:nowrap}
        .meta{font-size:.85em;color:#666}
        </style></head><body>
        <h1>Borderline run</h1>

        """
        let overall = status == .interrupted ? "interrupted" : (failed.isEmpty ? "ok" : "failed")
        h += "<p>Status: <span class=\"status \(overall)\">\(status == .interrupted ? "interrupted — partial results" : (failed.isEmpty ? "complete" : "complete, \(failed.count) plugin(s) failed"))</span> · "
        h += "\(ReportPage.format((seconds * 10).rounded() / 10)) s · \(totalQueries) model queries · seed \(config.seed) · Borderline \(BorderlineVersion.string)</p>\n"
        if let shard = config.shard {
            h += "<p><strong>Shard \(shard.index) of \(shard.count)</strong> (pairs \(e(prepared.units.flatMap(\.pairs).map(\.description).joined(separator: ", ")))): no whole-run analyses here; <code>borderline merge</code> of the \(shard.count) shard folders writes the complete run (docs/scale-out.md).</p>\n"
        }
        if status == .interrupted {
            h += "<p><strong>This run was interrupted.</strong> The sections below show only what finished; plugins marked interrupted or pending are incomplete.</p>\n"
        }
        var toc: [(id: String, title: String)] = failed.isEmpty ? [] : [("failures", "Failures")]
        toc += [("model", "Model and data")]
        toc += record.plugins.map { ("plugin-\($0.name)", $0.name + ($0.status.word == "ok" ? "" : " (\($0.status.word))")) }
        toc += [("files", "Files")]
        h += "<nav class=\"toc\"><strong>Contents</strong> · " + toc.map { "<a href=\"#\(e($0.id))\">\(e($0.title))</a>" }.joined() + "</nav>\n"
        if !failed.isEmpty {
            h += "<h2 id=\"failures\">Failures</h2><ul class=\"problems\">"
            for r in failed {
                if case .failed(let why) = r.status { h += "<li><strong>\(e(r.name))</strong>: \(e(why))" }
                if r.problems.count > 1 { h += " (and \(r.problems.count - 1) more, listed in its section)" }
                h += "</li>"
            }
            h += "</ul>\n"
        }

        // Model card and data, side by side.
        h += "<h2 id=\"model\">Model and data</h2>\n<div class=\"side\">"
        h += table(["", ""], [
            ["model file", prepared.modelPath], ["sha256", modelHash],
            ["input shape", "\(prepared.model.inputShape)"], ["classes", "\(prepared.classifier.classCount)"],
            ["parameters", "\(prepared.model.parameterCount)"],
            ["accuracy on the run's images", String(format: "%.2f %%", 100 * accuracy)],
            ["analysed as", config.blackBox ? "black box (probabilities only)" + (config.gradientEstimator.map { ", gradients estimated by \($0)" } ?? "") : "white box (exact gradients)"],
        ])
        let pairList = prepared.pairs.map(\.description).joined(separator: ", ")
        h += table(["", ""], [
            ["data set", "\(prepared.fullDataName) (\(config.split.rawValue) split)"],
            ["images used", "\(prepared.data.count)" + (config.imagesPerClass > 0 ? " (at most the first \(config.imagesPerClass) of each class of the pairs)" : "")],
            ["class pairs", prepared.pairs.count > 6 ? "\(prepared.pairs.count) pairs (\(prepared.pairs.prefix(4).map(\.description).joined(separator: ", ")), …)" : pairList],
            ["attempts per pair", "\(config.samples)"],
            ["plugins", prepared.plugins.map { "\($0.plugin.name) \($0.plugin.version)" }.joined(separator: ", ")],
        ])
        h += "</div>\n"
        h += "<details><summary>Layers</summary><pre>\(e(ModelCard(model: prepared.model, source: prepared.modelPath).render()))</pre></details>\n"
        if prepared.pairs.count > 6 { h += ReportPage.folded("All \(prepared.pairs.count) class pairs", "<p>\(e(pairList))</p>") }

        // Plugins.
        for (index, plugin) in record.plugins.enumerated() {
            h += section(plugin, index: index)
        }
        h += "<hr id=\"files\"><p class=\"meta\">Files: results.h5 (every array), summary.json (every number), config.json (the resolved configuration; "
        h += "<code>borderline run --config config.json --out NEW</code> repeats the run), images/ (the pictures above).</p>\n"
        h += "</body></html>\n"
        return h
    }

    /// One plugin's section: its key numbers and pictures first, then its class × class heatmaps,
    /// then everything else folded away (boundary sets, number tables, other tables and pictures).
    func section(_ plugin: PluginRecord, index: Int) -> String {
        let e = ReportPage.escape
        let loaded = prepared.plugins.first { $0.plugin.name == plugin.name }
        var h = "<h2 id=\"plugin-\(e(plugin.name))\">\(e(plugin.name)) <small>\(e(plugin.version))</small> "
        h += "<span class=\"status \(plugin.status.word)\">\(plugin.status.word)</span></h2>\n"
        h += "<p>\(e(plugin.summary))</p>\n"
        h += "<p class=\"meta\">\(e(loaded?.file ?? "")) · \(ReportPage.format((plugin.seconds * 10).rounded() / 10)) s · \(plugin.queries) model queries</p>\n"
        if !plugin.problems.isEmpty {
            let items = plugin.problems.map { "<li>\(e($0))</li>" }
            h += "<ul class=\"problems\">" + items.prefix(3).joined() + "</ul>\n"
            if items.count > 3 { h += ReportPage.folded("\(items.count - 3) more problems", "<ul class=\"problems\">" + items.dropFirst(3).joined() + "</ul>") }
        }
        if !plugin.skippedPairs.isEmpty {
            // Declined pairs (PairDeclined): not failures; one line per reason.
            var byReason: [(reason: String, pairs: [String])] = []
            for o in plugin.skippedPairs {
                let label = "\(o.component) \(o.pair)"
                if let i = byReason.firstIndex(where: { $0.reason == o.reason }) { byReason[i].pairs.append(label) } else { byReason.append((o.reason, [label])) }
            }
            let items = byReason.map { "<li>\(e($0.pairs.joined(separator: ", "))): \(e($0.reason))</li>" }.joined()
            let pairs = Set(plugin.skippedPairs.map(\.pair)).count
            h += ReportPage.folded("\(pairs) pair(s) skipped (declined by the plugin; the other pairs ran)", "<ul>\(items)</ul>")
        }
        let results = filed[plugin.name]!

        // Key numbers, pictures and tables.
        let highlights = results.highlights
        if !highlights.isEmpty {
            h += "<div class=\"cards\">"
            for item in highlights {
                let hl = item.highlight
                let detail = [item.entry.pair.map(pairLabel), hl.detail.isEmpty ? nil : hl.detail].compactMap { $0 }.joined(separator: " · ")
                h += "<div class=\"card\"><div class=\"l\">\(e(hl.label))</div><div class=\"v\">\(e(hl.formatted))</div>"
                h += detail.isEmpty ? "</div>" : "<div class=\"d\">\(e(detail))</div></div>"
            }
            h += "</div>\n"
        }
        let pictureItems = Array(results.pictures.enumerated())
        let keyPictures = pictureItems.filter { $0.element.picture.isKey }
        let otherPictures = pictureItems.filter { !$0.element.picture.isKey }
        // Key items of many pairs or producers: the first few open, the rest folded.
        let keyFigures = keyPictures.map { figure($0.offset, $0.element.entry, $0.element.picture, plugin: plugin.name) }
        if !keyFigures.isEmpty { h += "<div class=\"row\">" + keyFigures.prefix(4).joined() + "</div>\n" }
        if keyFigures.count > 4 { h += ReportPage.folded("More key pictures (\(keyFigures.count - 4))", "<div class=\"row\">" + keyFigures.dropFirst(4).joined() + "</div>") }
        let tableItems = results.tables
        let keyTables = tableItems.filter(\.table.isKey).map { table($0.table.columns, $0.table.rows, caption: $0.table.title) }
        h += keyTables.prefix(2).joined()
        if keyTables.count > 2 { h += ReportPage.folded("More key tables (\(keyTables.count - 2))", keyTables.dropFirst(2).joined()) }
        let notes = plugin.notes.map(\.text) + results.notes.map(\.text)
        for note in notes.prefix(4) { h += "<p>\(e(note))</p>\n" }
        if notes.count > 4 { h += ReportPage.folded("\(notes.count - 4) more notes", notes.dropFirst(4).map { "<p>\(e($0))</p>\n" }.joined()) }

        // Numbers: one table per group (path without its last component), rows = pairs.
        let groups = numberGroups(results)
        let heat = heatmaps(groups)
        let hasKeyItems = !keyPictures.isEmpty || !highlights.isEmpty
        if !heat.isEmpty {
            // Without key pictures the first two heatmaps are the section's overview.
            let open = hasKeyItems ? 0 : min(2, heat.count)
            if open > 0 { h += "<div class=\"row\">" + heat.prefix(open).joined() + "</div>\n" }
            if heat.count > open {
                h += ReportPage.folded("\(open > 0 ? "More c" : "C")lass × class heatmaps of per-pair numbers (\(heat.count - open))",
                                       "<div class=\"row\">" + heat.dropFirst(open).joined() + "</div>")
            }
        }

        // Everything else, folded.
        let sets = record.boundarySets.filter { $0.producer.hasPrefix(plugin.name + "/") }
        if !sets.isEmpty {
            let rows = sets.map { s -> [String] in
                let top = s.failureHistogram.first.map { "\($0.reason) (×\($0.count))" } ?? ""
                return [String(s.producer.dropFirst(plugin.name.count + 1)), pairLabel(s.pair), "\(s.count)", "\(s.successCount)", "\(s.queries)", top]
            }
            h += ReportPage.folded("Boundary sets (\(sets.count))",
                                   table(["prober", "pair", "attempts", "successes", "model queries", "most frequent failure"], rows))
        }
        var numberTables = ""
        for g in groups {
            if g.rows.count == 1 {
                // One row (an analysis's numbers): name–value pairs read better than one wide row.
                numberTables += table(["", ""], zip(g.columns, g.rows[0].values).map { [ReportPage.header($0.0), $0.1.map(ReportPage.format) ?? ""] },
                                      caption: g.name.isEmpty ? "Numbers" : g.name)
            } else {
                numberTables += table(["pair"] + g.columns, g.rows.map { [$0.label] + $0.values.map { $0.map(ReportPage.format) ?? "" } },
                                      caption: g.name.isEmpty ? "Numbers" : g.name)
            }
        }
        h += ReportPage.folded("Numbers (\(groups.count) table\(groups.count == 1 ? "" : "s"))", numberTables)
        // Tables of one kind (the same place in every pair's output) fold together.
        var tableGroups: [(key: String, items: [ResultTable])] = []
        for t in tableItems where !t.table.isKey {
            let key = t.entry.path.joined(separator: "/")
            if let i = tableGroups.firstIndex(where: { $0.key == key }) { tableGroups[i].items.append(t.table) } else { tableGroups.append((key, [t.table])) }
        }
        for g in tableGroups {
            let body = g.items.map { table($0.columns, $0.rows, caption: g.items.count > 1 ? $0.title : nil) }.joined()
            let title = g.items[0].title
            h += ReportPage.folded(g.items.count > 1 ? "\(title.components(separatedBy: " (").first ?? title) — \(g.items.count) tables" : "\(title) (\(g.items[0].rows.count) rows)", body)
        }
        if !otherPictures.isEmpty {
            let figures = otherPictures.map { figure($0.offset, $0.element.entry, $0.element.picture, plugin: plugin.name) }
            // Without key pictures a plugin's first few pictures stay open.
            let open = keyPictures.isEmpty ? min(3, figures.count) : 0
            if open > 0 { h += "<div class=\"row\">" + figures.prefix(open).joined() + "</div>\n" }
            if figures.count > open {
                h += ReportPage.folded("\(open > 0 ? "More p" : "P")ictures (\(figures.count - open))", figures.dropFirst(open).joined())
            }
        }
        return h
    }

    func figure(_ index: Int, _ entry: FiledResults.Entry, _ picture: ResultPicture, plugin: String) -> String {
        let e = ReportPage.escape
        guard let file = pictures["\(plugin)#\(index)"] else { return "" }
        let caption = (entry.pair.map { pairLabel($0) + ": " } ?? "") + picture.caption
        return "<figure><img alt=\"\(e(picture.caption))\" width=\"\(picture.image.width)\" src=\"data:image/png;base64,\(file.data.base64EncodedString())\">"
            + "<figcaption>\(e(caption)) <a href=\"\(e(file.file))\">\(e(file.file))</a></figcaption></figure>\n"
    }

    /// A group of per-pair (or run-wide) numbers: one row per pair, one column per number.
    struct NumberGroup {
        var name: String
        var columns: [String]
        var rows: [(pair: ClassPair?, label: String, values: [Double?])]
    }

    func numberGroups(_ results: FiledResults) -> [NumberGroup] {
        var order: [String] = []
        var columns: [String: [String]] = [:]
        var rows: [String: [(pair: ClassPair?, label: String)]] = [:]
        var cells: [String: [String: [String: Double]]] = [:]   // group → row → column → value
        for entry in results.scalars {
            let value: Double
            switch entry.value {
            case .number(let d): value = d
            case .bool(let b): value = b ? 1 : 0
            default: continue
            }
            let group = entry.path.dropLast().joined(separator: " / "), column = entry.path.last!
            let label = entry.pair.map(pairLabel) ?? "all pairs"
            if columns[group] == nil { order.append(group); columns[group] = [] }
            if !columns[group]!.contains(column) { columns[group]!.append(column) }
            if !rows[group, default: []].contains(where: { $0.label == label }) { rows[group, default: []].append((entry.pair, label)) }
            cells[group, default: [:]][label, default: [:]][column] = value
        }
        return order.map { g in
            NumberGroup(name: g, columns: columns[g]!, rows: rows[g]!.map { r in (r.pair, r.label, columns[g]!.map { cells[g]?[r.label]?[$0] }) })
        }
    }

    /// Class × class HTML heatmaps (row = source, column = target) of every per-pair number that
    /// varies (timings left out), for groups whose pairs involve at least 3 classes.
    func heatmaps(_ groups: [NumberGroup]) -> [String] {
        let e = ReportPage.escape
        var out: [String] = []
        for g in groups {
            let pairs = g.rows.compactMap(\.pair)
            let classes = Set(pairs.flatMap { [$0.source, $0.target] }).sorted()
            guard pairs.count == g.rows.count, classes.count >= 3 else { continue }
            // Timings are no property of the model (and differ between equal runs): no heatmap.
            for (c, column) in g.columns.enumerated() where !column.contains("second") {
                let values = g.rows.compactMap { $0.values[c] }.filter(\.isFinite)
                guard let low = values.min(), let high = values.max(), high > low else { continue }
                var cell: [ClassPair: Double] = [:]
                for r in g.rows { if let p = r.pair, let v = r.values[c] { cell[p] = v } }
                var t = "<div><table class=\"heat\"><caption>\(e(ReportPage.header(column)))<br><small>\(e(g.name))</small></caption>"
                t += "<tr><th></th>" + classes.map { "<th title=\"\(e(prepared.classifier.className($0)))\">\($0)</th>" }.joined() + "</tr>"
                for s in classes {
                    t += "<tr><th class=\"r\">\(s) \(e(prepared.classifier.className(s)))</th>"
                    for u in classes {
                        guard let v = cell[ClassPair(s, u)], v.isFinite else { t += "<td style=\"background:#f4f4f4\"></td>"; continue }
                        let rgb = Heatmap.viridis((v - low) / (high - low))
                        let light = Int(rgb[0]) * 299 + Int(rgb[1]) * 587 + Int(rgb[2]) * 114 > 140_000
                        t += "<td title=\"\(s)→\(u): \(ReportPage.format(v))\" style=\"background:rgb(\(rgb[0]),\(rgb[1]),\(rgb[2]));color:\(light ? "#000" : "#fff")\">\(Heatmap.format(v))</td>"
                    }
                    t += "</tr>"
                }
                out.append(t + "</table><span class=\"meta\">rows: source · columns: target · \(ReportPage.format(low)) to \(ReportPage.format(high))</span></div>")
            }
        }
        return out
    }
}
