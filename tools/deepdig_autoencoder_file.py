#!/usr/bin/env python3
"""Writes a Borderline native model file holding a DeepDIG autoencoder shaped like the paper's
Table 2 (MNIST / Fashion-MNIST) with PyTorch's default initial weights (seeded), for
`--set deepdig.autoencoder=FILE` (docs/deepdig.md, "Component I / II"):

    [1, 28, 28] -> Flatten - Linear(784,100) - ReLU - Linear(100,50) - ReLU - Linear(50,784) - Sigmoid - Reshape -> [1, 28, 28]

    python3 tools/deepdig_autoencoder_file.py /tmp/ae.h5 [seed]
"""
import json, sys
from collections import OrderedDict
import h5py, torch, torch.nn as nn

def main():
    path = sys.argv[1]
    torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    ae = nn.Sequential(OrderedDict([
        ("enc1", nn.Linear(784, 100)), ("dec1", nn.Linear(100, 50)), ("dec2", nn.Linear(50, 784)),
    ]))
    architecture = {
        "input_shape": [1, 28, 28],
        "layers": [
            {"name": "flatten", "type": "Flatten"},
            {"name": "enc1", "type": "Dense", "config": {"in_features": 784, "out_features": 100}},
            {"name": "enc1_relu", "type": "ReLU"},
            {"name": "dec1", "type": "Dense", "config": {"in_features": 100, "out_features": 50}},
            {"name": "dec1_relu", "type": "ReLU"},
            {"name": "dec2", "type": "Dense", "config": {"in_features": 50, "out_features": 784}},
            {"name": "dec2_sigmoid", "type": "Sigmoid"},
            {"name": "image", "type": "Reshape", "config": {"shape": [1, 28, 28]}},
        ],
        "metadata": {"written_by": "tools/deepdig_autoencoder_file.py"},
    }
    with h5py.File(path, "w") as f:   # docs/model-format.md, "Writing a native file from PyTorch"
        f.attrs["format"] = "borderline.model"
        f.attrs["format_version"] = 1
        f.attrs["architecture"] = json.dumps(architecture)
        f.attrs["input_shape"] = architecture["input_shape"]
        f.attrs["class_names"] = []
        g = f.create_group("parameters")
        for key, value in ae.state_dict().items():
            g.create_dataset(key, data=value.detach().numpy().astype("float32"))
    print(f"wrote {path}: {sum(p.numel() for p in ae.parameters())} parameters")

if __name__ == "__main__":
    main()
