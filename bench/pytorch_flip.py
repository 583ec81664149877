#!/usr/bin/env python3
"""PyTorch peer of the flip-point plugin's jacobian-flip search (benchmark and cross-check).

Loads a shipped Borderline model (our HDF5 format) into PyTorch through the reference
interpreter in tools/make_goldens.py, then runs the same batched search as
Plugins/FlipPoint/JacobianFlip.swift on the Fashion-MNIST test images:

  g = ∂ z_a / ∂x at x0 (a = top-1 class, one backward per batch of 256);
  x(α) = clip(x0 − α g, 0, 1) for α = 1, 10, …, 1e10 until the top-1 class changes;
  bisection on α between the last unflipped and the first flipped α until
  |p_a − p_b| < 1e-4 at the flipped end (b its top class) or 60 halvings; one forward per α
  step and per halving, for the rows still active (as the Swift search does).

Prints the wall time of the searches and the resolved / capped / never-flipped counts and the
median L2 distance, to compare with `borderline run --no-defaults --plugin flip-point --images-per-class 0
--set flip-point.starts=all-images` (summary.json: search_seconds, jacobian_*).

  python3 bench/pytorch_flip.py --model Models/fashion-cnn.h5 [--images 10000] [--threads 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from make_goldens import interpret, read_native  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_peer import FMNIST, read_idx  # noqa: E402


def search(f, x0: torch.Tensor, tolerance=1e-4, max_steps=60, alpha_start=1.0, max_alpha=1e10):
    n = x0.shape[0]
    x = x0.clone().requires_grad_(True)
    z = f(x)
    a = z.argmax(1)
    (g,) = torch.autograd.grad(z.gather(1, a[:, None]).sum(), x)
    with torch.no_grad():
        k = z.shape[1]
        lo = torch.zeros(n, dtype=torch.float64)
        hi = torch.full((n,), float("nan"), dtype=torch.float64)
        gap = torch.full((n,), float("inf"))
        alpha = alpha_start
        active = torch.arange(n)

        def gaps(p, rows):
            b = p.argmax(1)
            return (p.gather(1, a[rows, None]) - p.gather(1, b[:, None])).abs().flatten(), b

        # One forward per α step (rows not yet flipped); the gap at the first flipped α comes
        # from the same forward.
        while alpha <= max_alpha and active.numel() > 0:
            xa = (x0[active] - alpha * g[active]).clamp(0, 1)
            p = torch.softmax(f(xa), 1)
            d, b = gaps(p, active)
            flipped = b != a[active]
            hi[active[flipped]] = alpha
            gap[active[flipped]] = d[flipped]
            lo[active[~flipped]] = alpha
            active = active[~flipped]
            alpha *= 10
        never = torch.isnan(hi)
        status = torch.where(never, 2, 1)
        status[(~never) & (gap < tolerance)] = 0
        active = torch.nonzero(status == 1).flatten()
        steps = 0
        # One forward per halving: the midpoint's probabilities give both its side and, when
        # it flipped (it becomes the new α_hi), the gap there.
        while active.numel() > 0 and steps < max_steps:
            steps += 1
            mid = (lo[active] + hi[active]) / 2
            xm = (x0[active] - mid[:, None, None, None].float() * g[active]).clamp(0, 1)
            p = torch.softmax(f(xm), 1)
            d, b = gaps(p, active)
            same = b == a[active]
            lo[active[same]] = mid[same]
            hi[active[~same]] = mid[~same]
            gap[active[~same]] = d[~same]
            done = (~same) & (d < tolerance)
            status[active[done]] = 0
            active = active[~done]
        points = (x0 - torch.nan_to_num(hi)[:, None, None, None].float() * g).clamp(0, 1)
        l2 = (points - x0).flatten(1).norm(dim=1)
    return status, l2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="Models/fashion-cnn.h5")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    arch, params = read_native(Path(args.model))
    images = read_idx(FMNIST / "t10k-images-idx3-ubyte.gz")[: args.images]
    x = torch.from_numpy(images.astype(np.float32) / 255).reshape(-1, 1, 28, 28)

    def f(t):
        return interpret(arch, params, t)["output"]

    statuses, l2s = [], []
    start = time.perf_counter()
    for b in range(0, x.shape[0], args.batch):
        s, d = search(f, x[b: b + args.batch])
        statuses.append(s)
        l2s.append(d)
    seconds = time.perf_counter() - start
    status = torch.cat(statuses)
    l2 = torch.cat(l2s)
    flipped = status != 2
    print(f"model {args.model}, {x.shape[0]} images, torch {torch.__version__}, {args.threads} threads")
    print(f"jacobian-flip search: {seconds:.2f} s")
    print(f"resolved {(status == 0).sum().item()}, capped {(status == 1).sum().item()}, never flipped {(status == 2).sum().item()}")
    print(f"median L2 over flipped: {l2[flipped].median().item():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
