#!/usr/bin/env python3
"""Check Borderline's Keras export with Keras itself.

For every pair <name>.keras.h5 / <name>.io.h5 in a folder:

  * <name>.keras.h5 was written by Borderline (`model.save(to:format: .keras)` or
    `borderline convert --to keras`);
  * <name>.io.h5 holds `x`, a batch of inputs in Borderline's channels-first layout (NCHW), and `y`,
    Borderline's outputs for them.

The script checks that Keras 3

  1. loads the file with `keras.models.load_model(path)` and reproduces `y` on the NHWC-transposed
     inputs (outputs that are images are transposed back to NCHW before comparing);
  2. loads the weights into a freshly initialised copy of the model with `model.load_weights(path)`
     (the copy's outputs differ before and match after).

Make the fixtures and run the check (from the repository root):

    BORDERLINE_KERAS_EXPORT_DIR=/tmp/keras-export \\
        swift test --filter ModelFileTests/testWriteKerasExportFixtures
    python3 tools/check_keras_export.py /tmp/keras-export

Exit status 0 when every model passes. Needs keras (3), a backend (jax by default), h5py, numpy.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import numpy as np  # noqa: E402


def to_keras_layout(a: np.ndarray) -> np.ndarray:
    """NCHW -> NHWC for image batches; other ranks are the same in both layouts."""
    return np.transpose(a, (0, 2, 3, 1)) if a.ndim == 4 else a


def from_keras_layout(a: np.ndarray) -> np.ndarray:
    return np.transpose(a, (0, 3, 1, 2)) if a.ndim == 4 else a


def check(model_path: Path, io_path: Path, tolerance: float) -> list[str]:
    import keras

    problems: list[str] = []
    with h5py.File(io_path, "r") as f:
        x = np.asarray(f["x"], dtype=np.float32)
        y = np.asarray(f["y"], dtype=np.float32)
    xk = to_keras_layout(x)

    model = keras.models.load_model(str(model_path), compile=False)
    out = from_keras_layout(np.asarray(model(xk, training=False)))
    if out.shape != y.shape:
        return [f"load_model: output shape {out.shape}, Borderline's is {y.shape}"]
    err = float(np.max(np.abs(out - y))) if y.size else 0.0
    scale = float(np.max(np.abs(y))) if y.size else 0.0
    print(f"  load_model:   {len(model.layers)} layers ({type(model).__name__}), max |Δ| = {err:.2e} (max |y| = {scale:.3g})")
    if err > tolerance * max(1.0, scale):
        problems.append(f"load_model: outputs differ by {err:.3g}")

    fresh = keras.models.clone_model(model)          # same architecture, newly initialised weights
    before = from_keras_layout(np.asarray(fresh(xk, training=False)))
    before_err = float(np.max(np.abs(before - y))) if y.size else 0.0
    fresh.load_weights(str(model_path))
    after = from_keras_layout(np.asarray(fresh(xk, training=False)))
    after_err = float(np.max(np.abs(after - y))) if y.size else 0.0
    print(f"  load_weights: max |Δ| = {after_err:.2e} (fresh initialisation: {before_err:.2e})")
    if after_err > tolerance * max(1.0, scale):
        problems.append(f"load_weights: outputs differ by {after_err:.3g}")
    if model.count_params() and before_err <= tolerance * max(1.0, scale):
        problems.append("load_weights: a freshly initialised copy already matched, the check proves nothing")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder with <name>.keras.h5 and <name>.io.h5 pairs")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="allowed max |Δ|, relative to max(1, max |y|) (default 1e-5)")
    args = parser.parse_args()

    models = sorted(args.folder.glob("*.keras.h5"))
    if not models:
        print(f"no *.keras.h5 files in {args.folder}", file=sys.stderr)
        return 2
    import keras
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    failed = 0
    for model_path in models:
        name = model_path.name[: -len(".keras.h5")]
        io_path = model_path.with_name(f"{name}.io.h5")
        print(name)
        if not io_path.exists():
            print(f"  FAIL: {io_path.name} is missing")
            failed += 1
            continue
        try:
            problems = check(model_path, io_path, args.tolerance)
        except Exception as e:  # a file Keras refuses is a failure, not a crash of the checker
            problems = [f"{type(e).__name__}: {e}"]
        for p in problems:
            print(f"  FAIL: {p}")
        failed += bool(problems)
    passed = len(models) - failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
