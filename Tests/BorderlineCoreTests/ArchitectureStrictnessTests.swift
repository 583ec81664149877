import Foundation
import XCTest
@testable import BorderlineCore

/// The architecture JSON is strict: a misspelt key must not silently build another model.
final class ArchitectureStrictnessTests: XCTestCase {
    /// A Conv2D → ReLU → Flatten → Dense model over `[1, 8, 8]` whose conv config is `conv`.
    func architecture(conv: JSONValue, extraRoot: [String: JSONValue] = [:]) -> JSONValue {
        var root: [String: JSONValue] = [
            "input_shape": [1, 8, 8],
            "layers": [
                ["name": "conv1", "type": "Conv2D", "config": conv],
                ["name": "relu1", "type": "ReLU"],
                ["name": "flatten", "type": "Flatten"],
            ],
        ]
        for (k, v) in extraRoot { root[k] = v }
        return .object(root)
    }

    func expectError(_ arch: JSONValue, kind: BorderlineError.Kind = .invalidConfiguration, containing fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        IOTestSupport.expectError(kind, containing: fragments, file: file, line: line) { _ = try Model(architecture: arch) }
    }

    /// The two typos of issue 15: `"strides"` for `stride`, and `"dilation"` where the layer has none.
    func testTyposOfTheIssueAreRefusedWithASuggestion() throws {
        expectError(architecture(conv: ["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "strides": [2, 2]]),
                    containing: ["layers[0]", "'conv1'", "(Conv2D)", "unknown config key 'strides'", "did you mean 'stride'?"])
        expectError(architecture(conv: ["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "dilations": [2, 2]]),
                    containing: ["layers[0]", "'conv1'", "'dilations'", "did you mean 'dilation'?"])
        // MaxPool2D has no dilation: the key is unknown (and nothing is close enough to suggest).
        let pool: JSONValue = [
            "input_shape": [1, 8, 8],
            "layers": [["name": "pool", "type": "MaxPool2D", "config": ["kernel_size": [2, 2], "dilation": [2, 2]]]],
        ]
        let e = IOTestSupport.expectError(.invalidConfiguration, containing: ["layers[0]", "'pool'", "(MaxPool2D)", "unknown config key 'dilation'",
                                                                              "'kernel_size', 'stride', 'padding'"]) {
            _ = try Model(architecture: pool)
        }
        XCTAssertFalse(e?.message.contains("did you mean") ?? true, "\(String(describing: e))")
        // Spelt right, Conv2D's dilation is honoured: a 3×3 kernel dilated by 2 spans 5 pixels.
        let dilated = try Model(architecture: architecture(conv: ["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "dilation": [2, 2]]))
        XCTAssertEqual(dilated.nodeShapes[0], [2, 4, 4])
        let strided = try Model(architecture: architecture(conv: ["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "stride": [2, 2]]))
        XCTAssertEqual(strided.nodeShapes[0], [2, 3, 3])
    }

    func testUnknownKeysElsewhere() {
        let conv: JSONValue = ["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3]]
        expectError(architecture(conv: conv, extraRoot: ["embeding": "relu1"]),
                    containing: ["unknown key 'embeding'", "did you mean 'embedding'?"])
        expectError(architecture(conv: conv, extraRoot: ["inputs_shape": [1, 8, 8]]), containing: ["'inputs_shape'", "did you mean 'input_shape'?"])
        // A hyper-parameter next to "config" instead of inside it.
        let misplaced: JSONValue = [
            "input_shape": [1, 8, 8],
            "layers": [["name": "conv1", "type": "Conv2D", "config": conv], ["name": "pool", "type": "MaxPool2D", "kernel_size": [2, 2]]],
        ]
        expectError(misplaced, containing: ["layers[1] 'pool' (MaxPool2D)", "unknown key 'kernel_size'", "inside 'config'"])
        let input: JSONValue = [
            "input_shape": [1, 8, 8],
            "layers": [["name": "conv1", "type": "Conv2D", "config": conv, "input": ["input"]]],
        ]
        expectError(input, containing: ["layers[0] 'conv1'", "'input'", "did you mean 'inputs'?"])
        // A layer without configuration given one.
        let relu: JSONValue = ["input_shape": [4], "layers": [["name": "act", "type": "ReLU", "config": ["inplace": true]]]]
        expectError(relu, containing: ["layers[0]", "'act' (ReLU)", "'inplace'", "takes no configuration"])
        expectError(["input_shape": [4], "layers": [["name": "act", "type": "Relu"]]], kind: .unknownLayerType,
                    containing: ["'act'", "unknown type 'Relu'", "did you mean 'ReLU'?"])
        expectError(architecture(conv: conv, extraRoot: ["output": "flaten"]), containing: ["'output'", "'flaten'", "did you mean 'flatten'?"])
    }

    func testWrongValueTypesNameTheLayerAndKey() {
        let cases: [(JSONValue, String)] = [
            (["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "stride": "2"], "stride"),
            (["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "bias": 1], "bias"),
            (["in_channels": 1, "out_channels": 2.5, "kernel_size": [3, 3]], "out_channels"),
            (["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "padding": [1, 1, 1]], "padding"),
            (["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "groups": [1]], "groups"),
            (["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "dilation": [true, 1]], "dilation"),
        ]
        for (conv, key) in cases {
            expectError(architecture(conv: conv), containing: ["layers[0]", "'conv1' (Conv2D)", "'\(key)'"])
        }
        expectError(["input_shape": [4], "layers": "Dense"], containing: ["'layers' must be a list"])
        expectError(["input_shape": [4], "layers": [["name": "a", "type": "ReLU", "config": [1]]]], containing: ["layers[0] 'a' (ReLU)", "'config' must be an object"])
    }

    /// The architecture stored in a native file goes through the same checks; the message names
    /// the file, the attribute, the layer and the key.
    func testNativeFileArchitectureIsStrict() throws {
        let dir = try IOTestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Model(architecture: architecture(conv: ["in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "stride": [2, 2]]))
        let p = dir.appendingPathComponent("m.h5").path
        try model.save(to: p)
        XCTAssertNoThrow(try Model.load(contentsOf: p), "a file Borderline wrote loads")
        let f = try HDF5File.openForUpdate(p)
        let text = try f.root().stringAttribute("architecture").replacingOccurrences(of: "\"stride\"", with: "\"strides\"")
        try f.root().setAttribute("architecture", string: text)
        try f.close()
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "root attribute 'architecture'", "layers[0]", "'conv1'", "'strides'",
                                                                      "did you mean 'stride'?"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    /// Every built-in layer declares its keys, and what it writes it reads back.
    func testEveryBuiltinLayerDeclaresItsConfigKeys() throws {
        for typeName in LayerRegistry.typeNames {
            let type = try XCTUnwrap(LayerRegistry.type(named: typeName))
            XCTAssertNotNil(type.configKeys, "\(typeName) declares its config keys")
        }
        XCTAssertEqual(Suggestion.distance("strides", "stride"), 1)
        XCTAssertEqual(Suggestion.distance("kernel", "kernel_size"), 5)
        // Too far to be a typo, but the one key that shares the word.
        XCTAssertEqual(Suggestion.closest(to: "kernel", in: ["kernel_size", "stride"]), "kernel_size")
        XCTAssertNil(Suggestion.closest(to: "padd", in: ["kernel_size", "stride"]))
        XCTAssertEqual(Suggestion.closest(to: "Stride", in: ["kernel_size", "stride"]), "stride")
    }
}
