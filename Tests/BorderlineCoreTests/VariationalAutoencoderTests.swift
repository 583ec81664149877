import Foundation
import XCTest
@testable import BorderlineCore

final class VariationalAutoencoderTests: XCTestCase {
    func testReparameterizationBackwardIsFiniteDifference() {
        var g = RandomGenerator(seed: 3)
        let mu = g.normal(shape: [3, 4]), lv = g.normal(shape: [3, 4], std: 0.5), eps = g.normal(shape: [3, 4])
        let w = g.normal(shape: [3, 4])
        // L = Σ w ⊙ z.
        func loss(_ m: Tensor, _ v: Tensor) -> Double {
            let z = VariationalAutoencoder.reparameterize(mean: m, logVariance: v, noise: eps)
            return zip(z.scalars, w.scalars).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
        let (dm, dv) = VariationalAutoencoder.reparameterizeBackward(w, logVariance: lv, noise: eps)
        let h: Float = 1e-2
        for i in 0..<mu.count {
            var a = mu, b = mu; a.scalars[i] += h; b.scalars[i] -= h
            XCTAssertEqual(Double(dm.scalars[i]), (loss(a, lv) - loss(b, lv)) / Double(2 * h), accuracy: 1e-3)
            var c = lv, d = lv; c.scalars[i] += h; d.scalars[i] -= h
            XCTAssertEqual(Double(dv.scalars[i]), (loss(mu, c) - loss(mu, d)) / Double(2 * h), accuracy: 2e-3)
        }
    }

    func testKLValueAndGradient() {
        var g = RandomGenerator(seed: 4)
        let mu = g.normal(shape: [2, 3]), lv = g.normal(shape: [2, 3], std: 0.5)
        let kl = VariationalAutoencoder.klDivergence(mean: mu, logVariance: lv)
        // By hand, in Double.
        var byHand = 0.0
        for i in 0..<mu.count {
            let m = Double(mu.scalars[i]), v = Double(lv.scalars[i])
            byHand += -0.5 * (1 + v - m * m - Foundation.exp(v))
        }
        XCTAssertEqual(Double(kl.value), byHand / 2, accuracy: 1e-5)
        // Zero exactly at the prior.
        XCTAssertEqual(VariationalAutoencoder.klDivergence(mean: Tensor(zeros: [2, 3]), logVariance: Tensor(zeros: [2, 3])).value, 0, accuracy: 1e-7)
        let h: Float = 1e-2
        for i in 0..<mu.count {
            var a = mu, b = mu; a.scalars[i] += h; b.scalars[i] -= h
            let nm = (VariationalAutoencoder.klDivergence(mean: a, logVariance: lv).value - VariationalAutoencoder.klDivergence(mean: b, logVariance: lv).value) / (2 * h)
            XCTAssertEqual(kl.mean.scalars[i], nm, accuracy: 2e-3)
            var c = lv, d = lv; c.scalars[i] += h; d.scalars[i] -= h
            let nv = (VariationalAutoencoder.klDivergence(mean: mu, logVariance: c).value - VariationalAutoencoder.klDivergence(mean: mu, logVariance: d).value) / (2 * h)
            XCTAssertEqual(kl.logVariance.scalars[i], nv, accuracy: 2e-3)
        }
    }

    /// The whole batch loss and every parameter gradient against PyTorch (tools/make_vae_golden.py).
    func testBatchLossMatchesPyTorch() throws {
        let path = IOTestSupport.goldenDirectory.appendingPathComponent("vae.json").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("golden vae.json not present") }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        func floats(_ v: Any?) -> [Float] { (v as! [Double]).map(Float.init) }
        let params = json["params"] as! [String: Any], grads = json["grads"] as! [String: Any]
        var g = RandomGenerator(seed: 0)
        let encoder = try Model.sequential(inputShape: [6], [
            ("enc1", Dense(inFeatures: 6, outFeatures: 5, generator: &g)), ("enc1.relu", ReLU()),
            ("enc.stats", Dense(inFeatures: 5, outFeatures: 4, generator: &g)),
        ])
        let decoder = try Model.sequential(inputShape: [2], [
            ("dec1", Dense(inFeatures: 2, outFeatures: 5, generator: &g)), ("dec1.relu", ReLU()),
            ("dec.out", Dense(inFeatures: 5, outFeatures: 6, generator: &g)), ("dec.sigmoid", Sigmoid()),
        ])
        let all = encoder.namedParameters + decoder.namedParameters
        for (name, p) in all { p.value = Tensor(shape: p.value.shape, scalars: floats(params[name])) }
        let x = Tensor(shape: [3, 6], scalars: floats(json["x"])), eps = Tensor(shape: [3, 2], scalars: floats(json["eps"]))
        for (_, p) in all { p.zeroGradient() }
        let loss = try VariationalAutoencoder.batchLoss(encoder: encoder, decoder: decoder, images: x, noise: eps, backward: true)
        XCTAssertEqual(Double(loss.reconstruction), json["reconstruction"] as! Double, accuracy: 1e-4)
        XCTAssertEqual(Double(loss.kl), json["kl"] as! Double, accuracy: 1e-5)
        for (name, p) in all {
            let expected = floats(grads[name])
            for i in 0..<expected.count {
                XCTAssertEqual(p.gradient.scalars[i], expected[i], accuracy: 1e-4 * max(1, abs(expected[i])), "\(name)[\(i)]")
            }
        }
    }

    func testTrainingLowersTheLossAndIsSeeded() throws {
        var g = RandomGenerator(seed: 9)
        let images = g.uniform(shape: [64, 1, 4, 4], low: 0, high: 1).map { $0 > 0.5 ? 0.9 : 0.1 }
        func run() throws -> (Model, [VariationalAutoencoder.BatchLoss]) {
            let (e, d) = try Model.denseVAE(inputShape: [1, 4, 4], hidden: [8], latent: 2, seed: 1)
            var c = VariationalAutoencoder.TrainingConfiguration()
            c.epochs = 8; c.batchSize = 16; c.learningRate = 0.01
            return (d, try VariationalAutoencoder.train(encoder: e, decoder: d, images: images, configuration: c))
        }
        let (d1, h1) = try run(), (d2, h2) = try run()
        XCTAssertLessThan(h1.last!.total, h1.first!.total)
        XCTAssertEqual(h1.map(\.total), h2.map(\.total))
        XCTAssertEqual(d1.namedParameters[0].parameter.value, d2.namedParameters[0].parameter.value)
        XCTAssertEqual(d1.outputShape, [1, 4, 4])
        var bad = VariationalAutoencoder.TrainingConfiguration(); bad.epochs = 0
        XCTAssertThrowsError(try bad.validate())
    }
}
