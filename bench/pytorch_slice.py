#!/usr/bin/env python3
"""PyTorch peer of the slices plugin's slice evaluation (benchmark and cross-check).

Rebuilds the shipped CNN (or FCN) in PyTorch from our HDF5 file (tools/make_goldens.py's reader,
weights copied into nn.Sequential), then does what `borderline run --no-defaults --plugin slices` does for the
three-image slice of a pair s:t on the Fashion-MNIST test set:

  x1, x3 = the first two test images of class s the model classifies correctly, x2 = the first of t;
  u = (x2 − x1)/‖·‖, v = Gram–Schmidt of x3 − x1 (float64);
  the feasible polygon of {x1 + a u + b v} ∩ [0,1]^784 by clipping a square with the 1568
  half-planes (Sutherland–Hodgman), its bounding rectangle, a G × G grid of pixel centres,
  feasible = inside the polygon (one interval per row);
  every feasible point evaluated: X = [1 a b] · [x1; u; v] (one matmul per batch), clamp to
  [0,1], softmax, argmax, in batches of 4096.

Prints the wall time (planes + polygon + mask, and the evaluation), the feasible point count,
and — with --results RUN/results.h5 — the share of pixels where its classes equal the plugin's
(`/slices/pair_s_t/slice/images/classes`).

  python3 bench/pytorch_slice.py --model Models/fashion-cnn.h5 --pair 0:1 --grid 512 [--threads 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from make_goldens import read_native  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_peer import FMNIST, cnn, fcn, frozen, read_idx  # noqa: E402


def load(path: str) -> torch.nn.Module:
    arch, params = read_native(Path(path))
    names = {k.split(".")[0] for k in params}
    model = cnn() if "conv1" in names else fcn()
    state = model.state_dict()
    for key in state:
        state[key] = params[key].reshape(state[key].shape).clone()
    model.load_state_dict(state)
    return frozen(model)


def clip(poly, p, q, r):
    """The part of a convex polygon with p·a + q·b ≤ r."""
    out = []
    n = len(poly)
    for i in range(n):
        s, e = poly[i - 1], poly[i]
        fs, fe = p * s[0] + q * s[1] - r, p * e[0] + q * e[1] - r
        if fe <= 0:
            if fs > 0:
                t = fs / (fs - fe)
                out.append((s[0] + t * (e[0] - s[0]), s[1] + t * (e[1] - s[1])))
            out.append(e)
        elif fs <= 0:
            t = fs / (fs - fe)
            out.append((s[0] + t * (e[0] - s[0]), s[1] + t * (e[1] - s[1])))
    return out


def polygon(o, u, v):
    radius = np.linalg.norm(o - 0.5) + np.sqrt(o.size) / 2 + 1
    poly = [(-radius, -radius), (radius, -radius), (radius, radius), (-radius, radius)]
    for i in range(o.size):
        if u[i] == 0 and v[i] == 0:
            continue
        poly = clip(poly, u[i], v[i], 1 - o[i])
        poly = clip(poly, -u[i], -v[i], o[i])
    # Drop repeated vertices (clipping through a vertex repeats it), as the plugin does.
    eps = 1e-12 * radius
    out = []
    for p in poly:
        if out and abs(out[-1][0] - p[0]) <= eps and abs(out[-1][1] - p[1]) <= eps:
            continue
        out.append(p)
    while len(out) > 1 and abs(out[-1][0] - out[0][0]) <= eps and abs(out[-1][1] - out[0][1]) <= eps:
        out.pop()
    return out


def span(poly, b):
    lo, hi = np.inf, -np.inf
    for i in range(len(poly)):
        p, q = poly[i], poly[(i + 1) % len(poly)]
        if min(p[1], q[1]) <= b <= max(p[1], q[1]):
            if p[1] == q[1]:
                lo, hi = min(lo, p[0], q[0]), max(hi, p[0], q[0])
            else:
                a = p[0] + (b - p[1]) / (q[1] - p[1]) * (q[0] - p[0])
                lo, hi = min(lo, a), max(hi, a)
    return (lo, hi) if lo <= hi else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="Models/fashion-cnn.h5")
    ap.add_argument("--pair", default="0:1")
    ap.add_argument("--grid", type=int, default=512)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--results", help="a run's results.h5 to compare the class grid with")
    ap.add_argument("--all-pixels", action="store_true",
                    help="evaluate all G×G pixel points clamped to [0,1] (what the plugin's projected church windows do) instead of the feasible ones")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    s, t = (int(c) for c in args.pair.split(":"))
    model = load(args.model)
    images = read_idx(FMNIST / "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    labels = read_idx(FMNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(images[i:i + 1000]).reshape(-1, 1, 28, 28)).argmax(1)
                          for i in range(0, len(images), 1000)]).numpy()
    ok_s = np.nonzero((labels == s) & (pred == s))[0]
    ok_t = np.nonzero((labels == t) & (pred == t))[0]
    # The plugin stores float32 basis vectors and works from them; so does this peer.
    x1, x2, x3 = (images[i].reshape(-1).astype(np.float64) for i in (ok_s[0], ok_t[0], ok_s[1]))
    g = args.grid
    times_geometry, times_eval = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        u = x2 - x1
        u = (u / np.linalg.norm(u)).astype(np.float32).astype(np.float64)
        w = (x3 - x1) - np.dot(x3 - x1, u) * u
        v = (w / np.linalg.norm(w)).astype(np.float32).astype(np.float64)
        o = x1.astype(np.float32).astype(np.float64)
        poly = polygon(o, u, v)
        a_lo, a_hi = min(p[0] for p in poly), max(p[0] for p in poly)
        b_lo, b_hi = min(p[1] for p in poly), max(p[1] for p in poly)
        a = a_lo + (np.arange(g) + 0.5) * (a_hi - a_lo) / g
        b = b_hi - (np.arange(g) + 0.5) * (b_hi - b_lo) / g
        mask = np.zeros((g, g), dtype=bool)
        for i in range(g):
            sp = span(poly, b[i])
            if sp is not None:
                mask[i] = (a >= sp[0]) & (a <= sp[1])
        rows, cols = np.nonzero(np.ones_like(mask) if args.all_pixels else mask)
        coeff = torch.from_numpy(np.stack([np.ones(rows.size), a[cols], b[rows]], 1).astype(np.float32))
        basis = torch.from_numpy(np.stack([o, u, v]).astype(np.float32))
        t1 = time.perf_counter()
        classes = torch.full((g * g,), -1, dtype=torch.int64)
        flat = torch.from_numpy(rows * g + cols)
        with torch.no_grad():
            for start in range(0, rows.size, args.batch):
                x = (coeff[start:start + args.batch] @ basis).clamp_(0, 1).reshape(-1, 1, 28, 28)
                p = torch.softmax(model(x), 1)
                classes[flat[start:start + args.batch]] = p.argmax(1)
        t2 = time.perf_counter()
        times_geometry.append(t1 - t0)
        times_eval.append(t2 - t1)
    print(f"model {args.model}, pair {s}:{t}, torch {torch.__version__}, {args.threads} threads")
    print(f"anchors: test images {ok_s[0]}, {ok_t[0]}, {ok_s[1]}; polygon {len(poly)} vertices; "
          f"feasible {int(mask.sum())} of {g * g} pixels; evaluated {rows.size}")
    print(f"geometry (basis, polygon, mask) median {np.median(times_geometry):.3f} s; "
          f"evaluation median {np.median(times_eval):.3f} s (runs: {', '.join(f'{x:.3f}' for x in times_eval)})")
    if args.results and not args.all_pixels:
        import h5py
        with h5py.File(args.results, "r") as f:
            theirs = np.asarray(f[f"slices/pair_{s}_{t}/slice/images/classes"]).reshape(-1)
        mine = classes.numpy()
        print(f"pixels with the same class as the plugin: {np.mean(mine == theirs) * 100:.3f} % "
              f"({np.sum(mine != theirs)} differ; feasible in both: {np.sum((mine >= 0) & (theirs >= 0))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
