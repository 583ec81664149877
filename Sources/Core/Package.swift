// swift-tools-version: 6.0
// BorderlineCore lives in its own package so that SwiftPM links it as a shared library:
// the host and every plugin (in-tree or out-of-tree) then use one copy of its types at run
// time, and `plugin as? BorderlinePlugin` succeeds across the dlopen boundary.
import PackageDescription

let package = Package(
    name: "BorderlineCore",
    products: [
        .library(name: "BorderlineCore", type: .dynamic, targets: ["BorderlineCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // ONNX models are protobuf: the runtime only (IO/ONNX/onnx.pb.swift is generated once and
        // committed; tools/onnx/regenerate.sh), so no build runs protoc or its plugin.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // Keras 3 `.keras` files are zip archives (config.json + model.weights.h5).
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        // zlib for gzip'd IDX files. Not named CZlib: ZIPFoundation's own zlib module has that name.
        .systemLibrary(name: "CGzip", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // LIBLINEAR (liblinear-dev: /usr/include/linear.h, -llinear) for the linear SVM.
        .systemLibrary(name: "CLIBLINEAR", path: "Sources/CLIBLINEAR",
                       providers: [.apt(["liblinear-dev"])]),
        // FreeType + fontconfig (libfreetype-dev, libfontconfig-dev) for the text in charts.
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2",
                       providers: [.apt(["libfreetype-dev", "libfontconfig-dev"])]),
        // The lane kernels (direct convolution, fused pooling/activation, Adam) in C, compiled for
        // AVX-512, AVX2 and portable code and chosen at run time (Sources/CKernels).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=fast", "-fno-math-errno"])]),
        .target(
            name: "BorderlineCore",
            dependencies: [
                "CKernels", "CBLAS", "CHDF5", "CGzip", "CPNG", "CLIBLINEAR", "CFreeType",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
    ]
)
