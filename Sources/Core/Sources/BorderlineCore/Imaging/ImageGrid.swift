import Foundation

/// Lays out sample images in a grid of cells for the report: `rows × columns` cells of one
/// sample shape each, separated by `gap` pixels of background, each pixel scaled up by `scale`.
///
/// A sample `[C, H, W]` with `C = 1` is grey and `C = 3` is RGB; values are clamped to
/// `[low, high]` and mapped linearly to 0…255 (`[0, 1]` for data scaled like Fashion-MNIST).
/// A flat sample `[F]` whose `F` is a square number is shown as a square grey image. A nil cell
/// stays background.
public struct ImageGrid {
    public let sampleShape: [Int]
    public let rows: Int
    public let columns: Int
    public var scale: Int
    public var gap: Int
    public var low: Float
    public var high: Float
    private var cells: [Int: [Float]] = [:]

    /// Whether samples of this shape can be drawn (`[1|3, H, W]`, or `[F]` with `F` square).
    public static func canDraw(_ shape: [Int]) -> Bool { layout(shape) != nil }

    private static func layout(_ shape: [Int]) -> (c: Int, h: Int, w: Int)? {
        if shape.count == 3, shape[0] == 1 || shape[0] == 3 { return (shape[0], shape[1], shape[2]) }
        if shape.count == 2 { return (1, shape[0], shape[1]) }
        if shape.count == 1 {
            let side = Int(Double(shape[0]).squareRoot().rounded())
            if side * side == shape[0] { return (1, side, side) }
        }
        return nil
    }

    public init(sampleShape: [Int], rows: Int, columns: Int, scale: Int = 2, gap: Int = 2, low: Float = 0, high: Float = 1) throws {
        guard ImageGrid.canDraw(sampleShape) else {
            throw BorderlineError(.invalidArgument, "cannot draw samples of shape \(sampleShape) as images (expected [1 or 3, H, W] or a square [F])")
        }
        guard rows > 0, columns > 0, scale > 0, gap >= 0, high > low else {
            throw BorderlineError(.invalidArgument, "image grid needs positive rows, columns and scale, gap ≥ 0 and high > low")
        }
        self.sampleShape = sampleShape
        self.rows = rows
        self.columns = columns
        self.scale = scale
        self.gap = gap
        self.low = low
        self.high = high
    }

    /// Puts one sample (`sampleShape.reduce(1, *)` values) into cell `(row, column)`.
    public mutating func set(row: Int, column: Int, sample: ArraySlice<Float>) {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns, "ImageGrid: cell (\(row), \(column)) outside \(rows)×\(columns)")
        precondition(sample.count == Tensor.count(of: sampleShape), "ImageGrid: sample has \(sample.count) values, expected \(Tensor.count(of: sampleShape))")
        cells[row * columns + column] = Array(sample)
    }

    /// Puts row `index` of a batch into cell `(row, column)`.
    public mutating func set(row: Int, column: Int, batch: Tensor, index: Int) {
        let per = batch.sampleCount
        set(row: row, column: column, sample: batch.scalars[(index * per)..<((index + 1) * per)])
    }

    /// The grid as an image (RGB; background a light grey).
    public func render() throws -> PNGImage {
        let (c, h, w) = ImageGrid.layout(sampleShape)!
        let cellW = w * scale, cellH = h * scale
        let width = columns * cellW + (columns + 1) * gap, height = rows * cellH + (rows + 1) * gap
        var pixels = [UInt8](repeating: 0xE6, count: width * height * 3)
        let range = high - low
        for (key, sample) in cells {
            let r = key / columns, col = key % columns
            let x0 = gap + col * (cellW + gap), y0 = gap + r * (cellH + gap)
            for y in 0..<h {
                for x in 0..<w {
                    var rgb: [UInt8] = []
                    for ch in 0..<3 {
                        let v = sample[(c == 3 ? ch : 0) * h * w + y * w + x]
                        let u = Swift.min(1, Swift.max(0, (v - low) / range))
                        rgb.append(UInt8((u * 255).rounded()))
                    }
                    for dy in 0..<scale {
                        for dx in 0..<scale {
                            let o = ((y0 + y * scale + dy) * width + (x0 + x * scale + dx)) * 3
                            pixels[o] = rgb[0]; pixels[o + 1] = rgb[1]; pixels[o + 2] = rgb[2]
                        }
                    }
                }
            }
        }
        return try PNGImage(width: width, height: height, channels: 3, pixels: pixels)
    }
}
