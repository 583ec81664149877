import BorderlineCore
import Foundation

/// A small RGB canvas for the plugin's pictures: images, lines, and numbers in a 3×5 pixel font.
struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: UInt8 = 0xFF) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: background, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * 3
        pixels[o] = c.0; pixels[o + 1] = c.1; pixels[o + 2] = c.2
    }

    mutating func fill(x: Int, y: Int, w: Int, h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, c) } }
    }

    /// A grey image of `h × w` values in [0, 1] (clamped), each pixel `scale × scale`.
    mutating func image(_ values: ArraySlice<Float>, h: Int, w: Int, x: Int, y: Int, scale: Int) {
        let base = values.startIndex
        for r in 0..<h {
            for c in 0..<w {
                let v = UInt8((min(1, max(0, values[base + r * w + c])) * 255).rounded())
                fill(x: x + c * scale, y: y + r * scale, w: scale, h: scale, (v, v, v))
            }
        }
    }

    mutating func rectangle(x: Int, y: Int, w: Int, h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for xx in x..<(x + w) { set(xx, y, c); set(xx, y + h - 1, c) }
        for yy in y..<(y + h) { set(x, yy, c); set(x + w - 1, yy, c) }
    }

    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
        let n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in 0...n {
            set(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, c)
        }
    }

    func png() throws -> PNGImage { try PNGImage(width: width, height: height, channels: 3, pixels: pixels) }
}

enum LatentPictures {
    /// One row per trajectory: the source image `x`, `frames` images `G(z_t)` at evenly spaced
    /// steps from `z_0` to the last step, and the boundary point `G(z*)` (red frame); under every
    /// image its `f_C` with two decimals (under `G(z*)`: `f_C` with three), the step, and the
    /// classifier's top class there (blue: the source class, red: the target, black: a third;
    /// shrunk or cut to the cell's width).
    static func strip(sources: Tensor, sourceProbability: [Float], sourceTop: [Int],
                      frames: [[(image: ArraySlice<Float>, fC: Float, step: Int, top: Int)]],
                      boundary: [(image: ArraySlice<Float>, fC: Float, top: Int)?], imageShape: [Int],
                      classNames: [String], source: Int, target: Int) throws -> PNGImage {
        let h = imageShape.count >= 2 ? imageShape[imageShape.count - 2] : Int(Double(imageShape[0]).squareRoot())
        let w = imageShape.count >= 2 ? imageShape[imageShape.count - 1] : h
        let scale = 2, gap = 4, textSize = 11
        let lineHeight = max(textSize + 2, TextRenderer.shared.measure("0", size: textSize).height)
        let label = TextRenderer.shared.isAvailable ? 3 * lineHeight + 2 : 0
        let columns = 1 + (frames.map(\.count).max() ?? 0) + 1
        let cellW = w * scale, cellH = h * scale
        var c = Canvas(width: gap + columns * (cellW + gap), height: gap + frames.count * (cellH + label + gap))
        var captions: [(text: String, x: Int, y: Int, size: Int, colour: [UInt8])] = []
        /// The class name at the largest size (11 down to 7) that fits the cell, else cut.
        func fitted(_ name: String) -> (String, Int) {
            for size in stride(from: textSize, through: 7, by: -1) where TextRenderer.shared.measure(name, size: size).width <= cellW { return (name, size) }
            var cut = name
            while cut.count > 1 && TextRenderer.shared.measure(cut + ".", size: 7).width > cellW { cut.removeLast() }
            return (cut + ".", 7)
        }
        for (r, row) in frames.enumerated() {
            let y = gap + r * (cellH + label + gap)
            func put(_ img: ArraySlice<Float>, column: Int, caption: String, sub: String, top: Int, colour: (UInt8, UInt8, UInt8)?) {
                let x = gap + column * (cellW + gap)
                c.image(img, h: h, w: w, x: x, y: y, scale: scale)
                if let colour { c.rectangle(x: x - 1, y: y - 1, w: cellW + 2, h: cellH + 2, colour) }
                let cw = TextRenderer.shared.measure(caption, size: textSize).width, sw = TextRenderer.shared.measure(sub, size: textSize).width
                captions.append((caption, x + (cellW - cw) / 2, y + cellH + 1, textSize, [0, 0, 0]))
                captions.append((sub, x + (cellW - sw) / 2, y + cellH + 1 + lineHeight, textSize, [110, 110, 110]))
                let (name, size) = fitted(classNames.indices.contains(top) ? classNames[top] : "\(top)")
                let nw = TextRenderer.shared.measure(name, size: size).width
                let tint: [UInt8] = top == target ? [200, 20, 20] : (top == source ? [0, 70, 190] : [0, 0, 0])
                captions.append((name, x + (cellW - nw) / 2, y + cellH + 1 + 2 * lineHeight, size, tint))
            }
            let d = sources.sampleCount
            put(sources.scalars[(r * d)..<((r + 1) * d)], column: 0, caption: String(format: "%.2f", sourceProbability[r]), sub: "x", top: sourceTop[r], colour: (0, 90, 200))
            for (j, f) in row.enumerated() {
                put(f.image, column: 1 + j, caption: String(format: "%.2f", f.fC), sub: "t=\(f.step)", top: f.top, colour: nil)
            }
            if let b = boundary[r] {
                put(b.image, column: columns - 1, caption: String(format: "%.3f", b.fC), sub: "z*", top: b.top, colour: (220, 30, 30))
            }
        }
        var image = try c.png()
        for t in captions { image.text(t.text, x: t.x, y: t.y, size: t.size, colour: t.colour) }
        return image
    }

    /// `f_C` against the step for every trajectory (one line each, up to 50), with the 0.5 line.
    static func curves(_ values: [[Float]], target: String) throws -> PNGImage {
        var chart = Chart(title: "Target probability along the trajectories", xLabel: "step", yLabel: "f_C = P(\(target))", width: 640, height: 320)
        chart.yRange = 0...1
        chart.horizontalRules = [0.5]
        for (i, v) in values.prefix(50).enumerated() where !v.isEmpty {
            chart.line(x: (0..<v.count).map(Double.init), y: v.map(Double.init), colour: Palette.colour(i), thickness: 1)
        }
        return try chart.render()
    }
}
