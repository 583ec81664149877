#!/usr/bin/env python3
"""Write a PyTorch nn.Module as a Borderline model, with no hand-written architecture JSON.

The module is traced with torch.fx; every traced operation must be one Borderline's core has a
layer for (docs/model-format.md lists them), otherwise the script stops and names the module or
function. Weights come from the module itself or from --weights.

    # a class in a file (or module.path:Class, or a function returning the module):
    python3 tools/torch_to_borderline.py my_net.py:MyNet --weights model.pt --input-shape 3,32,32 -o model.h5
    # a whole model saved with torch.save(model) (its class must be importable):
    python3 tools/torch_to_borderline.py model.pt --input-shape 3,32,32 -o model.h5

Outputs: -o writes a native Borderline model (architecture + weights, HDF5; `borderline inspect
model.h5`). --architecture writes the architecture JSON alone, and --state-dict-h5 the weights as
an h5py state_dict file (the pair loads with `borderline inspect W.h5 --architecture A.json`).
--class-names names the outputs. A final softmax is left out (Borderline works on logits) and said so.

Needs torch and h5py (tools/requirements.txt); a development tool, never a runtime dependency.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import operator
import sys
from pathlib import Path

import numpy as np

try:
    import torch
    import torch.fx
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.fx.passes.shape_prop import ShapeProp
except ImportError:  # pragma: no cover
    sys.exit("torch_to_borderline.py needs PyTorch: pip install torch")


class Unsupported(Exception):
    """A traced operation Borderline has no layer for."""


# ----------------------------------------------------------------------------------------------
# Loading the module.

def load_module(spec: str, kwargs: dict, weights: str | None) -> nn.Module:
    path = Path(spec)
    if path.suffix in (".pt", ".pth") and path.exists():
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
        if isinstance(obj, torch.jit.ScriptModule):
            raise SystemExit(f"{spec}: is TorchScript; torch.fx cannot trace it. Give the Python class "
                             f"(my_net.py:MyNet --weights {spec}) or export ONNX with torch.onnx.export(torch.jit.load(...), ...)")
        if not isinstance(obj, nn.Module):
            raise SystemExit(f"{spec}: holds a {type(obj).__name__} (a state_dict?), not a whole model; give the class: "
                             f"my_net.py:MyNet --weights {spec}")
        model = obj
    else:
        if ":" not in spec:
            raise SystemExit(f"{spec}: expected FILE.py:Class, package.module:Class, or a model saved with torch.save(model)")
        where, name = spec.rsplit(":", 1)
        if where.endswith(".py"):
            file = Path(where)
            if not file.exists():
                raise SystemExit(f"{where}: no such file")
            sys.path.insert(0, str(file.resolve().parent))
            module_spec = importlib.util.spec_from_file_location(file.stem, file)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        if not hasattr(module, name):
            raise SystemExit(f"{where} has no '{name}'")
        model = getattr(module, name)(**kwargs)
        if not isinstance(model, nn.Module):
            raise SystemExit(f"{spec}: returned a {type(model).__name__}, not an nn.Module")
    if weights:
        state = read_state_dict(weights)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise SystemExit(f"{weights}: does not fit the module: {e}")
    return model.eval()


def read_state_dict(path: str) -> dict:
    if path.endswith((".h5", ".hdf5")):
        import h5py
        out = {}
        with h5py.File(path, "r") as f:
            group = f["state_dict"] if "state_dict" in f else f
            group.visititems(lambda k, v: out.__setitem__(k, torch.from_numpy(np.array(v))) if isinstance(v, h5py.Dataset) else None)
        return out
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise SystemExit(f"{path}: holds a {type(obj).__name__}, not a state_dict")
    return obj


# ----------------------------------------------------------------------------------------------
# Tracing and translating.

def pair(v):
    return [int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])]


class Converter:
    def __init__(self, model: nn.Module, input_shape: list[int]):
        self.model = model
        self.input_shape = input_shape
        self.gm = torch.fx.symbolic_trace(model)
        # Batch 2, so that the batch dimension is told apart from size-1 dimensions.
        ShapeProp(self.gm).propagate(torch.zeros(2, *input_shape))
        self.modules = dict(self.gm.named_modules())
        self.layers: list[dict] = []
        self.parameters: dict[str, np.ndarray] = {}
        self.names: set[str] = {"input"}
        self.value: dict[str, str] = {}      # fx node name → Borderline layer name (or "input")
        self.constants: dict[str, torch.Tensor] = {}
        self.removed_softmax = False

    # -- helpers --

    def shape(self, node) -> list[int]:
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise Unsupported(f"'{node.name}' does not produce one tensor")
        s = list(meta.shape)
        if not s or s[0] != 2:
            raise Unsupported(f"'{node.name}' changes the batch dimension (shape {s} for a batch of 2)")
        return s[1:]

    def unique(self, base: str) -> str:
        base = base.replace("/", ".") or "layer"
        name, i = base, 1
        while name in self.names:
            name = f"{base}_{i}"
            i += 1
        self.names.add(name)
        return name

    def add(self, node, type_: str, config: dict | None = None, inputs=None, name: str | None = None,
            params: dict[str, torch.Tensor] | None = None) -> str:
        name = self.unique(name or node.name)
        sources = [self.source(a) for a in (inputs if inputs is not None else [node.args[0]])]
        entry = {"name": name, "type": type_, "inputs": sources}
        if config:
            entry["config"] = config
        self.layers.append(entry)
        for k, v in (params or {}).items():
            self.parameters[f"{name}.{k}"] = v.detach().cpu().float().numpy()
        self.value[node.name] = name
        return name

    def source(self, arg) -> str:
        if not isinstance(arg, torch.fx.Node) or arg.name not in self.value:
            raise Unsupported(f"an input of the graph ({arg}) is not a tensor Borderline computes")
        return self.value[arg.name]

    def alias(self, node, arg):
        self.value[node.name] = self.source(arg)

    def constant(self, arg):
        """A get_attr tensor, a Python number, or None."""
        if isinstance(arg, (int, float)):
            return torch.tensor(float(arg))
        if isinstance(arg, torch.fx.Node) and arg.name in self.constants:
            return self.constants[arg.name]
        return None

    def channel_values(self, c: torch.Tensor, sample: list[int], what: str):
        """A constant that is one value or one per channel, as a number or list."""
        c = c.detach().float()
        dims = list(c.shape)
        if len(dims) > len(sample):
            if len(dims) != len(sample) + 1 or dims[0] != 1:
                raise Unsupported(f"{what}: a constant of shape {dims} that varies along the batch")
            dims = dims[1:]
        padded = [1] * (len(sample) - len(dims)) + dims
        varying = [i for i, d in enumerate(padded) if d != 1]
        if varying not in ([], [0]):
            raise Unsupported(f"{what}: a constant of shape {list(c.shape)} that is not one value or one per channel of {sample}")
        flat = c.reshape(-1).tolist()
        return flat[0] if len(flat) == 1 else flat

    # -- translation --

    def run(self) -> dict:
        output = None
        for node in self.gm.graph.nodes:
            try:
                if node.op == "placeholder":
                    if self.value:
                        raise Unsupported("a second input; Borderline models have one")
                    self.value[node.name] = "input"
                elif node.op == "get_attr":
                    obj = self.gm
                    for part in node.target.split("."):
                        obj = getattr(obj, part)
                    self.constants[node.name] = obj
                elif node.op == "call_module":
                    self.module(node, self.modules[node.target])
                elif node.op in ("call_function", "call_method"):
                    self.function(node)
                elif node.op == "output":
                    output = node.args[0]
            except Unsupported as e:
                where = f"module '{node.target}' ({type(self.modules[node.target]).__name__})" if node.op == "call_module" else f"'{node.name}' ({node.op} {getattr(node.target, '__name__', node.target)})"
                raise SystemExit(f"cannot convert {where}: {e}. Borderline's layers: docs/model-format.md; "
                                 "or export ONNX with torch.onnx.export and load the .onnx file")
        if not isinstance(output, torch.fx.Node):
            raise SystemExit(f"the module returns {type(output).__name__}; Borderline needs one tensor of logits")
        out = self.source(output)
        if self.layers and self.layers[-1]["name"] == out and self.layers[-1]["type"] == "Softmax":
            self.layers.pop()
            out = self.layers[-1]["name"] if self.layers else "input"
            self.removed_softmax = True
        if out == "input":
            raise SystemExit("the module returns its input")
        # Every layer must lead to the output (fx may leave dead values, e.g. size() reads).
        arch = {"input_shape": self.input_shape, "layers": self.layers, "output": out}
        embedding = self.embedding(out)
        if embedding:
            arch["embedding"] = embedding
        return arch

    def embedding(self, out: str) -> str | None:
        by_name = {l["name"]: l for l in self.layers}
        layer = by_name.get(out)
        if layer is None or layer["type"] != "Dense":
            return None
        source = layer["inputs"][0]
        while source in by_name and by_name[source]["type"] == "Dropout":
            source = by_name[source]["inputs"][0]
        return None if source == "input" else source

    def module(self, node, m: nn.Module):
        name = node.target
        s = self.shape(node.args[0]) if isinstance(node.args[0], torch.fx.Node) else None
        sd = {k: v for k, v in m.state_dict().items()}
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                raise Unsupported(f"padding_mode '{m.padding_mode}' (only zeros)")
            padding = m.padding
            if isinstance(padding, str):
                if padding == "valid":
                    padding = (0, 0)
                else:  # "same" with stride 1: PyTorch pads the extra pixel at the end
                    total = [m.dilation[i] * (m.kernel_size[i] - 1) for i in range(2)]
                    padding = [total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2]
            config = {"in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                      "stride": pair(m.stride), "padding": list(padding) if len(padding) == 4 else pair(padding),
                      "bias": m.bias is not None}
            if m.groups != 1:
                config["groups"] = m.groups
            if tuple(m.dilation) != (1, 1):
                config["dilation"] = pair(m.dilation)
            self.add(node, "Conv2D", config, name=name, params=sd)
        elif isinstance(m, nn.ConvTranspose2d):
            if m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros":
                raise Unsupported("groups, dilation or padding_mode other than the defaults")
            self.add(node, "ConvTranspose2D", {
                "in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                "stride": pair(m.stride), "padding": pair(m.padding), "output_padding": pair(m.output_padding),
                "bias": m.bias is not None}, name=name, params=sd)
        elif isinstance(m, nn.Linear):
            if len(s) != 1:
                raise Unsupported(f"Linear on samples of shape {s}; Borderline's Dense takes flat features (flatten first)")
            self.add(node, "Dense", {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None},
                     name=name, params=sd)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            if not m.track_running_stats:
                raise Unsupported("track_running_stats=False (batch statistics at inference)")
            params = {"running_mean": m.running_mean, "running_var": m.running_var}
            params["weight"] = m.weight if m.affine else torch.ones(m.num_features)
            params["bias"] = m.bias if m.affine else torch.zeros(m.num_features)
            self.add(node, "BatchNorm", {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum or 0.1},
                     name=name, params=params)
        elif isinstance(m, nn.LayerNorm):
            config = {"normalized_shape": list(m.normalized_shape), "eps": m.eps, "elementwise_affine": m.elementwise_affine}
            if m.elementwise_affine:
                config["bias"] = m.bias is not None
            self.add(node, "LayerNorm", config, name=name, params=sd)
        elif isinstance(m, nn.GroupNorm):
            self.add(node, "GroupNorm", {"num_groups": m.num_groups, "num_channels": m.num_channels, "eps": m.eps, "affine": m.affine},
                     name=name, params=sd)
        elif isinstance(m, nn.ReLU):
            self.add(node, "ReLU", name=name)
        elif isinstance(m, nn.ReLU6):
            self.add(node, "ReLU6", name=name)
        elif isinstance(m, nn.Hardtanh):
            self.clip(node, m.min_val, m.max_val, name)
        elif isinstance(m, nn.LeakyReLU):
            self.add(node, "LeakyReLU", {"negative_slope": m.negative_slope}, name=name)
        elif isinstance(m, nn.Sigmoid):
            self.add(node, "Sigmoid", name=name)
        elif isinstance(m, nn.Tanh):
            self.add(node, "Tanh", name=name)
        elif isinstance(m, nn.GELU):
            self.add(node, "GELU", {"approximate": m.approximate}, name=name)
        elif isinstance(m, nn.SiLU):
            self.add(node, "SiLU", name=name)
        elif isinstance(m, nn.ELU):
            self.add(node, "ELU", {"alpha": m.alpha}, name=name)
        elif isinstance(m, nn.PReLU):
            self.add(node, "PReLU", {"num_parameters": m.num_parameters}, name=name, params=sd)
        elif isinstance(m, nn.Softmax):
            self.softmax(node, m.dim, name)
        elif isinstance(m, nn.MaxPool2d):
            if m.ceil_mode or m.return_indices or pair(m.dilation) != [1, 1]:
                raise Unsupported("ceil_mode, return_indices or dilation")
            self.add(node, "MaxPool2D", {"kernel_size": pair(m.kernel_size), "stride": pair(m.stride or m.kernel_size),
                                         "padding": pair(m.padding)}, name=name)
        elif isinstance(m, nn.AvgPool2d):
            if m.ceil_mode or m.divisor_override is not None:
                raise Unsupported("ceil_mode or divisor_override")
            self.add(node, "AvgPool2D", {"kernel_size": pair(m.kernel_size), "stride": pair(m.stride or m.kernel_size),
                                         "padding": pair(m.padding), "count_include_pad": bool(m.count_include_pad)}, name=name)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            size = m.output_size
            size = [size, size] if isinstance(size, int) else [s[1] if size[0] is None else size[0], s[2] if size[1] is None else size[1]]
            self.add(node, "AdaptiveAvgPool2D", {"output_size": size}, name=name)
        elif isinstance(m, nn.Flatten):
            self.flatten(node, m.start_dim, m.end_dim, name)
        elif isinstance(m, (nn.Dropout, nn.Dropout2d, nn.AlphaDropout)):
            self.add(node, "Dropout", {"p": m.p}, name=name)
        elif isinstance(m, nn.Identity):
            self.alias(node, node.args[0])
        elif isinstance(m, nn.Upsample):
            if m.mode != "nearest" or m.size is not None:
                raise Unsupported(f"mode '{m.mode}' or a target size (only nearest with scale_factor)")
            sf = m.scale_factor
            sf = pair(int(sf)) if isinstance(sf, (int, float)) else [int(x) for x in sf]
            self.add(node, "UpSampling2D", {"scale_factor": sf, "mode": "nearest"}, name=name)
        else:
            raise Unsupported("no Borderline layer does this")

    def clip(self, node, low, high, name=None):
        if low == 0 and high == 6:
            self.add(node, "ReLU6", name=name)
        elif low == 0 and high is None:
            self.add(node, "ReLU", name=name)
        else:
            config = {}
            if low is not None:
                config["min"] = float(low)
            if high is not None:
                config["max"] = float(high)
            self.add(node, "Clip", config, name=name)

    def softmax(self, node, dim, name=None):
        s = self.shape(node.args[0])
        if len(s) != 1 or dim not in (1, -1, None):
            raise Unsupported(f"softmax over dim {dim} of samples {s}; Borderline's Softmax takes flat features")
        self.add(node, "Softmax", name=name)

    def flatten(self, node, start, end, name=None):
        s = self.shape(node.args[0])
        r = len(s) + 1
        start = start + r if start < 0 else start
        end = end + r if end < 0 else end
        if start == 0:
            raise Unsupported("flatten from dim 0 merges the batch")
        if start == 1 and end == r - 1:
            self.add(node, "Flatten", name=name)
        else:
            self.add(node, "Reshape", {"shape": self.shape(node)}, name=name)

    def function(self, node):
        t = node.target
        args = node.args
        kw = node.kwargs
        method = t if node.op == "call_method" else None
        fn = None if method else t
        # Values that are not tensors (x.size(0), x.dim()) only feed views.
        if method in ("size", "dim") or fn in (getattr,):
            return
        if method == "contiguous" or fn is torch.Tensor.contiguous:
            return self.alias(node, args[0])
        if method in ("view", "reshape") or fn in (torch.reshape, torch.flatten) or method == "flatten":
            if fn is torch.flatten or method == "flatten":
                start = args[1] if len(args) > 1 else kw.get("start_dim", 0)
                end = args[2] if len(args) > 2 else kw.get("end_dim", -1)
                return self.flatten(node, start, end)
            out = self.shape(node)
            return self.add(node, "Flatten" if len(out) == 1 else "Reshape", None if len(out) == 1 else {"shape": out})
        if method == "permute" or fn is torch.permute:
            dims = list(args[1:]) if method and not isinstance(args[1], (list, tuple)) else list(args[1])
            if dims[0] != 0:
                raise Unsupported(f"permute {dims} moves the batch")
            return self.add(node, "Permute", {"dims": [d - 1 for d in dims[1:]]})
        if fn in (F.relu, torch.relu) or method == "relu":
            return self.add(node, "ReLU")
        if fn is F.relu6:
            return self.add(node, "ReLU6")
        if fn in (torch.sigmoid, F.sigmoid) or method == "sigmoid":
            return self.add(node, "Sigmoid")
        if fn in (torch.tanh, F.tanh) or method == "tanh":
            return self.add(node, "Tanh")
        if fn is F.gelu:
            return self.add(node, "GELU", {"approximate": kw.get("approximate", "none")})
        if fn is F.silu:
            return self.add(node, "SiLU")
        if fn is F.elu:
            return self.add(node, "ELU", {"alpha": kw.get("alpha", args[1] if len(args) > 1 else 1.0)})
        if fn is F.leaky_relu:
            return self.add(node, "LeakyReLU", {"negative_slope": kw.get("negative_slope", args[1] if len(args) > 1 else 0.01)})
        if fn is F.hardtanh:
            return self.clip(node, kw.get("min_val", args[1] if len(args) > 1 else -1.0), kw.get("max_val", args[2] if len(args) > 2 else 1.0))
        if fn in (torch.clamp, torch.clip) or method in ("clamp", "clip"):
            return self.clip(node, kw.get("min", args[1] if len(args) > 1 else None), kw.get("max", args[2] if len(args) > 2 else None))
        if fn in (F.softmax, torch.softmax) or method == "softmax":
            return self.softmax(node, kw.get("dim", args[1] if len(args) > 1 else None))
        if fn in (F.dropout, F.dropout2d):
            return self.alias(node, args[0])
        if fn is F.adaptive_avg_pool2d:
            size = args[1] if len(args) > 1 else kw["output_size"]
            return self.add(node, "AdaptiveAvgPool2D", {"output_size": pair(size)})
        if fn is F.max_pool2d:
            k = pair(args[1] if len(args) > 1 else kw["kernel_size"])
            stride = kw.get("stride", args[2] if len(args) > 2 else None) or k
            return self.add(node, "MaxPool2D", {"kernel_size": k, "stride": pair(stride), "padding": pair(kw.get("padding", args[3] if len(args) > 3 else 0))})
        if fn is F.avg_pool2d:
            k = pair(args[1] if len(args) > 1 else kw["kernel_size"])
            stride = kw.get("stride", args[2] if len(args) > 2 else None) or k
            return self.add(node, "AvgPool2D", {"kernel_size": k, "stride": pair(stride), "padding": pair(kw.get("padding", args[3] if len(args) > 3 else 0)),
                                                "count_include_pad": kw.get("count_include_pad", True)})
        if method == "mean" or fn is torch.mean:
            dims = args[1] if len(args) > 1 else kw.get("dim")
            dims = sorted(d % 4 for d in (dims if isinstance(dims, (list, tuple)) else [dims]))
            s = self.shape(args[0])
            if len(s) != 3 or dims != [2, 3]:
                raise Unsupported(f"mean over dims {dims} of samples {s}; only over the spatial dims (global average pooling)")
            name = self.add(node, "GlobalAvgPool2D")
            if kw.get("keepdim", False) or (len(args) > 2 and args[2]):
                entry = self.layers[-1]
                entry["name"] = self.unique(entry["name"] + ".pool")
                self.layers.append({"name": name, "type": "Reshape", "inputs": [entry["name"]], "config": {"shape": [s[0], 1, 1]}})
            return
        if fn in (torch.cat, torch.concat):
            tensors = list(args[0])
            dim = kw.get("dim", args[1] if len(args) > 1 else 0)
            dim = dim % (len(self.shape(tensors[0])) + 1)
            if dim == 0:
                raise Unsupported("concatenates along the batch")
            return self.add(node, "Concatenate", {"axis": dim - 1}, inputs=tensors)
        if fn in (operator.add, torch.add, operator.iadd) or method in ("add", "add_"):
            return self.arithmetic(node, "add")
        if fn in (operator.sub, torch.sub) or method == "sub":
            return self.arithmetic(node, "sub")
        if fn in (operator.mul, torch.mul, operator.imul) or method in ("mul", "mul_"):
            return self.arithmetic(node, "mul")
        if fn in (operator.truediv, torch.div) or method == "div":
            return self.arithmetic(node, "div")
        if fn in (operator.matmul, torch.matmul):
            w = self.constant(args[1])
            s = self.shape(args[0])
            if w is None or w.dim() != 2 or len(s) != 1 or w.shape[0] != s[0]:
                raise Unsupported("matmul other than flat features @ a [in, out] parameter")
            return self.add(node, "Dense", {"in_features": int(w.shape[0]), "out_features": int(w.shape[1]), "bias": False},
                            inputs=[args[0]], params={"weight": w.t()})
        raise Unsupported("no Borderline layer does this")

    def arithmetic(self, node, op):
        a, b = node.args[0], node.args[1]
        ca, cb = self.constant(a), self.constant(b)
        if ca is None and cb is None:
            if op not in ("add", "mul"):
                raise Unsupported(f"{op} of two tensors (Borderline adds and multiplies tensors)")
            if self.shape(a) != self.shape(b) and op == "add":
                raise Unsupported(f"add of tensors of shapes {self.shape(a)} and {self.shape(b)} (no broadcasting)")
            return self.add(node, "Add" if op == "add" else "Multiply", inputs=[a, b])
        if ca is not None and cb is not None:
            raise Unsupported("arithmetic on two constants")
        x, c, first = (b, ca, True) if ca is not None else (a, cb, False)
        s = self.shape(x)
        # matmul followed by + bias: the Dense layer's bias.
        prev = self.layers[-1] if self.layers else None
        if op == "add" and prev and prev["type"] == "Dense" and not prev["config"]["bias"] and prev["name"] == self.source(x) \
                and len(list(x.users)) == 1 and c.numel() == prev["config"]["out_features"]:
            prev["config"]["bias"] = True
            self.parameters[f"{prev['name']}.bias"] = c.detach().float().reshape(-1).numpy()
            self.value[node.name] = prev["name"]
            return
        v = self.channel_values(c, s, op)
        if op == "sub" and not first:
            return self.add(node, "Normalization", {"mean": v, "std": 1.0}, inputs=[x])
        if op == "div" and first:
            raise Unsupported("a constant divided by a tensor")
        if op == "div":
            # (x − mean) / 1 then / std: one Normalization, as torchvision's Normalize computes it.
            if prev and prev["type"] == "Normalization" and prev["config"].get("std") == 1.0 and prev["name"] == self.source(x) \
                    and len(list(x.users)) == 1:
                prev["config"]["std"] = v
                self.value[node.name] = prev["name"]
                return
            return self.add(node, "Normalization", {"mean": 0.0, "std": v}, inputs=[x])
        if op == "sub":
            return self.add(node, "Rescaling", {"scale": -1.0, "offset": v}, inputs=[x])
        if op == "add":
            return self.add(node, "Rescaling", {"scale": 1.0, "offset": v}, inputs=[x])
        return self.add(node, "Rescaling", {"scale": v, "offset": 0.0}, inputs=[x])


# ----------------------------------------------------------------------------------------------
# Writing.

def write_native(path: str, arch: dict, parameters: dict[str, np.ndarray], class_names: list[str]):
    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "borderline.model"
        f.attrs["format_version"] = 1
        f.attrs["architecture"] = json.dumps(arch, sort_keys=True)
        f.attrs["input_shape"] = np.array(arch["input_shape"], dtype=np.int64)
        f.attrs["class_names"] = class_names
        g = f.create_group("parameters")
        for k, v in parameters.items():
            g.create_dataset(k, data=v.astype(np.float32))


def write_state_dict(path: str, parameters: dict[str, np.ndarray]):
    import h5py
    with h5py.File(path, "w") as f:
        for k, v in parameters.items():
            f.create_dataset(k, data=v.astype(np.float32))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("model", help="FILE.py:Class, package.module:Class (or a function returning the module), or a torch.save(model) file")
    p.add_argument("--input-shape", required=True, help="per-sample input shape, e.g. 3,32,32 (channels first) or 784")
    p.add_argument("--weights", help="state_dict file (torch.save(model.state_dict()) .pt/.pth, or an h5py .h5) to load into the module")
    p.add_argument("--args", default="{}", help="JSON keyword arguments for the class, e.g. '{\"num_classes\": 10}'")
    p.add_argument("--class-names", help="comma-separated names of the outputs")
    p.add_argument("-o", "--output", help="native Borderline model file to write (.h5)")
    p.add_argument("--architecture", help="also write the architecture JSON here")
    p.add_argument("--state-dict-h5", help="also write the weights as an h5py state_dict here (loads with --architecture)")
    a = p.parse_args(argv)
    if not (a.output or a.architecture):
        p.error("give -o MODEL.h5 and/or --architecture ARCH.json")
    try:
        shape = [int(v) for v in a.input_shape.split(",")]
        assert shape and all(v > 0 for v in shape)
    except (ValueError, AssertionError):
        p.error(f"--input-shape must be positive integers separated by commas, found {a.input_shape!r}")
    torch.manual_seed(0)
    model = load_module(a.model, json.loads(a.args), a.weights)
    try:
        converter = Converter(model, shape)
    except Exception as e:  # fx cannot trace data-dependent control flow, etc.
        raise SystemExit(f"torch.fx cannot trace {type(model).__name__} with input shape {shape}: {e}\n"
                         "(data-dependent Python control flow does not trace; export ONNX with torch.onnx.export instead)")
    arch = converter.run()
    class_names = a.class_names.split(",") if a.class_names else []
    with torch.no_grad():
        outputs = converter.gm(torch.zeros(1, *shape)).shape[-1]
    if class_names and len(class_names) != outputs:
        raise SystemExit(f"--class-names has {len(class_names)} names but the model has {outputs} outputs")
    if class_names:
        arch["class_names"] = class_names
    arch["metadata"] = {"source": "pytorch (tools/torch_to_borderline.py)", "torch_version": torch.__version__,
                        "module": type(model).__name__}
    if converter.removed_softmax:
        arch["metadata"]["removed_output_activation"] = "softmax"
    if a.output:
        write_native(a.output, arch, converter.parameters, class_names)
    if a.architecture:
        Path(a.architecture).write_text(json.dumps(arch, indent=2, sort_keys=True) + "\n")
    if a.state_dict_h5:
        write_state_dict(a.state_dict_h5, converter.parameters)
    count = sum(v.size for k, v in converter.parameters.items() if not k.endswith(("running_mean", "running_var")))
    print(f"{type(model).__name__}: {len(arch['layers'])} layers, {count} parameters"
          + (" (final softmax left out: Borderline works on logits)" if converter.removed_softmax else ""))
    for target in [a.output, a.architecture, a.state_dict_h5]:
        if target:
            print(f"wrote {target}")
    if a.output:
        print(f"check it: borderline inspect {a.output}")


if __name__ == "__main__":
    main()
