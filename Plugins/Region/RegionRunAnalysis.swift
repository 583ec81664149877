import BorderlineCore
import Foundation

/// Analysis `analysis`: the whole region analysis, once per run, on the run's data — the radius
/// chosen on held-out images, point vs region accuracy on benign images and under the attacks,
/// boundary distances along random directions and adjacent-class purity for the benign and the
/// adversarial examples, the boundary-based detector, and the plots (``RegionAnalysis``). The
/// benign boundary distances come from the run's cache, where the `directions` prober put them.
final class RegionRunAnalysis: Analysis {
    let name = "analysis"
    let summary = "Radius on held-out images, point vs region accuracy under FGSM/PGD/C&W/OPTMARGIN, boundary distances and adjacent-class purity, boundary-based detector, plots."

    struct Options: PluginOptions {
        @OptionGroup var analysed: RegionImageOptions
        @Option(help: "images for benign point-vs-region accuracy (0: every image not held out)", in: 0...1_000_000)
        var benignImages = 1000
        @Option(help: "largest radius of the selection grid", in: 1e-4...10)
        var radiusMax = 0.1
        @Option(help: "spacing of the selection grid (r = step, 2·step, …, max)", in: 1e-4...10)
        var radiusStep = 0.005
        @Option(help: "m while choosing the radius", in: 1...100_000)
        var selectionSamples = 100
        @Option(help: "m, the region classifier's samples per input", in: 1...100_000)
        var regionSamples = 1000
        @OptionGroup var search: RegionDirectionOptions
        @Option(help: "comma-separated attacks against the point classifier (fgsm, pgd-linf, pgd-l2, cw-l2, optmargin; empty: none)")
        var attacks: AttackList = ["fgsm", "pgd-linf", "cw-l2", "optmargin"]
        @Option(help: "FGSM L∞ step ε", in: 0...1)
        var fgsmEpsilon: Float = 0.1
        @Option(help: "PGD L∞ radius ε", in: 0...1)
        var pgdEpsilon: Float = 0.1
        @Option(help: "PGD L2 radius ε", in: 0...100)
        var pgdL2Epsilon: Float = 2
        @Option(help: "PGD step size (L2: scaled by pgd-l2-epsilon / pgd-epsilon)", in: 1e-6...10)
        var pgdStepSize: Float = 0.01
        @Option(help: "PGD steps", in: 1...100_000)
        var pgdSteps = 40
        @Option(help: "C&W / OPTMARGIN Adam iterations per binary-search step", in: 1...100_000)
        var cwIterations = CarliniWagnerL2().iterations
        @Option(help: "C&W / OPTMARGIN binary-search steps over c", in: 1...100)
        var cwBinarySteps = CarliniWagnerL2().binarySearchSteps
        @Option(help: "C&W / OPTMARGIN Adam learning rate", in: 1e-6...10)
        var cwLearningRate = CarliniWagnerL2().learningRate
        @Option(help: "C&W / OPTMARGIN initial c", in: 1e-6...1e6)
        var cwInitialConstant = CarliniWagnerL2().initialConstant
        @Option(help: "C&W confidence κ (logits; OPTMARGIN's is 0)", in: 0...1000)
        var cwConfidence: Float = 0
        @Option(help: "OPTMARGIN: RMS magnitude ε of the 19 fixed random orthogonal perturbations; −1: the region radius r (He et al.)", in: -1...10)
        var optmarginEpsilon: Float = -1
        @Option(help: "L∞ budgets of the robustness curve (point vs region accuracy under PGD, and EOT-PGD on the region classifier); empty: none")
        var sweepEpsilons: EpsilonList = [0, 0.01, 0.02, 0.03, 0.05, 0.1]
        @Option(help: "EOT samples per step of the adaptive PGD attack on the region classifier (0: no EOT curve)", in: 0...10_000)
        var eotSamples = 32
        @Option(help: "boundary detector: Adam epochs", in: 1...100_000)
        var detectorEpochs = 60
        @Option(help: "boundary detector: Adam learning rate", in: 1e-7...1)
        var detectorLearningRate: Float = 1e-3
        @Option(help: "share of attacked images whose benign and adversarial versions train the detector (the rest is held out)", in: 0.01...0.99)
        var detectorTrainShare = 0.5
        @Option(help: "images drawn in the direction plots and the example grid", in: 0...50)
        var plotImages = 3

        /// Unknown attacks, a grid step above its maximum and the analysis's other cross-checks,
        /// before the run starts.
        func validate() throws {
            try attacks.validate()
            guard radiusStep <= radiusMax else {
                throw BorderlineError(.invalidArgument, "radius-step (\(radiusStep)) must not exceed radius-max (\(radiusMax))")
            }
            try settings(seed: 0).validate()
        }

        /// The analysis settings these options give.
        func settings(seed: UInt64) -> RegionAnalysisSettings {
            var s = RegionAnalysisSettings(images: analysed, directions: search, seed: seed)
            s.benignImages = benignImages
            s.radiusGrid = (1...max(1, Int((radiusMax / radiusStep + 1e-9).rounded(.down)))).map { Float(Double($0) * radiusStep) }
            s.selectionSamples = selectionSamples
            s.regionSamples = regionSamples
            s.attacks = attacks.names
            var a = RegionAttacks.Parameters()
            a.fgsmEpsilon = fgsmEpsilon
            a.pgdEpsilon = pgdEpsilon
            a.pgdL2Epsilon = pgdL2Epsilon
            a.pgdStepSize = pgdStepSize
            a.pgdSteps = pgdSteps
            a.cwIterations = cwIterations
            a.cwBinarySteps = cwBinarySteps
            a.cwLearningRate = cwLearningRate
            a.cwInitialConstant = cwInitialConstant
            a.cwConfidence = cwConfidence
            a.optMarginEpsilon = optmarginEpsilon < 0 ? nil : optmarginEpsilon
            s.attackParameters = a
            s.sweepEpsilons = sweepEpsilons.values
            s.eotSamples = eotSamples
            s.detector.epochs = detectorEpochs
            s.detector.learningRate = detectorLearningRate
            s.detectorTrainShare = detectorTrainShare
            return s
        }
    }

    func analyse(options: Options, context: RunContext) throws -> RegionResults {
        let settings = options.settings(seed: context.seed)
        let classes = Set(context.data.labels)
        let k = context.classifier.classCount
        if classes.count < k {
            let names = classes.sorted().map { context.classifier.className($0) }.joined(separator: ", ")
            let text = "The analysis covers only the run's \(classes.count) of \(k) classes (\(names)) — a \(classes.count)-class subset: the run's data holds images of the classes of its pairs only, so the radius, the accuracies, the attacks and the robustness curve are over these classes. Use --pairs all for every class."
            context.note("Warning: " + text)
            // Also on the terminal, before the long part of the run: a subset changes every number.
            FileHandle.standardError.write(Data("warning: region: \(text)\n".utf8))
        }
        let shared = try RegionAnalysis.cachedProbe(settings: settings, context: context)
        let report = try RegionAnalysis.run(classifier: context.classifier, gradients: { try context.gradients() }, data: context.data,
                                            predictions: context.predictions, settings: settings, probe: shared,
                                            checkStop: context.checkInterrupted, progress: RegionAnalysis.progress(context))
        for (name, reason) in report.skippedAttacks { context.note("\(name) skipped: \(reason)") }
        return try RegionResults(report, settings: settings, classifier: context.classifier, data: context.data, plotImages: options.plotImages)
    }
}

extension RegionAnalysis {
    /// The shared part for `settings`, computed once per run by whichever component asks first.
    static func cachedProbe(settings: RegionAnalysisSettings, context: RunContext) throws -> RegionProbe {
        try context.cached(settings.probeKey) {
            try probe(classifier: context.classifier, data: context.data, predictions: context.predictions, settings: settings,
                      checkStop: context.checkInterrupted, progress: progress(context))
        }
    }

    /// Reports the analysis's tasks on the component's progress, one task after another.
    static func progress(_ context: RunContext) -> Progress {
        final class Task { var current = "" }
        let task = Task()
        return { name, done, total in
            if name != task.current {
                if !task.current.isEmpty { context.progress.end(summary: task.current + " done") }
                context.progress.begin(name, total: total)
                task.current = name
            }
            context.progress.update(completed: done, detail: "\(done)/\(total)")
        }
    }
}
