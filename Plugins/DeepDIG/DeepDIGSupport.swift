import BorderlineCore
import Foundation

/// The images a DeepDIG component learns from (`train-data`), one declaration for every
/// component that reads it (probers, `edc`, `projection`): the paper trains components I and II,
/// the baselines' pools and the SVM/PCA on the standard training set and measures on the test set.
struct TrainDataOption: PluginOptions, Sendable {
    @Option(help: "images components I/II, the baselines, the SVM (edc) and the PCA (projection) draw from: auto (training split of the run's named data set), run (the run's data) or a data-set argument")
    var trainData = "auto"

    var choice: DataChoice { DataChoice(trainData) }

    /// Refuses what cannot name data before the run starts: an empty value, or a path (a value
    /// with a slash or a dot, as `Dataset.load` reads it) that does not exist. Names are looked
    /// up when the run loads them.
    func validate() throws {
        if trainData == "auto" || trainData == "run" { return }
        guard !trainData.isEmpty else {
            throw BorderlineError(.invalidArgument, "train-data is empty; give auto, run or a data set (a name such as fashion-mnist, an IDX folder or images file, an HDF5 file)")
        }
        if trainData.rangeOfCharacter(from: CharacterSet(charactersIn: "./")) != nil, !FileManager.default.fileExists(atPath: trainData) {
            throw BorderlineError(.fileNotFound, "train-data '\(trainData)' is neither auto, run nor an existing data-set file or folder", file: trainData)
        }
    }
}

/// The classifier's embeddings (flattened `[n, e]`) of every image of `split` labelled s or t
/// (computed once per run, shared by `edc` and `projection`), and those labels.
func trainingEmbeddings(_ split: RunData, _ s: Int, _ t: Int, context: RunContext) throws -> (embedding: Tensor, labels: [Int]) {
    let labels = split.labels
    let rows = labels.indices.filter { labels[$0] == s || labels[$0] == t }
    return (try context.embeddings(of: split, rows: rows), rows.map { labels[$0] })
}

/// The key of work shared by both directions of a boundary (an SVM, a PCA): the unordered pair
/// and the data it learns from.
struct BoundaryKey: Hashable, Sendable {
    var low: Int, high: Int, data: String
    init(_ pair: ClassPair, data: String) {
        low = min(pair.source, pair.target)
        high = max(pair.source, pair.target)
        self.data = data
    }
}

/// The run's set of the same prober in the other direction (t→s for an s→t set), if any: with it the
/// two sets describe one boundary (paper Section 3, "Remark").
func reverseSet(of set: BoundarySet, in context: RunContext) -> BoundarySet? {
    context.boundarySets.first { $0.producer == set.producer && $0.pair == ClassPair(set.pair.target, set.pair.source) }
}

/// The options every DeepDIG prober (deepdig, rpbs, epbs) shares: one declaration, an
/// `@OptionGroup` in each prober. Bisection is Algorithm 1 with the plugin's defaults
/// (paper: β = 1e-4; halvings capped at 40).
struct ProberOptions: PluginOptions, Sendable {
    @OptionGroup var data: TrainDataOption
    @OptionGroup var bisection = BisectionOptions(beta: 1e-4, maxHalvings: 40)
    /// Not `samples`, which would read as the host's `--samples` (attempts per pair for other
    /// probers); these probers ignore `--samples` and by default use every eligible image.
    @Option(help: "most samples (bisection attempts) per class pair (0: every eligible training image of s, as in the paper); DeepDIG's probers ignore --samples", in: 0...1_000_000)
    var maxSamples = 0
    @Option(help: "rows in the picture of the images each borderline point came from and the point itself (0: none)", in: 0...50)
    var gridRows = 8

    func validate() throws { try data.validate() }

    /// Algorithm 1's bisection: fail when a midpoint leaves both classes; β and the halving cap.
    var algorithm1: BoundaryBisection.Configuration {
        .init(tolerance: bisection.beta, maxSteps: bisection.maxHalvings, failOnThirdClassMidpoint: true)
    }
}

/// A picture (paper Tables 3–8) with one row per given row index and one column per tensor (all
/// `[n] + imageShape`, same n); nil when the images cannot be drawn or `rows` is empty.
func imageGrid(_ columns: [Tensor], rows: [Int], name: String, caption: String) throws -> ResultPicture? {
    guard let first = columns.first, !rows.isEmpty, ImageGrid.canDraw(first.sampleShape) else { return nil }
    var grid = try ImageGrid(sampleShape: first.sampleShape, rows: rows.count, columns: columns.count, scale: 2)
    for (r, index) in rows.enumerated() {
        for (c, column) in columns.enumerated() { grid.set(row: r, column: c, batch: column, index: index) }
    }
    return ResultPicture(name: name, caption: caption, image: try grid.render())
}

/// The reconstruction term of the autoencoders' loss.
enum Reconstruction: String, CaseIterable, OptionValue {
    /// ‖x − A(x)‖² (paper).
    case mse
    /// Binary cross-entropy (the authors' code).
    case bce
}

/// How the reconstruction term is reduced over an image's pixels.
enum ReconstructionReduction: String, CaseIterable, OptionValue {
    /// Eq. 1 as printed: ‖x − A(x)‖²₂ summed over each image's pixels, then averaged over the
    /// batch like the CE term.
    case imageSum = "image-sum"
    /// Averaged over every pixel too (PyTorch's `mse_loss` default), which divides the
    /// reconstruction term by the pixel count and so shifts the balance α sets; on our models it
    /// makes the autoencoders collapse (docs/deepdig.md).
    case mean
}

/// The classification term of the autoencoders' loss.
enum Classification: String, CaseIterable, OptionValue {
    /// Softmax cross-entropy (the paper's CE).
    case ce
    /// Binary cross-entropy between the softmax probabilities and the one-hot target, mean over
    /// batch × classes (the authors' code).
    case bce
}

/// One autoencoder's training settings (paper Section 5: α = 0.8, 5000 steps, batch 128,
/// Adam lr 0.01 decayed ×0.95 every 1000 steps), and which autoencoder: the `deepdig` prober's
/// options for components I and II.
struct AutoencoderSettings: PluginOptions, Sendable {
    @Option(help: "Adam steps per autoencoder (paper: 5000)", in: 1...1_000_000)
    var steps = 5000
    @Option(help: "images per step (paper: 128)", in: 1...100_000)
    var batchSize = 128
    @Option(help: "α, weight of the cross-entropy term (paper: 0.8)", in: 0...1000)
    var alpha: Float = 0.8
    @Option(help: "Adam learning rate (paper: 0.01)", in: 1e-7...10)
    var learningRate: Float = 0.01
    @Option(help: "learning-rate factor every lr-decay-every steps (paper: 0.95)", in: 0.01...1)
    var lrDecay: Float = 0.95
    @Option(help: "steps between decays (paper: 1000)", in: 1...1_000_000)
    var lrDecayEvery = 1000
    @Option(help: "reconstruction term: mse = mean squared error ‖x − A(x)‖² (paper), bce = binary cross-entropy (authors' code)")
    var reconstruction = Reconstruction.mse
    @Option(help: "classification term: ce = softmax cross-entropy (paper), bce = binary cross-entropy of the softmax probabilities against the one-hot target (authors' code)")
    var classification = Classification.ce
    @Option(help: "image-sum: reconstruction term summed over each image's pixels (‖x − A(x)‖², Eq. 1), averaged over the batch; mean: averaged over all pixels (PyTorch's mse_loss default)")
    var reconstructionReduction = ReconstructionReduction.imageSum
    /// "auto", "dense", "conv" or a model file (``Autoencoders/make(kind:imageShape:generator:)``,
    /// ``Autoencoders/resolveArchitecture(_:)``).
    @Option(help: "A1/A2: auto = convolutional (paper Table 2, CIFAR10) for 3-channel images with sides divisible by 8, else dense (Table 2, MNIST/Fashion-MNIST); dense; conv; or a model file (native or Keras .h5) mapping the classifier's input to the same shape, whose weights A1 and A2 each start from")
    var autoencoder = "auto"
    @Option(help: "share of class-s images held out from training A1 (paper: 0.2)", in: 0...0.9)
    var validationShare = 0.2

    /// A model file named by `autoencoder` must exist (its shapes need the run's classifier and
    /// are checked when the prober loads it).
    func validate() throws { _ = try Autoencoders.resolveArchitecture(autoencoder) }
}

/// The autoencoders work in the classifier's input box (``Classifier/inputBox``) mapped onto
/// [0, 1]: `u = (x − lo_c)/(hi_c − lo_c)` per channel `c`, `x = lo_c + (hi_c − lo_c)·u`. So a
/// sigmoid output covers exactly the box, BCE's targets are in [0, 1] and the reconstruction
/// term means the same for every box; the classifier always sees input-space images, and its
/// gradient is pulled back as `∂L/∂u = (hi_c − lo_c)·∂L/∂x`. The unit box is the identity
/// (nothing is computed, so results on [0, 1] models are unchanged).
struct BoxCoordinates {
    let box: InputBox
    /// Channels of the classifier's input (1 for a uniform box) and values per channel.
    private let channels: Int
    private let perChannel: Int

    init(box: InputBox, imageShape: [Int]) {
        self.box = box
        let d = imageShape.reduce(1, *)
        channels = box.isUniform ? 1 : max(1, imageShape.first ?? 1)
        perChannel = max(1, d / channels)
    }

    var isIdentity: Bool { box == .unit }

    /// `body(value, lo, width)` for every element of a batch (any shape with the classifier's sample size).
    private func map(_ x: Tensor, _ body: (Float, Float, Float) -> Float) -> Tensor {
        let bounds = (0..<channels).map { box.bounds(channel: $0) }
        let d = channels * perChannel
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                for i in 0..<p.count {
                    let (lo, hi) = bounds[(i % d) / perChannel]
                    out[i] = body(p[i], lo, hi - lo)
                }
            }
        }
    }

    func toUnit(_ x: Tensor) -> Tensor { isIdentity ? x : map(x) { v, lo, w in w > 0 ? (v - lo) / w : 0 } }
    func toInput(_ u: Tensor) -> Tensor { isIdentity ? u : map(u) { v, lo, w in lo + w * v } }
    func pullback(_ g: Tensor) -> Tensor { isIdentity ? g : map(g) { v, _, w in w * v } }
}

enum Autoencoders {
    /// Paper Table 2 (MNIST / Fashion-MNIST): Linear(d,100)-ReLU-Linear(100,50)-ReLU-Linear(50,d)-Sigmoid
    /// on flattened inputs.
    static func table2(inputSize d: Int, generator g: inout RandomGenerator) throws -> Model {
        try Model.sequential(inputShape: [d], [
            ("enc1", Dense(inFeatures: d, outFeatures: 100, generator: &g)), ("enc1.relu", ReLU()),
            ("dec1", Dense(inFeatures: 100, outFeatures: 50, generator: &g)), ("dec1.relu", ReLU()),
            ("dec2", Dense(inFeatures: 50, outFeatures: d, generator: &g)), ("dec2.sigmoid", Sigmoid()),
        ])
    }

    /// Paper Table 2 (CIFAR10): CNV(3,12,4)-ReLU-CNV(12,24,4)-ReLU-CNV(24,48,4)-ReLU ·
    /// TCNV(48,24,4)-ReLU-TCNV(24,12,4)-ReLU-TCNV(12,3,4)-Sigmoid, stride 2 and padding 1 in
    /// every layer (H, W → H/2 → H/4 → H/8 and back; the paper does not print stride and padding,
    /// these are the values that make a 4×4 kernel halve and restore the size exactly). Wrapped in
    /// Reshape/Flatten so it takes and returns flattened rows like ``table2``. Needs H and W
    /// divisible by 8.
    static func convolutional(imageShape shape: [Int], generator g: inout RandomGenerator) throws -> Model {
        guard shape.count == 3, shape[1] % 8 == 0, shape[2] % 8 == 0, shape[1] > 0, shape[2] > 0 else {
            throw BorderlineError(.shapeMismatch, "deepdig: the convolutional autoencoder needs [C, H, W] images with H and W divisible by 8, got \(shape)")
        }
        let c = shape[0], p = Padding2D(top: 1, bottom: 1, left: 1, right: 1)
        return try Model.sequential(inputShape: [shape.reduce(1, *)], [
            ("unflatten", try Reshape(shape: shape)),
            ("enc1", Conv2D(inChannels: c, outChannels: 12, kernelSize: (4, 4), stride: (2, 2), padding: p, generator: &g)), ("enc1.relu", ReLU()),
            ("enc2", Conv2D(inChannels: 12, outChannels: 24, kernelSize: (4, 4), stride: (2, 2), padding: p, generator: &g)), ("enc2.relu", ReLU()),
            ("enc3", Conv2D(inChannels: 24, outChannels: 48, kernelSize: (4, 4), stride: (2, 2), padding: p, generator: &g)), ("enc3.relu", ReLU()),
            ("dec1", ConvTranspose2D(inChannels: 48, outChannels: 24, kernelSize: (4, 4), stride: (2, 2), padding: p, generator: &g)), ("dec1.relu", ReLU()),
            ("dec2", ConvTranspose2D(inChannels: 24, outChannels: 12, kernelSize: (4, 4), stride: (2, 2), padding: p, generator: &g)), ("dec2.relu", ReLU()),
            ("dec3", ConvTranspose2D(inChannels: 12, outChannels: c, kernelSize: (4, 4), stride: (2, 2), padding: p, generator: &g)), ("dec3.sigmoid", Sigmoid()),
            ("flatten", Flatten()),
        ])
    }

    /// The autoencoder for the classifier's input shape: `kind` = `auto` picks the convolutional
    /// one for 3-channel images whose sides are divisible by 8 (paper: CIFAR10) and Table 2's dense
    /// one otherwise; `dense` / `conv` force one; anything else is a model file (``fromFile(_:imageShape:)``,
    /// read afresh on every call, so A1 and A2 each start from the file's weights).
    static func make(kind: String, imageShape: [Int], generator g: inout RandomGenerator) throws -> Model {
        let d = imageShape.reduce(1, *)
        switch kind {
        case "dense": return try table2(inputSize: d, generator: &g)
        case "conv": return try convolutional(imageShape: imageShape, generator: &g)
        case "auto":
            if imageShape.count == 3, imageShape[0] == 3, imageShape[1] % 8 == 0, imageShape[2] % 8 == 0 {
                return try convolutional(imageShape: imageShape, generator: &g)
            }
            return try table2(inputSize: d, generator: &g)
        default: return try fromFile(kind, imageShape: imageShape)
        }
    }

    /// The built-in architectures the `autoencoder` option names.
    static let builtInKinds = ["auto", "dense", "conv"]

    /// The `autoencoder` option as ``make(kind:imageShape:generator:)`` takes it: a built-in
    /// keyword unchanged, anything else an existing model file, returned as an absolute path
    /// (relative paths resolve against the working directory).
    static func resolveArchitecture(_ spec: String) throws -> String {
        if builtInKinds.contains(spec) { return spec }
        guard !spec.isEmpty else {
            throw BorderlineError(.invalidArgument, "autoencoder is empty; give auto, dense, conv or a model file")
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let path = URL(fileURLWithPath: spec, relativeTo: cwd).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw BorderlineError(.fileNotFound, "autoencoder '\(spec)' is neither auto, dense, conv nor an existing model file", file: path)
        }
        return path
    }

    /// A1/A2 from a model file (anything `Model.load` reads: native, Keras legacy `.h5`): its
    /// architecture and its weights, loaded afresh on every call. The file's input and output must
    /// each be the classifier's input shape or its flattened `[d]`; the model is wrapped in
    /// Reshape/Flatten where needed so it takes and returns flattened rows like ``table2``.
    /// The wrapper's metadata keeps the file (`autoencoder_file`) and the type of the file's last
    /// layer before any trailing reshapes (`output_layer`), so the prober can note an output that
    /// is not a sigmoid.
    static func fromFile(_ path: String, imageShape: [Int]) throws -> Model {
        let model: Model
        do {
            model = try Model.load(contentsOf: path)
        } catch var e as BorderlineError {
            e.message = "deepdig: cannot load the autoencoder model: \(e.message)"
            throw e.inFile(path)
        }
        let d = imageShape.reduce(1, *)
        let fits = { (shape: [Int]) in shape == imageShape || shape == [d] }
        guard fits(model.inputShape), fits(model.outputShape) else {
            throw BorderlineError(.shapeMismatch,
                "deepdig: the autoencoder model maps \(model.inputShape) to \(model.outputShape) per image; A1/A2 must map the classifier's input \(imageShape) (or flattened [\(d)]) to the same shape", file: path)
        }
        guard !model.trainableParameters.isEmpty else {
            throw BorderlineError(.invalidConfiguration, "deepdig: the autoencoder model has no trainable parameters, so A1/A2 could not learn", file: path)
        }
        let taken = Set(model.nodes.map(\.name))
        func unique(_ base: String) -> String {
            var name = base, k = 1
            while taken.contains(name) { k += 1; name = "\(base)\(k)" }
            return name
        }
        var nodes: [Model.Node] = []
        if model.inputShape != [d] { nodes.append(.init(name: unique("deepdig.unflatten"), layer: try Reshape(shape: model.inputShape), inputs: [-1])) }
        let offset = nodes.count
        for node in model.nodes {
            nodes.append(.init(name: node.name, layer: node.layer, inputs: node.inputs.map { $0 == -1 ? offset - 1 : $0 + offset }))
        }
        var output = model.outputNode + offset
        if model.outputShape != [d] {
            nodes.append(.init(name: unique("deepdig.flatten"), layer: Flatten(), inputs: [output]))
            output = nodes.count - 1
        }
        // The layer that sets the output's values: behind any trailing reshapes.
        var last = model.outputNode
        while ["Reshape", "Flatten", "Permute", "Dropout"].contains(model.nodes[last].layer.typeName), model.nodes[last].inputs[0] >= 0 {
            last = model.nodes[last].inputs[0]
        }
        return try Model(inputShape: [d], nodes: nodes, outputNode: output,
                         metadata: ["autoencoder_file": .string(path), "output_layer": .string(model.nodes[last].layer.typeName)])
    }

    /// What A1/A2 are, for the run's notes: the model file, or the built-in architecture `kind` chose.
    static func describe(_ autoencoder: Model, kind: String) -> String {
        if case .string(let file)? = autoencoder.metadata["autoencoder_file"] { return "the model file \(file)" }
        let conv = autoencoder.nodes.contains { $0.layer is Conv2D }
        return (conv ? "built-in convolutional (paper Table 2, CIFAR10)" : "built-in dense (paper Table 2, MNIST)") + " (autoencoder=\(kind))"
    }

    /// Trains `autoencoder` on the rows of `images` (`[N, d]`, flattened) through the classifier,
    /// which is never changed: loss = rec(u, A(u)) + α·CE(f(x(A(u))), target), in the box
    /// coordinates u of ``BoxCoordinates`` (u = x for the unit box). Each step is one
    /// vector–Jacobian product of the classifier (``RunContext/gradients()``) whose cotangent is
    /// computed from the logits of the same pass: for a model classifier one forward and one
    /// backward pass (in chunks of its batch size, each chunk's share of the batch mean), for a
    /// black box the run's gradient estimator. The host counts the queries.
    static func train(_ autoencoder: Model, images: Tensor, target: Int, settings: AutoencoderSettings,
                      context: RunContext, random: inout RandomGenerator, task: String,
                      progressSpan: ClosedRange<Double>? = nil,
                      onStep: ((_ step: Int, _ reconstruction: Float, _ classification: Float) -> Void)? = nil,
                      makeReplica: (() throws -> Model)? = nil) throws {
        let n = images.batchSize, d = images.sampleCount
        guard n > 0 else { throw BorderlineError(.dataMismatch, "\(task): no images to train the autoencoder on") }
        let inputShape = context.classifier.inputShape
        let coordinates = BoxCoordinates(box: context.classifier.inputBox, imageShape: inputShape)
        let unitImages = coordinates.toUnit(images)
        let classifier = try context.gradients()
        let adam = Adam(learningRate: settings.learningRate)
        let schedule = StepLR(optimizer: adam, stepSize: settings.lrDecayEvery, gamma: settings.lrDecay)
        let params = autoencoder.trainableParameters
        let b = min(settings.batchSize, n)
        // Data-parallel steps (see ``dataParallelReplica(of:kind:imageShape:batch:)``): each half
        // of the batch runs on its own replica of the autoencoder, their gradients are summed and
        // Adam steps once. One pass otherwise.
        let replica = try makeReplica.flatMap { try dataParallelReplica(of: autoencoder, batch: b, make: $0) }
        let models = [autoencoder] + (replica.map { [$0] } ?? [])
        let replicaParams = replica?.trainableParameters ?? []
        var order: [Int] = [], cursor = 0
        let every = max(1, settings.steps / 50)
        context.progress.begin(task, total: settings.steps)
        var lastLoss: Float = .nan
        for step in 0..<settings.steps {
            if step % 16 == 0 { try context.checkInterrupted() }
            if cursor + b > order.count { order = random.permutation(n); cursor = 0 }
            let rows = Array(order[cursor..<(cursor + b)])
            cursor += b
            let x = unitImages.gather(batch: rows).reshaped([b, d])
            let losses: [(Float, Float)]
            if models.count == 1 {
                losses = [try halfStep(autoencoder, x, share: 1, target: target, settings: settings, classifier: classifier,
                                       coordinates: coordinates, inputShape: inputShape)]
            } else {
                let halves = [0..<(b / 2), (b / 2)..<b]
                losses = try ComputePolicy.concurrently(2) { part in
                    try halfStep(models[part], x.slice(batch: halves[part]), share: Float(halves[part].count) / Float(b), target: target,
                                 settings: settings, classifier: classifier, coordinates: coordinates, inputShape: inputShape)
                }
                for (p, q) in zip(params, replicaParams) { p.gradient.addScaled(q.gradient, by: 1) }
            }
            adam.step(params)
            schedule.step()
            // Into the replica's own buffers: sharing the primary's storage would make Adam's next
            // in-place update copy every parameter.
            for (p, q) in zip(params, replicaParams) {
                p.value.withUnsafeBufferPointer { from in
                    q.value.withUnsafeMutableBufferPointer { into in into.baseAddress?.update(from: from.baseAddress!, count: into.count) }
                }
            }
            let recValue = losses.reduce(0) { $0 + $1.0 }, ceValue = losses.reduce(0) { $0 + $1.1 }
            lastLoss = recValue + settings.alpha * ceValue
            onStep?(step, recValue, ceValue)
            if (step + 1) % every == 0 || step + 1 == settings.steps {
                if let span = progressSpan {
                    // The share of the whole prober call, so the host's ETA moves during training.
                    let done = Double(step + 1) / Double(settings.steps)
                    context.progress.update(position: span.lowerBound + done * (span.upperBound - span.lowerBound),
                                            detail: String(format: "step %d/%d loss %.4f", step + 1, settings.steps, lastLoss))
                } else {
                    context.progress.update(completed: step + 1, detail: String(format: "loss %.4f", lastLoss))
                }
            }
        }
        context.progress.end(summary: String(format: "%@: %d steps, final batch loss %.4f", task, settings.steps, lastLoss))
    }

    /// A replica of `autoencoder` (`make()`: the same architecture, given `autoencoder`'s weights
    /// here; its own gradients) for data-parallel steps, or nil to train in one pass: with one
    /// thread, a batch under 2 × 32 rows, or any layer whose result for a row depends on the rest
    /// of the batch or that keeps weight-derived caches (only dense layers, activations and
    /// reshapes qualify; DeepDIG's Table 2 autoencoder does). The two halves' gradient sum equals
    /// the whole batch's up to float rounding, so a run is reproducible for a given
    /// `BORDERLINE_THREADS`, as with threaded sgemm.
    static func dataParallelReplica(of autoencoder: Model, batch: Int, make: () throws -> Model) throws -> Model? {
        let rowWise: Set<String> = [Dense.typeName, ReLU.typeName, LeakyReLU.typeName, Sigmoid.typeName, Tanh.typeName,
                                    Flatten.typeName, Reshape.typeName]
        guard ComputePolicy.threads >= 2, batch >= 2 * ComputePolicy.minimumRowsPerThread,
              autoencoder.nodes.allSatisfy({ rowWise.contains($0.layer.typeName) }) else { return nil }
        let copy = try make()
        let mine = autoencoder.namedParameters, theirs = copy.namedParameters
        guard mine.count == theirs.count, zip(mine, theirs).allSatisfy({ $0.parameter.value.shape == $1.parameter.value.shape }),
              copy.nodes.count == autoencoder.nodes.count else { return nil }
        for (a, r) in zip(mine, theirs) { r.parameter.value = a.parameter.value }
        return copy
    }

    /// Forward and backward of one part of a step's batch on `model` (its gradients zeroed first);
    /// both loss terms and their gradients are scaled by `share` (the part's rows over the batch's),
    /// so the parts' sums are the whole batch's means. Returns (reconstruction, classification).
    static func halfStep(_ model: Model, _ x: Tensor, share: Float, target: Int, settings: AutoencoderSettings,
                         classifier: any DifferentiableClassifier, coordinates: BoxCoordinates, inputShape: [Int]) throws -> (Float, Float) {
        let b = x.batchSize, d = x.sampleCount
        for p in model.trainableParameters { p.zeroGradient() }
        var recValue: Float = 0, ceValue: Float = 0
        var failure: Error?
        // One training pass: a dense autoencoder keeps its activations in its plan's workspace
        // (``Model/backpropagate``), bit for bit the layer-by-layer pass.
        _ = try model.backpropagate(x, parameterGradients: true, inputGradient: false) { recon in
            var rec = settings.reconstruction == .bce
                ? try Loss.binaryCrossEntropy(probabilities: recon, targets: x)
                : try Loss.meanSquaredError(recon, targets: x)
            let scale = (settings.reconstructionReduction == .imageSum ? Float(d) : 1) * share
            if scale != 1 { rec = (rec.value * scale, rec.gradient.map { $0 * scale }) }
            recValue = rec.value
            let labels = [Int](repeating: target, count: b)
            let shaped = coordinates.toInput(recon).reshaped([b] + inputShape)
            let pass = try classifier.vjp(shaped) { logits, chunk in
                do {
                    let ce = try classificationLoss(logits, labels: Array(labels[chunk]), kind: settings.classification)
                    if chunk.count == b && share == 1 {
                        ceValue = ce.value
                        return ce.gradient.map { settings.alpha * $0 }
                    }
                    // A chunk of the batch: its rows' share of the mean over all rows.
                    let part = Float(chunk.count) / Float(b) * share
                    ceValue += part * ce.value
                    return ce.gradient.map { settings.alpha * (part * $0) }
                } catch {
                    failure = error
                    return Tensor(zeros: logits.shape)
                }
            }
            if let failure { throw failure }
            return rec.gradient + coordinates.pullback(pass.inputGradient.reshaped([b, d]))
        }
        return (recValue, ceValue)
    }

    /// The classification term on `[b, K]` logits and its gradient with respect to the logits:
    /// `ce` = mean softmax cross-entropy; `bce` = PyTorch's `binary_cross_entropy(softmax(z), onehot)`
    /// (mean over b·K entries, log clamped at −100), differentiated back through the softmax:
    /// ∂L/∂z = p ⊙ (g − Σ_k g_k p_k) with g = ∂L/∂p.
    static func classificationLoss(_ logits: Tensor, labels: [Int], kind: Classification) throws -> LossValue {
        if kind != .bce { return try Loss.softmaxCrossEntropy(logits: logits, labels: labels) }
        let b = logits.batchSize, k = logits.sampleCount
        let p = logits.softmaxRows()
        var onehot = [Float](repeating: 0, count: b * k)
        for (r, c) in labels.enumerated() where c >= 0 && c < k { onehot[r * k + c] = 1 }
        let bce = try Loss.binaryCrossEntropy(probabilities: p, targets: Tensor(shape: [b, k], scalars: onehot))
        let ps = p.scalars, gs = bce.gradient.scalars
        var dz = [Float](repeating: 0, count: b * k)
        for r in 0..<b {
            var dot: Float = 0
            for c in 0..<k { dot += gs[r * k + c] * ps[r * k + c] }
            for c in 0..<k { dz[r * k + c] = ps[r * k + c] * (gs[r * k + c] - dot) }
        }
        return (bce.value, Tensor(shape: logits.shape, scalars: dz))
    }

    /// Collapse diagnostics of autoencoder outputs `[n] + shape`: `spread` = mean over pixels of the
    /// standard deviation across the n outputs (≈ 0 when the autoencoder maps every input to the
    /// same image), `saturated` = share of pixels below 1e-3 or above 1 − 1e-3 (sigmoid saturated,
    /// so the reconstruction gradient through it vanishes). See docs/deepdig.md, "FCN".
    static func outputDiagnostics(_ outputs: Tensor) -> (spread: Double, saturated: Double) {
        let n = outputs.batchSize, d = outputs.sampleCount
        guard n > 0, d > 0 else { return (.nan, .nan) }
        var sum = [Double](repeating: 0, count: d), squares = [Double](repeating: 0, count: d)
        var saturated = 0
        outputs.withUnsafeBufferPointer { p in
            for r in 0..<n {
                for c in 0..<d {
                    let v = p[r * d + c]
                    sum[c] += Double(v); squares[c] += Double(v) * Double(v)
                    if v < 1e-3 || v > 1 - 1e-3 { saturated += 1 }
                }
            }
        }
        var spread = 0.0
        for c in 0..<d {
            let mean = sum[c] / Double(n)
            spread += max(0, squares[c] / Double(n) - mean * mean).squareRoot()
        }
        return (spread / Double(d), Double(saturated) / Double(n * d))
    }

    /// `A(x)` for a batch of classifier-shaped images, in chunks, returned classifier-shaped.
    /// A(u) mapped back to the input box, for input-space images (``BoxCoordinates``; identity
    /// when `coordinates` is nil).
    static func apply(_ autoencoder: Model, to inputs: Tensor, coordinates: BoxCoordinates? = nil) -> Tensor {
        let coordinates = coordinates ?? BoxCoordinates(box: .unit, imageShape: inputs.sampleShape)
        let images = coordinates.toUnit(inputs)
        let n = images.batchSize, d = images.sampleCount
        var parts: [Tensor] = []
        var start = 0
        while start < n {
            let end = min(n, start + 1024)
            parts.append(autoencoder.forward(images.slice(batch: start..<end).reshaped([end - start, d])))
            start = end
        }
        if parts.isEmpty { return inputs }
        return coordinates.toInput(Tensor.concatenate(batches: parts).reshaped(images.shape))
    }
}
