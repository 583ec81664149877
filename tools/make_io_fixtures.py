#!/usr/bin/env python3
"""Generate the small files written by real h5py and Keras that the Swift IO tests read.

Run from the repository root:

    pip install -r tools/requirements.txt      # keras 3, jax, h5py, numpy (torch not needed)
    python3 tools/make_io_fixtures.py          # writes Tests/BorderlineCoreTests/Golden/io/*

The outputs are committed; CI only reads them, it never runs this script (the tests must not run
Python). Python is a development tool here, never a runtime dependency of Borderline.

Everything is seeded (numpy generators with fixed seeds, keras.utils.set_random_seed; every Keras
weight is overwritten with seeded values) and KERAS_BACKEND is forced to "jax", whose
Conv2DTranspose cropping docs/model-format.md describes. Files written:

    h5py_strings.h5      string attributes as h5py and numpy write them (HDF5Tests.
                         testStringAttributesWrittenByH5py): Python str (variable-length UTF-8),
                         numpy bytes_ (fixed-length), lists of str, numpy bytes arrays, an empty
                         list (h5py stores it as an empty float64 array), and a space-padded
                         fixed-length string as Fortran/MATLAB writers leave it.
    native_h5py.h5       a native Borderline file written the way docs/model-format.md tells
                         PyTorch users to (ModelFileTests.testNativeFileWrittenByH5py): the
                         architecture of IOTestSupport.denseModel() without class_names,
                         fixed-length class names, float64 parameters.
    k3_sequential.h5     Keras 3 model.save(...h5) files (ModelFileTests.testKerasImportMatchesKeras):
    k3_decoder.h5          every supported layer and the awkward cases ("same" padding with
    k3_functional.h5       stride 2, odd-sized "same" max pooling, ZeroPadding2D, a
                           Conv2DTranspose that crops at the end, Reshape into and out of images,
                           Permute, keepdims pooling, a final Softmax layer);
    k2_functional.h5     Keras 2-style files as tf.keras 2.x wrote them (bytes attributes,
    k2_sequential.h5       "name:0" weights, batch_input_shape, [[[layer, node, index, {}]]]
                           inbound nodes), weights from Keras 3 twins;
    keras_expected.h5    one group per Keras file above: x (NCHW for images), y (Keras's output,
                         NCHW for images) and the attribute probabilities (1 when y is a softmax).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "BorderlineCoreTests" / "Golden" / "io"
SAMPLES = 3          # samples in every x of keras_expected.h5


# ----------------------------------------------------------------------------------------------
# Plain h5py files.

def write_h5py_strings(path: Path):
    with h5py.File(path, "w") as f:
        f.attrs["str"] = "variable"
        f.attrs["bytes"] = np.bytes_(b"fixed")
        f.attrs["str_list"] = ["a", "bc"]
        f.attrs["bytes_array"] = np.array([b"T-shirt/top", b"Bag"])
        f.attrs["empty_list"] = []
        t = h5py.h5t.C_S1.copy()
        t.set_size(6)
        t.set_strpad(h5py.h5t.STR_SPACEPAD)
        a = h5py.h5a.create(f.id, b"spacepad", t, h5py.h5s.create(h5py.h5s.SCALAR))
        a.write(np.array(b"ab    ", dtype="S6"), mtype=t)


# The architecture of IOTestSupport.denseModel() (Tests/BorderlineCoreTests/HDF5Tests.swift)
# without its class names; the test checks that the layers still match that helper.
DENSE_ARCHITECTURE = {
    "input_shape": [4],
    "layers": [
        {"name": "fc1", "type": "Dense", "config": {"in_features": 4, "out_features": 5}},
        {"name": "relu1", "type": "ReLU"},
        {"name": "fc2", "type": "Dense", "config": {"in_features": 5, "out_features": 3}},
    ],
    "output": "fc2",
    "embedding": "relu1",
    "metadata": {"note": "test"},
}


def write_native_h5py(path: Path):
    arch = DENSE_ARCHITECTURE
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_(b"borderline.model")
        f.attrs["format_version"] = 1
        f.attrs["architecture"] = json.dumps(arch)
        f.attrs["input_shape"] = arch["input_shape"]
        f.attrs["class_names"] = np.array([b"a", b"bb", b"ccc"])
        g = f.create_group("parameters")
        for k, s in [("fc1.weight", (5, 4)), ("fc1.bias", (5,)), ("fc2.weight", (3, 5)), ("fc2.bias", (3,))]:
            g.create_dataset(k, data=rng.standard_normal(s))   # float64: read tolerantly


# ----------------------------------------------------------------------------------------------
# Keras files and Keras's outputs on seeded inputs.

def nchw(a: np.ndarray) -> np.ndarray:
    return np.transpose(a, (0, 3, 1, 2)) if a.ndim == 4 else a


def randomize(model, rng):
    for w in model.weights:
        v = rng.normal(0, 0.5, size=w.shape).astype("float32")
        if "variance" in w.path:
            v = np.abs(v) + 0.5
        w.assign(v)


def expected(expect, name, model, input_shape, rng, probabilities=False):
    x = rng.uniform(0, 1, size=(SAMPLES,) + input_shape).astype("float32")
    y = np.asarray(model(x, training=False))
    g = expect.create_group(name)
    g.create_dataset("x", data=nchw(x))
    g.create_dataset("y", data=nchw(y))
    g.attrs["probabilities"] = int(probabilities)


def keras3_files(expect):
    rng = np.random.default_rng(3001)
    m = keras.Sequential([keras.Input((9, 9, 2)),
        L.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv1"),
        L.BatchNormalization(center=False, name="bn"),
        L.MaxPooling2D(2, padding="same", name="pool"),
        L.ZeroPadding2D(((1, 0), (0, 1)), name="pad"),
        L.Conv2D(3, 2, activation="leaky_relu", name="conv2"),
        L.AveragePooling2D(2, strides=1, name="avg"),
        L.Flatten(name="flat"), L.Dropout(0.3, name="drop"),
        L.Dense(6, activation="tanh", name="fc1"), L.LeakyReLU(0.1, name="lrelu"),
        L.Dense(3, name="fc2"), L.Softmax(name="softmax")])
    randomize(m, rng)
    m.save(str(OUT / "k3_sequential.h5"))
    expected(expect, "k3_sequential", m, (9, 9, 2), rng, probabilities=True)

    rng = np.random.default_rng(3002)
    m = keras.Sequential([keras.Input((5,)),
        L.Dense(24, activation="sigmoid", name="fc"), L.Reshape((3, 4, 2), name="img"),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", name="up1"),
        L.ReLU(negative_slope=0.05, name="relu"),
        L.Conv2DTranspose(2, 2, strides=2, padding="valid", output_padding=1, name="up2"),
        L.Permute((2, 1, 3), name="perm"), L.Reshape((-1,), name="flat"), L.Dense(4, name="out")])
    randomize(m, rng)
    m.save(str(OUT / "k3_decoder.h5"))
    expected(expect, "k3_decoder", m, (5,), rng)

    rng = np.random.default_rng(3003)
    i = keras.Input((6, 6, 3), name="image")
    a = L.Conv2D(3, 1, name="mix")(i)
    b = L.Activation("relu", name="act")(a)
    c = L.Add(name="res")([b, i])
    d = L.GlobalAveragePooling2D(keepdims=True, name="gap")(c)
    d = L.Flatten(name="gflat")(d)
    d = L.Dense(2, name="head1")(d)
    e = L.Reshape((9, 4, 3), name="fold")(c)
    e = L.Conv2D(2, (2, 2), name="conv")(e)
    e = L.Flatten(name="eflat")(e)
    e = L.Dense(2, name="head2")(e)
    o = L.Add(name="sum")([d, e])
    m = keras.Model(i, o)
    randomize(m, rng)
    m.save(str(OUT / "k3_functional.h5"))
    expected(expect, "k3_functional", m, (6, 6, 3), rng)


def keras2_file(path: Path, config, model):
    """A file as tf.keras 2.x wrote it, holding `model`'s weights under Keras 2 names."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = np.bytes_(b"2.13.1")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(config).encode())
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([l.name.encode() for l in model.layers])
        for l in model.layers:
            lg = g.create_group(l.name)
            wn = [f"{l.name}/{w.path.split('/')[-1]}:0" for w in l.weights]
            lg.attrs["weight_names"] = np.array([n.encode() for n in wn], dtype="S") if wn else np.array([], dtype="S1")
            for n, w in zip(wn, l.weights):
                lg.create_dataset(n, data=np.asarray(w))


CONV = {"name": "conv", "trainable": True, "dtype": "float32", "filters": 2, "kernel_size": [3, 3], "strides": [1, 1],
        "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu",
        "use_bias": True}


def keras2_files(expect):
    rng = np.random.default_rng(3004)
    i = keras.Input((6, 6, 2), name="input_1")
    a = L.Conv2D(2, 3, padding="same", activation="relu", name="conv")(i)
    s = L.Add(name="add")([a, i])
    fl = L.Flatten(name="flatten")(s)
    o = L.Dense(3, activation="softmax", name="dense")(fl)
    m = keras.Model(i, o)
    randomize(m, rng)
    cfg = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6, 6, 2], "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "input_1"}, "name": "input_1", "inbound_nodes": []},
        {"class_name": "Conv2D", "config": CONV, "name": "conv", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"class_name": "Add", "config": {"name": "add", "trainable": True, "dtype": "float32"}, "name": "add",
         "inbound_nodes": [[["conv", 0, 0, {}], ["input_1", 0, 0, {}]]]},
        {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True, "dtype": "float32",
                                             "data_format": "channels_last"}, "name": "flatten",
         "inbound_nodes": [[["add", 0, 0, {}]]]},
        {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 3,
                                           "activation": "softmax", "use_bias": True}, "name": "dense",
         "inbound_nodes": [[["flatten", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}}
    keras2_file(OUT / "k2_functional.h5", cfg, m)
    expected(expect, "k2_functional", m, (6, 6, 2), rng, probabilities=True)

    rng = np.random.default_rng(3005)
    m = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(3, 3, activation="relu", name="conv2d"),
                          L.MaxPooling2D(name="max_pooling2d"), L.Flatten(name="flatten"), L.Dense(4, name="dense")])
    randomize(m, rng)
    cfg = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "Conv2D", "config": dict(CONV, name="conv2d", filters=3, padding="valid",
                                                batch_input_shape=[None, 8, 8, 1])},
        {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "pool_size": [2, 2], "padding": "valid",
                                                  "strides": [2, 2], "data_format": "channels_last"}},
        {"class_name": "Flatten", "config": {"name": "flatten", "data_format": "channels_last"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": "linear", "use_bias": True}}]}}
    keras2_file(OUT / "k2_sequential.h5", cfg, m)
    expected(expect, "k2_sequential", m, (8, 8, 1), rng)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(3000)
    write_h5py_strings(OUT / "h5py_strings.h5")
    write_native_h5py(OUT / "native_h5py.h5")
    with h5py.File(OUT / "keras_expected.h5", "w") as expect:
        keras3_files(expect)
        keras2_files(expect)

    # Every file Keras 3 wrote must load back into Keras and give the recorded outputs (Keras 3
    # cannot load the Keras 2-style files: it does not take a first layer's batch_input_shape).
    with h5py.File(OUT / "keras_expected.h5", "r") as expect:
        for name in (n for n in expect if n.startswith("k3_")):
            g = expect[name]
            x, y = np.asarray(g["x"]), np.asarray(g["y"])
            if x.ndim == 4:
                x = np.transpose(x, (0, 2, 3, 1))
            m = keras.models.load_model(str(OUT / f"{name}.h5"), compile=False)
            err = float(np.abs(nchw(np.asarray(m(x, training=False))) - y).max())
            assert err < 1e-6, (name, "reload", err)

    print(f"IO fixtures written to {OUT.relative_to(ROOT)}")
    files = sorted(p for p in OUT.glob("*") if p.is_file())
    for p in files:
        print(f"    {p.name:24s} {p.stat().st_size / 1024:8.1f} KiB")
    print(f"total {sum(p.stat().st_size for p in files) / 1024:.1f} KiB")


if __name__ == "__main__":
    sys.exit(main())
