import BorderlineCore

/// Refuses a model whose outputs are NaN or infinite: such logits make every number that follows
/// meaningless (argmax of NaN is class 0, so `evaluate` would print a plausible-looking 10 %
/// accuracy). Commands call it before they report anything.
public enum FiniteOutputs {
    /// Throws `.nonFiniteValues` naming the model, the data and the first bad image when any of
    /// `logits` (`[N, K]`, row `i` = image `firstImage + i`) is NaN or infinite.
    public static func check(_ logits: Tensor, model: String, data: String, firstImage: Int = 0) throws {
        let scalars = logits.scalars
        guard let bad = scalars.firstIndex(where: { !$0.isFinite }) else { return }
        let k = logits.rank == 2 ? max(1, logits.shape[1]) : 1
        let rows = logits.rank >= 1 ? logits.shape[0] : 1
        var badRows = 0
        for i in 0..<rows where scalars[(i * k)..<((i + 1) * k)].contains(where: { !$0.isFinite }) { badRows += 1 }
        throw BorderlineError(.nonFiniteValues,
            "the model's outputs are not finite: \(scalars[bad]) in the logits of image \(firstImage + bad / k) of \(data) " +
            "(\(badRows) of \(rows) images checked have NaN or infinite logits); its weights or the inputs are out of range, so no accuracy or prediction would mean anything",
            file: model)
    }

    /// Evaluates `model` on the first `limit` images of `images` and checks the logits.
    public static func check(_ model: Model, on images: Tensor, name: String, data: String, limit: Int = 256) throws {
        let n = min(limit, images.batchSize)
        guard n > 0 else { return }
        try check(model.forward(images.slice(batch: 0..<n)), model: name, data: data)
    }
}
