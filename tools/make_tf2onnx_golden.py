#!/usr/bin/env python3
"""Generate the tf2onnx intake golden: a small tf.keras vision classifier (channels-last, as
TensorFlow writes them) exported to ONNX by tf2onnx, and what TensorFlow computes on 100 inputs.
Tests/BorderlineCoreTests/IntakeGoldenTests.swift requires Borderline's logits within 1e-5 and
input gradients within 1e-4 (relative to the largest gradient) of these.

TensorFlow does not share an environment with the other generators' Keras-on-JAX, so run it in
its own virtual environment, from the repository root (CPU only; about a minute):

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu tf2onnx h5py
    /tmp/tfenv/bin/python tools/make_tf2onnx_golden.py

Measured with tensorflow-cpu 2.21.0 and tf2onnx 1.17.0. The outputs are committed; CI only reads them.

Files (in Tests/BorderlineCoreTests/Golden/intake/):

    tf.onnx          tf.keras Functional model: Conv2D "same" + BatchNormalization + ReLU6, a
                     DepthwiseConv2D "same", a strided Conv2D "valid", MaxPooling2D, a residual
                     Add, AveragePooling2D "same", GlobalAveragePooling2D, Dense + ReLU, Dropout,
                     Dense logits; exported by `python -m tf2onnx.convert --saved-model … --opset 17`
                     (input [N, 12, 12, 3], channels last: tf2onnx puts a Transpose in front).
    tf.expected.h5   x [100, 12, 12, 3] in [0, 1], logits, a cotangent and the input gradient
                     d(sum(cotangent * logits))/dx from tf.GradientTape.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import h5py
import numpy as np
import tensorflow as tf
import keras

OUT = Path(__file__).resolve().parent.parent / "Tests/BorderlineCoreTests/Golden/intake"


def model() -> keras.Model:
    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 12, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inp)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu6")(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = keras.layers.ReLU(name="dw_relu")(y)
    x = keras.layers.Add(name="residual")([x, y])
    x = keras.layers.Conv2D(12, 3, strides=2, padding="valid", name="down")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.AveragePooling2D(2, strides=1, padding="same", name="avg")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(16, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(0.3, name="drop")(x)
    out = keras.layers.Dense(5, name="logits")(x)
    m = keras.Model(inp, out)
    # BatchNorm statistics that are not the identity, so the export's folding is exercised.
    bn = m.get_layer("stem_bn")
    rng = np.random.default_rng(7)
    gamma, beta, mean, var = (w.numpy() for w in bn.weights)
    bn.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                    rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    return m


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    m = model()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (100, 12, 12, 3)).astype(np.float32)
    cot = rng.normal(0, 1, (100, 5)).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = m(xt, training=False)
        objective = tf.reduce_sum(logits * cot)
    grad = tape.gradient(objective, xt).numpy()
    logits = logits.numpy()
    with tempfile.TemporaryDirectory() as tmp:
        m.export(f"{tmp}/saved", verbose=False)
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", f"{tmp}/saved",
                        "--output", str(OUT / "tf.onnx"), "--opset", "17"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with h5py.File(OUT / "tf.expected.h5", "w") as g:
        g.create_dataset("x", data=x, compression="gzip", shuffle=True)
        g.create_dataset("logits", data=logits.astype(np.float32))
        g.create_dataset("cotangent", data=cot)
        g.create_dataset("input_gradient", data=grad.astype(np.float32), compression="gzip", shuffle=True)
        g.attrs["framework"] = f"tensorflow {tf.__version__}"
        import tf2onnx
        g.attrs["exporter"] = f"tf2onnx {tf2onnx.__version__}"
    print("wrote", OUT / "tf.onnx", OUT / "tf.expected.h5")


if __name__ == "__main__":
    main()
