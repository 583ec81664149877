import Foundation

/// A 2-D chart with axes, tick labels, axis titles and a legend, rendered to a ``PNGImage``.
///
/// Series are lines, scatters or histograms (step outlines over common bins). Axis ranges come
/// from the data unless set; values beyond a set range are drawn at its edge (so a heavy tail is
/// visible as a pile-up rather than stretching the axis). The x axis may be logarithmic. Text
/// needs a font (see ``TextRenderer``); without one the chart is drawn without text.
///
/// ```swift
/// var chart = Chart(title: "Distance vs entropy", xLabel: "L2 distance", yLabel: "entropy (nats)")
/// chart.scatter(x: distances, y: entropies, label: "test images")
/// let png = try chart.render()
/// ```
public struct Chart: Sendable {
    public enum Scale: Sendable { case linear, log10 }
    /// How histogram heights are scaled.
    public enum HistogramNormalisation: Sendable {
        /// Raw counts per bin.
        case count
        /// Fraction of the series' values per bin (comparable across series of different sizes).
        case fraction
        /// Each series scaled to its own peak (compares shapes and modes).
        case peak
    }

    enum Kind: Sendable { case line, scatter, histogram }
    struct Series: Sendable {
        var kind: Kind, x: [Double], y: [Double], label: String?, colour: [UInt8], size: Int
    }

    public var title: String?
    public var xLabel: String
    public var yLabel: String
    public var width: Int
    public var height: Int
    public var xScale: Scale = .linear
    /// Fixed axis ranges; nil = from the data (with a small margin).
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Horizontal reference lines (e.g. p = 0.5), dashed grey.
    public var horizontalRules: [Double] = []
    var series: [Series] = []

    public init(title: String? = nil, xLabel: String, yLabel: String, width: Int = 640, height: Int = 420) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.width = width
        self.height = height
    }

    /// A polyline through `(x[i], y[i])` in the given order.
    public mutating func line(x: [Double], y: [Double], label: String? = nil, colour: [UInt8]? = nil, thickness: Int = 2) {
        series.append(Series(kind: .line, x: x, y: y, label: label, colour: colour ?? Palette.colour(series.count), size: thickness))
    }

    /// Points at `(x[i], y[i])`, squares of side `2·radius + 1`.
    public mutating func scatter(x: [Double], y: [Double], label: String? = nil, colour: [UInt8]? = nil, radius: Int = 1) {
        series.append(Series(kind: .scatter, x: x, y: y, label: label, colour: colour ?? Palette.colour(series.count), size: radius))
    }

    /// A histogram of `values` over `bins` equal bins of `range` (values outside fall in the end
    /// bins; non-finite values are dropped), drawn as a step outline.
    public mutating func histogram(_ values: [Double], bins: Int, range: ClosedRange<Double>, normalisation: HistogramNormalisation = .fraction,
                                   label: String? = nil, colour: [UInt8]? = nil) {
        let bins = max(1, bins)
        var counts = [Double](repeating: 0, count: bins)
        let span = range.upperBound - range.lowerBound
        var total = 0.0
        for v in values where v.isFinite {
            let b = span > 0 ? Int(((v - range.lowerBound) / span * Double(bins)).rounded(.down)) : 0
            counts[min(bins - 1, max(0, b))] += 1
            total += 1
        }
        switch normalisation {
        case .count: break
        case .fraction: if total > 0 { counts = counts.map { $0 / total } }
        case .peak: if let peak = counts.max(), peak > 0 { counts = counts.map { $0 / peak } }
        }
        // Step outline: for each bin its left and right edge at the bin's height.
        var x: [Double] = [range.lowerBound], y: [Double] = [0]
        for b in 0..<bins {
            let left = range.lowerBound + span * Double(b) / Double(bins), right = range.lowerBound + span * Double(b + 1) / Double(bins)
            x += [left, right]; y += [counts[b], counts[b]]
        }
        x.append(range.upperBound); y.append(0)
        series.append(Series(kind: .histogram, x: x, y: y, label: label, colour: colour ?? Palette.colour(series.count), size: 2))
    }

    // MARK: Rendering

    /// "Nice" tick values (steps of 1, 2 or 5 × 10^k) covering `range`, about `target` of them.
    static func ticks(_ range: ClosedRange<Double>, target: Int = 6) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let raw = span / Double(max(1, target))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var t = ceil(range.lowerBound / step) * step
        var out: [Double] = []
        while t <= range.upperBound + step * 1e-9 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.0e", v) }
        var s = String(format: "%.4g", v)
        if s.contains("e") { s = String(format: "%.0e", v) }
        return s
    }

    private func dataRange(_ values: [Double], margin: Double) -> ClosedRange<Double> {
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return 0...1 }
        if hi == lo { return (lo - 0.5)...(hi + 0.5) }
        let pad = (hi - lo) * margin
        return (lo - pad)...(hi + pad)
    }

    /// Draws the chart.
    public func render() throws -> PNGImage {
        var image = try PNGImage(width: width, height: height, colour: [255, 255, 255])
        let text = TextRenderer.shared
        let fontSize = 13, tickSize = 11
        let hasText = text.isAvailable
        let left = hasText ? 64 : 16, right = 16, top = hasText && title != nil ? 30 : 12, bottom = hasText ? 46 : 16
        let plotW = width - left - right, plotH = height - top - bottom
        guard plotW > 10, plotH > 10 else { return image }

        let forward: (Double) -> Double = xScale == .log10 ? { $0 > 0 ? log10($0) : -.infinity } : { $0 }
        let allX = series.flatMap(\.x).map(forward).filter(\.isFinite)
        let allY = series.flatMap(\.y)
        let xr = xRange.map { forward($0.lowerBound)...forward($0.upperBound) } ?? dataRange(allX, margin: 0.02)
        let yr = yRange ?? {
            let r = dataRange(allY, margin: 0.05)
            // Histograms start at zero.
            return series.contains { $0.kind == .histogram } ? 0...max(r.upperBound, 1e-12) : r
        }()
        func px(_ x: Double) -> Int {
            let u = (min(max(forward(x), xr.lowerBound), xr.upperBound) - xr.lowerBound) / (xr.upperBound - xr.lowerBound)
            return left + Int((u * Double(plotW - 1)).rounded())
        }
        func py(_ y: Double) -> Int {
            let v = (min(max(y, yr.lowerBound), yr.upperBound) - yr.lowerBound) / (yr.upperBound - yr.lowerBound)
            return top + plotH - 1 - Int((v * Double(plotH - 1)).rounded())
        }

        // Grid and ticks.
        let grid: [UInt8] = [232, 232, 232], axis: [UInt8] = [60, 60, 60]
        let xTicks: [(pos: Int, label: String)]
        if xScale == .log10 {
            let lo = Int(ceil(xr.lowerBound - 1e-9)), hi = Int(floor(xr.upperBound + 1e-9))
            let step = max(1, (hi - lo + 1) / 7 + ((hi - lo + 1) % 7 == 0 ? 0 : 1))
            xTicks = stride(from: lo, through: hi, by: step).map { e in (px(pow(10, Double(e))), Self.label(pow(10, Double(e)))) }
        } else {
            xTicks = Self.ticks(xr).map { (px($0), Self.label($0)) }
        }
        let yTicks: [(pos: Int, label: String)] = Self.ticks(yr).map { (py($0), Self.label($0)) }
        for t in xTicks { image.fill(x: t.pos, y: top, width: 1, height: plotH, colour: grid) }
        for t in yTicks { image.fill(x: left, y: t.pos, width: plotW, height: 1, colour: grid) }
        for rule in horizontalRules where yr.contains(rule) {
            let y = py(rule)
            for x in stride(from: left, to: left + plotW, by: 8) { image.fill(x: x, y: y, width: 4, height: 1, colour: [140, 140, 140]) }
        }

        // Series.
        for s in series {
            let points = zip(s.x, s.y).filter { forward($0.0).isFinite && $0.1.isFinite }
            switch s.kind {
            case .scatter:
                for (x, y) in points { image.fill(x: px(x) - s.size, y: py(y) - s.size, width: 2 * s.size + 1, height: 2 * s.size + 1, colour: s.colour) }
            case .line, .histogram:
                for (a, b) in zip(points, points.dropFirst()) {
                    image.line(from: (px(a.0), py(a.1)), to: (px(b.0), py(b.1)), colour: s.colour, thickness: s.size)
                }
                if points.count == 1 { image.fill(x: px(points[0].0) - 1, y: py(points[0].1) - 1, width: 3, height: 3, colour: s.colour) }
            }
        }

        // Frame, ticks, labels.
        image.outline(x: left - 1, y: top - 1, width: plotW + 2, height: plotH + 2, colour: axis)
        guard hasText else { return image }
        for t in xTicks {
            image.fill(x: t.pos, y: top + plotH, width: 1, height: 4, colour: axis)
            let w = text.measure(t.label, size: tickSize).width
            image.text(t.label, x: t.pos - w / 2, y: top + plotH + 5, size: tickSize, colour: axis)
        }
        for t in yTicks {
            image.fill(x: left - 5, y: t.pos, width: 4, height: 1, colour: axis)
            let m = text.measure(t.label, size: tickSize)
            image.text(t.label, x: left - 7 - m.width, y: t.pos - m.height / 2, size: tickSize, colour: axis)
        }
        let xl = text.measure(xLabel, size: fontSize)
        image.text(xLabel, x: left + (plotW - xl.width) / 2, y: height - xl.height - 4, size: fontSize)
        let yl = text.measure(yLabel, size: fontSize)
        image.text(yLabel, x: 4, y: top + (plotH - yl.width) / 2, size: fontSize, rotated: true)
        if let title {
            let tl = text.measure(title, size: fontSize + 1)
            image.text(title, x: max(2, (width - tl.width) / 2), y: 6, size: fontSize + 1)
        }
        let entries = series.compactMap { s in s.label.map { (label: $0, colour: s.colour) } }
        if !entries.isEmpty {
            let size = image.measureLegend(entries, size: tickSize)
            image.legend(entries, x: left + plotW - size.width - 6, y: top + 6, size: tickSize)
        }
        return image
    }
}

extension PNGImage {
    /// The size ``legend(_:x:y:size:)`` will take.
    func measureLegend(_ entries: [(label: String, colour: [UInt8])], size: Int) -> (width: Int, height: Int) {
        let line = max(size + 4, TextRenderer.shared.measure("Ag", size: size).height + 2)
        let textWidth = entries.map { TextRenderer.shared.measure($0.label, size: size).width }.max() ?? 0
        return (8 + size + 6 + textWidth + 8, 6 + entries.count * line + 4)
    }
}
