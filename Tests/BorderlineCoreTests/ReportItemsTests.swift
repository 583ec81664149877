import BorderlineCore
import XCTest

/// Key results (highlights, key pictures and tables) through the encoder and decoder, and the
/// heatmap picture's cells, colours and checks.
final class ReportItemsTests: XCTestCase {
    struct Section: Codable, Equatable {
        var highlights: [ResultHighlight]
        var best: ResultHighlight?
        var table: ResultTable
        var picture: ResultPicture

        static func == (a: Section, b: Section) -> Bool {
            a.highlights == b.highlights && a.best == b.best && a.table.isKey == b.table.isKey && a.table.rows == b.table.rows
                && a.picture.isKey == b.picture.isKey && a.picture.image == b.picture.image
        }
    }

    func testHighlightsAndKeyFlagsAreReportLeavesAndRoundTrip() throws {
        let image = try PNGImage(width: 2, height: 2, colour: [9, 8, 7])
        let value = Section(highlights: [ResultHighlight("success", value: 0.875, unit: "%"), ResultHighlight("distance", value: 2.5, unit: "L2")],
                            best: ResultHighlight("pairs", value: 45, detail: "all"),
                            table: ResultTable(title: "t", columns: ["a"], rows: [["1"]], key: true),
                            picture: ResultPicture(name: "p", caption: "c", image: image, key: true))
        let tree = try ResultEncoder.encode(value)
        guard case .highlight(let first)? = tree["highlights"]?["0"], case .highlight? = tree["best"],
              case .table(let t)? = tree["table"], case .picture(let p)? = tree["picture"] else { return XCTFail("\(tree)") }
        XCTAssertEqual(first.formatted, "87.5 %")
        XCTAssertTrue(t.isKey && p.isKey)
        XCTAssertEqual(ResultHighlight("d", value: 2.3456789, unit: "L2").formatted, "2.346 L2")
        XCTAssertEqual(ResultHighlight("d", value: .nan, unit: "L2").formatted, "—")
        XCTAssertEqual(ResultHighlight("n", value: 45).formatted, "45")
        XCTAssertEqual(try ResultDecoder.decode(Section.self, from: tree), value)
        // Other encoders see the flags as `key` and the highlight's fields.
        let json = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        XCTAssertTrue(json.contains("\"key\":true"), json)
        XCTAssertTrue(json.contains("\"label\":\"success\""), json)
    }

    func testHeatmapColoursEveryCellAndRefusesMismatchedLabels() throws {
        let values: [[Double]] = [[.nan, 0, 1], [0.5, .nan, 1], [1, 0, .nan]]
        var map = Heatmap(title: "t", values: values, rowLabels: ["a", "b", "c"], columnLabels: ["a", "b", "c"])
        map.cellSize = 20
        let image = try map.render()
        // The grid's top-left corner: the first pixel of the top colour, read row by row, is cell (0, 2)
        // (left of the colour bar, which starts on the same row).
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(image.pixels[((y * image.width + x) * image.channels)..<((y * image.width + x) * image.channels + 3)]) }
        var origin: (Int, Int)?
        outer: for y in 0..<image.height { for x in 0..<image.width where pixel(x, y) == Heatmap.viridis(1) { origin = (x - 2 * 20, y); break outer } }
        let (x0, y0) = try XCTUnwrap(origin)
        XCTAssertEqual(pixel(x0 + 1, y0 + 1), Palette.missing, "NaN on the diagonal is grey")
        XCTAssertEqual(pixel(x0 + 2 * 20 + 1, y0 + 1), Heatmap.viridis(1), "the largest value is the top of the map")
        XCTAssertEqual(pixel(x0 + 1 * 20 + 1, y0 + 1), Heatmap.viridis(0), "the smallest the bottom")
        XCTAssertEqual(pixel(x0 + 0 * 20 + 1, y0 + 20 + 1), Heatmap.viridis(0.5))
        XCTAssertEqual(pixel(x0 + 1 * 20 + 1, y0 + 20 + 1), Palette.missing)
        map.brightLow = true
        let reversed = try map.render()
        XCTAssertEqual(Array(reversed.pixels[((y0 + 1) * reversed.width + x0 + 2 * 20 + 1) * 3 ..< ((y0 + 1) * reversed.width + x0 + 2 * 20 + 1) * 3 + 3]),
                       Heatmap.viridis(0), "brightLow turns the map around")

        var categories = Heatmap(title: "c", categories: [[nil, 2], [2, nil]], names: ["x", "y", "z"], rowLabels: ["a", "b"], columnLabels: ["a", "b"])
        categories.cellSize = 20
        let c = try categories.render()
        let found = stride(from: 0, to: c.pixels.count, by: 3).contains { Array(c.pixels[$0..<($0 + 3)]) == Palette.colour(2) }
        XCTAssertTrue(found, "a category's cells have its palette colour")

        let bad = Heatmap(title: "bad", values: [[1, 2], [3]], rowLabels: ["a", "b"], columnLabels: ["a", "b"])
        XCTAssertThrowsError(try bad.render()) { XCTAssertEqual(($0 as? BorderlineError)?.kind, .shapeMismatch) }
        let labels = Heatmap(title: "bad", values: [[1, 2], [3, 4]], rowLabels: ["a"], columnLabels: ["a", "b"])
        XCTAssertThrowsError(try labels.render()) { XCTAssertTrue("\($0)".contains("heatmap 'bad'"), "\($0)") }
    }
}
