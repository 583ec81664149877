#!/usr/bin/env python3
"""How robust are adversarial examples to random perturbations? For each successful example of a
`borderline attack -o FILE` output, the share of R random perturbations of RMS eps (Gaussian
directions scaled to RMS eps, fresh ones, not OPTMARGIN's own frame) under which the shipped CNN
still does not predict the true label. OPTMARGIN's claim (He, Li & Song): its examples survive
such perturbations, C&W's do not.

    python3 tools/attack_noise_survival.py adv-cw-l2.h5 adv-optmargin.h5 [--eps 0.3] [--draws 100]
"""
import argparse
import sys
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_attack_goldens import model  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from pytorch_peer import FMNIST, read_idx  # noqa: E402


def wrong_share(f, x, y, eps, draws, g):
    n, d = x.shape[0], x[0].numel()
    wrong = torch.zeros(n)
    with torch.no_grad():
        for _ in range(draws):
            v = torch.randn(x.shape, generator=g)
            v = v / v.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * (eps * d ** 0.5)
            wrong += (f(x + v).argmax(1) != y).float()
    return wrong / draws


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--eps", type=float, default=0.3)
    ap.add_argument("--draws", type=int, default=100)
    args = ap.parse_args()
    f = model()
    g = torch.Generator().manual_seed(0)
    for path in args.files:
        with h5py.File(path, "r") as h:
            x = torch.tensor(h["x"][()]).float()
            y = torch.tensor(h["y"][()]).long()
            ok = torch.tensor(h["succeeded"][()]).bool()
            name = h.attrs["attack"]
            indices = h["indices"][()]
        images = read_idx(FMNIST / "t10k-images-idx3-ubyte.gz")[indices]
        clean = torch.tensor(images, dtype=torch.float32).reshape(x.shape) / 255
        x, y, clean = x[ok], y[ok], clean[ok]
        share = wrong_share(f, x, y, args.eps, args.draws, g)
        base = wrong_share(f, clean, y, args.eps, args.draws, g)
        print(f"{name}: {x.shape[0]} successful examples; misclassified under RMS-{args.eps} noise: "
              f"mean {100 * share.mean():.1f} %, median {100 * share.median():.1f} %, under all draws {int((share == 1).sum())}; "
              f"their clean images: mean {100 * base.mean():.1f} %")


if __name__ == "__main__":
    main()
