/// A differentiable building block of a model.
///
/// A layer maps its inputs `x₁…xₖ` (batch-first tensors) to one output `y = f(x; θ)` and, given
/// `∂L/∂y`, returns `∂L/∂xᵢ` and accumulates `∂L/∂θ` into its parameters' gradients (`+=`, as
/// PyTorch does; training loops zero them between steps).
///
/// Layers are reference types because their parameters are shared state that optimisers update
/// in place. A layer keeps nothing about a particular forward pass: whatever backward needs is
/// returned from `forward` as `saved` and handed back in the ``LayerRecord``, so one layer can
/// serve several traces at once.
public protocol Layer: AnyObject {
    /// The name of the layer type in the architecture JSON, e.g. `"Conv2D"`.
    var typeName: String { get }
    /// The layer's hyper-parameters, exactly as written to (and read from) the architecture JSON.
    var config: JSONValue { get }
    /// The learnable (and running-statistic) tensors, in a fixed order, named as in PyTorch
    /// (`weight`, `bias`, `running_mean`, …).
    var parameters: [Parameter] { get }
    /// The per-sample output shape (no batch dimension) for per-sample input shapes.
    /// Throws ``BorderlineError`` of kind `.shapeMismatch` when the inputs do not fit.
    func outputShape(for inputShapes: [[Int]]) throws -> [Int]
    /// Computes the output for a batch. `saved` holds whatever `backward` needs beyond the
    /// inputs and the output (e.g. pooling argmax, normalised activations).
    func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?)
    /// Back-propagates `gradOutput = ∂L/∂y` through the recorded forward pass.
    /// Returns `∂L/∂xᵢ` for every input when `inputGradients` is true, otherwise `[]`; adds
    /// `∂L/∂θ` into the parameter gradients when `parameterGradients` is true.
    func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor]
}

extension Layer {
    public var parameters: [Parameter] { [] }
    /// Runs the layer on one input in inference mode.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        forward([x], context: ForwardContext(training: false)).output
    }
}

/// What a forward pass left for the backward pass of one layer.
public struct LayerRecord {
    public var inputs: [Tensor]
    public var output: Tensor
    public var saved: AnyObject?
    public init(inputs: [Tensor], output: Tensor, saved: AnyObject?) {
        self.inputs = inputs
        self.output = output
        self.saved = saved
    }
}

/// Per-pass state shared by the layers of one forward pass.
public final class ForwardContext {
    /// Training mode: dropout active, batch norm uses and updates batch statistics.
    public let training: Bool
    /// Randomness for dropout; seeded so training runs are reproducible.
    public var generator: RandomGenerator
    public init(training: Bool, generator: RandomGenerator = RandomGenerator(seed: 0)) {
        self.training = training
        self.generator = generator
    }
}

/// A named tensor a layer owns, with its accumulated gradient.
public final class Parameter {
    /// The name within its layer (`weight`, `bias`, `running_mean`, …).
    public let name: String
    public var value: Tensor { didSet { version &+= 1 } }
    /// Counts the changes of ``value`` (assignments and in-place writes through it), so what is
    /// derived from it — a model's packed dense weights — knows when to rebuild.
    public private(set) var version = 0
    /// `∂L/∂value`, accumulated by backward passes.
    public var gradient: Tensor
    /// False for buffers such as batch-norm running statistics, and for frozen models.
    public var isTrainable: Bool

    public init(_ name: String, _ value: Tensor, trainable: Bool = true) {
        self.name = name
        self.value = value
        self.gradient = Tensor(zeros: value.shape)
        self.isTrainable = trainable
    }

    public func zeroGradient() {
        gradient.withUnsafeMutableBufferPointer { p in p.update(repeating: 0) }
    }
}
