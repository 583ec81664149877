import BorderlineCore

/// Prober `random-pair-bisection`: for the pair `(s, t)`, draws `samplesPerPair` random pairs
/// `(a, b)` of data images that the classifier classifies correctly as `s` and as `t`, and
/// bisects each segment `a → b` until `|p_s − p_t| < β` or `max-halvings` halvings
/// (``BoundaryBisection``; each attempt's success or failure with the reason goes into the set).
/// When a class has fewer correctly classified images than attempts, images are reused (a
/// random permutation, repeated). Needs scores only, so it works on black-box classifiers.
final class RandomPairBisection: BoundaryProber {
    let name = "random-pair-bisection"
    let summary = "Bisect segments between random correctly classified images of s and t until |p_s − p_t| < β."

    struct Options: PluginOptions {
        @OptionGroup var bisection: BisectionOptions
    }

    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<NoOutput> {
        // A class without a correctly classified image declines the pair (recorded as skipped).
        let sources = try context.correctlyClassifiedIndices(of: pair.source)
        let targets = try context.correctlyClassifiedIndices(of: pair.target)
        let classifier = context.classifier
        let n = context.samplesPerPair
        var random = context.randomGenerator(for: pair)
        func draw(_ pool: [Int]) -> [Int] {
            var out: [Int] = []
            while out.count < n { out += random.permutation(pool.count).map { pool[$0] } }
            return Array(out.prefix(n))
        }
        let a = draw(sources), b = draw(targets)
        let images = context.data.images
        let start = images.gather(batch: a), end = images.gather(batch: b)
        let outcome = try BoundaryBisection.bisect(
            classifier, from: start, to: end,
            sources: Array(repeating: pair.source, count: n), targets: Array(repeating: pair.target, count: n),
            configuration: options.bisection.configuration, checkStop: context.checkInterrupted)
        return Probe(try BoundarySet(
            pair: pair, points: outcome.points, startPoints: start, endPoints: end,
            startIndices: a, endIndices: b, probabilities: outcome.probabilities,
            succeeded: outcome.succeeded, failureReasons: outcome.failureReasons, iterations: outcome.steps,
            gapTolerance: options.bisection.configuration.tolerance,
            extras: ["lambda": Tensor(shape: [n], scalars: outcome.lambdas)]))
    }
}
