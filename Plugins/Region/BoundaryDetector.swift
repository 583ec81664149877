import BorderlineCore
import Foundation

/// The decision-boundary detector of He, Li & Song (ICLR 2018, Figure 6): a small network that
/// tells benign inputs from adversarial ones by the boundaries around them.
///
/// **Input.** For an input, its `M` direction distances sorted ascending and divided by `t_max`
/// (`[1, 1, M]`, a one-row image) and its top-1…3 adjacent-class purities.
/// **Network.** Two 1-D convolutions over the sorted distances (``Conv2D`` with `1 × k` kernels,
/// stride `1 × s`, ReLU), flattened; the three purities appended; then Dense → ReLU → Dense(2)
/// logits (class 0 benign, 1 adversarial). Trained with softmax cross-entropy and ``Adam`` on
/// seeded mini-batches. The convolution part and the dense head are two core ``Model``s; the
/// gradient of the head's input is split and the distance part back-propagated through the
/// convolutions.
public final class BoundaryDetector {
    public struct Settings: Sendable {
        public var channels = 8
        public var kernel = 7
        public var stride = 3
        public var hidden = 32
        public var epochs = 60
        public var batchSize = 32
        public var learningRate: Float = 1e-3
        public var seed: UInt64 = 0
        public init() {}
    }

    public let directionCount: Int
    public let settings: Settings
    let convolutions: Model
    let head: Model
    let featureCount: Int
    static let purityCount = 3

    /// - Throws: `.invalidArgument` when the directions are too few for the two convolutions.
    public init(directionCount m: Int, settings: Settings = Settings()) throws {
        let k = settings.kernel, s = settings.stride
        guard k >= 1, s >= 1, settings.channels >= 1, settings.hidden >= 1, settings.epochs >= 1, settings.batchSize >= 1 else {
            throw BorderlineError(.invalidArgument, "boundary detector: kernel, stride, channels, hidden units, epochs and batch size must all be ≥ 1")
        }
        let after1 = m >= k ? (m - k) / s + 1 : 0
        let after2 = after1 >= k ? (after1 - k) / s + 1 : 0
        guard after2 >= 1 else {
            throw BorderlineError(.invalidArgument, "boundary detector: \(m) directions are too few for two convolutions with kernel \(k) and stride \(s)")
        }
        directionCount = m
        self.settings = settings
        var g = RandomGenerator(seed: settings.seed)
        convolutions = try Model.sequential(inputShape: [1, 1, m], [
            ("conv1", Conv2D(inChannels: 1, outChannels: settings.channels, kernelSize: (1, k), stride: (1, s), generator: &g)),
            ("relu1", ReLU()),
            ("conv2", Conv2D(inChannels: settings.channels, outChannels: settings.channels, kernelSize: (1, k), stride: (1, s), generator: &g)),
            ("relu2", ReLU()),
            ("flatten", Flatten()),
        ])
        featureCount = settings.channels * after2
        head = try Model.sequential(inputShape: [featureCount + Self.purityCount], [
            ("fc1", Dense(inFeatures: featureCount + Self.purityCount, outFeatures: settings.hidden, generator: &g)),
            ("relu3", ReLU()),
            ("fc2", Dense(inFeatures: settings.hidden, outFeatures: 2, generator: &g)),
        ])
    }

    /// The detector's inputs for some rows of `distances`: sorted, scaled distances `[n, 1, 1, M]`
    /// and top-3 purities `[n, 3]`.
    public static func features(_ d: DirectionDistances, rows: [Int], maxDistance: Float, classCount: Int) -> (distances: Tensor, purities: Tensor) {
        let m = d.directionCount
        var sorted = [Float](), purities = [Float]()
        sorted.reserveCapacity(rows.count * m)
        for i in rows {
            sorted += d.distances(of: i).sorted().map { $0 / maxDistance }
            let p = AdjacentClassPurity.curve(d.classes(of: i), classCount: classCount)
            for k in 0..<purityCount { purities.append(Float(k < p.count ? p[k] : 1)) }
        }
        return (Tensor(shape: [rows.count, 1, 1, m], scalars: sorted), Tensor(shape: [rows.count, purityCount], scalars: purities))
    }

    private func joined(_ features: Tensor, _ purities: Tensor) -> Tensor {
        let n = features.batchSize, f = featureCount, p = Self.purityCount
        return Tensor(shape: [n, f + p]) { out in
            for r in 0..<n {
                for c in 0..<f { out[r * (f + p) + c] = features.scalars[r * f + c] }
                for c in 0..<p { out[r * (f + p) + f + c] = purities.scalars[r * p + c] }
            }
        }
    }

    /// Trains on labelled rows (0 benign, 1 adversarial); returns the mean loss of every epoch.
    @discardableResult
    public func train(distances: Tensor, purities: Tensor, labels: [Int]) throws -> [Float] {
        let n = labels.count
        guard n >= 1, distances.batchSize == n, purities.batchSize == n, distances.sampleShape == [1, 1, directionCount] else {
            throw BorderlineError(.invalidArgument, "boundary detector: training needs one label per row and distances of shape [n, 1, 1, \(directionCount)] (got \(distances.shape), \(n) labels)")
        }
        let adam = Adam(learningRate: settings.learningRate)
        let parameters = convolutions.trainableParameters + head.trainableParameters
        var random = RandomGenerator(seed: settings.seed ^ 0x5eed)
        var losses: [Float] = []
        let f = featureCount
        for _ in 0..<settings.epochs {
            let order = random.permutation(n)
            var total: Float = 0
            var start = 0
            while start < n {
                let rows = Array(order[start..<min(n, start + settings.batchSize)])
                start += rows.count
                let traceConv = convolutions.trace(distances.gather(batch: rows), context: ForwardContext(training: true))
                let traceHead = head.trace(joined(traceConv.output, purities.gather(batch: rows)), context: ForwardContext(training: true))
                let loss = try Loss.softmaxCrossEntropy(logits: traceHead.output, labels: rows.map { labels[$0] })
                for p in parameters { p.zeroGradient() }
                let g = head.backward(traceHead, outputGradient: loss.gradient, parameterGradients: true, inputGradient: true)!
                let gf = Tensor(shape: [rows.count, f]) { out in
                    for r in 0..<rows.count { for c in 0..<f { out[r * f + c] = g.scalars[r * (f + Self.purityCount) + c] } }
                }
                convolutions.backward(traceConv, outputGradient: gf, parameterGradients: true, inputGradient: false)
                adam.step(parameters)
                total += loss.value * Float(rows.count)
            }
            losses.append(total / Float(n))
        }
        return losses
    }

    /// Predicted labels (0 benign, 1 adversarial).
    public func predict(distances: Tensor, purities: Tensor) -> [Int] {
        let z = head.forward(joined(convolutions.forward(distances), purities))
        return z.argmaxRows()
    }
}
