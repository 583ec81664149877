/// A rows × columns heatmap picture, made for class × class quantities (row = source class s,
/// column = target class t): numbers on a continuous colour map with a colour bar, or categories
/// (e.g. "which third class wins on the segment") in the shared ``Palette`` with a legend. Cells
/// without a value are grey (numbers) or white (categories); each cell can carry a short text.
///
/// Without a font (``TextRenderer/isAvailable``) the cells are drawn without any text.
public struct Heatmap: Sendable {
    public enum Cells: Sendable {
        /// `values[r][c]`; NaN: no value (grey, e.g. the diagonal).
        case values([[Double]])
        /// `categories[r][c]` indexes `names` (its colour is `Palette.colour(index)`); nil: none.
        case categories([[Int?]], names: [String])
    }

    public var title: String
    public var cells: Cells
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// What rows and columns are, shown under the title.
    public var axes = "rows: source class s · columns: target class t"
    /// Text in each cell; nil: for numbers, the value with 2–3 significant digits (when cells are
    /// large enough), for categories none.
    public var cellText: [[String]]?
    /// The numbers mapped to the two ends of the colour map; nil: the finite minimum and maximum.
    public var range: ClosedRange<Double>?
    /// Bright colours for small numbers (distances, where small is what to look at).
    public var brightLow = false
    /// Side of a cell in pixels; nil: 26 up to 10 rows (three maps fit side by side in a 1400-pixel
    /// report), then smaller (at least 6).
    public var cellSize: Int?

    public init(title: String, values: [[Double]], rowLabels: [String], columnLabels: [String]) {
        self.title = title
        self.cells = .values(values)
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
    }

    public init(title: String, categories: [[Int?]], names: [String], rowLabels: [String], columnLabels: [String]) {
        self.title = title
        self.cells = .categories(categories, names: names)
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
    }

    /// Viridis (perceptually uniform, colour-blind safe), sampled at 9 anchors and interpolated
    /// linearly; `v` in [0, 1] (clamped; non-finite: 0); `[r, g, b]`.
    public static func viridis(_ v: Double) -> [UInt8] {
        let anchors: [(Double, Double, Double)] = [
            (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
            (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
        ]
        let t = min(1, max(0, v.isFinite ? v : 0)) * Double(anchors.count - 1)
        let i = min(anchors.count - 2, Int(t)), f = t - Double(i)
        let a = anchors[i], b = anchors[i + 1]
        return [UInt8((a.0 + f * (b.0 - a.0)).rounded()), UInt8((a.1 + f * (b.1 - a.1)).rounded()), UInt8((a.2 + f * (b.2 - a.2)).rounded())]
    }

    /// Short text for a number in a cell or on the colour bar.
    public static func format(_ v: Double) -> String {
        guard v.isFinite else { return "" }
        let a = abs(v)
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 10 { return String(format: "%.1f", v) }
        if a >= 0.995 || a == 0 { return String(format: "%.2f", v) }
        return String(format: "%.2f", v).replacingOccurrences(of: "0.", with: ".")
    }

    var rows: Int {
        switch cells {
        case .values(let v): return v.count
        case .categories(let c, _): return c.count
        }
    }
    var columns: Int {
        switch cells {
        case .values(let v): return v.first?.count ?? 0
        case .categories(let c, _): return c.first?.count ?? 0
        }
    }

    /// Draws the picture.
    /// - Throws: `.shapeMismatch` when the cells are not rectangular or the labels do not match them.
    public func render() throws -> PNGImage {
        let r = rows, c = columns
        let widths: [Int]
        switch cells {
        case .values(let v): widths = v.map(\.count)
        case .categories(let v, _): widths = v.map(\.count)
        }
        guard widths.allSatisfy({ $0 == c }), rowLabels.count == r, columnLabels.count == c,
              cellText.map({ $0.count == r && $0.allSatisfy { $0.count == c } }) ?? true else {
            throw BorderlineError(.shapeMismatch, "heatmap '\(title)': \(r) rows of \(widths) cells with \(rowLabels.count) row and \(columnLabels.count) column labels (and cell texts) do not fit together")
        }
        let text = TextRenderer.shared, hasText = text.isAvailable
        let cell = cellSize ?? (max(r, c) <= 10 ? 26 : max(6, 260 / max(1, max(r, c))))
        let labelSize = 11, titleSize = 14
        let rowLabelWidth = hasText ? (rowLabels.map { text.measure($0, size: labelSize).width }.max() ?? 0) : 0
        let columnLabelWidth = hasText ? (columnLabels.map { text.measure($0, size: labelSize).width }.max() ?? 0) : 0
        let lineHeight = hasText ? text.measure("Ag", size: labelSize).height : 0
        let left = 10 + rowLabelWidth + 6, top = hasText ? 46 : 10
        let gridW = c * cell, gridH = r * cell

        // Colours and the right-hand key.
        var colour: [[[UInt8]]] = []
        var keyWidth = 0
        var low = 0.0, high = 1.0
        var entries: [(label: String, colour: [UInt8])] = []
        switch cells {
        case .values(let v):
            let finite = v.flatMap { $0 }.filter(\.isFinite)
            low = range?.lowerBound ?? finite.min() ?? 0
            high = range?.upperBound ?? finite.max() ?? 1
            let span = high > low ? high - low : 1
            colour = v.map { row in row.map { x in
                guard x.isFinite else { return Palette.missing }
                let u = (x - low) / span
                return Heatmap.viridis(brightLow ? 1 - u : u)
            } }
            let valueWidth = hasText ? max(text.measure(Heatmap.format(low), size: labelSize).width, text.measure(Heatmap.format(high), size: labelSize).width) : 0
            keyWidth = 20 + 14 + 6 + valueWidth
        case .categories(let v, let names):
            colour = v.map { row in row.map { $0.map(Palette.colour) ?? [255, 255, 255] } }
            let used = Set(v.flatMap { $0.compactMap { $0 } }).sorted()
            entries = used.map { (label: $0 < names.count ? names[$0] : "\($0)", colour: Palette.colour($0)) }
            if hasText, !entries.isEmpty {
                let probe = try PNGImage(width: 1, height: 1, colour: [255, 255, 255])
                keyWidth = 16 + probe.measureLegend(entries, size: labelSize).width
            }
        }
        let titleWidth = hasText ? text.measure(title, size: titleSize).width : 0
        let axesWidth = hasText ? text.measure(axes, size: 10).width : 0
        let width = max(left + gridW + keyWidth + 10, titleWidth + 20, axesWidth + 20)
        let legendHeight = entries.isEmpty ? 0 : 10 + entries.count * max(labelSize + 4, lineHeight + 2)
        let height = max(top + gridH + (hasText ? 6 + columnLabelWidth : 0) + 10, top + legendHeight + 10)
        var image = try PNGImage(width: width, height: height, colour: [255, 255, 255])

        for i in 0..<r {
            for j in 0..<c {
                image.fill(x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, colour: colour[i][j])
            }
        }
        guard hasText else { return image }
        image.text(title, x: 10, y: 6, size: titleSize)
        image.text(axes, x: 10, y: 26, size: 10, colour: [90, 90, 90])
        for i in 0..<r {
            let m = text.measure(rowLabels[i], size: labelSize)
            image.text(rowLabels[i], x: left - 6 - m.width, y: top + i * cell + (cell - m.height) / 2, size: labelSize)
        }
        for j in 0..<c {
            // Rotated: reads bottom to top, its end next to the grid.
            image.text(columnLabels[j], x: left + j * cell + (cell - lineHeight) / 2, y: top + gridH + 4, size: labelSize, rotated: true)
        }
        // Cell texts: black on light cells, white on dark ones.
        let texts: [[String]]? = cellText ?? {
            guard case .values(let v) = cells, cell >= 26 else { return nil }
            return v.map { $0.map(Heatmap.format) }
        }()
        if let texts {
            let size = cell >= 32 ? 10 : (cell >= 24 ? 9 : 8)
            for i in 0..<r {
                for j in 0..<c where !texts[i][j].isEmpty {
                    let m = text.measure(texts[i][j], size: size)
                    let p = colour[i][j]
                    let light = Int(p[0]) * 299 + Int(p[1]) * 587 + Int(p[2]) * 114 > 140_000
                    image.text(texts[i][j], x: left + j * cell + (cell - 1 - m.width) / 2, y: top + i * cell + (cell - 1 - m.height) / 2,
                               size: size, colour: light ? [0, 0, 0] : [255, 255, 255])
                }
            }
        }
        let kx = left + gridW + 16
        switch cells {
        case .values:
            let barW = 14
            for y in 0..<gridH {
                let u = 1 - Double(y) / Double(max(1, gridH - 1))
                image.fill(x: kx, y: top + y, width: barW, height: 1, colour: Heatmap.viridis(brightLow ? 1 - u : u))
            }
            image.outline(x: kx - 1, y: top - 1, width: barW + 2, height: gridH + 2, colour: [0, 0, 0])
            image.text(Heatmap.format(high), x: kx + barW + 6, y: top - 2, size: labelSize)
            image.text(Heatmap.format(low), x: kx + barW + 6, y: top + gridH - lineHeight, size: labelSize)
        case .categories:
            image.legend(entries, x: kx, y: top, size: labelSize)
        }
        return image
    }
}
