import ArgumentParser
import BorderlineCore
import BorderlineHost

extension AttackKind: ExpressibleByArgument {}

struct Attack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Adversarial examples (FGSM, PGD, Carlini–Wagner L2, OPTMARGIN): success rate and mean RMS distortion.",
        discussion: "Attacks the first --count images of --data and prints the success rate and the mean RMS distortion of the successful examples (He, Li & Song's Table 1). -o writes the adversarials as a data set (x, y = true labels) that --data of other commands reads. See docs/attacks.md.")

    @Option(help: "fgsm, pgd-linf, pgd-l2, cw-l2 or optmargin.")
    var attack: AttackKind

    @Option(help: "Model file or shipped model name.")
    var model: String = ShippedModels.defaultClassifier

    @Option(help: "Architecture JSON for a PyTorch state_dict file.")
    var architecture: String?

    @Option(help: "Data set: fashion-mnist, an IDX images file, or an HDF5 file with x and y.")
    var data: String = "fashion-mnist"

    @Option(help: "Data split for named data sets: train or test.")
    var split: DataSplit = .test

    @Option(help: "Number of images (the first ones of the set).")
    var count: Int = 100

    @Option(help: "Budget: L∞ radius (fgsm, pgd-linf; default 0.1), L2 radius (pgd-l2; default 2), RMS of the ensemble's perturbations (optmargin; default 0.3).")
    var epsilon: Float?

    @Option(help: "PGD steps (default 40) or C&W/OPTMARGIN iterations per binary-search step (default 1000).")
    var steps: Int?

    @Option(help: "PGD step size (default ε/10 L∞, ε/8 L2) or C&W/OPTMARGIN learning rate (default 0.2).")
    var stepSize: Float?

    @Option(help: "C&W/OPTMARGIN binary-search steps over c (default 4).")
    var binarySearchSteps: Int?

    @Option(help: "Random seed (PGD start, OPTMARGIN perturbations, targets).")
    var seed: UInt64 = 0

    @Flag(help: "Targeted: one random other class per image.")
    var targeted = false

    @Flag(help: "Attack only images the model classifies correctly (the first --count of them).")
    var onlyCorrect = false

    @Option(help: "Images per attack call.")
    var batchSize: Int = 100

    @Option(name: .shortAndLong, help: "Write the adversarials here (HDF5: x, y, succeeded, predictions, rms_distortion).")
    var output: String?

    @Flag(help: "No progress output.") var quiet = false

    func run() throws {
        let path = try ShippedModels.resolve(model)
        let loaded = try Model.load(contentsOf: path, architecture: architecture)
        let dataset = try DataSources.load(data, split: split)
        try dataset.validate(for: loaded)
        var settings = AttackRunSettings(kind: attack)
        settings.epsilon = epsilon
        settings.steps = steps
        settings.stepSize = stepSize
        settings.binarySearchSteps = binarySearchSteps
        settings.targeted = targeted
        settings.seed = seed
        settings.batchSize = batchSize
        settings.onlyCorrect = onlyCorrect
        let classifier = ModelClassifier(loaded, classNames: dataset.classNames.isEmpty ? nil : dataset.classNames)
        let outcome = try AttackRunner.run(settings, classifier: classifier, data: try dataset.reshaped(to: loaded.inputShape),
                                           count: count, progress: TerminalProgress(quiet: quiet))
        print(outcome.summary(), terminator: "")
        if let output {
            try outcome.write(to: output, classNames: classifier.classNames)
            print("wrote \(output)")
        }
    }
}
