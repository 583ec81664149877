import Foundation

extension Model {
    /// The layer types whose weights ``initializeParameters(seed:)`` draws afresh.
    static let initializedLayerTypes: Set<String> = ["Dense", "Conv2D", "ConvTranspose2D"]

    /// Gives every dense and (transposed) convolution layer PyTorch's default initialisation,
    /// `W, b ~ U(−1/√fan_in, 1/√fan_in)` with `fan_in = Π weight.shape[1...]` (PyTorch's
    /// `_calculate_fan_in_and_fan_out`: `in` for Dense `[out, in]`, `in/groups · kh · kw` for
    /// Conv2D, `out · kh · kw` for ConvTranspose2D `[in, out, kh, kw]`). Every other parameter
    /// keeps the value its layer starts with (batch/layer norm γ = 1, β = 0, running statistics
    /// 0 and 1, PReLU slopes), which is PyTorch's too.
    ///
    /// Why: a model read from an architecture JSON has placeholder weights (every layer drawn
    /// from the same seed-0 stream, so two same-shaped layers would start identical).
    /// Draws go in node order, weight then bias, from one generator seeded with `seed`: the
    /// order of the built-in builders, so the architecture JSON of `Model.fashionCNN(seed: s)`
    /// initialised with `s` starts from exactly its weights.
    public func initializeParameters(seed: UInt64) {
        var generator = RandomGenerator(seed: seed)
        for node in nodes where Model.initializedLayerTypes.contains(node.layer.typeName) {
            let parameters = node.layer.parameters
            guard let weight = parameters.first(where: { $0.name == "weight" }), weight.value.rank >= 2 else { continue }
            let fanIn = weight.value.shape.dropFirst().reduce(1, *)
            let bound = 1 / Float(max(fanIn, 1)).squareRoot()
            Model.overwrite(weight, with: generator.uniform(shape: weight.value.shape, low: -bound, high: bound))
            if let bias = parameters.first(where: { $0.name == "bias" }) {
                Model.overwrite(bias, with: generator.uniform(shape: bias.value.shape, low: -bound, high: bound))
            }
        }
    }

    /// Copies `values` into the parameter's storage (in place, as an optimiser step does).
    private static func overwrite(_ parameter: Parameter, with values: Tensor) {
        values.withUnsafeBufferPointer { v in
            parameter.value.withUnsafeMutableBufferPointer { p in _ = p.update(fromContentsOf: v) }
        }
    }
}
