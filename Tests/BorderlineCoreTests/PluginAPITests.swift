import BorderlineCore
import Foundation
import XCTest

/// Typed options and typed outputs: what a plugin author declares and what the host files.
final class PluginAPITests: XCTestCase {
    enum Mode: String, CaseIterable, OptionValue { case fast, exact, twoSided = "two-sided" }

    struct Options: PluginOptions {
        @Option(help: "step η", in: 1e-6...10) var stepSize: Float = 0.1
        @Option(help: "halvings", in: 1...60) var maxHalvings = 30
        @Option(help: "draw it") var draw = true
        @Option(help: "how") var mode = Mode.fast
        @Option(name: "train-data", help: "where from") var source = "auto"
        @OptionGroup var shared = BisectionOptions(beta: 1e-4, maxHalvings: 40)
    }

    func testDeclarationsComeFromThePropertiesOnce() throws {
        XCTAssertThrowsError(try OptionSchema.declarations(of: Options.self)) { error in
            // `maxHalvings` is declared twice: here and in the bisection group.
            XCTAssertTrue("\(error)".contains("declares two options named 'max-halvings'"), "\(error)")
        }
        struct Clean: PluginOptions {
            @Option(help: "step η", in: 1e-6...10) var stepSize: Float = 0.1
            @Option(help: "draw it") var draw = true
            @Option(help: "how") var mode = Mode.fast
            @Option(name: "train-data", help: "where from") var source = "auto"
            @OptionGroup var shared = BisectionOptions(beta: 1e-4, maxHalvings: 40)
        }
        let d = try OptionSchema.declarations(of: Clean.self)
        XCTAssertEqual(d.map(\.option.name), ["step-size", "draw", "mode", "train-data", "beta", "max-halvings"])
        XCTAssertEqual(d[0].option.kind, .number(1e-6...10))
        XCTAssertEqual(d[0].option.defaultValue, .number(0.1), "a Float default is listed as its shortest decimal")
        XCTAssertEqual(d[2].option.kind, .choice(["fast", "exact", "two-sided"]))
        XCTAssertEqual(d[4].option.defaultValue, .number(1e-4), "a group's defaults can be set where it is used")
        XCTAssertEqual(d[5].option.kind, .integer(1...60))
        XCTAssertEqual(d[5].path, ["shared", "maxHalvings"])

        let o = try OptionSchema.instance(of: Clean.self, values: ["step-size": .number(0.5), "mode": .string("two-sided"),
                                                                  "max-halvings": .number(12), "draw": .bool(false)])
        XCTAssertEqual(o.stepSize, 0.5)
        XCTAssertEqual(o.mode, .twoSided)
        XCTAssertEqual(o.shared.maxHalvings, 12)
        XCTAssertEqual(o.shared.beta, 1e-4, "values not given keep their defaults")
        XCTAssertFalse(o.draw)
        XCTAssertEqual(o.source, "auto")
    }

    func testDerivedNames() {
        XCTAssertEqual(OptionNames.kebab("maxHalvings"), "max-halvings")
        XCTAssertEqual(OptionNames.kebab("pgdL2Epsilon"), "pgd-l2-epsilon")
        XCTAssertEqual(OptionNames.kebab("useURLCache"), "use-url-cache")
        XCTAssertEqual(OptionNames.kebab("beta"), "beta")
        XCTAssertEqual(ResultEncoder.key("meanGap"), "mean_gap")
        XCTAssertEqual(ResultEncoder.key("edc1Test"), "edc1_test")
        XCTAssertEqual(ResultEncoder.key("success_rate"), "success_rate")
        XCTAssertEqual(ResultEncoder.key("deepfoolOverJacobianL2P10"), "deepfool_over_jacobian_l2_p10")
    }

    func testAnOptionsStructHoldsOnlyOptions() {
        struct Stray: PluginOptions {
            @Option(help: "") var a = 1
            var b = 2
        }
        XCTAssertThrowsError(try OptionSchema.declarations(of: Stray.self)) { error in
            XCTAssertTrue("\(error)".contains("Stray.b is not an @Option or @OptionGroup"), "\(error)")
        }
    }

    struct Inner: Encodable { var meanL2: Double; var flags: [Bool] }
    enum Status: Int, Encodable { case resolved, capped, never }
    struct Output: Encodable {
        var successRate: Double
        var count: Int
        var label: String
        var ok: Bool
        var missing: Double? = nil
        var distances: [Float]
        var indices: [Int]
        var matrix: [[Int]]
        var statuses: [Status]
        var names: [String]
        var inner: Inner
        var image: Tensor
        var table: ResultTable
        var note: ResultNote
        var perPair: PerPair<Inner>
    }

    func testOutputsBecomeATreeOfNumbersArraysAndReportItems() throws {
        var perPair = PerPair<Inner>()
        perPair[ClassPair(1, 2)] = Inner(meanL2: 0.5, flags: [true])
        let value = Output(successRate: 0.75, count: 3, label: "x", ok: true, distances: [1, 2], indices: [4, 5],
                           matrix: [[1, 2], [3, 4], [5, 6]], statuses: [.capped, .never], names: ["a", "b"],
                           inner: Inner(meanL2: 0.25, flags: [true, false]), image: Tensor(zeros: [2, 1, 2, 2]),
                           table: ResultTable(title: "t", columns: ["c"], rows: [["1"]]), note: "hello", perPair: perPair)
        let tree = try ResultEncoder.encode(value)
        XCTAssertEqual(tree.number("success_rate"), 0.75)
        XCTAssertEqual(tree.number("count"), 3)
        XCTAssertEqual(tree.number("inner", "mean_l2"), 0.25)
        XCTAssertNil(tree["missing"], "nil is left out")
        guard case .string("x")? = tree["label"], case .bool(true)? = tree["ok"] else { return XCTFail("\(tree)") }
        guard case .array(.float(let d))? = tree["distances"] else { return XCTFail("[Float] is a float32 array") }
        XCTAssertEqual(d.shape, [2])
        guard case .array(.int64(let i, [2]))? = tree["indices"] else { return XCTFail("[Int] is an int64 array") }
        XCTAssertEqual(i, [4, 5])
        guard case .array(.int64(let m, let shape))? = tree["matrix"] else { return XCTFail("nested arrays are one array") }
        XCTAssertEqual(shape, [3, 2])
        XCTAssertEqual(m, [1, 2, 3, 4, 5, 6])
        guard case .array(.int64([1, 2], [2]))? = tree["statuses"] else { return XCTFail("an Int enum array is an int64 array: \(String(describing: tree["statuses"]))") }
        guard case .strings(["a", "b"])? = tree["names"] else { return XCTFail() }
        guard case .array(.uint8([1, 0], [2]))? = tree["inner"]?["flags"] else { return XCTFail("[Bool] is uint8") }
        guard case .array(.float(let t))? = tree["image"] else { return XCTFail() }
        XCTAssertEqual(t.shape, [2, 1, 2, 2])
        guard case .table? = tree["table"], case .note("hello")? = tree["note"] else { return XCTFail() }
        guard case .perPair(let entries)? = tree["per_pair"] else { return XCTFail() }
        XCTAssertEqual(entries.map(\.pair), [ClassPair(1, 2)])

        let leaves = tree.leaves()
        let pairLeaf = leaves.first { $0.pair == ClassPair(1, 2) && $0.path == ["per_pair", "mean_l2"] }
        XCTAssertNotNil(pairLeaf, "per-pair values are filed under their pair: \(leaves.map(\.path))")
    }

    func testOutputNamesThatCannotBeFiledAreRefused() {
        struct Bad: Encodable {
            var value = 1
            enum CodingKeys: String, CodingKey { case value = "a/b" }
        }
        XCTAssertThrowsError(try ResultEncoder.encode(Bad())) { error in
            XCTAssertTrue("\(error)".contains("output key 'a/b'"), "\(error)")
        }
        struct Twice: Encodable {
            var meanGap = 1, mean_gap = 2
        }
        XCTAssertThrowsError(try ResultEncoder.encode(Twice())) { XCTAssertTrue("\($0)".contains("two members named 'mean_gap'"), "\($0)") }
    }

    func testEmptyArraysKeepTheirType() throws {
        struct Pictures: Encodable { var pictures: [ResultPicture] = []; var floats: [Float] = []; var ints: [Int] = [] }
        let tree = try ResultEncoder.encode(Pictures())
        if case .array? = tree["pictures"] { XCTFail("an empty list of pictures is not an array dataset") }
        guard case .array(.float(let f))? = tree["floats"], case .array(.int64([], [0]))? = tree["ints"] else { return XCTFail("\(tree)") }
        XCTAssertEqual(f.shape, [0])
    }

    func testGroupsValidateThemselves() throws {
        struct Range: PluginOptions {
            @Option(help: "") var low = 0.0
            @Option(help: "") var high = 1.0
            func validate() throws { if low > high { throw BorderlineError(.invalidArgument, "low must not exceed high") } }
        }
        struct Outer: PluginOptions { @OptionGroup var range: Range }
        let fine = try OptionSchema.instance(of: Outer.self, values: [:])
        XCTAssertNoThrow(try OptionSchema.validate(fine))
        let bad = try OptionSchema.instance(of: Outer.self, values: ["low": .number(2)])
        XCTAssertThrowsError(try OptionSchema.validate(bad)) { XCTAssertTrue("\($0)".contains("low must not exceed high")) }
    }

    func testSuggestions() {
        XCTAssertEqual(Suggestion.closest(to: "strides", in: ["stride", "padding"]), "stride")
        XCTAssertEqual(Suggestion.closest(to: "max-steps", in: ["max-halvings", "beta"], maxDistance: 6), "max-halvings")
        XCTAssertNil(Suggestion.closest(to: "zzz", in: ["stride"]))
        XCTAssertEqual(Suggestion.distance("ab", "ba"), 1)
    }
}
