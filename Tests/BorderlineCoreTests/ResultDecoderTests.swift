import BorderlineCore
import Foundation
import XCTest

/// ResultDecoder is the inverse of ResultEncoder for Decodable outputs: a resumed or merged run
/// gives analyses the values the components returned, rebuilt from their saved trees.
final class ResultDecoderTests: XCTestCase {
    enum Status: Int, Codable, Equatable { case resolved, capped, never }
    enum Mode: String, Codable, Equatable { case fast, exact }

    struct Inner: Codable, Equatable {
        var meanGap: Double
        var label: String
        var flags: [Bool]
    }

    struct Everything: Codable, Equatable {
        var float: Float
        var floats: [Float]
        var double: Double
        var doubles: [Double]
        var integer: Int
        var integers: [Int]
        var big: Int64
        var matrix: [[Int]]
        var cube: [[[Float]]]
        var flag: Bool
        var text: String
        var texts: [String]
        var tensor: Tensor
        var tensors: [Tensor]
        var statuses: [Status]
        var mode: Mode
        var modes: [Mode]
        var inner: Inner
        var inners: [Inner]
        var emptyInners: [Inner]
        var emptyFloats: [Float]
        var missing: Double?
        var present: Int?
        var table: ResultTable?
        var picture: ResultPicture?
        var note: ResultNote
        var perPair: PerPair<Inner>
        var edc1Test: Double
        var renamed: Double

        enum CodingKeys: String, CodingKey {
            case float, floats, double, doubles, integer, integers, big, matrix, cube, flag, text, texts, tensor, tensors
            case statuses, mode, modes, inner, inners, emptyInners, emptyFloats, missing, present, table, picture, note, perPair, edc1Test
            case renamed = "sample_10pct"
        }

        static func == (a: Everything, b: Everything) -> Bool {
            a.float.bitPattern == b.float.bitPattern && a.floats.map(\.bitPattern) == b.floats.map(\.bitPattern)
                && a.double.bitPattern == b.double.bitPattern && a.doubles.map(\.bitPattern) == b.doubles.map(\.bitPattern)
                && a.integer == b.integer && a.integers == b.integers && a.big == b.big && a.matrix == b.matrix && a.cube == b.cube
                && a.flag == b.flag && a.text == b.text && a.texts == b.texts && a.tensor.shape == b.tensor.shape && a.tensor.scalars.map(\.bitPattern) == b.tensor.scalars.map(\.bitPattern)
                && a.tensors.map(\.shape) == b.tensors.map(\.shape) && a.tensors.map(\.scalars) == b.tensors.map(\.scalars)
                && a.statuses == b.statuses && a.mode == b.mode && a.modes == b.modes && a.inner == b.inner && a.inners == b.inners
                && a.emptyInners == b.emptyInners && a.emptyFloats == b.emptyFloats && a.missing == b.missing && a.present == b.present
                && a.table?.title == b.table?.title && a.table?.rows == b.table?.rows && a.table?.columns == b.table?.columns
                && a.picture?.image == b.picture?.image && a.picture?.caption == b.picture?.caption && a.note.text == b.note.text
                && a.perPair.entries.map(\.pair) == b.perPair.entries.map(\.pair) && a.perPair.entries.map(\.value) == b.perPair.entries.map(\.value)
                && a.edc1Test == b.edc1Test && a.renamed == b.renamed
        }
    }

    func sample() throws -> Everything {
        // Floats whose shortest decimal is long, a subnormal, the largest finite, NaN and infinities.
        let awkward: [Float] = [0.1, 1.0 / 3.0, Float.leastNonzeroMagnitude, Float.greatestFiniteMagnitude, .nan, .infinity, -.infinity, 16_777_217, -0.0]
        return Everything(
            float: Float(0.1).nextUp, floats: awkward, double: 1.0 / 3.0, doubles: [.pi, .nan, -0.0, 1e-310], integer: -7, integers: [3, -1, (1 << 53) + 1],
            big: 1 << 40, matrix: [[1, 2, 3], [4, 5, 6]], cube: [[[1, 2], [3, 4]], [[5, 6], [7, 0.25]]], flag: true, text: "é – ok",
            texts: ["a", "b"], tensor: Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, .nan]),
            tensors: [Tensor(shape: [2], scalars: [1, 2]), Tensor(shape: [2], scalars: [3, 4])],
            statuses: [.resolved, .never, .capped], mode: .exact, modes: [.fast, .exact],
            inner: Inner(meanGap: 0.5, label: "x", flags: [true, false]), inners: [Inner(meanGap: 1, label: "y", flags: []), Inner(meanGap: 2, label: "z", flags: [true])],
            emptyInners: [], emptyFloats: [], missing: nil, present: 4,
            table: ResultTable(title: "t", columns: ["a", "b"], rows: [["1", "2"]]),
            picture: ResultPicture(name: "p", caption: "c", image: try PNGImage(width: 2, height: 1, colour: [10, 20, 30])),
            note: "a note", perPair: PerPair([(ClassPair(1, 2), Inner(meanGap: 3, label: "w", flags: [false])), (ClassPair(0, 4), Inner(meanGap: 4, label: "v", flags: []))]),
            edc1Test: 0.75, renamed: 9)
    }

    func testEveryKindOfOutputRoundTrips() throws {
        let value = try sample()
        let tree = try ResultEncoder.encode(value)
        let back = try ResultDecoder.decode(Everything.self, from: tree)
        XCTAssertEqual(back, value)
        XCTAssertEqual(back.floats[1].bitPattern, Float(1.0 / 3.0).bitPattern, "a Float comes back bit for bit from its shortest decimal")
        XCTAssertEqual(back.integers[2], (1 << 53) + 1, "an integer array keeps every integer exactly (scalars are numbers: exact to 2^53)")
        XCTAssertNil(back.missing)
        // Decoding at run time from a type value gives the same.
        let erased = try ResultDecoder.decode(any: Everything.self, from: tree)
        XCTAssertEqual(erased as? Everything, value)
    }

    func testEveryFloatOfARangeRoundTripsThroughTheEncodersDecimal() throws {
        struct F: Codable { var x: Float }
        var random = RandomGenerator(seed: 7)
        for _ in 0..<20_000 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: random.next()))
            guard x.isFinite else { continue }
            let back = try ResultDecoder.decode(F.self, from: try ResultEncoder.encode(F(x: x))).x
            XCTAssertEqual(back.bitPattern, x.bitPattern, "\(x)")
        }
    }

    func testAMismatchNamesTheKeyAndTheType() throws {
        struct Written: Encodable { var meanGap: String }
        struct Read: Decodable { var meanGap: Double }
        let tree = try ResultEncoder.encode(Written(meanGap: "oops"))
        XCTAssertThrowsError(try ResultDecoder.decode(Read.self, from: tree)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("Read") && message.contains("mean_gap") && message.contains("a number"), message)
        }
        struct Needs: Decodable { var count: Int }
        XCTAssertThrowsError(try ResultDecoder.decode(Needs.self, from: .group([]))) { XCTAssertTrue("\($0)".contains("count"), "\($0)") }
        XCTAssertThrowsError(try ResultDecoder.decode(Needs.self, from: .group([("count", .number(1.5))]))) {
            XCTAssertTrue("\($0)".contains("integer"), "\($0)")
        }
    }

    func testSavedOutputsDecodeOnceAndSayWhenTheirTypeIsNotDecodable() throws {
        struct OnlyEncodable: Encodable { var x = 1 }
        struct Both: Codable, Equatable { var x = 1 }
        let saved = SavedOutput(tree: try ResultEncoder.encode(Both()))
        XCTAssertEqual(try saved.value(as: Both.self), Both())
        XCTAssertThrowsError(try SavedOutput(tree: .group([("x", .number(1))])).value(as: OnlyEncodable.self)) {
            XCTAssertTrue("\($0)".contains("declare it Codable"), "\($0)")
        }
    }
}
