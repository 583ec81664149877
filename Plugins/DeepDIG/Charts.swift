import BorderlineCore
import Foundation

/// DeepDIG's pictures on the core's imaging: class×class heatmaps (paper Figures 7–9) drawn on a
/// ``PNGImage`` with the core's FreeType text, and PCA scatter plots (Figures 4–6) through the
/// core's ``Chart`` (axes, ticks, legend). Without a font both are drawn without text, as
/// ``Chart`` is.
enum Charts {
    /// Viridis (the core's ``Heatmap/viridis(_:)``); `v` in [0, 1]; `[r, g, b]`.
    static func viridis(_ v: Double) -> [UInt8] { Heatmap.viridis(v) }

    /// Short decimal text for a scale tick.
    static func format(_ v: Double) -> String {
        if !v.isFinite { return "NAN" }
        let a = abs(v)
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 10 { return String(format: "%.1f", v) }
        if a >= 0.1 || a == 0 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }

    /// A class×class heatmap: `values[s][t]` (NaN = no value, drawn grey, e.g. the diagonal),
    /// rows = source class s, columns = target class t, viridis colours between the finite
    /// minimum and maximum, with a colour bar and its end values on the right.
    static func heatmap(_ values: [[Double]], labels: [String]? = nil, title: String, rowLabel: String = "source s",
                        columnLabel: String = "target t") throws -> PNGImage {
        let k = values.count
        let names = labels ?? (0..<k).map { "\($0)" }
        let text = TextRenderer.shared
        let cell = k <= 10 ? 32 : max(6, 320 / max(1, k))
        let finite = values.flatMap { $0 }.filter { $0.isFinite }
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        let span = high > low ? high - low : 1
        var lowText = format(low), highText = format(high)
        if lowText == highText, high > low { lowText = String(format: "%.4g", low); highText = String(format: "%.4g", high) }
        let labelWidth = names.map { text.measure($0, size: 12).width }.max() ?? 0
        let left = 12 + max(labelWidth, 16) + 8, top = 52, barGap = 20, barWidth = 16
        let gridSize = k * cell
        let valueWidth = max(text.measure(highText, size: 12).width, text.measure(lowText, size: 12).width)
        let width = max(left + gridSize + barGap + barWidth + 8 + valueWidth + 12, text.measure(title, size: 14).width + 20)
        let height = top + gridSize + 48
        var image = try PNGImage(width: width, height: height, colour: [255, 255, 255])
        image.text(title, x: 10, y: 8, size: 14)
        image.text(rowLabel, x: 10, y: top - 20, size: 11, colour: [90, 90, 90])
        image.text(columnLabel, x: left, y: top + gridSize + 26, size: 11, colour: [90, 90, 90])
        for s in 0..<k {
            for t in 0..<k {
                let v = values[s][t]
                image.fill(x: left + t * cell, y: top + s * cell, width: cell - 1, height: cell - 1, colour: v.isFinite ? viridis((v - low) / span) : Palette.missing)
            }
            if cell >= 14 {
                let w = text.measure(names[s], size: 12).width
                image.text(names[s], x: left - 8 - w, y: top + s * cell + (cell - 14) / 2, size: 12)
                image.text(names[s], x: left + s * cell + (cell - w) / 2, y: top + gridSize + 6, size: 12)
            }
        }
        // Colour bar: high at the top.
        let bx = left + gridSize + barGap
        for y in 0..<gridSize {
            image.fill(x: bx, y: top + y, width: barWidth, height: 1, colour: viridis(1 - Double(y) / Double(max(1, gridSize - 1))))
        }
        image.outline(x: bx - 1, y: top - 1, width: barWidth + 2, height: gridSize + 2, colour: [0, 0, 0])
        image.text(highText, x: bx + barWidth + 6, y: top - 2, size: 12)
        image.text(lowText, x: bx + barWidth + 6, y: top + gridSize - 14, size: 12)
        return image
    }

    struct Series {
        var label: String
        var colour: [UInt8]
        var points: [(Float, Float)]
        /// Side of each point's square in pixels (odd sizes are exact: side = 2·radius + 1).
        var size: Int
    }

    /// A scatter plot of 2-D points (drawn in order, so later series lie on top) with axes and a
    /// legend that gives each series' point count: the core's ``Chart``.
    static func scatter(_ series: [Series], title: String, xLabel: String = "PC1", yLabel: String = "PC2") throws -> PNGImage {
        var chart = Chart(title: title, xLabel: xLabel, yLabel: yLabel, width: 620, height: 500)
        for s in series {
            let shown = s.points.filter { $0.0.isFinite && $0.1.isFinite }
            chart.scatter(x: shown.map { Double($0.0) }, y: shown.map { Double($0.1) }, label: "\(s.label) (\(s.points.count))",
                          colour: s.colour, radius: max(0, (s.size - 1) / 2))
        }
        return try chart.render()
    }

    /// Pearson correlation of paired finite values; NaN with fewer than 2 pairs or zero variance.
    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let pairs = zip(a, b).filter { $0.0.isFinite && $0.1.isFinite }
        guard pairs.count >= 2 else { return .nan }
        let n = Double(pairs.count)
        let ma = pairs.reduce(0) { $0 + $1.0 } / n, mb = pairs.reduce(0) { $0 + $1.1 } / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in pairs { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
        guard saa > 0, sbb > 0 else { return .nan }
        return sab / (saa * sbb).squareRoot()
    }
}
