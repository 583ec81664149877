#!/usr/bin/env python3
"""Goldens for Tests/AttacksTests: FGSM, PGD (L-inf, L2) and Carlini-Wagner L2 run in PyTorch on
the shipped Fashion-MNIST CNN (Models/fashion-cnn.h5, rebuilt in torch by make_goldens.interpret
as bench/pytorch_flip.py does) and the first 8 test images.

Every attack here is deterministic (PGD without random start) and follows the formulas in
Sources/Core/Sources/BorderlineCore/Attacks/*.swift:
  FGSM   x' = clip(x + s*eps*sign(grad CE(Z(x), c)))              s=+1, c=y untargeted; s=-1, c=t targeted
  PGD    x <- clip(x0 + P_eps(x + s*alpha*step(g) - x0)),  step = sign (L-inf) or g/||g||_2 (L2)
  C&W L2 tanh change of variables, Adam, per-row binary search over c, early abort (see cw_l2 below)
The targets of targeted runs are t = (y + 1) mod 10.

    python3 tools/make_attack_goldens.py    # writes Tests/AttacksTests/Golden/attacks.h5
"""
from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))
from make_goldens import interpret, read_native  # noqa: E402
from pytorch_peer import FMNIST, read_idx  # noqa: E402

COUNT = 8
FGSM_EPS = 0.1
PGD = {"linf": dict(eps=0.1, alpha=0.02, steps=5), "l2": dict(eps=1.5, alpha=0.3, steps=5)}
CW = dict(confidence=0.0, initial_constant=0.2, binary_search_steps=4, iterations=100, learning_rate=0.2)
OPTMARGIN = dict(rows=3, copies=20, epsilon_rms=0.3, binary_search_steps=2, iterations=50)


def model():
    arch, params = read_native(ROOT / "Models/fashion-cnn.h5")
    for p in params.values():
        p.requires_grad_(False)
    return lambda t: interpret(arch, params, t)["output"]


def ce_grad(f, x, classes, sign):
    x = x.clone().requires_grad_(True)
    loss = sign * F.cross_entropy(f(x), classes, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(f, x, classes, sign, eps):
    return (x + eps * ce_grad(f, x, classes, sign).sign()).clamp(0, 1)


def pgd(f, x0, classes, sign, norm, eps, alpha, steps):
    x = x0.clone()
    n = x.shape[0]
    for _ in range(steps):
        g = ce_grad(f, x, classes, sign)
        if norm == "linf":
            x = x + alpha * g.sign()
            delta = (x - x0).clamp(-eps, eps)
        else:
            gn = g.flatten(1).norm(dim=1).view(n, 1, 1, 1)
            x = x + torch.where(gn > 0, alpha * g / gn.clamp_min(1e-30), torch.zeros_like(g))
            delta = x - x0
            dn = delta.flatten(1).norm(dim=1).view(n, 1, 1, 1)
            delta = torch.where(dn > eps, delta * (eps / dn.clamp_min(1e-30)), delta)
        x = (x0 + delta).clamp(0, 1)
    return x


def cw_l2(f, x, classes, targeted, confidence, initial_constant, binary_search_steps, iterations, learning_rate,
          lo=0.0, hi=1.0, perturbations=None, drop_stopped=False):
    """Carlini & Wagner's L2 attack as in their reference code (tanh variables, Adam from w = 0
    each outer step, binary search on c per row, early abort every iterations//10 steps), written
    batched with a per-row abort as CarliniWagnerL2.swift. torch.optim.Adam has the same update
    (bias-corrected, eps outside the square root) as the Swift code. Returns the best adversarial
    per row (x where none) and whether one was found. With `perturbations` ([N, P] + x's sample
    shape) it is OPTMARGIN's optimisation: the margin term is summed over the P copies
    f(x' + v_i) and an iterate succeeds only when all copies are fooled. With `drop_stopped` the
    forward/backward pass runs on the still-active rows only (as the Swift code does); the result
    is the same, since stopped rows get no gradient and their iterates are never used."""
    n, k = x.shape[0], 10
    mul, plus = (hi - lo) / 2, (hi + lo) / 2
    w0 = torch.atanh((x - plus) / mul * 0.999999)
    xr = plus + mul * torch.tanh(w0)
    p = 1 if perturbations is None else perturbations.shape[1]
    onehot = F.one_hot(classes, k).bool().repeat_interleave(p, 0)
    best, best_d = x.clone(), torch.full((n,), float("inf"))
    c = torch.full((n,), initial_constant)
    lower, upper = torch.zeros(n), torch.full((n,), 1e10)
    every = max(1, iterations // 10)
    for outer in range(binary_search_steps):
        if binary_search_steps >= 10 and outer == binary_search_steps - 1:
            c = torch.where(upper < 1e9, upper, c)
        w = torch.zeros_like(x, requires_grad=True)
        opt = torch.optim.Adam([w], lr=learning_rate)
        step_d = torch.full((n,), float("inf"))
        prev = torch.full((n,), float("inf"))
        active = torch.ones(n, dtype=torch.bool)
        for it in range(iterations):
            if not active.any():
                break
            rows = active.nonzero().squeeze(1) if drop_stopped else torch.arange(n)
            m = rows.numel()
            xa = plus + mul * torch.tanh(w[rows] + w0[rows])
            z = f(xa if perturbations is None else (xa[:, None] + perturbations[rows]).flatten(0, 1))
            hot = onehot.view(n, p, k)[rows].flatten(0, 1)
            real = z[hot]
            other = z.masked_fill(hot, float("-inf")).max(1).values
            gap = other - real if targeted else real - other
            margin = (gap + confidence).clamp_min(0).view(m, p).sum(1)
            d = ((xa - xr[rows]) ** 2).flatten(1).sum(1)
            with torch.no_grad():
                fooled = ((real - confidence > other) if targeted else (other > real + confidence)).view(m, p).all(1)
                act = active[rows]
                improve = act & fooled
                step_d[rows] = torch.where(improve & (d < step_d[rows]), d, step_d[rows])
                better = improve & (d < best_d[rows])
                best_d[rows] = torch.where(better, d, best_d[rows])
                best[rows[better]] = xa[better]
                loss_rows = d + c[rows] * margin
                if it % every == 0:
                    act = act & ~(loss_rows > prev[rows] * 0.9999)
                    active[rows] = act
                    prev[rows] = torch.where(act, loss_rows, prev[rows])
            # Rows that stopped get no gradient (their later iterates are never used).
            loss = (active[rows].float() * (d + c[rows] * margin)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        ok = torch.isfinite(step_d)
        upper = torch.where(ok, torch.minimum(upper, c), upper)
        lower = torch.where(ok, lower, torch.maximum(lower, c))
        c = torch.where(upper < 1e9, (lower + upper) / 2, torch.where(ok, c, c * 10))
    return best.detach(), torch.isfinite(best_d)


def main():
    torch.set_num_threads(1)
    f = model()
    images = read_idx(FMNIST / "t10k-images-idx3-ubyte.gz")[:COUNT]
    labels = read_idx(FMNIST / "t10k-labels-idx1-ubyte.gz")[:COUNT].astype(np.int64)
    x = torch.tensor(images, dtype=torch.float32).reshape(COUNT, 1, 28, 28) / 255
    y = torch.tensor(labels)
    t = (y + 1) % 10
    out = ROOT / "Tests/AttacksTests/Golden/attacks.h5"
    with h5py.File(out, "w") as h:
        h["x"] = x.numpy()
        h["y"] = y.numpy()
        h["targets"] = t.numpy()
        param = lambda name, v: h.create_dataset(f"parameters/{name}", data=np.array([v], dtype=np.float32))  # noqa: E731
        param("fgsm_epsilon", FGSM_EPS)
        for norm, p in PGD.items():
            for k, v in p.items():
                param(f"pgd_{norm}_{k}", v)
        for k, v in CW.items():
            param(f"cw_{k}", v)
        for goal, classes, sign in [("untargeted", y, 1.0), ("targeted", t, -1.0)]:
            h[f"gradient_{goal}"] = ce_grad(f, x, classes, sign).numpy()
            h[f"fgsm_{goal}"] = fgsm(f, x, classes, sign, FGSM_EPS).numpy()
            for norm, p in PGD.items():
                h[f"pgd_{norm}_{goal}"] = pgd(f, x, classes, sign, norm, **p).numpy()
            adv, found = cw_l2(f, x, classes, goal == "targeted", **CW)
            h[f"cw_{goal}"] = adv.numpy()
            h[f"cw_{goal}_found"] = found.numpy().astype(np.int64)
        # OPTMARGIN: 19 orthogonal perturbations of RMS eps per row (numpy QR, seed 0) plus a zero
        # one, stored so the Swift test runs the same ensemble.
        o = OPTMARGIN
        rng = np.random.default_rng(0)
        d = 784
        v = np.zeros((o["rows"], o["copies"], d), np.float32)
        for r in range(o["rows"]):
            q, rr = np.linalg.qr(rng.standard_normal((d, o["copies"] - 1)))
            v[r, : o["copies"] - 1] = (q * np.sign(np.diag(rr))).T * (o["epsilon_rms"] * d ** 0.5)
        xs = x[: o["rows"]]
        adv, found = cw_l2(f, xs, y[: o["rows"]], False, confidence=0.0, initial_constant=0.2,
                           binary_search_steps=o["binary_search_steps"], iterations=o["iterations"], learning_rate=0.2,
                           perturbations=torch.tensor(v).reshape(o["rows"], o["copies"], 1, 28, 28))
        h["optmargin_perturbations"] = v
        h["optmargin_untargeted"] = adv.numpy()
        h["optmargin_untargeted_found"] = found.numpy().astype(np.int64)
        for k, val in o.items():
            param(f"optmargin_{k}", val)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
