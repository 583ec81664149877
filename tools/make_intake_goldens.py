#!/usr/bin/env python3
"""Generate the model-intake golden files: ONNX exports of real PyTorch models, a Keras 3 `.keras`
Functional model with a Rescaling layer and nested models (and its legacy `.h5` twin), and what
their exporting frameworks compute on 100 inputs. Swift tests (Tests/BorderlineCoreTests/
IntakeGoldenTests.swift) require Borderline's logits within 1e-5 and input gradients within 1e-4
(relative to the largest gradient) of these.

Run from the repository root (CPU only; a few seconds):

    pip install -r tools/requirements.txt onnxscript   # torch, onnx, onnxruntime, keras 3, jax, h5py
    python3 tools/make_intake_goldens.py                # writes Tests/BorderlineCoreTests/Golden/intake/*

The outputs are committed; CI only reads them and never runs Python.

Files (each NAME.expected.h5 holds x, logits, cotangent and input_gradient =
d(sum(cotangent * logits))/dx from the framework's own autograd; x is NCHW):

    resnet.onnx              a small ResNet (BasicBlocks with BatchNorm, a strided 1x1 downsample,
                             max pooling, adaptive average pooling, Linear), torch.onnx.export with
                             the TorchScript exporter (dynamo=False), opset 17, dynamic batch axis.
    ops.typed.onnx           ops.onnx with every tensor in the typed fields (float_data,
                             int64_data) instead of raw_data.
    resnet.dynamo.onnx(.data) the same model through the default dynamo exporter (opset 18), whose
                             weights go to the external data file beside it.
    mobilenet.onnx           (exported without constant folding, so BatchNormalization nodes stay)
                             a torchvision-style MobileNet block net: depthwise + pointwise
                             convolutions, an inverted residual, a dilated depthwise convolution,
                             BatchNorm, ReLU6, AdaptiveAvgPool2d(1), x.view(x.size(0), -1) (the
                             Shape/Gather/Unsqueeze/Concat chain with a dynamic batch), Dropout, Linear.
    ops.onnx                 the rest of the operator list: input normalisation (x - mean) / std as
                             Sub/Div by per-channel constants, Conv, Concat, Mul of two branches,
                             Sigmoid, Tanh, Flatten, MatMul + Add, LayerNormalization, exact GELU (the
                             Div/Erf/Add/Mul/Mul pattern), Gemm, a final Softmax (removed on import).
    functional.keras         Keras 3 (JAX backend) Functional model: Rescaling(1/255, offset -0.5),
    functional.h5              a nested Functional base (Conv2D, BatchNormalization, ReLU,
                             MaxPooling2D, a dilated DepthwiseConv2D with depth_multiplier 2, Conv2D
                             with relu6) read by a nested Sequential head block and by a pooling
                             branch, GlobalAveragePooling2D, Concatenate, Dense; model.save(".keras")
                             and model.save(".h5"). Inputs are pixel values 0…255.
    NAME.borderline.h5       resnet, mobilenet and ops written by tools/torch_to_borderline.py
                             (torch.fx trace of the same modules, no ONNX).
    NAME.expected.h5         for NAME in resnet, mobilenet, ops, functional (both resnet exports and
                             both Keras files share their model's file).
    bad/                     malformed and foreign files for the bad-intake tests: an ONNX model
                             with an unsupported operator (LRN), one whose Gemm weight does not fit,
                             PyTorch's own files (torch.save zip checkpoint.pt, legacy pickle
                             legacy.pth, TorchScript scripted.pt), and Keras 3 archives without
                             model.weights.h5 or with a Dense kernel of the wrong shape.

Seeds: torch.manual_seed / numpy default_rng with the fixed seeds below; keras.utils.set_random_seed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "BorderlineCoreTests" / "Golden" / "intake"
SAMPLES = 100
SHAPE = (3, 12, 12)


def randomise_batchnorm(model: nn.Module, g: torch.Generator):
    """Running statistics and affine parameters that are far from the identity, so that a
    misplaced BatchNorm shows in the logits."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 1.5 + 0.3)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)


# ----------------------------------------------------------------------------------------------
# PyTorch models.

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + identity)


class SmallResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def conv_bn(cin, cout, k, stride=1, groups=1, dilation=1):
    pad = dilation * (k - 1) // 2
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        h = c * expand
        self.conv = nn.Sequential(conv_bn(c, h, 1), conv_bn(h, h, 3, groups=h),
                                  nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.conv(x)


class MobileNetLike(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 16, 3, stride=2),                 # stem
            conv_bn(16, 16, 3, groups=16), conv_bn(16, 24, 1),   # depthwise + pointwise
            InvertedResidual(24, 4),
            conv_bn(24, 24, 3, groups=24, dilation=2),   # dilated depthwise
            conv_bn(24, 32, 1),
            conv_bn(32, 32, 3, stride=2, groups=32), conv_bn(32, 48, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(48, classes))

    def forward(self, x):
        x = self.pool(self.features(x))
        x = x.view(x.size(0), -1)
        return self.classifier(x)


class OpsNet(nn.Module):
    """Every remaining operator of the ONNX list in one small classifier."""

    def __init__(self, classes=10):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.a = nn.Conv2d(3, 6, 3, 2, 1)
        self.b = nn.Conv2d(3, 6, 5, 2, 2)
        self.gate = nn.Conv2d(12, 12, 1)
        self.pool = nn.AvgPool2d(2)
        self.w = nn.Parameter(torch.randn(12 * 3 * 3, 40) * 0.05)
        self.bias = nn.Parameter(torch.randn(40) * 0.1)
        self.norm = nn.LayerNorm(40)
        self.fc = nn.Linear(40, classes)

    def forward(self, x):
        x = (x - self.mean) / self.std
        y = torch.cat([torch.tanh(self.a(x)), self.b(x)], dim=1)
        y = y * torch.sigmoid(self.gate(y))
        y = torch.flatten(self.pool(y), 1)
        y = F.gelu(self.norm(y @ self.w + self.bias))
        return torch.softmax(self.fc(y), dim=1)


def torch_oracle(model: nn.Module, x: np.ndarray, cot: np.ndarray):
    xt = torch.from_numpy(x).requires_grad_(True)
    out = model(xt)
    (g,) = torch.autograd.grad((out * torch.from_numpy(cot)).sum(), xt)
    return out.detach().numpy(), g.numpy()


def export(model: nn.Module, path: Path, dynamo: bool, fold: bool = True):
    example = torch.zeros(1, *SHAPE)
    if dynamo:
        batch = torch.export.Dim("batch", min=1, max=1024)
        torch.onnx.export(model, (example,), str(path), dynamo=True, opset_version=18,
                          dynamic_shapes={"x": {0: batch}}, external_data=True)
    else:
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"], do_constant_folding=fold,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def typed_fields(source: Path, target: Path):
    """The same model with every tensor (initializers, Constant values) in the typed fields
    (float_data, int64_data) instead of raw_data, as some exporters write them."""
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.load(str(source))

    def retype(t):
        a = numpy_helper.to_array(t)
        return helper.make_tensor(t.name, t.data_type, list(t.dims), a.flatten().tolist(), raw=False)
    for i, t in enumerate(m.graph.initializer):
        m.graph.initializer[i].CopyFrom(retype(t))
    for n in m.graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                a.t.CopyFrom(retype(a.t))
    assert not any(t.HasField("raw_data") for t in m.graph.initializer)
    onnx.save(m, str(target))


def check_onnxruntime(path: Path, x: np.ndarray, logits: np.ndarray):
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    print(f"  {path.name}: onnxruntime vs torch max |Δ| = {np.abs(out - logits).max():.2e}")


def pixel_inputs(rng: np.random.Generator) -> np.ndarray:
    """Exact float32 inputs in [-2, 2): integers / 64."""
    return ((rng.integers(0, 256, size=(SAMPLES, *SHAPE)) - 128) / 64).astype(np.float32)


def write_group(name: str, x, logits, cot, grad, **attrs):
    with h5py.File(OUT / f"{name}.expected.h5", "w") as g:
        g.attrs["generator"] = "tools/make_intake_goldens.py"
        write_datasets(g, x, logits, cot, grad, **attrs)


def write_datasets(g, x, logits, cot, grad, **attrs):
    g.create_dataset("x", data=x, compression="gzip", shuffle=True)
    g.create_dataset("logits", data=logits.astype(np.float32))
    g.create_dataset("cotangent", data=cot.astype(np.float32))
    g.create_dataset("input_gradient", data=grad.astype(np.float32), compression="gzip", shuffle=True)
    g.attrs["input_gradient_definition"] = "d(sum(cotangent * logits)) / dx"
    for k, v in attrs.items():
        g.attrs[k] = v


def torch_models():
    for name, cls, seed in [("resnet", SmallResNet, 11), ("mobilenet", MobileNetLike, 12), ("ops", OpsNet, 13)]:
        torch.manual_seed(seed)
        model = cls()
        randomise_batchnorm(model, torch.Generator().manual_seed(seed + 100))
        model.eval()
        rng = np.random.default_rng(seed)
        x = pixel_inputs(rng)
        cot = rng.standard_normal((SAMPLES, 10)).astype(np.float32)
        logits, grad = torch_oracle(model, x, cot)
        path = OUT / f"{name}.onnx"
        # Without constant folding the TorchScript exporter keeps BatchNormalization nodes (it
        # folds them into the convolutions otherwise) and the Identity nodes of shared weights.
        export(model, path, dynamo=False, fold=name != "mobilenet")
        check_onnxruntime(path, x, logits)
        if name == "ops":
            typed = OUT / "ops.typed.onnx"
            typed_fields(path, typed)
            check_onnxruntime(typed, x, logits)
        if name == "resnet":
            dyn = OUT / f"{name}.dynamo.onnx"
            for p in [dyn, OUT / f"{name}.dynamo.onnx.data"]:
                p.unlink(missing_ok=True)
            export(model, dyn, dynamo=True)
            check_onnxruntime(dyn, x, logits)
        # The logits of a model ending in softmax are its probabilities; Borderline removes the
        # final softmax on import, so the oracle for its output is the pre-softmax logits.
        if name == "ops":
            xt = torch.from_numpy(x).requires_grad_(True)
            m = model
            pre = None

            def hook(_, __, out):
                nonlocal pre
                pre = out
            h = m.fc.register_forward_hook(hook)
            m(xt)
            h.remove()
            (g,) = torch.autograd.grad((pre * torch.from_numpy(cot)).sum(), xt)
            logits, grad = pre.detach().numpy(), g.numpy()
        write_group(name, x, logits, cot, grad, framework=f"torch {torch.__version__}")
        # The same module through tools/torch_to_borderline.py (torch.fx, no ONNX).
        sys.path.insert(0, str(ROOT / "tools"))
        import torch_to_borderline as t2b
        converter = t2b.Converter(model, list(SHAPE))
        arch = converter.run()
        arch["metadata"] = {"source": "pytorch (tools/torch_to_borderline.py)", "module": cls.__name__}
        t2b.write_native(str(OUT / f"{name}.borderline.h5"), arch, converter.parameters, [])


# ----------------------------------------------------------------------------------------------
# Keras 3.

def keras_model():
    import jax
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(21)
    h, w, c = SHAPE[1], SHAPE[2], SHAPE[0]
    base_in = keras.Input((h, w, 16), name="base_input")
    y = L.Conv2D(16, 3, padding="same", name="conv_a")(base_in)
    y = L.BatchNormalization(name="bn_a")(y)
    y = L.ReLU(name="relu_a")(y)
    y = L.MaxPooling2D(2, name="pool_a")(y)
    y = L.DepthwiseConv2D(3, padding="same", dilation_rate=2, depth_multiplier=2, name="dw_b")(y)
    y = L.Conv2D(24, 1, activation="relu6", name="conv_b")(y)
    base = keras.Model(base_in, y, name="base")
    head = keras.Sequential([L.Conv2D(32, 1, activation="relu", name="pw"), L.BatchNormalization(name="bn_h")], name="head_block")

    inp = keras.Input((h, w, c), name="image")
    z = L.Rescaling(1 / 255.0, offset=-0.5, name="rescale")(inp)
    z = L.Conv2D(16, 3, strides=1, padding="same", name="stem")(z)
    features = base(z)
    a = L.GlobalAveragePooling2D(name="gap")(head(features))
    b = L.GlobalAveragePooling2D(name="gap_base")(features)
    z = L.Concatenate(name="concat")([a, b])
    out = L.Dense(10, name="logits")(z)
    model = keras.Model(inp, out, name="functional_with_nested")
    # Batch-norm statistics far from the identity (seeded), as for the PyTorch models.
    rng = np.random.default_rng(22)
    for layer in [base.get_layer("bn_a"), head.get_layer("bn_h")]:
        n = layer.gamma.shape[0]
        layer.set_weights([rng.uniform(0.5, 1.5, n).astype(np.float32), rng.normal(0, 0.2, n).astype(np.float32),
                           rng.normal(0, 0.3, n).astype(np.float32), rng.uniform(0.3, 1.8, n).astype(np.float32)])

    x_nhwc = rng.integers(0, 256, size=(SAMPLES, h, w, c)).astype(np.float32)
    cot = rng.standard_normal((SAMPLES, 10)).astype(np.float32)
    logits = np.asarray(model(x_nhwc, training=False))

    def objective(x):
        return (model(x, training=False) * cot).sum()
    grad = np.asarray(jax.grad(objective)(jax.numpy.asarray(x_nhwc)))

    for p in [OUT / "functional.keras", OUT / "functional.h5"]:
        p.unlink(missing_ok=True)
        model.save(str(p))
    reloaded = keras.saving.load_model(str(OUT / "functional.keras"))
    print(f"  functional.keras: reloaded vs original max |Δ| = {np.abs(np.asarray(reloaded(x_nhwc)) - logits).max():.2e}")
    write_group("functional", x_nhwc.transpose(0, 3, 1, 2).copy(), logits, cot, grad.transpose(0, 3, 1, 2).copy(),
                framework=f"keras {keras.__version__} ({keras.backend.backend()})")


# ----------------------------------------------------------------------------------------------
# Malformed and foreign files for the bad-intake tests (MalformedIntakeTests, IntakeCLITests).

def bad_files():
    import io
    import json
    import zipfile
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    bad = OUT / "bad"
    bad.mkdir(exist_ok=True)
    rng = np.random.default_rng(31)

    def tiny_graph(nodes, inits, name, out_shape=(1, 4)):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_intake_goldens")
        return m

    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "conv.weight")
    # An operator Borderline does not import (local response normalisation), in a named node.
    m = tiny_graph([helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="/features/conv/Conv", pads=[1, 1, 1, 1]),
                    helper.make_node("LRN", ["c"], ["y"], name="/features/lrn/LRN", size=3)], [w], "unsupported")
    onnx.save(m, bad / "unsupported_op.onnx")
    # A Gemm whose weight does not fit the flattened features (48 = 3·4·4, weight is [10, 50]).
    fc = numpy_helper.from_array(rng.standard_normal((10, 50)).astype(np.float32), "fc.weight")
    m = tiny_graph([helper.make_node("Flatten", ["x"], ["f"], name="/Flatten", axis=1),
                    helper.make_node("Gemm", ["f", "fc.weight"], ["y"], name="/fc/Gemm", transB=1)], [fc], "mismatch")
    onnx.save(m, bad / "shape_mismatch.onnx")

    # PyTorch's own files: a state_dict checkpoint (zip), the same with the legacy pickle format,
    # and a TorchScript archive.
    net = nn.Sequential(nn.Flatten(), nn.Linear(48, 4))
    torch.save(net.state_dict(), bad / "checkpoint.pt")
    torch.save(net.state_dict(), bad / "legacy.pth", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(net), bad / "scripted.pt")

    # Keras 3 archives: one without model.weights.h5, one whose Dense kernel has the wrong shape.
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(32)
    km = keras.Sequential([keras.Input((4, 4, 3)), L.Flatten(name="flatten"), L.Dense(4, name="dense")], name="tiny")
    src = bad / "tiny.keras"
    km.save(str(src))
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    src.unlink()
    with zipfile.ZipFile(bad / "no_weights.keras", "w") as z:
        for n in ["metadata.json", "config.json"]:
            z.writestr(n, entries[n])
    weights = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(weights, "r") as f:
        tree = {}
        f.visititems(lambda k, v: tree.__setitem__(k, (np.array(v), dict(v.attrs))) if isinstance(v, h5py.Dataset) else None)
        groups = {}
        f.visititems(lambda k, v: groups.__setitem__(k, dict(v.attrs)) if isinstance(v, h5py.Group) else None)
    out = io.BytesIO()
    with h5py.File(out, "w") as f:
        for k, attrs in groups.items():
            g = f.require_group(k)
            for a, v in attrs.items():
                g.attrs[a] = v
        for k, (v, attrs) in tree.items():
            if k.endswith("dense/vars/0"):
                v = np.zeros((50, 4), np.float32)  # Flatten gives 48 features
            f.create_dataset(k, data=v)
    with zipfile.ZipFile(bad / "wrong_shape.keras", "w") as z:
        z.writestr("metadata.json", entries["metadata.json"])
        z.writestr("config.json", entries["config.json"])
        z.writestr("model.weights.h5", out.getvalue())


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    bad_files()
    (OUT / "expected.h5").unlink(missing_ok=True)
    torch_models()
    keras_model()
    for p in sorted(OUT.iterdir()):
        print(f"  {p.name:28s} {p.stat().st_size / 1024:7.1f} KB")


if __name__ == "__main__":
    sys.exit(main())
