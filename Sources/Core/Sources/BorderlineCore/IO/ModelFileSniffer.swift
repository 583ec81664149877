import Foundation
import ZIPFoundation

/// What a model file is, from its first bytes and (for zip archives) its entry names; the
/// extension only decides between formats the content cannot tell apart.
enum ModelFileContent: Equatable {
    /// HDF5 (native, Keras legacy `.h5`, PyTorch state_dict via h5py).
    case hdf5
    /// An ONNX protobuf.
    case onnx
    /// A Keras 3 `.keras` zip (`config.json`, `model.weights.h5`, `metadata.json`).
    case kerasArchive
    /// `torch.save` zip: `<name>/data.pkl` and tensor storages.
    case torchCheckpoint
    /// `torch.jit.save` zip: `data.pkl`, `constants.pkl`, `code/`.
    case torchScript
    /// A bare pickle (`torch.save` before PyTorch 1.6, or `pickle.dump`).
    case pickle
    /// A zip archive that is none of the above, or cannot be read as one.
    case otherZip(reason: String)
    /// None of the above: left to the HDF5 reader, whose message says what it found.
    case unknown
}

enum ModelFileSniffer {
    static let hdf5Signature = Data([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])

    static func sniff(_ path: String) -> ModelFileContent {
        guard let handle = FileHandle(forReadingAtPath: path) else { return .unknown }
        let head = (try? handle.read(upToCount: 8)) ?? Data()
        try? handle.close()
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        if head == hdf5Signature { return .hdf5 }
        if head.starts(with: [0x50, 0x4b]) && head.count >= 4 && (head[2] == 0x03 || head[2] == 0x05) {
            return zipContent(path)
        }
        if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return .pickle }
        if ext == "onnx" { return .onnx }
        // ModelProto's first field is ir_version (field 1, varint): tag byte 0x08.
        if head.first == 0x08, !["h5", "hdf5", "keras"].contains(ext) { return .onnx }
        return .unknown
    }

    private static func zipContent(_ path: String) -> ModelFileContent {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            let what: String
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "keras": what = "a Keras 3 .keras file (a zip of config.json and model.weights.h5)"
            case "pt", "pth": what = "a PyTorch file (a zip of data.pkl and tensor data)"
            default: what = "a zip archive"
            }
            return .otherZip(reason: "it starts like \(what) but cannot be read as one (\(error)): the file is truncated or damaged; copy or save it again")
        }
        var names: [String] = []
        for entry in archive { names.append(entry.path) }
        return classify(entries: names)
    }

    /// The kind of zip from its entry names.
    static func classify(entries names: [String]) -> ModelFileContent {
        let last = names.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
        if last.contains("constants.pkl") || names.contains(where: { $0.contains("/code/") || $0.hasPrefix("code/") }) {
            return .torchScript
        }
        if last.contains("data.pkl") { return .torchCheckpoint }
        if names.contains("config.json") { return .kerasArchive }
        let shown = names.prefix(6).joined(separator: ", ") + (names.count > 6 ? ", …" : "")
        return .otherZip(reason: "it is a zip archive (\(names.isEmpty ? "empty" : shown)) with neither config.json (a Keras 3 .keras file) nor data.pkl (a PyTorch file)")
    }

    /// How to bring a PyTorch model into Borderline, for messages.
    static let torchAdvice =
        "bring the model in either (1) with the helper tools/torch_to_borderline.py, which traces the nn.Module with torch.fx and writes a " +
        "Borderline model: `python3 tools/torch_to_borderline.py my_net.py:MyNet --weights FILE --input-shape C,H,W -o model.h5` " +
        "(a whole pickled model needs no class: `python3 tools/torch_to_borderline.py FILE --input-shape C,H,W -o model.h5`), or " +
        "(2) as ONNX: `torch.onnx.export(model.eval(), (torch.randn(1, C, H, W),), \"model.onnx\")` and load model.onnx (docs/model-format.md)"

    /// The error for a file Borderline recognises but does not read.
    static func refusal(_ content: ModelFileContent, path: String) -> BorderlineError? {
        switch content {
        case .torchCheckpoint:
            return BorderlineError(.unreadableFile,
                "is a PyTorch file written by torch.save (a zip with data.pkl): pickled Python objects, which Borderline does not unpickle; " + torchAdvice,
                file: path)
        case .torchScript:
            return BorderlineError(.unreadableFile,
                "is a TorchScript archive written by torch.jit.save (a zip with code/ and constants.pkl), which Borderline does not run; " +
                "export it as ONNX: `torch.onnx.export(torch.jit.load(\"\(URL(fileURLWithPath: path).lastPathComponent)\"), (torch.randn(1, C, H, W),), \"model.onnx\", dynamo=False)` " +
                "and load model.onnx, or load the original nn.Module and " + torchAdvice.replacingOccurrences(of: "bring the model in either (1)", with: "use (1)"),
                file: path)
        case .pickle:
            return BorderlineError(.unreadableFile,
                "is a Python pickle (torch.save before PyTorch 1.6, or pickle.dump), which Borderline does not unpickle; " + torchAdvice,
                file: path)
        case .otherZip(let reason):
            return BorderlineError(.unreadableFile, "is not a model file Borderline reads: \(reason)", file: path)
        default:
            return nil
        }
    }
}
