/// Builders for the two Fashion-MNIST classifiers of the DeepDIG paper, freshly initialised with
/// PyTorch's default rules from a seed.
extension Model {
    /// The Fashion-MNIST class names, in label order.
    public static let fashionMNISTClassNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// The paper's CNN on `[1, 28, 28]` inputs (14,070 parameters):
    /// `conv1` Conv2D(1→10, 3×3) → `pool1` MaxPool2D(2) → `relu1` → `conv2` Conv2D(10→10, 3×3) →
    /// `pool2` MaxPool2D(2) → `relu2` → `flatten` → `fc1` Dense(250→50) → `relu3` → `fc2` Dense(50→10).
    /// The embedding is `relu3`.
    public static func fashionCNN(seed: UInt64, classNames: [String] = fashionMNISTClassNames) throws -> Model {
        var g = RandomGenerator(seed: seed)
        let layers: [(String, any Layer)] = [
            ("conv1", Conv2D(inChannels: 1, outChannels: 10, kernelSize: (3, 3), generator: &g)),
            ("pool1", try MaxPool2D(kernelSize: (2, 2))),
            ("relu1", ReLU()),
            ("conv2", Conv2D(inChannels: 10, outChannels: 10, kernelSize: (3, 3), generator: &g)),
            ("pool2", try MaxPool2D(kernelSize: (2, 2))),
            ("relu2", ReLU()),
            ("flatten", Flatten()),
            ("fc1", Dense(inFeatures: 250, outFeatures: 50, generator: &g)),
            ("relu3", ReLU()),
            ("fc2", Dense(inFeatures: 50, outFeatures: 10, generator: &g)),
        ]
        return try Model.sequential(inputShape: [1, 28, 28], layers, embedding: "relu3", classNames: classNames)
    }

    /// The paper's fully connected network on `[1, 28, 28]` inputs (42,310 parameters):
    /// `flatten` → `fc1` Dense(784→50) → `relu1` → `fc2` Dense(50→50) → `relu2` → `fc3` Dense(50→K).
    /// The embedding is `relu2`. `classCount` K is 10 (Fashion-MNIST) unless given; the weights are
    /// drawn in layer order, so `fc1` and `fc2` are the same for every K (`classNames`: K names, or
    /// none).
    public static func fashionFCN(seed: UInt64, classCount: Int = 10, classNames: [String] = fashionMNISTClassNames) throws -> Model {
        guard classCount >= 1 else { throw BorderlineError(.invalidArgument, "fashionFCN: classCount must be at least 1 (was \(classCount))") }
        var g = RandomGenerator(seed: seed)
        let layers: [(String, any Layer)] = [
            ("flatten", Flatten()),
            ("fc1", Dense(inFeatures: 784, outFeatures: 50, generator: &g)),
            ("relu1", ReLU()),
            ("fc2", Dense(inFeatures: 50, outFeatures: 50, generator: &g)),
            ("relu2", ReLU()),
            ("fc3", Dense(inFeatures: 50, outFeatures: classCount, generator: &g)),
        ]
        return try Model.sequential(inputShape: [1, 28, 28], layers, embedding: "relu2", classNames: classNames)
    }
}
