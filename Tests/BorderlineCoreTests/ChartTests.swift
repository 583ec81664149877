@testable import BorderlineCore
import XCTest

final class ChartTests: XCTestCase {
    func testTicksAreNiceAndCoverTheRange() {
        XCTAssertEqual(Chart.ticks(0...1), [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { $0 }, accuracy: 1e-12)
        let t = Chart.ticks(-3.7...12.2)
        XCTAssertTrue(t.allSatisfy { (-3.7...12.2).contains($0) })
        let steps = zip(t, t.dropFirst()).map { $1 - $0 }
        XCTAssertTrue(steps.allSatisfy { abs($0 - steps[0]) < 1e-9 }, "evenly spaced: \(t)")
        XCTAssertTrue([1.0, 2, 5].contains { abs(steps[0] / pow(10, floor(log10(steps[0]))) - $0) < 1e-9 }, "1-2-5 step: \(steps[0])")
        XCTAssertEqual(Chart.ticks(5...5), [5])
    }

    func testLabels() {
        XCTAssertEqual(Chart.label(0), "0")
        XCTAssertEqual(Chart.label(0.25), "0.25")
        XCTAssertEqual(Chart.label(1e-5), "1e-05")
        XCTAssertEqual(Chart.label(1500), "1500")
    }

    func testRenderDrawsSeriesInTheirColoursAndText() throws {
        var chart = Chart(title: "t", xLabel: "x", yLabel: "y", width: 320, height: 240)
        chart.line(x: [0, 1], y: [0, 1], label: "rising", colour: [255, 0, 0])
        chart.histogram([0.1, 0.2, 0.2, 0.9], bins: 4, range: 0...1, label: "hist", colour: [0, 0, 255])
        let image = try chart.render()
        XCTAssertEqual(image.width, 320)
        XCTAssertEqual(image.height, 240)
        var red = 0, blue = 0, dark = 0
        for p in stride(from: 0, to: image.pixels.count, by: 3) {
            let (r, g, b) = (image.pixels[p], image.pixels[p + 1], image.pixels[p + 2])
            if r == 255 && g == 0 && b == 0 { red += 1 }
            if r == 0 && g == 0 && b == 255 { blue += 1 }
            if r < 100 && g < 100 && b < 100 { dark += 1 }
        }
        XCTAssertGreaterThan(red, 100, "the line is drawn")
        XCTAssertGreaterThan(blue, 100, "the histogram is drawn")
        XCTAssertGreaterThan(dark, 200, "frame and ticks are drawn")
        _ = try image.encoded()
    }

    func testTextIsRenderedWhenAFontIsAvailable() throws {
        let text = TextRenderer.shared
        try XCTSkipUnless(text.isAvailable, "no font: \(text.unavailableReason ?? "")")
        var image = try PNGImage(width: 120, height: 30, colour: [255, 255, 255])
        image.text("Borderline", x: 2, y: 2, size: 14)
        XCTAssertTrue(image.pixels.contains { $0 < 128 }, "glyphs were drawn")
        let narrow = text.measure("i", size: 14).width, wide = text.measure("Borderline", size: 14).width
        XCTAssertGreaterThan(wide, 5 * narrow)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(a) vs \(b)", file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}
