import XCTest
@testable import BorderlineCore

/// `borderline train`'s options beyond the paper's recipe: Mixup, adversarial training and the
/// initialisation of a model read from an architecture JSON.
final class TrainingOptionsTests: XCTestCase {
    // MARK: Mixup

    func testMixupLossMatchesAHandComputation() throws {
        // z = [[2, 0], [0, 1]], y = [0, 1], partners' labels y′ = [1, 0], λ = 0.3:
        // CE(z₀, 0) = log(1 + e⁻²), CE(z₀, 1) = 2 + log(1 + e⁻²), CE(z₁, 1) = log(1 + e⁻¹), CE(z₁, 0) = 1 + log(1 + e⁻¹);
        // L = 0.3·mean(CE(z, y)) + 0.7·mean(CE(z, y′)) = 1.2700949 (PyTorch: 1.270094871520996).
        let a = Foundation.log(1 + Foundation.exp(-2.0)), b = Foundation.log(1 + Foundation.exp(-1.0))
        let expected = 0.3 * (a + b) / 2 + 0.7 * ((2 + a) + (1 + b)) / 2
        let logits = Tensor(shape: [2, 2], scalars: [2, 0, 0, 1])
        let (value, gradient) = try Loss.mixupCrossEntropy(logits: logits, labels: [0, 1], partnerLabels: [1, 0], lambda: 0.3)
        XCTAssertEqual(Double(value), expected, accuracy: 1e-6)
        XCTAssertEqual(value, 1.270094871520996, accuracy: 1e-6)
        // ∂L/∂z = (softmax(z) − 0.3·e_y − 0.7·e_y′)/2: row 0 (σ(2) − 0.3)/2, row 1 (σ(−1) − 0.7)/2 (PyTorch's autograd agrees).
        let s2 = Float(1 / (1 + Foundation.exp(-2.0))), sm1 = Float(1 / (1 + Foundation.exp(1.0)))
        let g: [Float] = [(s2 - 0.3) / 2, -(s2 - 0.3) / 2, (sm1 - 0.7) / 2, -(sm1 - 0.7) / 2]
        for i in 0..<4 { XCTAssertEqual(gradient.scalars[i], g[i], accuracy: 1e-6, "gradient \(i)") }
        XCTAssertEqual(gradient.scalars[0], 0.290398508310318, accuracy: 1e-6)
        XCTAssertEqual(gradient.scalars[2], -0.21552927792072296, accuracy: 1e-6)
        // λ = 1 is plain cross-entropy.
        let plain = try Loss.softmaxCrossEntropy(logits: logits, labels: [0, 1])
        XCTAssertEqual(try Loss.mixupCrossEntropy(logits: logits, labels: [0, 1], partnerLabels: [1, 0], lambda: 1).value, plain.value)
        XCTAssertThrowsError(try Loss.mixupCrossEntropy(logits: logits, labels: [0, 1], partnerLabels: [1, 0], lambda: 1.5))
    }

    func testMixupMixesRowsWithTheirPartners() {
        let x = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        // 0.25·row + 0.75·partner.
        XCTAssertEqual(Mixup.mix(x, partners: [1, 0], lambda: 0.25).scalars, [2.5, 3.5, 1.5, 2.5])
        XCTAssertEqual(Mixup.mix(x, partners: [0, 1], lambda: 0.6).scalars, x.scalars)
    }

    func testBetaDrawsHaveBetaMoments() {
        // Beta(α, α): mean ½, variance 1 / (4(2α + 1)).
        for alpha: Float in [0.2, 1, 2] {
            var g = RandomGenerator(seed: 7)
            let draws = (0..<40_000).map { _ in Double(Mixup.sampleLambda(alpha: alpha, generator: &g)) }
            let mean = draws.reduce(0, +) / Double(draws.count)
            let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
            XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 <= 1 })
            XCTAssertEqual(mean, 0.5, accuracy: 0.01, "α = \(alpha)")
            XCTAssertEqual(variance, 1 / (4 * (2 * Double(alpha) + 1)), accuracy: 0.005, "α = \(alpha)")
        }
    }

    // MARK: Adversarial training

    /// The robust/non-robust toy (after Tsipras et al. 2019): feature 0 = 0.5 ± 0.3 carries the
    /// label 90 % of the time; features 1–9 = 0.5 ± 0.15 + N(0, 0.05²) carry it almost always
    /// but an L∞ push of ε = 0.2 flips them. Normal training leans on features 1–9 (≈ 100 %
    /// clean, poor under attack); adversarial training must lean on feature 0 (≈ 90 % under attack).
    private func toy(_ n: Int, seed: UInt64) throws -> Dataset {
        var g = RandomGenerator(seed: seed)
        var x = [Float](), y = [Int]()
        for _ in 0..<n {
            let label = g.nextUniform() < 0.5 ? 0 : 1
            let s: Float = label == 1 ? 1 : -1
            x.append(0.5 + 0.3 * s * (g.nextUniform() < 0.1 ? -1 : 1))
            for _ in 1..<10 { x.append(min(1, max(0, 0.5 + 0.15 * s + 0.05 * g.nextNormal()))) }
            y.append(label)
        }
        return try Dataset(name: "toy", images: Tensor(shape: [n, 10], scalars: x), labels: y, classNames: ["a", "b"])
    }

    private func robustAccuracy(_ model: Model, on data: Dataset, epsilon: Float) throws -> Float {
        let attack = ProjectedGradientDescent(norm: .linf, epsilon: epsilon, stepSize: epsilon / 4, steps: 10)
        let result = try attack.attack(ModelClassifier(model), inputs: data.images, labels: data.labels, goal: .untargeted, seed: 3)
        return 1 - Float(result.successRate)
    }

    func testAdversarialTrainingRaisesRobustAccuracyOnAToy() throws {
        let train = try toy(256, seed: 1), test = try toy(512, seed: 2)
        var configuration = TrainingConfiguration()
        configuration.epochs = 20
        configuration.batchSize = 32
        configuration.learningRate = 0.05
        var results: [String: (clean: Float, robust: Float)] = [:]
        for method in ["normal", "pgd-linf", "fgsm"] {
            var g = RandomGenerator(seed: 0)
            let model = try Model.sequential(inputShape: [10], [("fc", Dense(inFeatures: 10, outFeatures: 2, generator: &g))])
            configuration.adversarial = AdversarialTrainingConfiguration.Method(rawValue: method)
                .map { AdversarialTrainingConfiguration(method: $0, epsilon: 0.2, steps: 5, stepSize: 0.08) }
            try ClassifierTraining.train(model, on: train, configuration: configuration)
            results[method] = (Evaluation.accuracy(model, on: test), try robustAccuracy(model, on: test, epsilon: 0.2))
        }
        let normal = results["normal"]!, pgd = results["pgd-linf"]!, fgsm = results["fgsm"]!
        XCTAssertGreaterThan(normal.clean, 0.95, "normal training uses the non-robust features")
        XCTAssertLessThan(normal.robust, 0.5, "\(results)")
        XCTAssertGreaterThan(pgd.robust, 0.75, "\(results)")
        XCTAssertGreaterThan(pgd.robust, normal.robust + 0.3, "\(results)")
        XCTAssertGreaterThan(fgsm.robust, normal.robust + 0.3, "on a linear model FGSM is the exact inner maximum: \(results)")
    }

    func testAdversarialExamplesStayInTheBallAndTheBox() throws {
        let model = try Model.fashionCNN(seed: 1)
        var g = RandomGenerator(seed: 4)
        let x = g.uniform(shape: [6, 1, 28, 28], low: 0, high: 1)
        for method in AdversarialTrainingConfiguration.Method.allCases {
            let a = AdversarialTrainingConfiguration(method: method, epsilon: 0.1)
            let adv = try a.adversarialBatch(ModelClassifier(model), x, labels: [0, 1, 2, 3, 4, 5], seed: 9)
            let worst = zip(adv.scalars, x.scalars).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 0.1 + 1e-6, method.rawValue)
            XCTAssertGreaterThan(worst, 0.09, "\(method.rawValue) moves the inputs")
            XCTAssertTrue(adv.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, method.rawValue)
            // The examples raise the loss they attack.
            let before = try Loss.softmaxCrossEntropy(logits: model.forward(x), labels: [0, 1, 2, 3, 4, 5]).value
            let after = try Loss.softmaxCrossEntropy(logits: model.forward(adv), labels: [0, 1, 2, 3, 4, 5]).value
            XCTAssertGreaterThan(after, before, method.rawValue)
        }
    }

    func testConflictingOrBadOptionsAreRefused() {
        var c = TrainingConfiguration()
        c.adversarial = AdversarialTrainingConfiguration(method: .pgdLinf, epsilon: 0.1)
        c.mixupAlpha = 0.2
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("not both"), "\($0)") }
        c.mixupAlpha = nil
        c.adversarial = AdversarialTrainingConfiguration(method: .pgdLinf, epsilon: 0)
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("epsilon"), "\($0)") }
        c.adversarial = AdversarialTrainingConfiguration(method: .pgdLinf, epsilon: 0.1, steps: 0)
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("steps"), "\($0)") }
        c.adversarial = nil
        c.mixupAlpha = -1
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("mixup"), "\($0)") }
    }

    func testMixupTrainingLearnsTheToy() throws {
        let train = try toy(256, seed: 1), test = try toy(512, seed: 2)
        var configuration = TrainingConfiguration()
        configuration.epochs = 10
        configuration.batchSize = 32
        configuration.learningRate = 0.05
        configuration.mixupAlpha = 0.4
        var g = RandomGenerator(seed: 0)
        let model = try Model.sequential(inputShape: [10], [("fc", Dense(inFeatures: 10, outFeatures: 2, generator: &g))])
        let history = try ClassifierTraining.train(model, on: train, configuration: configuration)
        XCTAssertLessThan(history.last!.trainLoss, history.first!.trainLoss)
        XCTAssertGreaterThan(Evaluation.accuracy(model, on: test), 0.95)
    }

    // MARK: Architecture JSON

    func testArchitectureJSONStartsFromTheBuiltInsWeights() throws {
        for seed: UInt64 in [0, 5] {
            let builtIn = try Model.fashionCNN(seed: seed)
            let fromJSON = try Model(architectureJSON: builtIn.architectureJSON())
            XCTAssertNotEqual(fromJSON.namedParameters.flatMap { $0.parameter.value.scalars },
                              builtIn.namedParameters.flatMap { $0.parameter.value.scalars }, "placeholders before initialisation")
            fromJSON.initializeParameters(seed: seed)
            for (a, b) in zip(builtIn.namedParameters, fromJSON.namedParameters) {
                XCTAssertEqual(a.name, b.name)
                XCTAssertEqual(a.parameter.value.scalars, b.parameter.value.scalars, "\(a.name), seed \(seed)")
            }
        }
        // Two same-shaped layers start different, within PyTorch's bound 1/√fan_in.
        let json = #"{"input_shape": [8], "layers": [{"name": "a", "type": "Dense", "config": {"in_features": 8, "out_features": 8}}, {"name": "b", "type": "Dense", "config": {"in_features": 8, "out_features": 8}}], "output": "b"}"#
        let model = try Model(architectureJSON: json)
        model.initializeParameters(seed: 3)
        let a = model.namedParameters[0].parameter.value.scalars, b = model.namedParameters[2].parameter.value.scalars
        XCTAssertNotEqual(a, b)
        XCTAssertTrue((a + b).allSatisfy { abs($0) <= 1 / Float(8).squareRoot() })
    }
}
