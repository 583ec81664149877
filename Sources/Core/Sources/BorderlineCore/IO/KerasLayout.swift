/// Conventions shared by the Keras importer and exporter.
///
/// Keras is channels-last, Borderline channels-first. A rank-3 sample is `(H, W, C)` in Keras and
/// `[C, H, W]` here; samples of any other rank have the same layout in both.
enum KerasLayout {
    /// The Keras shape of a Borderline per-sample shape.
    static func kerasShape(_ ours: [Int]) -> [Int] {
        ours.count == 3 ? [ours[1], ours[2], ours[0]] : ours
    }

    /// The Borderline shape of a Keras per-sample shape.
    static func ourShape(_ keras: [Int]) -> [Int] {
        keras.count == 3 ? [keras[2], keras[0], keras[1]] : keras
    }

    /// For each Borderline dimension, the Keras dimension it is (rank 3: C, H, W ← dims 2, 0, 1).
    static func oursToKeras(rank: Int) -> [Int] { rank == 3 ? [2, 0, 1] : Array(0..<rank) }
    /// For each Keras dimension, the Borderline dimension it is (rank 3: H, W, C ← dims 1, 2, 0).
    static func kerasToOurs(rank: Int) -> [Int] { rank == 3 ? [1, 2, 0] : Array(0..<rank) }

    /// Whether a rank-3 `[C, H, W]` sample has the same element order in both layouts (one channel,
    /// or a 1×1 plane).
    static func layoutsAgree(_ ours: [Int]) -> Bool {
        ours.count != 3 || ours[0] == 1 || ours[1] * ours[2] == 1
    }

    /// TensorFlow's `padding="same"` for one dimension: output `ceil(in / stride)`, total padding
    /// `max((out − 1)·stride + kernel − in, 0)`, the odd pixel at the end.
    static func samePadding(input: Int, kernel: Int, stride: Int) -> (before: Int, after: Int) {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - input, 0)
        return (total / 2, total - total / 2)
    }

    /// Keras's (JAX backend's) transposed-convolution padding for one dimension, as the number of
    /// rows cropped from the start and the end of the full output `(in − 1)·stride + kernel`
    /// (a negative end crop extends the output). Mirrors
    /// `keras.src.backend.common.backend_utils._convert_conv_transpose_padding_args_from_keras_to_jax`.
    static func transposeCrops(kernel: Int, stride: Int, same: Bool, outputPadding: Int?) -> (start: Int, end: Int) {
        let leftPad: Int, rightPad: Int
        if !same {
            let op = outputPadding ?? (max(kernel, stride) - kernel)
            leftPad = kernel - 1
            rightPad = kernel - 1 + op
        } else {
            let padLength = outputPadding.map { kernel + kernel % 2 - 2 + $0 } ?? (stride + kernel - 2)
            leftPad = min(padLength / 2 + padLength % 2, kernel - 1)
            rightPad = padLength - leftPad
        }
        return (kernel - 1 - leftPad, kernel - 1 - rightPad)
    }

    /// Permutes the dimensions of a whole tensor (not per sample): output dim `i` is input dim `perm[i]`.
    static func permuteAll(_ t: Tensor, _ perm: [Int]) -> Tensor {
        let p = Permute.permute(t.reshaped([1] + t.shape), perm)
        return p.reshaped(perm.map { t.shape[$0] })
    }

    /// Keras Dense kernel `(in, out)` ⇄ Borderline weight `[out, in]`.
    static func transpose2D(_ t: Tensor) -> Tensor { permuteAll(t, [1, 0]) }
    /// Keras `Conv2D` kernel `(kh, kw, in, out)` → `[out, in, kh, kw]`, and equally
    /// `Conv2DTranspose` `(kh, kw, out, in)` → `[in, out, kh, kw]`.
    static func kernelFromKeras(_ t: Tensor) -> Tensor { permuteAll(t, [3, 2, 0, 1]) }
    /// The inverse of ``kernelFromKeras(_:)``.
    static func kernelToKeras(_ t: Tensor) -> Tensor { permuteAll(t, [2, 3, 1, 0]) }
}
