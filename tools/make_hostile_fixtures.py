#!/usr/bin/env python3
"""Writes the small hostile input files of the reliability tests (issue 21, docs/reliability.md).

    python3 tools/make_hostile_fixtures.py     # writes Tests/Fixtures/Hostile/*

Needs h5py and numpy. The outputs are committed; CI only reads them. Every file is tiny and
declares far more than it holds, or holds values no analysis can use:

    huge-images-idx3-ubyte   24-byte IDX header declaring 10,000,000 × 28 × 28 bytes (7.8 GB), no data
    huge-labels-idx1-ubyte   its labels file: a header declaring 10,000,000 labels, no data
    sparse.h5                a data set file whose x is a chunked (1e9, 1, 28, 28) float32 dataset
                             with no chunk written (3.1 TB declared, 0 bytes stored)
    huge-dense.h5            a native model whose architecture declares Dense(784 → 1e8) (313 GB
                             of weights) and stores no parameters
    nonfinite.h5             a native Dense(784 → 50) ReLU Dense(50 → 10) model with weights of
                             ±1e30: finite parameters whose logits overflow to ±inf (1e30 · 1e30),
                             so softmax gives NaN
    deep.yaml                a configuration nested 100,000 flow brackets deep
    alias-bomb.yaml          "billion laughs": 9 levels of 9 aliases (387,420,489 values)
"""
import json
import os
import struct

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "Hostile")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def native(path, layers, parameters):
    arch = {"class_names": CLASSES, "input_shape": [1, 28, 28], "layers": layers}
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "borderline.model"
        f.attrs["format_version"] = 1
        f.attrs["architecture"] = json.dumps(arch)
        f.attrs["input_shape"] = np.array([1, 28, 28], dtype=np.int64)
        f.attrs["class_names"] = CLASSES
        g = f.create_group("parameters")
        for name, value in parameters.items():
            g.create_dataset(name, data=value)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "huge-images-idx3-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">III", 10_000_000, 28, 28) + bytes(8))
    with open(os.path.join(OUT, "huge-labels-idx1-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 10_000_000))
    with h5py.File(os.path.join(OUT, "sparse.h5"), "w") as f:
        f.create_dataset("x", shape=(10**9, 1, 28, 28), dtype="f4", chunks=(1, 1, 28, 28))
        f.create_dataset("y", shape=(10**9,), dtype="i8", chunks=(1024,))
    flatten = {"name": "flatten", "type": "Flatten", "config": {"order": "channels_first"}}
    native(os.path.join(OUT, "huge-dense.h5"),
           [flatten, {"name": "fc1", "type": "Dense", "config": {"in_features": 784, "out_features": 100_000_000, "bias": True}},
            {"name": "relu", "type": "ReLU"},
            {"name": "fc2", "type": "Dense", "config": {"in_features": 100_000_000, "out_features": 10, "bias": True}}], {})
    rng = np.random.default_rng(0)
    native(os.path.join(OUT, "nonfinite.h5"),
           [flatten, {"name": "fc1", "type": "Dense", "config": {"in_features": 784, "out_features": 50, "bias": True}},
            {"name": "relu", "type": "ReLU"},
            {"name": "fc2", "type": "Dense", "config": {"in_features": 50, "out_features": 10, "bias": True}}],
           {"fc1.weight": (rng.standard_normal((50, 784)) * 1e30).astype(np.float32),
            "fc1.bias": np.zeros(50, dtype=np.float32),
            "fc2.weight": (rng.standard_normal((10, 50)) * 1e30).astype(np.float32),
            "fc2.bias": np.zeros(10, dtype=np.float32)})
    with open(os.path.join(OUT, "deep.yaml"), "w") as f:
        f.write("samples: " + "[" * 100_000 + "1" + "]" * 100_000 + "\n")
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("samples: *a9")
    with open(os.path.join(OUT, "alias-bomb.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
