#!/usr/bin/env python3
"""Independent PyTorch check of the flip points a `flip-point` run reports (issue 20, bar 3).

Rebuilds the shipped model (Models/fashion-cnn.h5 or fashion-fcn.h5, the `parameters` group) in
PyTorch, classifies every point the run reports as flipped (DeepFool: `flip_class >= 0`;
jacobian-flip: `status` 0 or 1) in float32 and float64, and counts the points PyTorch puts in
the start's class. Exit status 1 when any is found (so it can gate a script).

    python3 tools/check_flip_points_torch.py --run runs/flip-cnn --model Models/fashion-cnn.h5
"""
import argparse, sys
import numpy as np, h5py, torch, torch.nn as nn, torch.nn.functional as F


class FCN(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 50), nn.Linear(50, 50), nn.Linear(50, 10)
        for n in ['fc1', 'fc2', 'fc3']:
            getattr(self, n).weight.data = torch.tensor(p[n + '.weight'][()])
            getattr(self, n).bias.data = torch.tensor(p[n + '.bias'][()])

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.reshape(len(x), -1))))))


class CNN(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 10, 3), nn.Conv2d(10, 10, 3)
        self.fc1, self.fc2 = nn.Linear(250, 50), nn.Linear(50, 10)
        for n in ['conv1', 'conv2', 'fc1', 'fc2']:
            getattr(self, n).weight.data = torch.tensor(p[n + '.weight'][()])
            getattr(self, n).bias.data = torch.tensor(p[n + '.bias'][()])

    def forward(self, x):
        x = x.reshape(len(x), 1, 28, 28)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def load(path):
    params = h5py.File(path, 'r')['parameters']
    model = (CNN if 'conv1.weight' in params else FCN)(params)
    model.requires_grad_(False)
    return model


def flipped_rows(group, prober):
    flip_class = group['flip_class'][()]
    if prober == 'jacobian-flip' and 'status' in group:
        return group['status'][()] != 2
    return flip_class >= 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', required=True, help='run folder (holds results.h5)')
    ap.add_argument('--model', default='Models/fashion-cnn.h5')
    ap.add_argument('--probers', default='deepfool,jacobian-flip')
    args = ap.parse_args()
    model32 = load(args.model)
    model64 = load(args.model).double()
    root = h5py.File(args.run.rstrip('/') + '/results.h5', 'r')['flip-point']
    bad_any = 0
    for prober in args.probers.split(','):
        total = same32 = same64 = 0
        margins = []
        for pair in sorted(k for k in root.keys() if k.startswith('pair_')):
            if prober not in root[pair]:
                continue
            g = root[pair][prober]
            rows = flipped_rows(g, prober)
            if not rows.any():
                continue
            x = torch.tensor(g['points'][()][rows])
            start = torch.tensor(g['start_class'][()][rows])
            with torch.no_grad():
                z32 = model32(x.float())
                z64 = model64(x.double())
            same32 += int((z32.argmax(1) == start).sum())
            same64 += int((z64.argmax(1) == start).sum())
            total += len(x)
            # Logit margin of the best other class over the start class (> 0: flipped).
            zs = z64.gather(1, start[:, None]).squeeze(1)
            other = z64.clone()
            other[torch.arange(len(x)), start] = -float('inf')
            margins.append((other.max(1).values - zs).numpy())
        m = np.concatenate(margins) if margins else np.zeros(0)
        print(f'{prober}: {total} reported flip points; PyTorch float32 puts {same32} in the start class, '
              f'float64 {same64}; logit margin over the start class (float64): '
              f'min {m.min() if len(m) else float("nan"):.3g}, median {np.median(m) if len(m) else float("nan"):.3g}')
        bad_any += same32 + same64
    sys.exit(1 if bad_any else 0)


if __name__ == '__main__':
    main()
