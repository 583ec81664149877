#!/usr/bin/env python3
"""PyTorch peer of `borderline attack --attack cw-l2|optmargin` (benchmark and cross-check).

Runs the same batched Carlini-Wagner L2 / OPTMARGIN optimisation as
Sources/Core/Sources/BorderlineCore/Attacks/CarliniWagnerL2.swift (the function cw_l2 of
tools/make_attack_goldens.py: tanh variables, Adam, per-row binary search over c, per-row early
abort) on the first --images Fashion-MNIST test images through the shipped CNN, with the Swift
defaults (kappa 0, c0 0.2, 4 binary-search steps, 1000 iterations, lr 0.2; OPTMARGIN: 19
random orthogonal perturbations of RMS 0.3 from a QR factorisation plus one zero, per image).
Prints success rate, mean RMS distortion over successful rows and wall time.

    python3 bench/pytorch_attacks.py --attack cw-l2 [--images 100] [--threads 2] [--iterations 1000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))
from make_attack_goldens import cw_l2, model  # noqa: E402
from pytorch_peer import FMNIST, read_idx  # noqa: E402


def orthogonal_perturbations(n, copies, d, eps_rms, seed):
    g = torch.Generator().manual_seed(seed)
    v = torch.zeros(n, copies, d)
    for r in range(n):
        q, rr = torch.linalg.qr(torch.randn(d, copies - 1, generator=g))
        q = q * torch.sign(torch.diagonal(rr))
        v[r, : copies - 1] = q.T * (eps_rms * d ** 0.5)
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attack", choices=["cw-l2", "optmargin"], required=True)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--binary-search-steps", type=int, default=4)
    ap.add_argument("--epsilon", type=float, default=0.3)
    ap.add_argument("--keep-stopped", action="store_true",
                    help="run stopped rows through the model too (the first, slower version of this peer)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    f = model()
    n = args.images
    x = torch.tensor(read_idx(FMNIST / "t10k-images-idx3-ubyte.gz")[:n], dtype=torch.float32).reshape(n, 1, 28, 28) / 255
    y = torch.tensor(read_idx(FMNIST / "t10k-labels-idx1-ubyte.gz")[:n].astype(np.int64))
    v = None
    if args.attack == "optmargin":
        v = orthogonal_perturbations(n, 20, 784, args.epsilon, 0).reshape(n, 20, 1, 28, 28)
    start = time.perf_counter()
    adv, found = cw_l2(f, x, y, False, confidence=0.0, initial_constant=0.2,
                       binary_search_steps=args.binary_search_steps, iterations=args.iterations,
                       learning_rate=0.2, perturbations=v, drop_stopped=not args.keep_stopped)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        pred = f(adv).argmax(1)
    ok = pred != y
    rms = ((adv - x) ** 2).flatten(1).mean(1).sqrt()
    print(f"attack {args.attack} images {n} threads {args.threads}")
    print(f"success rate {100 * ok.float().mean().item():.2f} %  (found by the optimiser: {int(found.sum())})")
    print(f"mean RMS distortion {rms[ok].mean().item():.4f}")
    print(f"seconds {seconds:.2f}")


if __name__ == "__main__":
    main()
