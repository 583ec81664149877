import Foundation
import BorderlineTestSupport
import XCTest

/// A misspelt architecture JSON is refused by the CLI (exit 2, the layer and the key named), and
/// `inspect` shows the hyper-parameters that tell the newer layers apart.
final class ArchitectureCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testTypoInArchitectureJSONExitsTwo() throws {
        let arch = try String(contentsOfFile: CLI.golden("layers/resnet.arch.json"), encoding: .utf8)
        let typo = dir.appendingPathComponent("typo.json")
        try arch.replacingOccurrences(of: "\"stride\"", with: "\"strides\"").write(to: typo, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("m.h5").path
        let r = try CLI.run(["convert", CLI.golden("layers/resnet.torch.h5"), "--architecture", typo.path, "--to", "native", "-o", out])
        XCTAssertEqual(r.status, 2, r.stderr)
        for fragment in [typo.path, "layers[0] 'conv1' (Conv2D)", "'strides'", "did you mean 'stride'?"] {
            XCTAssertTrue(r.stderr.contains(fragment), "stderr lacks \(fragment): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written")

        let ok = try CLI.run(["convert", CLI.golden("layers/resnet.torch.h5"), "--architecture", CLI.golden("layers/resnet.arch.json"),
                              "--to", "native", "-o", out])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    func testInspectShowsLayerDetailsAndInputBox() throws {
        let r = try CLI.run(["inspect", CLI.golden("layers/mobilenet.native.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        for fragment in ["input box   [0, 1] (default)", "3×3 p1 depthwise", "AdaptiveAvgPool2D", "→ 1×1", "ReLU6"] {
            XCTAssertTrue(r.stdout.contains(fragment), "inspect lacks \(fragment): \(r.stdout)")
        }
    }
}
