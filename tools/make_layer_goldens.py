#!/usr/bin/env python3
"""Golden files for the layers beyond the paper's models: one small net per layer, built in
real PyTorch (or Keras 3 where the layer is a Keras one), plus a torchvision-style
MobileNet-like block net and a torchvision-style small ResNet.

Run from the repository root (see tools/requirements.txt for the versions used):

    python3 tools/make_layer_goldens.py          # writes Tests/BorderlineCoreTests/Golden/layers/*

The outputs are committed; the Swift tests (LayerGoldenTests) only read them.

Every net sees the same kind of inputs: 100 samples whose values are `code / divisor` with
`code` an integer 0…255 (stored as uint8, so the inputs cost a quarter of float32 and are
bit-identical in Python and Swift: float32(code) / float32(divisor) is correctly rounded in
both). The divisor is 255 (inputs in [0, 1]) except for the Rescaling nets (1: raw [0, 255]).
One-layer nets take [1, 4, 5] samples (non-square, so a swapped H/W shows), those whose layer
works per input channel (Rescaling, input normalisation, the Keras nets) [2, 4, 5], the block
nets [3, 6, 6]; all of it comes to about 540 KiB.

Files are written with libver v1.10 so that Debian's libhdf5 1.10, which Borderline links, reads
them (h5py's bundled libhdf5 would otherwise use newer chunk indexes); float arrays are deflated.

Files (in Golden/layers/):

    models.h5      one group per net in the native layout of docs/model-format.md (root
                   attributes format, format_version, architecture, input_shape, class_names on
                   the group; datasets /<net>/parameters/<layer>.<parameter>)
    expected.h5    /inputs/<key>: the input codes (uint8 [100, C, H, W]; attribute divisor),
                   shared by the nets of one input shape; one group per net: logits [100, K],
                   cotangent [100, K] (standard normal, seeded) and input_gradient =
                   d(Σ logits ⊙ cotangent)/dx [100, C, H, W] from the framework; attributes
                   input (the key under /inputs), framework ("torch 2.x" / "keras 3.x (jax)")
                   and layers (what the net exercises)
    mobilenet.native.h5                 the MobileNet-like net as a stand-alone native file
    resnet.arch.json, resnet.torch.h5   the small ResNet as architecture JSON + h5py state_dict

For PyTorch nets the architecture JSON is derived from the torch modules' own attributes
(`describe` below: nn.Conv2d's groups/dilation/padding, nn.LayerNorm's normalized_shape, …),
so the JSON states what torch computes. Keras nets are mapped by hand (Keras kernels
(kh, kw, in, out) → (out, in, kh, kw), channels-last Flatten).
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
OUT = ROOT / "Tests" / "BorderlineCoreTests" / "Golden" / "layers"
SAMPLES = 100
SMALL = [1, 4, 5]      # per-sample input of the one-layer nets (non-square on purpose)
WIDE = [2, 4, 5]       # ... of the nets whose layer works per input channel (and the Keras nets)
BLOCK = [3, 6, 6]      # input of the MobileNet-like and ResNet nets

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------------
# Modules for operations torch has no module for (their arch types are in `describe`).

class Cat(nn.Module):
    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


class Mul(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Add(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Clamp(nn.Module):
    """torch.clamp(x, min, max)."""

    def __init__(self, min=None, max=None):
        super().__init__()
        self.min, self.max = min, max

    def forward(self, x):
        return torch.clamp(x, self.min, self.max)


class Rescale(nn.Module):
    """x · scale + offset, scale/offset scalars or per channel (Keras Rescaling)."""

    def __init__(self, scale, offset):
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, x):
        s = torch.tensor(self.scale, dtype=torch.float32)
        o = torch.tensor(self.offset, dtype=torch.float32)
        if s.dim() == 1:
            s = s.view(1, -1, 1, 1)
        if o.dim() == 1:
            o = o.view(1, -1, 1, 1)
        return x * s + o


class Normalize(nn.Module):
    """torchvision.transforms.Normalize as a module: (x − mean[c]) / std[c]."""

    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x):
        m = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
        s = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
        return (x - m) / s


class PadConv2d(nn.Conv2d):
    """Conv2d after explicit zero padding (top, bottom, left, right), as ONNX/TF "same" pads."""

    def __init__(self, *args, pad_tblr=(0, 0, 0, 0), **kwargs):
        super().__init__(*args, padding=0, **kwargs)
        self.pad_tblr = tuple(pad_tblr)

    def forward(self, x):
        t, b, l, r = self.pad_tblr
        return super().forward(F.pad(x, (l, r, t, b)))


class Graph(nn.Module):
    """A DAG of named torch modules; `inputs` name earlier nodes or "input" (default: the
    previous node). The last node is the output."""

    def __init__(self, nodes):
        super().__init__()
        self.order = []
        for name, module, inputs in nodes:
            self.add_module(name, module)
            self.order.append((name, inputs))

    def forward(self, x):
        values, prev = {"input": x}, "input"
        for name, inputs in self.order:
            args = [values[i] for i in (inputs or [prev])]
            values[name] = getattr(self, name)(*args)
            prev = name
        return values[prev]


def node(name, module, inputs=None):
    return (name, module, inputs)


# ----------------------------------------------------------------------------------------------
# torch module → architecture-JSON layer (from the module's attributes).

def describe(m: nn.Module) -> tuple[str, dict]:
    if isinstance(m, nn.Conv2d):
        assert m.padding_mode == "zeros" and not isinstance(m.padding, str)
        pad = list(m.pad_tblr) if isinstance(m, PadConv2d) else list(m.padding)
        return "Conv2D", {"in_channels": m.in_channels, "out_channels": m.out_channels,
                          "kernel_size": list(m.kernel_size), "stride": list(m.stride),
                          "padding": pad, "dilation": list(m.dilation), "groups": m.groups,
                          "bias": m.bias is not None}
    if isinstance(m, nn.Linear):
        return "Dense", {"in_features": m.in_features, "out_features": m.out_features,
                         "bias": m.bias is not None}
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "BatchNorm", {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum}
    if isinstance(m, nn.ReLU6):
        return "ReLU6", {}
    if isinstance(m, nn.ReLU):
        return "ReLU", {}
    if isinstance(m, Clamp):
        cfg = {}
        if m.min is not None:
            cfg["min"] = m.min
        if m.max is not None:
            cfg["max"] = m.max
        return "Clip", cfg
    if isinstance(m, nn.GELU):
        return "GELU", {"approximate": m.approximate}
    if isinstance(m, nn.SiLU):
        return "SiLU", {}
    if isinstance(m, nn.ELU):
        return "ELU", {"alpha": m.alpha}
    if isinstance(m, nn.PReLU):
        return "PReLU", {"num_parameters": m.num_parameters}
    if isinstance(m, nn.Sigmoid):
        return "Sigmoid", {}
    if isinstance(m, nn.Tanh):
        return "Tanh", {}
    if isinstance(m, nn.LayerNorm):
        return "LayerNorm", {"normalized_shape": list(m.normalized_shape), "eps": m.eps,
                             "elementwise_affine": m.elementwise_affine,
                             "bias": m.bias is not None if m.elementwise_affine else False}
    if isinstance(m, nn.GroupNorm):
        return "GroupNorm", {"num_groups": m.num_groups, "num_channels": m.num_channels,
                             "eps": m.eps, "affine": m.affine}
    if isinstance(m, nn.AdaptiveAvgPool2d):
        size = m.output_size
        size = [size, size] if isinstance(size, int) else list(size)
        return "AdaptiveAvgPool2D", {"output_size": size}
    if isinstance(m, nn.Upsample):
        assert m.mode == "nearest"
        s = m.scale_factor
        s = [int(s), int(s)] if isinstance(s, (int, float)) else [int(v) for v in s]
        return "UpSampling2D", {"scale_factor": s, "mode": "nearest"}
    if isinstance(m, nn.AvgPool2d):
        k = [m.kernel_size] * 2 if isinstance(m.kernel_size, int) else list(m.kernel_size)
        s = [m.stride] * 2 if isinstance(m.stride, int) else list(m.stride)
        p = [m.padding] * 2 if isinstance(m.padding, int) else list(m.padding)
        assert not m.ceil_mode and m.divisor_override is None
        return "AvgPool2D", {"kernel_size": k, "stride": s, "padding": p,
                             "count_include_pad": m.count_include_pad}
    if isinstance(m, nn.Flatten):
        return "Flatten", {}
    if isinstance(m, nn.Dropout):
        return "Dropout", {"p": m.p}
    if isinstance(m, Cat):
        return "Concatenate", {"axis": m.dim - 1}
    if isinstance(m, Mul):
        return "Multiply", {}
    if isinstance(m, Add):
        return "Add", {}
    if isinstance(m, Rescale):
        return "Rescaling", {"scale": m.scale, "offset": m.offset}
    if isinstance(m, Normalize):
        return "Normalization", {"mean": m.mean, "std": m.std}
    raise TypeError(f"no architecture type for {type(m).__name__}")


def graph_architecture(g: Graph, input_shape, classes: int, **extra) -> dict:
    layers = []
    for name, inputs in g.order:
        kind, cfg = describe(getattr(g, name))
        entry = {"name": name, "type": kind}
        if cfg:
            entry["config"] = cfg
        if inputs:
            entry["inputs"] = inputs
        layers.append(entry)
    arch = {"input_shape": list(input_shape), "class_names": [f"c{i}" for i in range(classes)],
            "layers": layers}
    arch.update(extra)
    return arch


def scale_weights(module: nn.Module, gain: float):
    """Default init is U(±1/√fan_in); a gain > 1 keeps activations O(1) and reaching the
    interesting parts of each non-linearity (negative side, clipping range)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(gain)
                if m.bias is not None:
                    m.bias.mul_(gain)


def randomize_norms(module: nn.Module):
    """Non-trivial affine parameters and running statistics for every normalisation layer."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.empty(n).uniform_(0.5, 1.5))
                m.bias.copy_(torch.randn(n) * 0.2)
                m.running_mean.copy_(torch.randn(n) * 0.3)
                m.running_var.copy_(torch.empty(n).uniform_(0.3, 2.0))
                m.num_batches_tracked.fill_(100)
            elif isinstance(m, (nn.LayerNorm, nn.GroupNorm)) and m.weight is not None:
                m.weight.copy_(torch.empty(m.weight.shape).uniform_(0.5, 1.5))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape) * 0.2)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(torch.empty(m.weight.shape).uniform_(-0.3, 0.6))


def flat(shape) -> int:
    return int(np.prod(shape))


# ----------------------------------------------------------------------------------------------
# The one-layer nets (PyTorch). Each returns (Graph, description, gain).

def conv_out(h, k, s=1, p=0, d=1):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def net_conv_grouped():
    C, H, W = SMALL
    return [
        node("expand", nn.Conv2d(C, 4, 1)),
        node("grouped", nn.Conv2d(4, 6, 3, padding=1, groups=2)),
        node("relu", nn.ReLU()),
        node("flatten", nn.Flatten()),
        node("fc", nn.Linear(6 * H * W, 3)),
    ], "Conv2D groups=2 (3×3, padding 1)", math.sqrt(6)


def net_conv_depthwise():
    C, H, W = SMALL
    oh, ow = conv_out(H, 3, 2, 1), conv_out(W, 3, 2, 1)
    return [
        node("expand", nn.Conv2d(C, 4, 1)),
        node("depthwise", nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4)),
        node("relu", nn.ReLU()),
        node("flatten", nn.Flatten()),
        node("fc", nn.Linear(8 * oh * ow, 3)),
    ], "depthwise Conv2D (groups = in_channels = 4, multiplier 2, stride 2)", math.sqrt(6)


def net_conv_dilated():
    C, H, W = SMALL
    # dilation 2 with padding 2 keeps H×W; then a grouped, dilated (1, 2), strided (1, 2) conv
    # with asymmetric padding (0, 1, 2, 1).
    oh = H + 0 + 1 - 2 + 1
    ow = (W + 2 + 1 - 5) // 2 + 1
    return [
        node("dilated", nn.Conv2d(C, 4, 3, padding=2, dilation=2)),
        node("tanh", nn.Tanh()),
        node("mixed", PadConv2d(4, 4, (2, 3), stride=(1, 2), dilation=(1, 2), groups=2, bias=False,
                                pad_tblr=(0, 1, 2, 1))),
        node("relu", nn.ReLU()),
        node("flatten", nn.Flatten()),
        node("fc", nn.Linear(4 * oh * ow, 3)),
    ], "Conv2D dilation 2 padding 2; dilation (1,2) stride (1,2) groups 2 asymmetric padding [0,1,2,1]", math.sqrt(6)


def head(shape, classes=3):
    """Flatten + Linear to the logits."""
    return [node("flatten", nn.Flatten()), node("fc", nn.Linear(flat(shape), classes))]


def net_concatenate():
    C, H, W = SMALL
    # Three inputs, one of them the model input itself; then a flat-feature concatenation.
    return [
        node("a", nn.Conv2d(C, 3, 1)),
        node("b", nn.Conv2d(C, 2, 3, padding=1), ["input"]),
        node("b_tanh", nn.Tanh()),
        node("cat", Cat(1), ["a", "b_tanh", "input"]),            # [3 + 2 + C, H, W]
        node("relu", nn.ReLU()),
        node("flatten", nn.Flatten()),
        node("gap", nn.AdaptiveAvgPool2d(1), ["relu"]),
        node("gap_flat", nn.Flatten()),
        node("features", Cat(1), ["flatten", "gap_flat"]),          # [(5 + C)·H·W + 5 + C]
        node("fc", nn.Linear((5 + C) * (H * W + 1), 3)),
    ], "Concatenate on channels (3 inputs incl. the model input) and on flat features", math.sqrt(6)


def net_multiply():
    C, H, W = SMALL
    # Squeeze-and-excitation: [4, 1, 1] gate × [4, H, W] features (broadcast), then a
    # three-input product with a same-shaped tanh branch.
    return [
        node("conv", nn.Conv2d(C, 4, 3, padding=1)),
        node("squeeze", nn.AdaptiveAvgPool2d(1), ["conv"]),
        node("reduce", nn.Conv2d(4, 2, 1)),
        node("reduce_relu", nn.ReLU()),
        node("expand", nn.Conv2d(2, 4, 1)),
        node("gate", nn.Sigmoid()),
        node("tanh", nn.Tanh(), ["conv"]),
        node("excite", Mul(), ["conv", "gate", "tanh"]),
        *head([4, H, W]),
    ], "Multiply: squeeze-excitation gate [4,1,1] × [4,H,W] × [4,H,W] (broadcasting, 3 inputs)", math.sqrt(6)


def net_layernorm():
    C, H, W = SMALL
    return [
        node("conv", nn.Conv2d(C, 4, 3, padding=1)),
        node("ln_chw", nn.LayerNorm([4, H, W])),
        node("ln_w", nn.LayerNorm(W, elementwise_affine=False)),
        node("flatten", nn.Flatten()),
        node("fc1", nn.Linear(4 * H * W, 8)),
        node("ln_f", nn.LayerNorm(8, eps=1e-3, bias=False)),
        node("fc", nn.Linear(8, 3)),
    ], "LayerNorm over [C,H,W] (affine), over [W] (no affine), over [F] (eps 1e-3, no bias)", math.sqrt(6)


def net_groupnorm():
    C, H, W = SMALL
    return [
        node("conv", nn.Conv2d(C, 6, 3, padding=1)),
        node("gn", nn.GroupNorm(3, 6)),
        node("relu", nn.ReLU()),
        node("conv2", nn.Conv2d(6, 4, 1)),
        node("gn2", nn.GroupNorm(1, 4, eps=1e-3, affine=False)),
        *head([4, H, W]),
    ], "GroupNorm(3 groups, 6 channels, affine); GroupNorm(1, 4, eps 1e-3, no affine)", math.sqrt(6)


def activation_net(module, what, gain=math.sqrt(6), channels=4):
    C, H, W = SMALL

    def build():
        return [
            node("conv", nn.Conv2d(C, channels, 3, padding=1)),
            node("act", module()),
            *head([channels, H, W]),
        ], what, gain
    return build


def net_clip():
    C, H, W = SMALL
    return [
        node("conv", nn.Conv2d(C, 4, 3, padding=1)),
        node("clip", Clamp(-0.5, 0.7)),
        node("conv2", nn.Conv2d(4, 4, 1)),
        node("clip_min", Clamp(min=-0.2)),
        *head([4, H, W]),
    ], "Clip [−0.5, 0.7] and Clip with only a lower bound (−0.2) (torch.clamp)", math.sqrt(6)


def net_prelu():
    C, H, W = SMALL
    return [
        node("conv", nn.Conv2d(C, 4, 3, padding=1)),
        node("prelu_c", nn.PReLU(4)),
        node("flatten", nn.Flatten()),
        node("fc1", nn.Linear(4 * H * W, 6)),
        node("prelu", nn.PReLU()),
        node("fc", nn.Linear(6, 3)),
    ], "PReLU per channel (4 slopes) and PReLU with one slope on flat features", math.sqrt(6)


def net_adaptive_pool():
    C, H, W = SMALL
    return [
        node("conv", nn.Conv2d(C, 3, 3, padding=1)),
        node("relu", nn.ReLU()),
        node("pool_small", nn.AdaptiveAvgPool2d((3, 2)), ["relu"]),  # 4×5 → 3×2: overlapping bins
        node("flat_small", nn.Flatten()),
        node("pool_large", nn.AdaptiveAvgPool2d((7, 8)), ["relu"]),  # 4×5 → 7×8: repeated pixels
        node("flat_large", nn.Flatten()),
        node("features", Cat(1), ["flat_small", "flat_large"]),
        node("fc", nn.Linear(3 * 3 * 2 + 3 * 7 * 8, 3)),
    ], "AdaptiveAvgPool2D (3,2) and (7,8) from 4×5 (PyTorch's bin rule)", math.sqrt(6)


def net_upsample():
    C, H, W = SMALL
    return [
        node("conv", nn.Conv2d(C, 2, 3, padding=1)),
        node("tanh", nn.Tanh()),
        node("up", nn.Upsample(scale_factor=(2, 3), mode="nearest")),
        node("conv2", nn.Conv2d(2, 2, 3, stride=2)),
        node("relu", nn.ReLU()),
        *head([2, (2 * H - 3) // 2 + 1, (3 * W - 3) // 2 + 1]),
    ], "UpSampling2D nearest, scale (2, 3), then a strided conv over it", math.sqrt(6)


def net_avgpool_exclude_pad():
    C, H, W = SMALL
    oh, ow = conv_out(H, 3, 2, 1), conv_out(W, 3, 2, 1)
    return [
        node("conv", nn.Conv2d(C, 3, 3, padding=1)),
        node("relu", nn.ReLU()),
        node("pool", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)),
        node("pool2", nn.AvgPool2d((2, 3), stride=1, padding=(1, 1), count_include_pad=False)),
        *head([3, oh + 1, ow]),
    ], "AvgPool2D count_include_pad=False (3×3 s2 p1; 2×3 s1 p1)", math.sqrt(6)


def net_rescaling():
    C, H, W = WIDE
    return [
        node("rescale", Rescale([1 / 127.5, 1 / 64.0], [-1.0, -0.5])),
        node("conv", nn.Conv2d(C, 3, 3, padding=1)),
        node("relu", nn.ReLU()),
        *head([3, H, W]),
    ], "Rescaling per channel (x·[1/127.5, 1/64] + [−1, −0.5]) on raw [0, 255] inputs", math.sqrt(6)


def net_input_normalization():
    """torchvision's Normalize(mean, std) in front, declared with the top-level
    `input_normalization` key instead of a layer (see `build_torch_net`)."""
    C, H, W = WIDE
    return [
        node("normalize", Normalize([0.45, 0.55], [0.25, 0.2])),
        node("conv", nn.Conv2d(C, 3, 3, padding=1)),
        node("relu", nn.ReLU()),
        *head([3, H, W]),
    ], "input_normalization {mean [0.45, 0.55], std [0.25, 0.2]} (torchvision Normalize) in front", math.sqrt(6)


NETS = OrderedDict([
    ("conv_grouped", net_conv_grouped),
    ("conv_depthwise", net_conv_depthwise),
    ("conv_dilated", net_conv_dilated),
    ("concatenate", net_concatenate),
    ("multiply", net_multiply),
    ("layernorm", net_layernorm),
    ("groupnorm", net_groupnorm),
    ("gelu", activation_net(lambda: nn.GELU(), "GELU (exact erf form)")),
    ("gelu_tanh", activation_net(lambda: nn.GELU(approximate="tanh"), "GELU (tanh approximation)")),
    ("silu", activation_net(lambda: nn.SiLU(), "SiLU")),
    ("relu6", activation_net(lambda: nn.ReLU6(), "ReLU6 (pre-activations reach beyond 6)", gain=8.0)),
    ("clip", net_clip),
    ("elu", activation_net(lambda: nn.ELU(alpha=0.7), "ELU alpha 0.7")),
    ("prelu", net_prelu),
    ("adaptive_avgpool", net_adaptive_pool),
    ("upsampling", net_upsample),
    ("avgpool_exclude_pad", net_avgpool_exclude_pad),
    ("rescaling", net_rescaling),
    ("input_normalization", net_input_normalization),
])
DIVISORS = {"rescaling": 1}    # raw [0, 255] inputs; every other net sees [0, 1]
INPUT_SHAPES = {"rescaling": WIDE, "input_normalization": WIDE}


# ----------------------------------------------------------------------------------------------
# torchvision-style block nets (module trees as torchvision writes them; state_dict keys such as
# features.2.conv.1.0.weight or layer2.0.downsample.0.weight are the layer names).

class ConvBNReLU6(nn.Sequential):
    """torchvision.ops.Conv2dNormActivation as MobileNetV2 uses it."""

    def __init__(self, cin, cout, kernel=3, stride=1, groups=1):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(inp, hidden, kernel=1))
        layers += [ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetLike(nn.Module):
    """MobileNetV2's structure at toy size: stem, three inverted residual blocks (depthwise +
    pointwise, BatchNorm, ReLU6, two with residual connections), adaptive average pooling,
    dropout, linear classifier."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            ConvBNReLU6(3, 8, stride=2),
            InvertedResidual(8, 8, 1, 1),
            InvertedResidual(8, 12, 2, 4),
            InvertedResidual(12, 12, 1, 4),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(12, classes))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNetSmall(nn.Module):
    """torchvision's ResNet layout (conv1/bn1/relu, layer1…, avgpool, fc) with one BasicBlock per
    stage and a 3×3 stem without max pooling, for 6×6 inputs."""

    def __init__(self, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2, nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ArchWriter:
    """Collects architecture-JSON layers named by module path (= state_dict prefix)."""

    def __init__(self):
        self.layers, self.last = [], "input"

    def add(self, name, module=None, kind=None, config=None, inputs=None):
        if module is not None:
            kind, config = describe(module)
        entry = {"name": name, "type": kind}
        if config:
            entry["config"] = config
        if inputs is not None and inputs != [self.last]:
            entry["inputs"] = inputs
        self.layers.append(entry)
        self.last = name
        return name

    def sequential(self, prefix, seq):
        for i, m in enumerate(seq):
            if isinstance(m, nn.Sequential):
                self.sequential(f"{prefix}.{i}", m)
            else:
                self.add(f"{prefix}.{i}", m)
        return self.last


def build_mobilenet(seed):
    torch.manual_seed(seed)
    model = MobileNetLike()
    randomize_norms(model)
    a = ArchWriter()
    for i, block in enumerate(model.features):
        start = a.last
        if isinstance(block, InvertedResidual):
            out = a.sequential(f"features.{i}.conv", block.conv)
            if block.use_res_connect:
                a.add(f"features.{i}.add", kind="Add", inputs=[out, start])
        else:
            a.sequential(f"features.{i}", block)
    a.add("pool", kind="AdaptiveAvgPool2D", config={"output_size": [1, 1]})
    a.add("flatten", kind="Flatten")
    a.sequential("classifier", model.classifier)
    arch = {"input_shape": BLOCK, "class_names": [f"c{i}" for i in range(4)], "layers": a.layers,
            "embedding": "flatten"}
    return model, arch, "MobileNetV2-style: stem, 3 inverted residuals (depthwise + pointwise, BatchNorm, ReLU6), adaptive avg pool"


def build_resnet(seed):
    torch.manual_seed(seed)
    model = ResNetSmall()
    scale_weights(model, math.sqrt(2))
    randomize_norms(model)
    a = ArchWriter()
    a.add("conv1", model.conv1)
    a.add("bn1", model.bn1)
    a.add("relu", kind="ReLU")
    for stage in ("layer1", "layer2"):
        for j, b in enumerate(getattr(model, stage)):
            p, start = f"{stage}.{j}", a.last
            a.add(f"{p}.conv1", b.conv1, inputs=[start])
            a.add(f"{p}.bn1", b.bn1)
            a.add(f"{p}.relu1", kind="ReLU")
            a.add(f"{p}.conv2", b.conv2)
            main = a.add(f"{p}.bn2", b.bn2)
            identity = start
            if b.downsample is not None:
                a.add(f"{p}.downsample.0", b.downsample[0], inputs=[start])
                identity = a.add(f"{p}.downsample.1", b.downsample[1])
            a.add(f"{p}.add", kind="Add", inputs=[main, identity])
            a.add(f"{p}.relu2", kind="ReLU")
    a.add("avgpool", model.avgpool)
    a.add("flatten", kind="Flatten")
    a.add("fc", model.fc)
    arch = {"input_shape": BLOCK, "class_names": [f"c{i}" for i in range(5)], "layers": a.layers,
            "output": "fc", "embedding": "flatten"}
    return model, arch, "torchvision-style ResNet: BasicBlocks, 1×1 stride-2 downsample, AdaptiveAvgPool2d, state_dict + arch JSON"


# ----------------------------------------------------------------------------------------------
# Keras nets (Keras 3, JAX backend) and their hand mapping to the architecture JSON.

def keras_nets():
    import keras
    from keras import layers
    C, H, W = WIDE
    nets = OrderedDict()

    keras.utils.set_random_seed(3001)
    inp = keras.Input((H, W, C), name="input")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    x = layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(x)
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(3, name="fc")(x)
    nets["keras_rescaling"] = (keras.Model(inp, out), 1, "Keras Rescaling(1/127.5, offset −1) on raw [0, 255] inputs")

    keras.utils.set_random_seed(3002)
    inp = keras.Input((H, W, C), name="input")
    norm = layers.Normalization(axis=-1, name="norm")
    norm.adapt(np.random.default_rng(3002).normal([0.3, 0.6], [0.2, 0.1], size=(64, H, W, C)).astype(np.float32))
    x = norm(inp)
    x = layers.Conv2D(3, 3, padding="same", activation="tanh", name="conv")(x)
    x = layers.AveragePooling2D(2, strides=2, padding="same", name="pool")(x)   # 4×5 → 2×3, last column padded
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(3, name="fc")(x)
    nets["keras_normalization"] = (keras.Model(inp, out), 255,
                                   "Keras Normalization (adapted: mean/variance weights) and AveragePooling2D 'same' (padding excluded)")
    return keras, nets


def keras_to_native(model, input_shape) -> tuple[dict, dict]:
    """Maps the Keras nets above onto the architecture JSON by hand, following Keras's
    semantics (channels-last Flatten, kernels (kh, kw, in, out), "same" padding)."""
    C, H, W = input_shape
    layers, params, shape = [], OrderedDict(), [C, H, W]
    for layer in model.layers:
        kind = type(layer).__name__
        cfg = layer.get_config()
        name = layer.name
        if kind == "InputLayer":
            continue
        if kind == "Rescaling":
            layers.append({"name": name, "type": "Rescaling", "config": {"scale": cfg["scale"], "offset": cfg["offset"]}})
        elif kind == "Normalization":
            mean = np.asarray(layer.mean).reshape(-1).astype(np.float64).tolist()
            var = np.asarray(layer.variance).reshape(-1).astype(np.float64).tolist()
            layers.append({"name": name, "type": "Normalization", "config": {"mean": mean, "variance": var}})
        elif kind == "Conv2D":
            k, b = layer.get_weights()
            kh, kw = cfg["kernel_size"]
            assert cfg["strides"] == (1, 1) and cfg["padding"] == "same" and kh % 2 == 1 and kw % 2 == 1
            layers.append({"name": name, "type": "Conv2D", "config": {
                "in_channels": shape[0], "out_channels": cfg["filters"], "kernel_size": [kh, kw],
                "padding": [kh // 2, kw // 2]}})
            params[f"{name}.weight"] = np.transpose(k, (3, 2, 0, 1))
            params[f"{name}.bias"] = b
            shape = [cfg["filters"], shape[1], shape[2]]
            act = cfg["activation"]
            if act != "linear":
                layers.append({"name": f"{name}.{act}", "type": {"relu": "ReLU", "tanh": "Tanh"}[act]})
        elif kind == "AveragePooling2D":
            k, st = cfg["pool_size"], cfg["strides"]
            assert cfg["padding"] == "same"
            pads = []
            for d, size in enumerate(shape[1:]):
                out = -(-size // st[d])
                total = max((out - 1) * st[d] + k[d] - size, 0)
                pads.append((total // 2, total - total // 2))
            layers.append({"name": name, "type": "AvgPool2D", "config": {
                "kernel_size": list(k), "stride": list(st),
                "padding": [pads[0][0], pads[0][1], pads[1][0], pads[1][1]], "count_include_pad": False}})
            shape = [shape[0], -(-shape[1] // st[0]), -(-shape[2] // st[1])]
        elif kind == "Flatten":
            layers.append({"name": name, "type": "Flatten", "config": {"order": "channels_last"}})
            shape = [flat(shape)]
        elif kind == "Dense":
            k, b = layer.get_weights()
            layers.append({"name": name, "type": "Dense", "config": {"in_features": shape[0], "out_features": cfg["units"]}})
            params[f"{name}.weight"] = k.T
            params[f"{name}.bias"] = b
            shape = [cfg["units"]]
        else:
            raise TypeError(kind)
    arch = {"input_shape": list(input_shape), "class_names": [f"c{i}" for i in range(shape[0])], "layers": layers}
    return arch, params


def keras_expectations(model, x_nchw: np.ndarray, seed: int):
    import jax
    import jax.numpy as jnp
    x = np.transpose(x_nchw, (0, 2, 3, 1))
    logits = np.asarray(model(x, training=False))
    cot = np.random.default_rng(seed + 1).standard_normal(logits.shape).astype(np.float32)
    grad = jax.grad(lambda v: jnp.sum(model(v, training=False) * cot))(jnp.asarray(x))
    return logits, cot, np.transpose(np.asarray(grad), (0, 3, 1, 2))


# ----------------------------------------------------------------------------------------------
# Writing.

def input_codes(shape, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=[SAMPLES] + list(shape), dtype=np.uint8)


def as_input(codes: np.ndarray, divisor: int) -> np.ndarray:
    return codes.astype(np.float32) / np.float32(divisor)


def write_native_group(g: h5py.Group, arch: dict, params: dict[str, np.ndarray]):
    g.attrs["format"] = "borderline.model"
    g.attrs["format_version"] = 1
    g.attrs["architecture"] = json.dumps(arch)
    g.attrs["input_shape"] = arch["input_shape"]
    g.attrs.create("class_names", data=list(arch.get("class_names", [])), dtype=h5py.string_dtype())
    p = g.create_group("parameters")
    for key, value in params.items():
        p.create_dataset(key, data=np.asarray(value, dtype=np.float32))


def torch_params(module: nn.Module) -> dict[str, np.ndarray]:
    return OrderedDict((k, v.detach().cpu().numpy().astype(np.float32))
                       for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked"))


def torch_expectations(module: nn.Module, x: np.ndarray, seed: int):
    module.eval()
    xt = torch.from_numpy(x).requires_grad_(True)
    logits = module(xt)
    cot = torch.from_numpy(np.random.default_rng(seed + 1).standard_normal(logits.shape).astype(np.float32))
    (logits * cot).sum().backward()
    return logits.detach().numpy(), cot.numpy(), xt.grad.numpy()


# Float arrays are stored deflated (gzip 9 + shuffle, about 10 % smaller); libhdf5 inflates them
# transparently when the tests read them.
PACKED = dict(compression="gzip", compression_opts=9, shuffle=True)
# Files readable by libhdf5 1.10 (see the module docstring).
LIBVER = ("v110", "v110")


def write_expected(e: h5py.Group, input_key, logits, cot, grad, framework, what):
    e.attrs["input"] = input_key
    e.create_dataset("logits", data=logits, **PACKED)
    e.create_dataset("cotangent", data=cot, **PACKED)
    e.create_dataset("input_gradient", data=grad, **PACKED)
    e.attrs["framework"] = framework
    e.attrs["layers"] = what


def build_torch_net(name, fn, seed):
    torch.manual_seed(seed)
    nodes, what, gain = fn()
    g = Graph(nodes)
    scale_weights(g, gain)
    head = getattr(g, g.order[-1][0])
    scale_weights(head, 1 / gain)   # the classifier head keeps torch's init: logits stay O(1)
    randomize_norms(g)
    classes = getattr(g, g.order[-1][0]).out_features
    arch = graph_architecture(g, INPUT_SHAPES.get(name, SMALL), classes)
    if name == "input_normalization":
        first = arch["layers"].pop(0)
        assert first["type"] == "Normalization" and "inputs" not in arch["layers"][0]
        arch["input_normalization"] = first["config"]
    return g, arch, what


def main(selected: list[str]):
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    inputs: dict[str, tuple[np.ndarray, int]] = {}

    def shared_input(shape, divisor) -> tuple[str, np.ndarray]:
        """One set of 100 input codes per (shape, divisor), stored once in /inputs."""
        key = "x" + "x".join(map(str, shape)) + f"_over{divisor}"
        if key not in inputs:
            inputs[key] = (input_codes(shape, 1000 + len(inputs)), divisor)
        return key, as_input(inputs[key][0], divisor)

    with h5py.File(OUT / "models.h5", "w", libver=LIBVER) as models, \
            h5py.File(OUT / "expected.h5", "w", libver=LIBVER) as expected:
        for i, (name, fn) in enumerate(NETS.items()):
            if selected and name not in selected:
                continue
            seed = 2000 + i
            module, arch, what = build_torch_net(name, fn, seed)
            key, x = shared_input(arch["input_shape"], DIVISORS.get(name, 255))
            logits, cot, grad = torch_expectations(module, x, seed)
            write_native_group(models.create_group(name), arch, torch_params(module))
            write_expected(expected.create_group(name), key, logits, cot, grad, f"torch {torch.__version__}", what)
            results.append((name, what, float(np.abs(logits).max()), float(np.abs(grad).max())))
        for name, build in (("mobilenet", build_mobilenet), ("resnet", build_resnet)):
            if selected and name not in selected:
                continue
            module, arch, what = build(3000 + len(name))
            key, x = shared_input(arch["input_shape"], 255)
            logits, cot, grad = torch_expectations(module, x, 3000 + len(name))
            write_expected(expected.create_group(name), key, logits, cot, grad, f"torch {torch.__version__}", what)
            if name == "mobilenet":
                with h5py.File(OUT / "mobilenet.native.h5", "w", libver=LIBVER) as f:
                    write_native_group(f, arch, torch_params(module))
            else:
                (OUT / "resnet.arch.json").write_text(json.dumps(arch, indent=1) + "\n")
                with h5py.File(OUT / "resnet.torch.h5", "w", libver=LIBVER) as f:
                    for k, v in module.state_dict().items():   # num_batches_tracked included, as users export it
                        f.create_dataset(k, data=v.detach().cpu().numpy())
            results.append((name, what, float(np.abs(logits).max()), float(np.abs(grad).max())))
        if not selected or any(n.startswith("keras") for n in selected):
            keras, nets = keras_nets()
            for i, (name, (model, divisor, what)) in enumerate(nets.items()):
                arch, params = keras_to_native(model, WIDE)
                key, x = shared_input(WIDE, divisor)
                logits, cot, grad = keras_expectations(model, x, 4000 + i)
                write_native_group(models.create_group(name), arch, params)
                write_expected(expected.create_group(name), key, logits, cot, grad,
                               f"keras {keras.__version__} (jax)", what)
                results.append((name, what, float(np.abs(logits).max()), float(np.abs(grad).max())))
        g = expected.create_group("inputs")
        for key, (codes, divisor) in inputs.items():
            d = g.create_dataset(key, data=codes, **PACKED)
            d.attrs["divisor"] = divisor
    for name, what, lmax, gmax in results:
        print(f"{name:22s} max|logit| {lmax:8.3f}  max|grad| {gmax:8.4f}  {what}")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main(sys.argv[1:])
