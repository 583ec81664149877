import BorderlineCore
import Foundation
import XCTest

/// The shipped CNN and the PyTorch goldens of tools/make_attack_goldens.py.
enum AttackFixtures {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repository = here.deletingLastPathComponent().deletingLastPathComponent()

    static func cnn() throws -> ModelClassifier {
        ModelClassifier(try Model.load(contentsOf: repository.appendingPathComponent("Models/fashion-cnn.h5").path))
    }

    struct Golden {
        var root: HDF5Group
        var file: HDF5File
        var x: Tensor
        var labels: [Int]
        var targets: [Int]
        func tensor(_ name: String) throws -> Tensor { try root.readTensor(name) }
        /// A hyper-parameter the script stored (`parameters/<name>`, one float).
        func parameter(_ name: String) throws -> Float { try root.group("parameters").readTensor(name).scalars[0] }
    }

    static func golden() throws -> Golden {
        let path = here.appendingPathComponent("Golden/attacks.h5").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("golden \(path) missing: run tools/make_attack_goldens.py") }
        let file = try HDF5File.open(path)
        let root = try file.root()
        return Golden(root: root, file: file, x: try root.readTensor("x"),
                      labels: try root.readInt64s("y").values.map { Int($0) },
                      targets: try root.readInt64s("targets").values.map { Int($0) })
    }

    /// Largest absolute element difference.
    static func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}
