#!/usr/bin/env python3
"""PyTorch peer of the Borderline benchmark (bench/BorderlineBench).

    python3 bench/pytorch_peer.py            # full run (about 1-2 minutes on 2 cores)
    python3 bench/pytorch_peer.py --quick    # fewer repeats, shorter timed blocks
    python3 bench/pytorch_peer.py 2>/dev/null   # results only (stderr has the repeat spread)

PyTorch eager, float32, CPU, 2 intra-op threads, fixed seeds, random (untrained) weights of the
same architectures as Borderline's. Every throughput workload is warmed up, then timed in
several repeats (time.perf_counter); the MEDIAN repeat is reported. Output: one line per
workload, `<id> <name> <value> <unit>`:

    W1  cnn-forward-b256        CNN forward (no autograd), batch 256                  images/s
    W2  cnn-input-grad-b256     d(sum over the batch of each sample's max logit)/d(input),
                                batch 256, CNN parameters frozen                      images/s
    W3  ae-adam-b128            one Adam step (lr 1e-3) of the autoencoder
                                784-100-50-784 (ReLU, ReLU, Sigmoid) trained through the frozen
                                CNN: MSE(recon, x) + 0.8 * CE(cnn(recon), target), batch 128
                                                                                      steps/s
    W4  bisection-1000x20       1000 pairs, 20 halvings each, all pairs batched: each halving
                                is one CNN forward of the 1000 midpoints, argmax == class(a)
                                moves a, otherwise b. class(a) is computed once, before the
                                timed region.                                         pair-halvings/s
    W6  fcn-forward-b256        as W1 for the FCN                                     images/s
    W6  fcn-input-grad-b256     as W2 for the FCN                                     images/s
    E1  cnn-epoch-fmnist-b64    one training epoch of the CNN on the 60,000 Fashion-MNIST
                                training images (pixels / 255, shuffled, batch 64, last batch
                                of 32 kept, Adam lr 0.01, mean cross-entropy), from fresh
                                weights                                               s
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from collections import OrderedDict
from pathlib import Path

THREADS = 2
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
os.environ.setdefault("MKL_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def cnn() -> nn.Module:
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 10, 3)), ("pool1", nn.MaxPool2d(2)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(10, 10, 3)), ("pool2", nn.MaxPool2d(2)), ("relu2", nn.ReLU()),
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(250, 50)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(50, 10)),
    ]))


def fcn() -> nn.Module:
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(784, 50)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(50, 50)), ("relu2", nn.ReLU()), ("fc3", nn.Linear(50, 10)),
    ]))


def autoencoder() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 50), nn.ReLU(),
        nn.Linear(50, 784), nn.Sigmoid(),
    )


def frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def read_idx(path: Path) -> np.ndarray:
    """IDX files: big-endian magic (0x0000 08 <ndim>), ndim big-endian uint32 sizes, uint8 data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    assert magic >> 8 == 0x08, f"{path}: not a uint8 IDX file"
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims))
    return arr.reshape(dims)


def measure(step, items_per_call: float, repeats: int, min_seconds: float,
            warmup: int = 3) -> float:
    """Median over `repeats` of items/s; each repeat runs `step` enough times to last about
    `min_seconds` (the count is calibrated once after warm-up)."""
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    step()
    one = max(time.perf_counter() - t0, 1e-6)
    calls = max(1, int(round(min_seconds / one)))
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        dt = time.perf_counter() - t0
        rates.append(items_per_call * calls / dt)
    _spread(rates)
    return statistics.median(rates)


def _spread(values):
    """The spread of the repeats goes to stderr, so stdout keeps one line per workload."""
    print(f"#   repeats: min {min(values):.6g}  median {statistics.median(values):.6g}  "
          f"max {max(values):.6g}  (n={len(values)})", file=sys.stderr, flush=True)


def report(wid: str, name: str, value: float, unit: str):
    print(f"{wid} {name} {value:.6g} {unit}", flush=True)


def forward_workload(model: nn.Module, batch: int, repeats: int, min_s: float) -> float:
    gen = torch.Generator().manual_seed(11)
    x = torch.rand(batch, 1, 28, 28, generator=gen)

    def step():
        with torch.no_grad():
            model(x)
    return measure(step, batch, repeats, min_s)


def input_grad_workload(model: nn.Module, batch: int, repeats: int, min_s: float) -> float:
    gen = torch.Generator().manual_seed(12)
    x0 = torch.rand(batch, 1, 28, 28, generator=gen)

    def step():
        x = x0.detach().requires_grad_(True)
        top = model(x).max(dim=1).values.sum()
        top.backward()
        return x.grad
    return measure(step, batch, repeats, min_s)


def autoencoder_workload(classifier: nn.Module, batch: int, repeats: int, min_s: float) -> float:
    torch.manual_seed(13)
    ae = autoencoder()
    opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(14)
    x = torch.rand(batch, 784, generator=gen)
    target = torch.randint(0, 10, (batch,), generator=gen)

    def step():
        opt.zero_grad(set_to_none=True)
        recon = ae(x)
        loss = F.mse_loss(recon, x) + 0.8 * F.cross_entropy(
            classifier(recon.view(-1, 1, 28, 28)), target)
        loss.backward()
        opt.step()
    return measure(step, 1, repeats, min_s)


def bisection_workload(model: nn.Module, pairs: int, halvings: int, repeats: int,
                       min_s: float) -> float:
    gen = torch.Generator().manual_seed(15)
    a0 = torch.rand(pairs, 1, 28, 28, generator=gen)
    b0 = torch.rand(pairs, 1, 28, 28, generator=gen)
    with torch.no_grad():
        class_a = model(a0).argmax(dim=1)
    mask_shape = (pairs, 1, 1, 1)

    def step():
        a, b = a0, b0
        with torch.no_grad():
            for _ in range(halvings):
                mid = (a + b) * 0.5
                same = (model(mid).argmax(dim=1) == class_a).view(mask_shape)
                a = torch.where(same, mid, a)
                b = torch.where(same, b, mid)
        return a, b
    return measure(step, pairs * halvings, repeats, min_s, warmup=1)


def epoch_workload(repeats: int) -> float:
    images = read_idx(FMNIST / "train-images-idx3-ubyte.gz")
    labels = read_idx(FMNIST / "train-labels-idx1-ubyte.gz")
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.int64))
    batch = 64

    def epoch(seed: int, limit: int | None = None) -> float:
        torch.manual_seed(seed)
        model = cnn()
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        order = torch.randperm(x_all.shape[0], generator=torch.Generator().manual_seed(seed))
        n = x_all.shape[0] if limit is None else limit
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            xb, yb = x_all[idx], y_all[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    epoch(99, limit=50 * batch)                      # warm-up: 50 batches
    times = [epoch(100 + r) for r in range(repeats)]
    _spread(times)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, shorter timed blocks")
    args = ap.parse_args()
    repeats, min_s, epoch_repeats = (3, 0.1, 1) if args.quick else (9, 0.5, 3)

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    print(f"# pytorch {torch.__version__}, {torch.get_num_threads()} threads, eager, float32, "
          f"median of {repeats} repeats{' (quick)' if args.quick else ''}", flush=True)

    torch.manual_seed(1)
    c = frozen(cnn())
    torch.manual_seed(2)
    f = frozen(fcn())

    report("W1", "cnn-forward-b256", forward_workload(c, 256, repeats, min_s), "images/s")
    report("W2", "cnn-input-grad-b256", input_grad_workload(c, 256, repeats, min_s), "images/s")
    report("W3", "ae-adam-b128", autoencoder_workload(c, 128, repeats, min_s), "steps/s")
    report("W4", "bisection-1000x20", bisection_workload(c, 1000, 20, repeats, min_s),
           "pair-halvings/s")
    report("W6", "fcn-forward-b256", forward_workload(f, 256, repeats, min_s), "images/s")
    report("W6", "fcn-input-grad-b256", input_grad_workload(f, 256, repeats, min_s), "images/s")
    report("E1", "cnn-epoch-fmnist-b64", epoch_workload(epoch_repeats), "s")


if __name__ == "__main__":
    sys.exit(main())
