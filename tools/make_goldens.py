#!/usr/bin/env python3
"""Generate the golden files that the Swift tests compare against.

Run from the repository root:

    pip install -r tools/requirements.txt      # torch, keras 3, jax, h5py, numpy
    python3 tools/make_goldens.py              # writes Tests/BorderlineCoreTests/Golden/*

The outputs are committed; CI only reads them, it never runs this script. Python is a
development tool here, never a runtime dependency of Borderline.

Everything is seeded, and the script is deterministic on one machine (float32, one torch
thread). Four models with random (untrained) weights are written:

    cnn      the paper's Fashion-MNIST CNN          input [1, 28, 28]   10 logits   14,070 params
    fcn      the paper's fully connected network    input [1, 28, 28]   10 logits   42,310 params
    resnet   small residual CNN, BatchNorm (inference, non-trivial running stats),
             AvgPool, GlobalAvgPool, Dropout, asymmetric ("same") stride-2 conv
                                                    input [3, 16, 16]    5 logits
    decoder  Dense -> Reshape -> ConvTranspose2D -> LeakyReLU -> stride-2 padded Conv2D
             -> Tanh -> ConvTranspose2D (output_padding) -> Sigmoid -> Flatten
                                                    input [8]          196 outputs

For each model <m>:

    <m>.native.h5    the native format (docs/model-format.md, written with save_borderline)
    <m>.torch.h5     the plain state_dict exported with h5py (datasets at the root)
    <m>.arch.json    the architecture JSON for <m>.torch.h5
    <m>.keras.h5     an equivalent Keras 3 model, legacy HDF5 (cnn, fcn, resnet only)
    <m>.expected.h5  inputs, logits, embedding, gradients (+ training-step goldens for cnn)

Checks performed before anything is written (assertions):
    * parameter counts of cnn and fcn;
    * a reference interpreter of the architecture JSON (torch.nn.functional), fed the native
      file's parameters, reproduces the torch module's logits;
    * the Keras model's outputs on the NHWC inputs equal torch's logits (softmax of them for
      the cnn, whose Keras version ends in a softmax) to 1e-5;
    * a reference importer of the Keras .h5 file that follows only the rules of
      docs/model-format.md (weight_names, kernel transposes, Flatten order channels_last,
      activation splitting, final-softmax removal, "same" padding to explicit padding)
      reproduces torch's logits through the same interpreter.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import OrderedDict
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "BorderlineCoreTests" / "Golden"

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
BATCH = 8            # samples in x of every <m>.expected.h5
TRAIN_BATCH = 16     # samples of the cnn training-step golden
KERAS_TOL = 1e-5
INTERP_TOL = 1e-5

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------------
# Native format (verbatim from docs/model-format.md, except that class_names is always written
# as a string array; h5py would store an empty Python list as an empty float64 array).

def save_borderline(module: torch.nn.Module, architecture: dict, path: str):
    """architecture: the JSON above; its layer names must match the module's state_dict prefixes."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "borderline.model"
        f.attrs["format_version"] = 1
        f.attrs["architecture"] = json.dumps(architecture)
        f.attrs["input_shape"] = architecture["input_shape"]
        f.attrs.create("class_names", data=list(architecture.get("class_names", [])),
                       dtype=h5py.string_dtype())
        g = f.create_group("parameters")
        for key, value in module.state_dict().items():
            if key.endswith("num_batches_tracked"):
                continue
            g.create_dataset(key, data=value.detach().cpu().numpy().astype("float32"))


def save_state_dict_h5(module: torch.nn.Module, path: str):
    """The plain state_dict, one dataset per key at the root (num_batches_tracked included,
    as a user's export would have it; the loader ignores it)."""
    with h5py.File(path, "w") as f:
        for key, value in module.state_dict().items():
            f.create_dataset(key, data=value.detach().cpu().numpy())


# ----------------------------------------------------------------------------------------------
# Small modules for layers torch has no module for (their names appear in the architecture).

class Add(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class GlobalAvgPool2d(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Reshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Conv2dPadded(nn.Conv2d):
    """Conv2d with explicit [top, bottom, left, right] zero padding (TensorFlow's "same" with
    stride 2 on an even size pads one more row/column at the end than at the start)."""

    def __init__(self, *args, pad_tblr=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, padding=0, **kwargs)
        self.pad_tblr = tuple(pad_tblr)

    def forward(self, x):
        t, b, l, r = self.pad_tblr
        return super().forward(F.pad(x, (l, r, t, b)))


# ----------------------------------------------------------------------------------------------
# The four models.

def scale_weights(module: nn.Module, gain: float):
    """Default init is U(±1/sqrt(fan_in)); multiplying by sqrt(6) gives He-uniform, so that
    activations (and logits) stay O(1) through the ReLU stacks."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                m.weight.mul_(gain)
                if m.bias is not None:
                    m.bias.mul_(gain)


def build_cnn() -> tuple[nn.Module, dict]:
    torch.manual_seed(1001)
    model = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 10, 3)),
        ("pool1", nn.MaxPool2d(2)),
        ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(10, 10, 3)),
        ("pool2", nn.MaxPool2d(2)),
        ("relu2", nn.ReLU()),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(250, 50)),
        ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(50, 10)),
    ]))
    scale_weights(model, math.sqrt(6))
    # Minimal configs on purpose: these exercise the documented defaults.
    arch = {
        "input_shape": [1, 28, 28],
        "class_names": FASHION_CLASSES,
        "layers": [
            {"name": "conv1", "type": "Conv2D",
             "config": {"in_channels": 1, "out_channels": 10, "kernel_size": [3, 3]}},
            {"name": "pool1", "type": "MaxPool2D", "config": {"kernel_size": [2, 2]}},
            {"name": "relu1", "type": "ReLU"},
            {"name": "conv2", "type": "Conv2D",
             "config": {"in_channels": 10, "out_channels": 10, "kernel_size": [3, 3]}},
            {"name": "pool2", "type": "MaxPool2D", "config": {"kernel_size": [2, 2]}},
            {"name": "relu2", "type": "ReLU"},
            {"name": "flatten", "type": "Flatten"},
            {"name": "fc1", "type": "Dense", "config": {"in_features": 250, "out_features": 50}},
            {"name": "relu3", "type": "ReLU"},
            {"name": "fc2", "type": "Dense", "config": {"in_features": 50, "out_features": 10}},
        ],
        "output": "fc2",
        "embedding": "relu3",
    }
    return model, arch


def build_fcn() -> tuple[nn.Module, dict]:
    torch.manual_seed(1002)
    model = nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(784, 50)),
        ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(50, 50)),
        ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(50, 10)),
    ]))
    scale_weights(model, math.sqrt(6))
    # Fully explicit configs (every key written, including defaults).
    arch = {
        "input_shape": [1, 28, 28],
        "class_names": FASHION_CLASSES,
        "layers": [
            {"name": "flatten", "type": "Flatten", "inputs": ["input"],
             "config": {"order": "channels_first"}},
            {"name": "fc1", "type": "Dense", "inputs": ["flatten"],
             "config": {"in_features": 784, "out_features": 50, "bias": True}},
            {"name": "relu1", "type": "ReLU", "inputs": ["fc1"]},
            {"name": "fc2", "type": "Dense", "inputs": ["relu1"],
             "config": {"in_features": 50, "out_features": 50, "bias": True}},
            {"name": "relu2", "type": "ReLU", "inputs": ["fc2"]},
            {"name": "fc3", "type": "Dense", "inputs": ["relu2"],
             "config": {"in_features": 50, "out_features": 10, "bias": True}},
        ],
        "output": "fc3",
        "embedding": "relu2",
    }
    return model, arch


class ResNetSmall(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(3, 8, 3, padding=1)),
            ("bn", nn.BatchNorm2d(8)),
            ("relu", nn.ReLU()),
        ]))
        self.block = nn.ModuleDict(OrderedDict([
            ("conv1", nn.Conv2d(8, 8, 3, padding=1, bias=False)),
            ("bn1", nn.BatchNorm2d(8)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(8, 8, 3, padding=1, bias=False)),
            ("bn2", nn.BatchNorm2d(8)),
            ("add", Add()),
            ("relu", nn.ReLU()),
        ]))
        self.down = nn.Sequential(OrderedDict([
            ("conv", Conv2dPadded(8, 16, 3, stride=2, pad_tblr=(0, 1, 0, 1), bias=False)),
            ("bn", nn.BatchNorm2d(16)),
            ("relu", nn.ReLU()),
        ]))
        self.pool = nn.AvgPool2d(2)
        self.gap = GlobalAvgPool2d()
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        s = self.stem(x)
        b = self.block
        y = b.bn2(b.conv2(b.relu1(b.bn1(b.conv1(s)))))
        y = b.relu(b.add(y, s))
        y = self.down(y)
        return self.fc(self.dropout(self.gap(self.pool(y))))


def build_resnet() -> tuple[nn.Module, dict]:
    torch.manual_seed(1003)
    model = ResNetSmall()
    scale_weights(model, math.sqrt(6))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.empty(n).uniform_(0.5, 1.5))
                m.bias.copy_(torch.randn(n) * 0.2)
                m.running_mean.copy_(torch.randn(n) * 0.3)
                m.running_var.copy_(torch.empty(n).uniform_(0.3, 2.0))
                m.num_batches_tracked.fill_(100)

    def conv(name, cin, cout, stride, padding, bias, inputs=None):
        d = {"name": name, "type": "Conv2D",
             "config": {"in_channels": cin, "out_channels": cout, "kernel_size": [3, 3],
                        "stride": [stride, stride], "padding": padding, "bias": bias}}
        if inputs:
            d["inputs"] = inputs
        return d

    def bn(name, n):
        return {"name": name, "type": "BatchNorm",
                "config": {"num_features": n, "eps": 1e-5, "momentum": 0.1}}

    arch = {
        "input_shape": [3, 16, 16],
        "class_names": [f"class{i}" for i in range(5)],
        "layers": [
            conv("stem.conv", 3, 8, 1, [1, 1], True),
            bn("stem.bn", 8),
            {"name": "stem.relu", "type": "ReLU"},
            conv("block.conv1", 8, 8, 1, [1, 1], False),
            bn("block.bn1", 8),
            {"name": "block.relu1", "type": "ReLU"},
            conv("block.conv2", 8, 8, 1, [1, 1], False),
            bn("block.bn2", 8),
            {"name": "block.add", "type": "Add", "inputs": ["block.bn2", "stem.relu"]},
            {"name": "block.relu", "type": "ReLU"},
            conv("down.conv", 8, 16, 2, [0, 1, 0, 1], False),
            bn("down.bn", 16),
            {"name": "down.relu", "type": "ReLU"},
            {"name": "pool", "type": "AvgPool2D", "config": {"kernel_size": [2, 2]}},
            {"name": "gap", "type": "GlobalAvgPool2D"},
            {"name": "dropout", "type": "Dropout", "config": {"p": 0.5}},
            {"name": "fc", "type": "Dense", "config": {"in_features": 16, "out_features": 5}},
        ],
        "output": "fc",
        "embedding": "gap",
    }
    return model, arch


def build_decoder() -> tuple[nn.Module, dict]:
    torch.manual_seed(1004)
    model = nn.Sequential(OrderedDict([
        ("fc", nn.Linear(8, 4 * 7 * 7)),
        ("relu", nn.ReLU()),
        ("reshape", Reshape(4, 7, 7)),
        ("deconv", nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1)),      # -> [3, 14, 14]
        ("lrelu", nn.LeakyReLU(0.2)),
        ("conv", nn.Conv2d(3, 2, 3, stride=2, padding=1)),                 # -> [2, 7, 7]
        ("tanh", nn.Tanh()),
        ("up", nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1, output_padding=1,
                                  bias=False)),                            # -> [1, 14, 14]
        ("sigmoid", nn.Sigmoid()),
        ("flatten", nn.Flatten()),                                         # -> [196]
    ]))
    scale_weights(model, math.sqrt(6))
    arch = {
        "input_shape": [8],
        "class_names": [],
        "layers": [
            {"name": "fc", "type": "Dense", "config": {"in_features": 8, "out_features": 196}},
            {"name": "relu", "type": "ReLU"},
            {"name": "reshape", "type": "Reshape", "config": {"shape": [4, 7, 7]}},
            {"name": "deconv", "type": "ConvTranspose2D",
             "config": {"in_channels": 4, "out_channels": 3, "kernel_size": [4, 4],
                        "stride": [2, 2], "padding": [1, 1]}},
            {"name": "lrelu", "type": "LeakyReLU", "config": {"negative_slope": 0.2}},
            {"name": "conv", "type": "Conv2D",
             "config": {"in_channels": 3, "out_channels": 2, "kernel_size": [3, 3],
                        "stride": [2, 2], "padding": [1, 1]}},
            {"name": "tanh", "type": "Tanh"},
            {"name": "up", "type": "ConvTranspose2D",
             "config": {"in_channels": 2, "out_channels": 1, "kernel_size": [3, 3],
                        "stride": [2, 2], "padding": [1, 1], "output_padding": [1, 1],
                        "bias": False}},
            {"name": "sigmoid", "type": "Sigmoid"},
            {"name": "flatten", "type": "Flatten"},
        ],
        "output": "flatten",
    }
    return model, arch


# ----------------------------------------------------------------------------------------------
# Reference interpreter of the architecture JSON (what the Swift engine must compute).

def _pair(v, default):
    if v is None:
        v = default
    if isinstance(v, int):
        return [v, v]
    return list(v)


def interpret(arch: dict, params: dict[str, torch.Tensor], x: torch.Tensor,
              keep: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    values = {"input": x}
    prev = "input"
    for layer in arch["layers"]:
        name, kind, cfg = layer["name"], layer["type"], layer.get("config", {})
        ins = [values[i] for i in layer.get("inputs", [prev])]
        h = ins[0]
        p = lambda k: params.get(f"{name}.{k}")  # noqa: E731
        if kind == "Dense":
            assert tuple(p("weight").shape) == (cfg["out_features"], cfg["in_features"])
            y = F.linear(h, p("weight"), p("bias") if cfg.get("bias", True) else None)
        elif kind in ("Conv2D", "ConvTranspose2D"):
            stride = _pair(cfg.get("stride"), [1, 1])
            pad = _pair(cfg.get("padding"), [0, 0])
            bias = p("bias") if cfg.get("bias", True) else None
            if kind == "Conv2D":
                if len(pad) == 4:
                    t, b, l, r = pad
                    h, pad = F.pad(h, (l, r, t, b)), [0, 0]
                y = F.conv2d(h, p("weight"), bias, stride, pad)
            else:
                y = F.conv_transpose2d(h, p("weight"), bias, stride, pad,
                                       _pair(cfg.get("output_padding"), [0, 0]))
        elif kind in ("MaxPool2D", "AvgPool2D"):
            k = _pair(cfg["kernel_size"], None)
            s = _pair(cfg.get("stride"), k)
            pad = _pair(cfg.get("padding"), [0, 0])
            if kind == "MaxPool2D":
                y = F.max_pool2d(h, k, s, pad)
            else:
                y = F.avg_pool2d(h, k, s, pad, count_include_pad=True)
        elif kind == "GlobalAvgPool2D":
            y = h.mean(dim=(2, 3))
        elif kind == "BatchNorm":
            y = F.batch_norm(h, p("running_mean"), p("running_var"), p("weight"), p("bias"),
                             training=False, eps=cfg.get("eps", 1e-5))
        elif kind == "ReLU":
            y = F.relu(h)
        elif kind == "Sigmoid":
            y = torch.sigmoid(h)
        elif kind == "Tanh":
            y = torch.tanh(h)
        elif kind == "LeakyReLU":
            y = F.leaky_relu(h, cfg.get("negative_slope", 0.01))
        elif kind == "Softmax":
            y = F.softmax(h, dim=1)
        elif kind == "Flatten":
            if cfg.get("order", "channels_first") == "channels_last" and h.dim() == 4:
                h = h.permute(0, 2, 3, 1)
            y = h.reshape(h.shape[0], -1)
        elif kind == "Reshape":
            y = h.reshape(h.shape[0], *cfg["shape"])
        elif kind == "Dropout":
            y = h
        elif kind == "Add":
            y = ins[0]
            for other in ins[1:]:
                y = y + other
        else:
            raise ValueError(f"unknown layer type {kind}")
        values[name] = y
        prev = name
    out = {"output": values[arch.get("output", prev)]}
    for k in keep:
        out[k] = values[k]
    return out


def read_native(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "borderline.model"
        arch = json.loads(f.attrs["architecture"])
        params = {k: torch.from_numpy(np.asarray(v)) for k, v in f["parameters"].items()}
    return arch, params


# ----------------------------------------------------------------------------------------------
# Keras: building equivalent models, and a reference importer following docs/model-format.md.

def keras_modules():
    import keras
    from keras import layers
    keras.utils.set_random_seed(7)
    return keras, layers


def np_(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def conv_kernel(w: torch.Tensor) -> np.ndarray:          # (out, in, kh, kw) -> (kh, kw, in, out)
    return np.ascontiguousarray(np_(w).transpose(2, 3, 1, 0))


def dense_kernel(w: torch.Tensor) -> np.ndarray:         # (out, in) -> (in, out)
    return np.ascontiguousarray(np_(w).T)


def keras_cnn(model: nn.Module, final_activation: str | None):
    keras, layers = keras_modules()
    km = keras.Sequential([
        keras.Input((28, 28, 1)),
        # relu(maxpool(x)) == maxpool(relu(x)): Keras users write the activation inline.
        layers.Conv2D(10, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(10, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(50, activation="relu", name="fc1"),
        layers.Dense(10, activation=final_activation, name="fc2"),
    ], name="cnn")
    sd = model.state_dict()
    km.get_layer("conv1").set_weights([conv_kernel(sd["conv1.weight"]), np_(sd["conv1.bias"])])
    km.get_layer("conv2").set_weights([conv_kernel(sd["conv2.weight"]), np_(sd["conv2.bias"])])
    # torch flattens [C=10, H=5, W=5] as c*25 + h*5 + w, Keras [H, W, C] as h*50 + w*10 + c.
    w1 = np_(sd["fc1.weight"]).reshape(50, 10, 5, 5).transpose(0, 2, 3, 1).reshape(50, 250)
    km.get_layer("fc1").set_weights([np.ascontiguousarray(w1.T), np_(sd["fc1.bias"])])
    km.get_layer("fc2").set_weights([dense_kernel(sd["fc2.weight"]), np_(sd["fc2.bias"])])
    return km


def keras_fcn(model: nn.Module):
    keras, layers = keras_modules()
    km = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Flatten(name="flatten"),          # C = 1: HWC order == CHW order
        layers.Dense(50, activation="relu", name="fc1"),
        layers.Dense(50, activation="relu", name="fc2"),
        layers.Dense(10, name="fc3"),
    ], name="fcn")
    sd = model.state_dict()
    for n in ("fc1", "fc2", "fc3"):
        km.get_layer(n).set_weights([dense_kernel(sd[f"{n}.weight"]), np_(sd[f"{n}.bias"])])
    return km


def keras_resnet(model: nn.Module):
    keras, layers = keras_modules()
    sd = model.state_dict()

    def bn(name, prefix):
        layer = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)
        return layer, [np_(sd[f"{prefix}.weight"]), np_(sd[f"{prefix}.bias"]),
                       np_(sd[f"{prefix}.running_mean"]), np_(sd[f"{prefix}.running_var"])]

    weights = {}

    def apply(layer, w, x):
        y = layer(x)
        if w is not None:
            weights[layer.name] = w
        return y

    inp = keras.Input((16, 16, 3), name="input")
    x = apply(layers.Conv2D(8, 3, padding="same", name="stem_conv"),
              [conv_kernel(sd["stem.conv.weight"]), np_(sd["stem.conv.bias"])], inp)
    x = apply(*bn("stem_bn", "stem.bn"), x)
    s = layers.Activation("relu", name="stem_relu")(x)
    y = apply(layers.Conv2D(8, 3, padding="same", use_bias=False, name="block_conv1"),
              [conv_kernel(sd["block.conv1.weight"])], s)
    y = apply(*bn("block_bn1", "block.bn1"), y)
    y = layers.Activation("relu", name="block_relu1")(y)
    y = apply(layers.Conv2D(8, 3, padding="same", use_bias=False, name="block_conv2"),
              [conv_kernel(sd["block.conv2.weight"])], y)
    y = apply(*bn("block_bn2", "block.bn2"), y)
    y = layers.Add(name="block_add")([y, s])
    y = layers.ReLU(name="block_relu")(y)                 # the ReLU layer class, not Activation
    # TensorFlow "same" with stride 2 on 16x16 pads 0 before and 1 after (torch: down.conv).
    y = apply(layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="down_conv"),
              [conv_kernel(sd["down.conv.weight"])], y)
    y = apply(*bn("down_bn", "down.bn"), y)
    y = layers.Activation("relu", name="down_relu")(y)
    y = layers.AveragePooling2D(2, name="pool")(y)
    y = layers.GlobalAveragePooling2D(name="gap")(y)
    y = layers.Dropout(0.5, name="dropout")(y)
    out = apply(layers.Dense(5, name="fc"), [dense_kernel(sd["fc.weight"]), np_(sd["fc.bias"])], y)
    km = keras.Model(inp, out, name="resnet")
    for name, w in weights.items():
        km.get_layer(name).set_weights(w)
    return km


def keras_predict(km, x_nchw: torch.Tensor) -> np.ndarray:
    x = np_(x_nchw)
    if x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
    return np.asarray(km(np.ascontiguousarray(x), training=False))


def _strings(v) -> list[str]:
    """Keras 3 writes string lists as variable-length strings, but an EMPTY list as an empty
    float64 array; Keras 2 wrote fixed-length byte strings. Accept all of them."""
    a = np.asarray(v)
    if a.size == 0:
        return []
    return [s.decode() if isinstance(s, bytes) else str(s) for s in a.reshape(-1)]


def _same_padding(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def import_keras(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """A reference importer that uses only what docs/model-format.md promises."""
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
        mw = f["model_weights"]
        weights = {}
        for lname in _strings(mw.attrs["layer_names"]):
            g = mw[lname]
            weights[lname] = [np.asarray(g[w]) for w in _strings(g.attrs["weight_names"])]
    kind = cfg["class_name"]
    klayers = cfg["config"]["layers"]
    # Keras tensors are channels_last; shapes are tracked in NCHW terms. `alias` maps a Keras
    # layer name to the engine layer that holds its output (the input layer becomes "input",
    # a layer with an inline activation becomes its split-off activation layer).
    shapes: dict[str, list[int]] = {}
    alias: dict[str, str] = {}
    arch_layers: list[dict] = []
    params: dict[str, torch.Tensor] = {}
    metadata: dict = {}
    input_shape = None
    prev = None
    acts = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}

    def inputs_of(kl) -> list[str]:
        if kind == "Sequential":
            return [prev]
        srcs = []

        def walk(o):
            if isinstance(o, dict):
                if o.get("class_name") == "__keras_tensor__":
                    srcs.append(alias[o["config"]["keras_history"][0]])
                else:
                    for v in o.values():
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(kl["inbound_nodes"][0]["args"])
        return srcs

    def emit(keras_name, name, typ, ins, shape, config=None):
        nonlocal prev
        d = {"name": name, "type": typ, "inputs": ins}
        if config:
            d["config"] = config
        arch_layers.append(d)
        shapes[name] = shape
        alias[keras_name] = name
        prev = name

    def split_activation(keras_name, act):
        if act not in (None, "linear"):
            emit(keras_name, f"{keras_name}_{act}", acts[act], [prev], shapes[prev])

    for kl in klayers:
        cls, c = kl["class_name"], kl["config"]
        name = c["name"]
        if cls == "InputLayer":
            b = c["batch_shape"][1:]
            input_shape = [b[2], b[0], b[1]] if len(b) == 3 else list(b)
            shapes["input"] = input_shape
            alias[name] = prev = "input"
            continue
        assert prev is not None, "model without InputLayer"
        ins = inputs_of(kl)
        src_shape = shapes[ins[0]]
        w = weights.get(name, [])
        if cls == "Conv2D":
            cin, h, wd = src_shape
            kh, kw = c["kernel_size"]
            sh, sw = c["strides"]
            t = b = lft = rt = 0
            if c["padding"] == "same":
                t, b = _same_padding(h, kh, sh)
                lft, rt = _same_padding(wd, kw, sw)
            pad = [t, lft] if (t == b and lft == rt) else [t, b, lft, rt]
            oh, ow = (h + t + b - kh) // sh + 1, (wd + lft + rt - kw) // sw + 1
            params[f"{name}.weight"] = torch.from_numpy(w[0].transpose(3, 2, 0, 1).copy())
            if c["use_bias"]:
                params[f"{name}.bias"] = torch.from_numpy(w[1])
            emit(name, name, "Conv2D", ins, [c["filters"], oh, ow],
                 {"in_channels": cin, "out_channels": c["filters"], "kernel_size": [kh, kw],
                  "stride": [sh, sw], "padding": pad, "bias": c["use_bias"]})
            split_activation(name, c["activation"])
        elif cls == "Dense":
            params[f"{name}.weight"] = torch.from_numpy(w[0].T.copy())
            if c["use_bias"]:
                params[f"{name}.bias"] = torch.from_numpy(w[1])
            emit(name, name, "Dense", ins, [c["units"]],
                 {"in_features": w[0].shape[0], "out_features": c["units"],
                  "bias": c["use_bias"]})
            split_activation(name, c["activation"])
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            assert c["padding"] == "valid"
            cin, h, wd = src_shape
            k, s = c["pool_size"], c["strides"] or c["pool_size"]
            emit(name, name, "MaxPool2D" if cls == "MaxPooling2D" else "AvgPool2D", ins,
                 [cin, (h - k[0]) // s[0] + 1, (wd - k[1]) // s[1] + 1],
                 {"kernel_size": k, "stride": s})
        elif cls == "GlobalAveragePooling2D":
            emit(name, name, "GlobalAvgPool2D", ins, [src_shape[0]])
        elif cls == "Flatten":
            emit(name, name, "Flatten", ins, [int(np.prod(src_shape))],
                 {"order": "channels_last"})
        elif cls == "BatchNormalization":
            for key, arr in zip(("weight", "bias", "running_mean", "running_var"), w):
                params[f"{name}.{key}"] = torch.from_numpy(arr)
            emit(name, name, "BatchNorm", ins, src_shape,
                 {"num_features": src_shape[0], "eps": c["epsilon"],
                  "momentum": 1 - c["momentum"]})
        elif cls == "Activation":
            emit(name, name, acts[c["activation"]], ins, src_shape)
        elif cls == "ReLU":
            emit(name, name, "ReLU", ins, src_shape)
        elif cls == "Dropout":
            emit(name, name, "Dropout", ins, src_shape, {"p": c["rate"]})
        elif cls == "Add":
            emit(name, name, "Add", ins, src_shape)
        else:
            raise ValueError(f"reference importer: unsupported Keras layer {cls}")
    if kind == "Sequential":
        output = prev
    else:
        out = cfg["config"]["output_layers"]
        output = alias[out[0] if isinstance(out[0], str) else out[0][0]]
    last = next(l for l in arch_layers if l["name"] == output)
    if last["type"] == "Softmax":
        arch_layers.remove(last)
        output = last["inputs"][0]
        metadata["removed_output_activation"] = "softmax"
    arch = {"input_shape": input_shape, "layers": arch_layers, "output": output,
            "metadata": metadata}
    return arch, params


# ----------------------------------------------------------------------------------------------
# Goldens.

def capture(model: nn.Module, x: torch.Tensor, embedding: str | None):
    store = {}
    handle = None
    if embedding:
        handle = model.get_submodule(embedding).register_forward_hook(
            lambda _m, _i, out: store.__setitem__("e", out))
    out = model(x)
    if handle:
        handle.remove()
    return out, store.get("e")


def input_gradients(model: nn.Module, x: torch.Tensor, cotangent: torch.Tensor):
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    (g,) = torch.autograd.grad((out * cotangent).sum(), xg)
    xt = x.clone().requires_grad_(True)
    out = model(xt)
    (gt,) = torch.autograd.grad(out.max(dim=1).values.sum(), xt)
    return g, gt


def write_expected(path: Path, name: str, model: nn.Module, arch: dict, seed: int,
                   extra=None) -> dict:
    gen = torch.Generator().manual_seed(seed)
    shape = [BATCH] + arch["input_shape"]
    if len(arch["input_shape"]) == 3:
        x = torch.rand(shape, generator=gen)                # images: uniform [0, 1]
    else:
        x = torch.randn(shape, generator=gen)               # latent codes: standard normal
    model.eval()
    with torch.no_grad():
        logits, emb = capture(model, x, arch.get("embedding"))
    cot = torch.randn(logits.shape, generator=gen)
    g, gt = input_gradients(model, x, cot)
    with h5py.File(path, "w") as f:
        f.attrs["model"] = name
        f.attrs["generator"] = "tools/make_goldens.py"
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["seed"] = seed
        f.attrs["input_shape"] = arch["input_shape"]
        f.attrs["output"] = arch["output"]
        f.attrs["embedding"] = arch.get("embedding", "")
        f.attrs["input_gradient_definition"] = "d(sum(cotangent * logits)) / dx"
        f.attrs["input_gradient_top_definition"] = "d(sum_i max_j logits[i, j]) / dx"
        f.create_dataset("x", data=np_(x))
        f.create_dataset("logits", data=np_(logits))
        f.create_dataset("top_class", data=np_(logits.argmax(dim=1)))
        if emb is not None:
            f.create_dataset("embedding", data=np_(emb))
        f.create_dataset("cotangent", data=np_(cot))
        f.create_dataset("input_gradient", data=np_(g))
        f.create_dataset("input_gradient_top", data=np_(gt))
        if extra:
            extra(f)
    return {"x": x, "logits": logits, "embedding": emb}


def cnn_training_goldens(build, seed: int):
    """One Adam step and two SGD-momentum steps of mean cross-entropy, from fresh weights."""
    gen = torch.Generator().manual_seed(seed)
    tx = torch.rand([TRAIN_BATCH, 1, 28, 28], generator=gen)
    ty = torch.randint(0, 10, [TRAIN_BATCH], generator=gen)

    model, _ = build()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                           weight_decay=0.0, foreach=False)
    opt.zero_grad()
    loss = F.cross_entropy(model(tx), ty)
    loss.backward()
    grads = {k: np_(p.grad) for k, p in model.named_parameters()}
    opt.step()
    adam = {k: np_(v) for k, v in model.state_dict().items()}

    model, _ = build()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.0,
                          nesterov=False, weight_decay=0.0, foreach=False)
    sgd_losses = []
    for _ in range(2):
        opt.zero_grad()
        l = F.cross_entropy(model(tx), ty)
        l.backward()
        opt.step()
        sgd_losses.append(l.item())
    sgd = {k: np_(v) for k, v in model.state_dict().items()}
    assert abs(sgd_losses[0] - loss.item()) < 1e-6

    def extra(f):
        f.create_dataset("train_x", data=np_(tx))
        f.create_dataset("train_y", data=np_(ty))
        f.create_dataset("train_loss", data=np.float32(loss.item()))
        gg = f.create_group("train_gradient")
        gg.attrs["definition"] = "d(mean cross-entropy of train_x, train_y) / d(parameter), " \
                                 "at the initial weights"
        for k, v in grads.items():
            gg.create_dataset(k, data=v)
        ga = f.create_group("after_adam_step")
        ga.attrs.update({"optimizer": "Adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999,
                         "eps": 1e-8, "weight_decay": 0.0, "steps": 1,
                         "loss": "mean cross-entropy of train_x, train_y"})
        for k, v in adam.items():
            ga.create_dataset(k, data=v)
        gs = f.create_group("after_sgd_2steps")
        gs.attrs.update({"optimizer": "SGD", "lr": 0.1, "momentum": 0.9, "dampening": 0.0,
                         "nesterov": False, "weight_decay": 0.0, "steps": 2,
                         "convention": "buf = momentum*buf + grad (buf = grad at step 1); "
                                       "p -= lr*buf (PyTorch)",
                         "loss": "mean cross-entropy of train_x, train_y, same batch both steps"})
        for k, v in sgd.items():
            gs.create_dataset(k, data=v)
        f.create_dataset("sgd_losses", data=np.asarray(sgd_losses, dtype=np.float32))
    return extra


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    builders = {"cnn": build_cnn, "fcn": build_fcn, "resnet": build_resnet,
                "decoder": build_decoder}
    seeds = {"cnn": 2001, "fcn": 2002, "resnet": 2003, "decoder": 2004}
    summary = []
    for name, build in builders.items():
        model, arch = build()
        model.eval()
        arch = dict(arch)
        arch["metadata"] = {"generator": "tools/make_goldens.py",
                            "note": "random seeded weights, not trained"}
        nparams = sum(p.numel() for p in model.parameters())
        if name == "cnn":
            assert nparams == 14_070, nparams
        if name == "fcn":
            assert nparams == 42_310, nparams
        # Layer names must be the state_dict prefixes.
        names = {l["name"] for l in arch["layers"]}
        for key in model.state_dict():
            assert key.rsplit(".", 1)[0] in names, key

        native = OUT / f"{name}.native.h5"
        save_borderline(model, arch, str(native))
        save_state_dict_h5(model, str(OUT / f"{name}.torch.h5"))
        (OUT / f"{name}.arch.json").write_text(json.dumps(arch, indent=2) + "\n")

        extra = cnn_training_goldens(build, seeds[name] + 100) if name == "cnn" else None
        exp = write_expected(OUT / f"{name}.expected.h5", name, model, arch, seeds[name], extra)
        x, logits = exp["x"], exp["logits"]
        scale = logits.std().item()
        assert 0.1 < scale < 10, (name, scale)

        # The architecture JSON + native parameters reproduce the module.
        a2, p2 = read_native(native)
        keep = (a2["embedding"],) if a2.get("embedding") else ()
        with torch.no_grad():
            r = interpret(a2, p2, x, keep)
        err = (r["output"] - logits).abs().max().item()
        assert err < INTERP_TOL, (name, "interpreter", err)
        if keep:
            assert (r[keep[0]] - exp["embedding"]).abs().max().item() < INTERP_TOL

        # The plain state_dict file loads back into the module.
        with h5py.File(OUT / f"{name}.torch.h5", "r") as f:
            sd = {k: torch.from_numpy(np.asarray(v)) for k, v in f.items()}
        fresh, _ = build()
        fresh.load_state_dict(sd)
        fresh.eval()
        with torch.no_grad():
            assert torch.equal(fresh(x), logits)

        keras_err = import_err = None
        if name in ("cnn", "fcn", "resnet"):
            if name == "cnn":
                linear = keras_cnn(model, None)
                keras_err = float(np.abs(keras_predict(linear, x) - np_(logits)).max())
                km = keras_cnn(model, "softmax")
                probs = np_(torch.softmax(logits, dim=1))
                perr = float(np.abs(keras_predict(km, x) - probs).max())
                assert perr < KERAS_TOL, (name, "keras softmax", perr)
                import keras
                km.compile(optimizer=keras.optimizers.Adam(0.01),
                           loss="sparse_categorical_crossentropy")
            elif name == "fcn":
                km = keras_fcn(model)
                keras_err = float(np.abs(keras_predict(km, x) - np_(logits)).max())
            else:
                km = keras_resnet(model)
                keras_err = float(np.abs(keras_predict(km, x) - np_(logits)).max())
            assert keras_err < KERAS_TOL, (name, "keras", keras_err)
            kpath = OUT / f"{name}.keras.h5"
            if kpath.exists():
                kpath.unlink()
            km.save(str(kpath))
            ia, ip = import_keras(kpath)
            with torch.no_grad():
                r = interpret(ia, ip, x)
            import_err = (r["output"] - logits).abs().max().item()
            assert import_err < KERAS_TOL, (name, "keras import", import_err)

        files = sorted(OUT.glob(f"{name}.*"))
        summary.append((name, nparams, scale, err, keras_err, import_err,
                        {p.name: p.stat().st_size for p in files}))

    print(f"goldens written to {OUT.relative_to(ROOT)}")
    for name, n, scale, err, kerr, ierr, sizes in summary:
        line = (f"{name:8s} params={n:6d}  logit std={scale:.3f}  interp err={err:.1e}")
        if kerr is not None:
            line += f"  keras err={kerr:.1e}  keras-import err={ierr:.1e}"
        print(line)
        for fname, size in sizes.items():
            print(f"    {fname:28s} {size / 1024:8.1f} KiB")
    total = sum(p.stat().st_size for p in OUT.glob("*") if p.name != ".keep")
    print(f"total {total / 1024:.1f} KiB")


if __name__ == "__main__":
    sys.exit(main())
