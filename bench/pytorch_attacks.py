#!/usr/bin/env python3
"""PyTorch peer of `borderline attack --attack cw-l2|optmargin|deepfool` (benchmark and cross-check).

Runs the same batched Carlini-Wagner L2 / OPTMARGIN optimisation as
Sources/Core/Sources/BorderlineCore/Attacks/CarliniWagnerL2.swift (the function cw_l2 of
tools/make_attack_goldens.py: tanh variables, Adam, per-row binary search over c, per-row early
abort) on the first --images Fashion-MNIST test images through the shipped CNN, with the Swift
defaults (kappa 0, c0 0.2, 4 binary-search steps, 1000 iterations, lr 0.2; OPTMARGIN: 19
random orthogonal perturbations of RMS 0.3 from a QR factorisation plus one zero, per image).
Prints success rate, mean RMS distortion over successful rows and wall time.

    python3 bench/pytorch_attacks.py --attack cw-l2 [--images 100] [--threads 2] [--iterations 1000]

DeepFool (issue 20 item 6): the authors' reference `deepfool.py` (LTS4/DeepFool, PyTorch),
image by image: the 10 classes with the highest logits at x0 (the top one is the start class),
w_k = grad f_k - grad f_0, pert = min |f_k| / ||w_k||, r_i = (pert + 1e-4) w / ||w||,
r_tot += r_i, x = x0 + (1 + overshoot) r_tot until the class changes or 50 iterations; with
`--clip` (default) every iterate is clipped to [0, 1] as Borderline clips to the model's input
box (the reference does not clip: `--no-clip`). On the first --images test images the CNN
classifies correctly (as `borderline attack --only-correct --count N`) it prints the flip rate
and the mean L2 / RMS over the flipped images; `--check adv.h5` (a `borderline attack -o` file)
classifies Borderline's examples with PyTorch: reported successes PyTorch puts in the label's
class, and Borderline's L2 against the reference's per image.

    python3 bench/pytorch_attacks.py --attack deepfool --images 1000 [--check adv-deepfool.h5]
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


def deepfool_one(f, x0, overshoot=0.02, max_iter=50, num_classes=10, clip=True):
    """The reference loop for one image x0 [1, C, H, W]; returns (x, iterations, start class)."""
    with torch.no_grad():
        z0 = f(x0)[0]
    order = torch.argsort(z0, descending=True)[:num_classes]
    k0 = int(order[0])
    r_tot = torch.zeros_like(x0)
    x = x0.clone()
    it = 0
    while it < max_iter:
        # All logits' gradients in one backward: num_classes copies of x, one logit each.
        xs = x.repeat(len(order), 1, 1, 1).requires_grad_(True)
        z = f(xs)
        if it > 0 and int(z[0].argmax()) != k0:
            break
        z[torch.arange(len(order)), order].sum().backward()
        grads = xs.grad.detach()
        fz = z[0].detach()
        pert, w = float("inf"), None
        for j in range(1, len(order)):
            w_k = grads[j] - grads[0]
            f_k = fz[order[j]] - fz[order[0]]
            pert_k = abs(float(f_k)) / max(float(w_k.norm()), 1e-12)
            if pert_k < pert:
                pert, w = pert_k, w_k
        r_tot = r_tot + (pert + 1e-4) * w / max(float(w.norm()), 1e-12)
        x = x0 + (1 + overshoot) * r_tot
        if clip:
            x = x.clamp(0, 1)
        it += 1
    with torch.no_grad():
        flipped = int(f(x).argmax(1)[0]) != k0
    return x.detach(), it, k0, flipped


def run_deepfool(args):
    import h5py
    f = model()
    images = torch.tensor(read_idx(FMNIST / "t10k-images-idx3-ubyte.gz"), dtype=torch.float32).reshape(-1, 1, 28, 28) / 255
    labels = torch.tensor(read_idx(FMNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    with torch.no_grad():
        pred = torch.cat([f(images[i:i + 1000]).argmax(1) for i in range(0, len(images), 1000)])
    idx = torch.nonzero(pred == labels).flatten()[: args.images]
    x0, y = images[idx], labels[idx]
    start = time.perf_counter()
    if args.load:
        saved = np.load(args.load)
        assert (saved["indices"] == idx.numpy()).all(), f"{args.load} holds other images"
        adv, flips, iters = torch.tensor(saved["x"]), torch.tensor(saved["flipped"]), list(saved["iterations"])
    else:
        out, flips, iters = [], [], []
        for i in range(len(idx)):
            x, it, k0, flipped = deepfool_one(f, x0[i:i + 1], overshoot=args.overshoot, max_iter=args.max_iter, clip=not args.no_clip)
            out.append(x)
            flips.append(flipped)
            iters.append(it)
        adv = torch.cat(out)
        flips = torch.tensor(flips)
    seconds = time.perf_counter() - start
    if args.save:
        np.savez(args.save, x=adv.numpy(), flipped=flips.numpy(), iterations=np.array(iters), indices=idx.numpy())
    l2 = (adv - x0).flatten(1).norm(dim=1)
    print(f"attack deepfool (reference, clip={'off' if args.no_clip else '[0, 1]'}) images {len(idx)} (correctly classified, first of the test split)")
    print(f"flip rate {100 * flips.float().mean().item():.2f} % ({int(flips.sum())}/{len(idx)}); not flipped in {args.max_iter}: {int((~flips).sum())}")
    print(f"mean L2 {l2[flips].mean().item():.4f}  median L2 {l2[flips].median().item():.4f}  mean RMS {(l2[flips] / 28).mean().item():.4f} (flipped)")
    print(f"mean iterations {np.mean(iters):.2f}  seconds {seconds:.1f}")
    if args.check:
        h = h5py.File(args.check, "r")
        bx = torch.tensor(h["x"][()], dtype=torch.float32).reshape(-1, 1, 28, 28)
        bidx = torch.tensor(h["indices"][()].astype(np.int64))
        ok = torch.tensor(h["succeeded"][()].astype(bool))
        by = torch.tensor(h["y"][()].astype(np.int64))
        with torch.no_grad():
            bpred = torch.cat([f(bx[i:i + 500]).argmax(1) for i in range(0, len(bx), 500)])
        same = int((ok & (bpred == by)).sum())
        print(f"check {args.check}: {len(bx)} images, {int(ok.sum())} reported successes, {same} of them classified as their label by PyTorch")
        common = [j for j in range(len(bidx)) if int(bidx[j]) in set(idx.tolist())]
        pos = {int(v): i for i, v in enumerate(idx.tolist())}
        both = [j for j in common if ok[j] and flips[pos[int(bidx[j])]]]
        if both:
            bl2 = torch.stack([(bx[j] - images[int(bidx[j])]).norm() for j in both])
            rl2 = torch.stack([l2[pos[int(bidx[j])]] for j in both])
            ratio = bl2 / rl2
            print(f"same images, both flipped: {len(both)}; Borderline mean L2 {bl2.mean().item():.4f} vs reference {rl2.mean().item():.4f}; "
                  f"per-image ratio median {ratio.median().item():.4f} (p10 {ratio.quantile(0.1).item():.4f}, p90 {ratio.quantile(0.9).item():.4f})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attack", choices=["cw-l2", "optmargin", "deepfool"], required=True)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--binary-search-steps", type=int, default=4)
    ap.add_argument("--epsilon", type=float, default=0.3)
    ap.add_argument("--keep-stopped", action="store_true",
                    help="run stopped rows through the model too (the first, slower version of this peer)")
    ap.add_argument("--overshoot", type=float, default=0.02)
    ap.add_argument("--max-iter", type=int, default=50)
    ap.add_argument("--no-clip", action="store_true", help="deepfool: do not clip the iterates to [0, 1] (the reference's own loop)")
    ap.add_argument("--save", help="deepfool: keep the reference's points in this .npz")
    ap.add_argument("--load", help="deepfool: the reference's points from a --save file instead of recomputing them")
    ap.add_argument("--check", help="deepfool: a `borderline attack --attack deepfool -o` file to classify with PyTorch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.attack == "deepfool":
        run_deepfool(args)
        return
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
