import ArgumentParser
import BorderlineCore
import BorderlineHost

extension AttackKind: ExpressibleByArgument {}

struct Attack: ParsableCommand, ModelArgumentHelp {
    static var modelHelp: String { "Model file or shipped model name (default: fashion-cnn)." }

    static let configuration = CommandConfiguration(
        abstract: "Adversarial examples (FGSM, PGD, Carlini–Wagner L2, OPTMARGIN, DeepFool; Square attack and zeroth-order gradients as black boxes): success rate, distortion, queries, robust accuracy vs ε.",
        discussion: "Attacks the first --count images of --data and prints the success rate and the mean RMS distortion of the successful examples (He, Li & Song's Table 1). -o writes the adversarials as a data set (x, y = true labels) that --data of other commands reads. --epsilons sweeps the budget and prints robust accuracy per ε (--curve-data, --curve-chart write it). Every attack keeps its examples inside the model's input box. See docs/attacks.md.")

    @Option(help: "fgsm, pgd-linf, pgd-l2, cw-l2, optmargin, deepfool, or square-linf (score-based black box).")
    var attack: AttackKind

    @OptionGroup var modelOptions: ModelOptions<Attack>

    @Option(help: "Data set: fashion-mnist, an IDX images file, or an HDF5 file with x and y.")
    var data: String = "fashion-mnist"

    @Option(help: "Data split for named data sets: train or test.")
    var split: DataSplit = .test

    @Option(help: "Number of images (the first ones of the set).")
    var count: Int = 100

    @Option(help: "Budget: L∞ radius (fgsm, pgd-linf, square-linf; default 0.1), L2 radius (pgd-l2; default 2), RMS of the ensemble's perturbations (optmargin; default 0.3).")
    var epsilon: Float?

    @Option(help: "Sweep the budget: comma-separated ε values (e.g. 0,0.01,0.02,0.05); prints robust accuracy per ε. cw-l2: L2 radii, read off one run's distortions.")
    var epsilons: String?

    @Option(help: "With --epsilons: write the curve here (.csv, .json or .h5).")
    var curveData: String?

    @Option(help: "With --epsilons: draw robust accuracy vs ε here (PNG).")
    var curveChart: String?

    @Option(help: "PGD steps (default 40), C&W/OPTMARGIN iterations per binary-search step (default 1000), DeepFool iterations (default 50), or Square-attack queries per image (default 1000).")
    var steps: Int?

    @Option(help: "PGD step size (default ε/10 L∞, ε/8 L2) or C&W/OPTMARGIN learning rate (default 0.01).")
    var stepSize: Float?

    @Option(help: "C&W/OPTMARGIN binary-search steps over c (default 9).")
    var binarySearchSteps: Int?

    @Option(help: "C&W confidence κ in logits (default 0; OPTMARGIN's is 0).")
    var confidence: Float?

    @Option(help: "C&W/OPTMARGIN initial constant c₀ (default 0.001).")
    var initialConstant: Float?

    @Option(help: "DeepFool overshoot: the total perturbation is scaled by 1 + overshoot (default 0.02).")
    var overshoot: Float?

    @Option(help: "Square attack: initial fraction of the image a square covers (default 0.05, the reference's).")
    var pInit: Float?

    @Option(help: "PGD random restarts; per image the best run is kept (default 1).")
    var restarts: Int = 1

    @Flag(help: "PGD: keep each run's best iterate (goal met, then highest loss) instead of the last.")
    var bestIterate = false

    @Option(help: "Black-box attack: query probabilities only and follow zeroth-order gradient estimates, nes or finite-differences.")
    var gradientEstimator: String?

    @Option(help: "NES direction pairs per gradient estimate (default: 50).")
    var estimatorSamples: Int?

    @Option(help: "Zeroth-order estimator step σ or h (default: 0.01).")
    var estimatorStep: Float?

    @Option(help: "Random seed (PGD start, OPTMARGIN perturbations, targets).")
    var seed: UInt64 = 0

    @Flag(help: "Targeted: one random other class per image.")
    var targeted = false

    @Flag(help: "Attack only images the model classifies correctly (the first --count of them).")
    var onlyCorrect = false

    @Option(help: "Images per attack call.")
    var batchSize: Int = 100

    @Option(name: [.customShort("o"), .customLong("out"), .customLong("output")], help: "Write the adversarials here (HDF5: x, y, succeeded, predictions, rms_distortion).")
    var output: String?

    @Flag(help: "No progress output.") var quiet = false

    func run() throws {
        let (path, loaded) = try modelOptions.load()
        let dataset = try DataSources.load(data, split: split)
        try dataset.validate(for: loaded)
        try FiniteOutputs.check(loaded, on: dataset.images, name: path, data: dataset.name)
        var settings = AttackRunSettings(kind: attack)
        settings.epsilon = epsilon
        settings.steps = steps
        settings.stepSize = stepSize
        settings.binarySearchSteps = binarySearchSteps
        settings.confidence = confidence
        settings.initialConstant = initialConstant
        settings.overshoot = overshoot
        settings.pInit = pInit
        settings.restarts = restarts
        settings.bestIterate = bestIterate
        if let gradientEstimator {
            guard let method = ZerothOrderGradientEstimator.Method(rawValue: gradientEstimator) else {
                throw BorderlineError(.invalidArgument, "--gradient-estimator '\(gradientEstimator)' is not one of: \(ZerothOrderGradientEstimator.Method.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var c = ZerothOrderGradientEstimator.Configuration(method: method, seed: seed)
            if let estimatorSamples { c.samples = estimatorSamples }
            if let estimatorStep { c.step = estimatorStep }
            settings.gradientEstimator = c
        } else if estimatorSamples != nil || estimatorStep != nil {
            throw BorderlineError(.invalidArgument, "--estimator-samples and --estimator-step need --gradient-estimator (nes or finite-differences)")
        }
        settings.targeted = targeted
        settings.seed = seed
        settings.batchSize = batchSize
        settings.onlyCorrect = onlyCorrect
        let classifier = ModelClassifier(loaded, classNames: dataset.classNames.isEmpty ? nil : dataset.classNames)
        if let epsilons {
            guard output == nil else {
                throw BorderlineError(.invalidArgument, "-o writes one attack's adversarials; with --epsilons use --curve-data and --curve-chart")
            }
            if let curveData { _ = try AttackSweepOutcome.dataFormat(curveData) }
            let sweep = try AttackSweep.run(settings, epsilons: try AttackSweep.parseEpsilons(epsilons), classifier: classifier,
                                            data: try dataset.reshaped(to: loaded.inputShape), count: count, progress: TerminalProgress(quiet: quiet))
            print(sweep.table(), terminator: "")
            if let curveData { try sweep.writeData(to: curveData); print("wrote \(curveData)") }
            if let curveChart { try sweep.chart().write(to: curveChart); print("wrote \(curveChart)") }
            return
        }
        guard curveData == nil, curveChart == nil else {
            throw BorderlineError(.invalidArgument, "--curve-data and --curve-chart need --epsilons (the budgets to sweep)")
        }
        let outcome = try AttackRunner.run(settings, classifier: classifier, data: try dataset.reshaped(to: loaded.inputShape),
                                           count: count, progress: TerminalProgress(quiet: quiet))
        print(outcome.summary(), terminator: "")
        if let output {
            try outcome.write(to: output, classNames: classifier.classNames)
            print("wrote \(output)")
        }
    }
}
