// Release-build benchmark of the engine, one line per workload, in the same format as
// bench/pytorch_peer.py so the two can be put side by side (docs/benchmarks.md).
//
//   swift build -c release && .build/release/borderline-bench [--quick] [--only W1,W3]
//   .build/release/borderline-bench --intake      (model-intake goldens: load time and errors)
import BorderlineCore
import BorderlineHost
import Foundation

BLASKernelSelection.preferAVX512Kernels()
BLASKernelSelection.configureThreads()

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let only: Set<String>? = arguments.firstIndex(of: "--only").flatMap { i in
    i + 1 < arguments.count ? Set(arguments[i + 1].split(separator: ",").map(String.init)) : nil
}
// The same method as bench/pytorch_peer.py's `measure`, so the two columns of compare.py are alike:
// 3 warm-up calls, then `repeats` timed blocks of `calls` calls each, `calls` calibrated once so a
// block lasts about `blockSeconds`. Timing single calls instead would add a thread wake-up to every
// sub-millisecond call (the FCN's 0.2–0.3 ms forward) that back-to-back calls never pay.
let repeats = quick ? 3 : 9
let blockSeconds = quick ? 0.1 : 0.5

/// Median wall time per call of `body` (see above).
func medianSeconds(_ body: () -> Void) -> Double {
    for _ in 0..<3 { body() }
    func seconds(_ calls: Int) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { body() }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
    let calls = max(1, Int((blockSeconds / max(seconds(1), 1e-6)).rounded()))
    let times = (0..<repeats).map { _ in seconds(calls) / Double(calls) }
    return times.sorted()[times.count / 2]
}

func report(_ id: String, _ name: String, _ value: Double, _ unit: String) {
    print(String(format: "%@ %@ %.1f %@", id, name, value, unit))
    fflush(nil)
}

func wants(_ id: String) -> Bool { only?.contains(id) ?? true }

var generator = RandomGenerator(seed: 1)
let cnn = try Model.fashionCNN(seed: 1)
let fcn = try Model.fashionFCN(seed: 1)
let batch256 = generator.uniform(shape: [256, 1, 28, 28], low: 0, high: 1)

/// ∂(Σ_i max_j logit_ij)/∂x: a one-hot cotangent on each row's top logit.
func topLogitCotangent(_ logits: Tensor) -> Tensor {
    let top = logits.argmaxRows()
    let k = logits.sampleCount
    var v = Tensor(zeros: logits.shape)
    v.withUnsafeMutableBufferPointer { p in for (i, j) in top.enumerated() { p[i * k + j] = 1 } }
    return v
}

// `--intake`: every model-intake golden (Tests/BorderlineCoreTests/Golden/intake, made by
// tools/make_intake_goldens.py): median load time, and the largest logit and input-gradient
// errors against the exporting framework on its 100 inputs (docs/model-format.md).
if arguments.contains("--intake") {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/BorderlineCoreTests/Golden/intake")
    let fixtures = [("resnet.onnx", "resnet"), ("resnet.dynamo.onnx", "resnet"), ("mobilenet.onnx", "mobilenet"),
                    ("ops.onnx", "ops"), ("ops.typed.onnx", "ops"), ("tf.onnx", "tf"), ("functional.keras", "functional"), ("functional.h5", "functional"),
                    ("resnet.borderline.h5", "resnet"), ("mobilenet.borderline.h5", "mobilenet"), ("ops.borderline.h5", "ops")]
    print("fixture                  load ms  max |Δ logit|  max |Δ grad| / max |grad|")
    for (file, name) in fixtures {
        let path = folder.appendingPathComponent(file).path
        let root = try HDF5File.open(folder.appendingPathComponent("\(name).expected.h5").path).root()
        let x = try root.readTensor("x"), expected = try root.readTensor("logits")
        let cotangent = try root.readTensor("cotangent"), gradient = try root.readTensor("input_gradient")
        var model = try Model.load(contentsOf: path)
        let load = medianSeconds { model = try! Model.load(contentsOf: path) }
        let logitError = zip(model(x).scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
        let (_, g) = model.vjp(x) { _ in cotangent }
        let scale = gradient.scalars.map(abs).max() ?? 1
        let gradError = (zip(g.scalars, gradient.scalars).map { abs($0 - $1) }.max() ?? 0) / scale
        print(String(format: "%@  %7.2f  %13.2e  %13.2e", file.padding(toLength: 23, withPad: " ", startingAt: 0), 1000 * load,
                     Double(logitError), Double(gradError)))
    }
    exit(0)
}

// `--thread-study`: the same workloads under three ways of using the cores, interleaved in one
// process so that background load hits each alike; this is how the default was chosen.
if arguments.contains("--thread-study") {
    // The shipped policy against plain one-pass runs with 1 and 2 OpenBLAS threads.
    let configurations = [("policy", 0), ("one pass, BLAS 1", 1), ("one pass, BLAS 2", 2)]
    var samples: [String: [Double]] = [:]
    let a0 = generator.uniform(shape: [1000, 1, 28, 28], low: 0, high: 1)
    for _ in 0..<(quick ? 2 : 5) {
        for (name, blas) in configurations {
            if blas == 0 {
                BLASKernelSelection.configureThreads()
            } else {
                ComputePolicy.reset()
                BLAS.setThreadCount(blas)
            }
            samples["W1 \(name)", default: []].append(256 / medianSeconds { _ = cnn.forward(batch256) })
            samples["W2 \(name)", default: []].append(256 / medianSeconds { _ = cnn.vjp(batch256, cotangent: topLogitCotangent) })
            samples["W6f \(name)", default: []].append(256 / medianSeconds { _ = fcn.forward(batch256) })
            samples["W6g \(name)", default: []].append(256 / medianSeconds { _ = fcn.vjp(batch256, cotangent: topLogitCotangent) })
            samples["B1000 \(name)", default: []].append(1000 / medianSeconds { _ = cnn.forward(a0) })
        }
    }
    for key in samples.keys.sorted() {
        let v = samples[key]!.sorted()
        print(String(format: "%@: median %.0f images/s (min %.0f, max %.0f)", key, v[v.count / 2], v.first!, v.last!))
    }
    exit(0)
}

print("# borderline-bench: OpenBLAS \(BLAS.coreName), lane kernels \(LaneKernels.instructionSet.name), \(ComputePolicy.threads) threads (conv models: batch split, 1 BLAS thread each; dense models: \(ComputePolicy.denseThreading == .splitBatches ? "batch split" : "threaded BLAS")), \(quick ? "quick" : "full")")
for (id, name, model) in [("W1", "cnn", cnn), ("W6", "fcn", fcn)] where wants(id) {
    let t = medianSeconds { _ = model.forward(batch256) }
    report(id, "\(name)-forward-b256", 256 / t, "images/s")
    let g = medianSeconds { _ = model.vjp(batch256, cotangent: topLogitCotangent) }
    report(id == "W1" ? "W2" : "W6", "\(name)-input-grad-b256", 256 / g, "images/s")
}

if wants("W3") {
    var g = RandomGenerator(seed: 3)
    let autoencoder = try Model.sequential(inputShape: [784], [
        ("enc1", Dense(inFeatures: 784, outFeatures: 100, generator: &g)), ("enc1.relu", ReLU()),
        ("dec1", Dense(inFeatures: 100, outFeatures: 50, generator: &g)), ("dec1.relu", ReLU()),
        ("dec2", Dense(inFeatures: 50, outFeatures: 784, generator: &g)), ("dec2.sigmoid", Sigmoid()),
    ])
    cnn.setFrozen(true)
    let x = g.uniform(shape: [128, 784], low: 0, high: 1)
    let target = (0..<128).map { _ in 1 }
    let adam = Adam(learningRate: 0.01)
    let params = autoencoder.trainableParameters
    let t = medianSeconds {
        for p in params { p.zeroGradient() }
        // As DeepDIG trains its autoencoders (`halfStep`): one training pass whose output gradient
        // is the MSE's plus the classifier's vjp of the weighted cross-entropy.
        _ = autoencoder.backpropagate(x, parameterGradients: true, inputGradient: false) { recon in
            let dRecon = cnn.vjp(recon.reshaped([128, 1, 28, 28])) { logits in
                0.8 * (try! Loss.softmaxCrossEntropy(logits: logits, labels: target)).gradient
            }.inputGradient
            let mse = try! Loss.meanSquaredError(recon, targets: x)
            return mse.gradient + dRecon.reshaped([128, 784])
        }
        adam.step(params)
    }
    report("W3", "ae-adam-b128", 1 / t, "steps/s")
    if arguments.contains("--w3-breakdown") {
        // Where one W3 step's time goes (milliseconds per step, mean over 200 steps).
        // CPU time of the process as well as wall time: on a loaded machine a one-thread run's CPU
        // time is what the step costs.
        var parts = [Double](repeating: 0, count: 4), cpu = [Double](repeating: 0, count: 4)
        func cpuMilliseconds() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
        }
        func clock(_ i: Int, _ body: () -> Void) {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuMilliseconds()
            body()
            parts[i] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            cpu[i] += cpuMilliseconds() - c0
        }
        let steps = 200
        for _ in 0..<steps {
            var aeTrace: Model.Trace!
            var dRecon: Tensor!
            clock(0) { for p in params { p.zeroGradient() }; aeTrace = autoencoder.trace(x) }
            let recon = aeTrace.output
            clock(1) {
                dRecon = cnn.vjp(recon.reshaped([128, 1, 28, 28])) { logits in
                    0.8 * (try! Loss.softmaxCrossEntropy(logits: logits, labels: target)).gradient
                }.inputGradient
            }
            clock(2) {
                let mse = try! Loss.meanSquaredError(recon, targets: x)
                autoencoder.backward(aeTrace, outputGradient: mse.gradient + dRecon.reshaped([128, 784]), inputGradient: false)
            }
            clock(3) { adam.step(params) }
        }
        let n = Double(steps)
        print(String(format: "# W3 breakdown ms/step (wall | cpu): ae-forward %.3f | %.3f, cnn-vjp %.3f | %.3f, losses+ae-backward %.3f | %.3f, adam %.3f | %.3f",
                     parts[0] / n, cpu[0] / n, parts[1] / n, cpu[1] / n, parts[2] / n, cpu[2] / n, parts[3] / n, cpu[3] / n))
    }
    cnn.setFrozen(false)
}

if wants("W4") {
    let pairs = 1000, halvings = 20
    let a0 = generator.uniform(shape: [pairs, 1, 28, 28], low: 0, high: 1)
    let b0 = generator.uniform(shape: [pairs, 1, 28, 28], low: 0, high: 1)
    let sourceClass = cnn.forward(a0).argmaxRows()
    let per = 784
    let t = medianSeconds {
        var a = a0, b = b0
        for _ in 0..<halvings {
            let mid = (a + b).map { 0.5 * $0 }
            let predicted = cnn.forward(mid).argmaxRows()
            mid.withUnsafeBufferPointer { m in
                a.withUnsafeMutableBufferPointer { ap in
                    b.withUnsafeMutableBufferPointer { bp in
                        for i in 0..<pairs {
                            let dst = predicted[i] == sourceClass[i] ? ap.baseAddress! : bp.baseAddress!
                            (dst + i * per).update(from: m.baseAddress! + i * per, count: per)
                        }
                    }
                }
            }
        }
    }
    report("W4", "bisection-1000x20", Double(pairs * halvings) / t, "pair-halvings/s")
}

// W7: the core's batched bisection on the FCN, through the first-layer split of
// AffineProbeEvaluator and without it (the same classifier behind an opaque wrapper).
if wants("W7") {
    final class Opaque: Classifier {
        let inner: ModelClassifier
        init(_ inner: ModelClassifier) { self.inner = inner }
        var inputShape: [Int] { inner.inputShape }
        var classNames: [String] { inner.classNames }
        func probabilities(_ x: Tensor) throws -> Tensor { try inner.probabilities(x) }
        func logits(_ x: Tensor) throws -> Tensor { try inner.logits(x) }
    }
    let pairs = 1000
    // Wide random inputs, so that the random FCN puts the two ends of many pairs in different classes.
    let a0 = generator.uniform(shape: [pairs, 1, 28, 28], low: -8, high: 8)
    let b0 = generator.uniform(shape: [pairs, 1, 28, 28], low: -8, high: 8)
    let classifier = ModelClassifier(fcn, batchSize: 1000)
    let s = try classifier.predictions(a0), t = try classifier.predictions(b0)
    let rows = (0..<pairs).filter { s[$0] != t[$0] }
    // On stderr: compare.py takes the last "#" line of stdout as the header.
    FileHandle.standardError.write("# W7: \(rows.count) of \(pairs) pairs straddle two classes\n".data(using: .utf8)!)
    let from = a0.gather(batch: rows), to = b0.gather(batch: rows)
    let config = BoundaryBisection.Configuration(tolerance: 1e-6, maxSteps: 20)
    for (name, c) in [("split", classifier as any Classifier), ("plain", Opaque(classifier))] {
        var halvings = 0
        let time = medianSeconds {
            let o = try! BoundaryBisection.bisect(c, from: from, to: to, sources: rows.map { s[$0] }, targets: rows.map { t[$0] }, configuration: config)
            halvings = o.steps.reduce(0, +)
        }
        report("W7", "fcn-bisection-\(name)", Double(halvings) / time, "pair-halvings/s")
    }
}

if wants("W8") {
    // IDC's workload (paper Eq. 3–4: m points on segments between borderline points), 200
    // segments × 50 points between 100 anchors = 10,000 CNN queries per call: once through the
    // convolution split (first conv once per anchor, interpolated in registers) and once as
    // materialised images through the ordinary forward pass.
    let anchors = generator.uniform(shape: [100, 1, 28, 28], low: 0, high: 1)
    let classifier = ModelClassifier(cnn, batchSize: 4096)
    var indices: [Int] = [], weights: [Float] = []
    for q in 0..<200 {
        for p in 0..<50 {
            let t = Float(p) / 49
            indices += [q % 100, (q * 7 + 3) % 100]
            weights += [t, 1 - t]
        }
    }
    let queries = Double(weights.count / 2)
    let split = try AffineProbeEvaluator(classifier, anchors: anchors, convolutions: true)
    let plain = try AffineProbeEvaluator(classifier, anchors: anchors)
    let points = try plain.points(indices: indices, weights: weights, arity: 2)
    let tSplit = medianSeconds { _ = try! split.logits(indices: indices, weights: weights, arity: 2) }
    report("W8", "cnn-segments-split", queries / tSplit, "points/s")
    let tPlain = medianSeconds { _ = try! classifier.logits(points) }
    report("W8", "cnn-segments-plain", queries / tPlain, "points/s")
}

if wants("E1") {
    do {
        let train = try Dataset.named("fashion-mnist", split: .train)
        var configuration = TrainingConfiguration()
        configuration.epochs = 1
        let model = try Model.fashionCNN(seed: 7)
        let t0 = Date()
        try ClassifierTraining.train(model, on: train, configuration: configuration)
        report("E1", "cnn-epoch-fmnist-b64", Date().timeIntervalSince(t0), "s")
    } catch {
        print("E1 skipped: \(error)")
    }
}
