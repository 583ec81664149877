import BorderlineCore
import Foundation

/// A small RGB canvas with a 3×5 pixel font, enough for the paper's heatmaps (Figures 7–9) and
/// PCA scatter plots (Figures 4–6) with their legends and colour scales, written as PNG through
/// the core's ``PNGImage``.
struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = background.0; pixels[3 * i + 1] = background.1; pixels[3 * i + 2] = background.2 }
    }

    typealias RGB = (UInt8, UInt8, UInt8)

    mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
    }

    mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        for yy in max(0, y)..<min(height, y + h) where w > 0 { for xx in max(0, x)..<min(width, x + w) { set(xx, yy, c) } }
    }

    mutating func frame(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        fill(x: x, y: y, width: w, height: 1, c); fill(x: x, y: y + h - 1, width: w, height: 1, c)
        fill(x: x, y: y, width: 1, height: h, c); fill(x: x + w - 1, y: y, width: 1, height: h, c)
    }

    /// 3×5 glyphs, one octal digit (3 bits, left pixel = 4) per row.
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2],
        "P": [6, 5, 6, 4, 4], "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], ":": [0, 2, 0, 2, 0], ">": [4, 2, 1, 2, 4],
        "(": [2, 4, 4, 4, 2], ")": [2, 1, 1, 1, 2], "/": [1, 1, 2, 4, 4], "=": [0, 7, 0, 7, 0], ",": [0, 0, 0, 2, 4],
        "%": [5, 1, 2, 4, 5], "+": [0, 2, 7, 2, 0], "_": [0, 0, 0, 0, 7], " ": [0, 0, 0, 0, 0],
    ]

    /// Width in pixels of `text` at `scale` (4 px per glyph including the gap, times scale).
    static func textWidth(_ text: String, scale: Int) -> Int { max(0, text.count * 4 * scale - scale) }

    /// Draws `text` (upper-cased; unknown characters as blanks) with its top-left corner at (x, y).
    mutating func text(_ text: String, x: Int, y: Int, scale: Int = 2, _ c: RGB = (0, 0, 0)) {
        var cx = x
        for ch in text.uppercased() {
            let rows = Canvas.glyphs[ch] ?? Canvas.glyphs[" "]!
            for (r, bits) in rows.enumerated() {
                for col in 0..<3 where bits & (4 >> col) != 0 { fill(x: cx + col * scale, y: y + r * scale, width: scale, height: scale, c) }
            }
            cx += 4 * scale
        }
    }

    func png() throws -> PNGImage { try PNGImage(width: width, height: height, channels: 3, pixels: pixels) }
}

enum Charts {
    /// Viridis, sampled at 9 anchors and interpolated linearly; `v` in [0, 1].
    static func viridis(_ v: Double) -> Canvas.RGB {
        let anchors: [(Double, Double, Double)] = [
            (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
            (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
        ]
        let t = min(1, max(0, v.isFinite ? v : 0)) * Double(anchors.count - 1)
        let i = min(anchors.count - 2, Int(t)), f = t - Double(i)
        let a = anchors[i], b = anchors[i + 1]
        return (UInt8((a.0 + f * (b.0 - a.0)).rounded()), UInt8((a.1 + f * (b.1 - a.1)).rounded()), UInt8((a.2 + f * (b.2 - a.2)).rounded()))
    }

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
    static func heatmap(_ values: [[Double]], labels: [String]? = nil, title: String, rowLabel: String = "SOURCE S",
                        columnLabel: String = "TARGET T") throws -> PNGImage {
        let k = values.count
        let names = labels ?? (0..<k).map { "\($0)" }
        let cell = k <= 10 ? 28 : max(6, 280 / max(1, k))
        let finite = values.flatMap { $0 }.filter { $0.isFinite }
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        let span = high > low ? high - low : 1
        var lowText = format(low), highText = format(high)
        if lowText == highText, high > low { lowText = String(format: "%.4g", low); highText = String(format: "%.4g", high) }
        let left = 40, top = 40, barGap = 20, barWidth = 16
        let gridSize = k * cell
        let width = left + gridSize + barGap + barWidth + 8 + Canvas.textWidth(highText.count > lowText.count ? highText : lowText, scale: 2) + 10
        let height = top + gridSize + 36
        var c = Canvas(width: max(width, Canvas.textWidth(title, scale: 2) + 20), height: height)
        c.text(title, x: 10, y: 8)
        c.text(columnLabel, x: left, y: top + gridSize + 22, scale: 1)
        for s in 0..<k {
            for t in 0..<k {
                let v = values[s][t]
                let colour: Canvas.RGB = v.isFinite ? viridis((v - low) / span) : (200, 200, 200)
                c.fill(x: left + t * cell, y: top + s * cell, width: cell - 1, height: cell - 1, colour)
            }
            if cell >= 12 {
                c.text(names[s], x: left - 6 - Canvas.textWidth(names[s], scale: 2), y: top + s * cell + (cell - 10) / 2)
                c.text(names[s], x: left + s * cell + (cell - Canvas.textWidth(names[s], scale: 2)) / 2, y: top + gridSize + 4)
            }
        }
        c.text(rowLabel, x: 2, y: top - 12, scale: 1)
        // Colour bar: high at the top.
        let bx = left + gridSize + barGap
        for y in 0..<gridSize {
            c.fill(x: bx, y: top + y, width: barWidth, height: 1, viridis(1 - Double(y) / Double(max(1, gridSize - 1))))
        }
        c.frame(x: bx - 1, y: top - 1, width: barWidth + 2, height: gridSize + 2, (0, 0, 0))
        c.text(highText, x: bx + barWidth + 6, y: top)
        c.text(lowText, x: bx + barWidth + 6, y: top + gridSize - 10)
        return try c.png()
    }

    struct Series {
        var label: String
        var colour: Canvas.RGB
        var points: [(Float, Float)]
        var size: Int
    }

    /// A scatter plot of 2-D points (drawn in order, so later series lie on top), with a legend.
    static func scatter(_ series: [Series], title: String, xLabel: String = "PC1", yLabel: String = "PC2", size: Int = 420) throws -> PNGImage {
        let all = series.flatMap { $0.points }.filter { $0.0.isFinite && $0.1.isFinite }
        let xs = all.map { $0.0 }, ys = all.map { $0.1 }
        var x0 = xs.min() ?? 0, x1 = xs.max() ?? 1, y0 = ys.min() ?? 0, y1 = ys.max() ?? 1
        if x1 <= x0 { x0 -= 1; x1 += 1 }
        if y1 <= y0 { y0 -= 1; y1 += 1 }
        let margin = 30, top = 30
        let legendHeight = 14 * series.count + 8
        var c = Canvas(width: size + 2 * margin, height: top + size + 30 + legendHeight)
        c.text(title, x: 10, y: 8)
        c.frame(x: margin - 1, y: top - 1, width: size + 2, height: size + 2, (120, 120, 120))
        for s in series {
            for p in s.points where p.0.isFinite && p.1.isFinite {
                let px = margin + Int(Float(size - 1) * (p.0 - x0) / (x1 - x0))
                let py = top + (size - 1) - Int(Float(size - 1) * (p.1 - y0) / (y1 - y0))
                c.fill(x: px - s.size / 2, y: py - s.size / 2, width: s.size, height: s.size, s.colour)
            }
        }
        c.text(xLabel, x: margin + size / 2 - 8, y: top + size + 6, scale: 1)
        c.text(yLabel, x: 4, y: top + size / 2, scale: 1)
        var ly = top + size + 20
        for s in series {
            c.fill(x: margin, y: ly, width: 10, height: 10, s.colour)
            c.text("\(s.label) (\(s.points.count))", x: margin + 16, y: ly, scale: 2)
            ly += 14
        }
        return try c.png()
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
