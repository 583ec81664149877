#!/usr/bin/env python3
"""Independent PyTorch check of the flip points a `flip-point` run reports (issue 20, bar 3).

Rebuilds the shipped model (Models/fashion-cnn.h5 or fashion-fcn.h5, the `parameters` group) in
PyTorch, classifies every point the run reports as flipped (DeepFool: `flip_class >= 0`;
jacobian-flip: `status` 0 or 1) in float32 and float64, and counts the points PyTorch puts in
the start's class. Exit status 1 when any is found (so it can gate a script).

    python3 tools/check_flip_points_torch.py --run runs/flip-cnn --model Models/fashion-cnn.h5

With `--dense-scan STEPS` it also checks jacobian-flip's first-crossing claim independently (issue
20): for the first `--limit` images of the run (by data-set index), PyTorch recomputes the
gradient of the top-1 logit (or probability, per the run's `gradient_of` setting) at the start
point and scans the same clipped ray x(α) = clip(x0 − α g, box) at STEPS points spaced evenly in
its displacement ‖x(α) − x0‖₂ from 0 to end (the same grid as the Swift
`JacobianFlipSearch.denseFirstCrossing`; a grid even in α would be far too coarse near the start
when a few coordinates with tiny gradients take a huge α to saturate), with end the reported α
(never-flipped images: the saturation α, beyond which the clipped ray no longer moves). It counts flipped images whose ray changes class on the grid before the reported
flip point (first grid crossing shorter than the reported L2 by more than 0.1 %), those reported
farther than 1.5× that crossing, and never-flipped images whose ray does change class. Either
count above 0 gives exit status 1.

    python3 tools/check_flip_points_torch.py --run RUN --probers jacobian-flip --dense-scan 2000 --limit 200
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


def input_box(path):
    """The model's declared input box (architecture JSON `input_box`), [0, 1] by default."""
    import json
    f = h5py.File(path, 'r')
    for key in ('architecture', 'model_config'):
        if key in f.attrs:
            try:
                arch = json.loads(f.attrs[key])
            except (TypeError, ValueError):
                continue
            box = arch.get('input_box') if isinstance(arch, dict) else None
            if box:
                lo, hi = box.get('lower', 0.0), box.get('upper', 1.0)
                if isinstance(lo, list) or isinstance(hi, list):
                    raise SystemExit('per-channel input boxes are not supported by this checker')
                return float(lo), float(hi)
    return 0.0, 1.0


def path_grid(x0, g, box, end, steps):
    """STEPS α values in (0, end] at which ‖clip(x0 − α g) − x0‖₂ is end's displacement × i/STEPS."""
    x0, g = x0.astype(np.float64).ravel(), g.astype(np.float64).ravel()
    moving = g != 0
    x0, g = x0[moving], g[moving]
    if box is None:
        return end * np.arange(1, steps + 1) / steps
    room = np.where(g > 0, x0 - box[0], box[1] - x0).clip(min=0)
    b = room / np.abs(g)
    order = np.argsort(b)
    b, g2, r2 = b[order], (g * g)[order], (room * room)[order]
    # Segment k (α between b[k-1] and b[k]): S_k = Σ_{i≥k} g_i², R_k = Σ_{i<k} room_i².
    S = np.concatenate([np.cumsum(g2[::-1])[::-1], [0.0]])
    R = np.concatenate([[0.0], np.cumsum(r2)])
    def d2(a):
        k = np.searchsorted(b, a, side='right')
        return a * a * S[k] + R[k]
    total = np.sqrt(d2(end))
    if total <= 0:
        return np.zeros(0)
    t2 = (total * np.arange(1, steps + 1) / steps) ** 2
    # D² at each breakpoint (right end of segment k is b[k], where S_k still holds).
    right = b * b * S[:-1] + R[:-1]
    k = np.searchsorted(right, t2, side='left')
    k = np.minimum(k, len(b))
    with np.errstate(divide='ignore', invalid='ignore'):
        a = np.sqrt(np.maximum(t2 - R[k], 0) / S[k])
    a = np.where(S[k] > 0, a, end)
    a = np.minimum(a, end)
    a[-1] = end
    return a


def dense_scan(model, root, steps, limit, box, indices=None):
    """The independent first-crossing check of jacobian-flip (see the module's docstring)."""
    rows = []
    for pair in sorted(k for k in root.keys() if k.startswith('pair_')):
        if 'jacobian-flip' not in root[pair]:
            continue
        g = root[pair]['jacobian-flip']
        gradient_of = 'logit'
        if 'settings' in g and 'gradient_of' in g['settings'].attrs:
            gradient_of = g['settings'].attrs['gradient_of']
            gradient_of = gradient_of.decode() if isinstance(gradient_of, bytes) else str(gradient_of)
            if 'clip' in g['settings'].attrs and not bool(np.asarray(g['settings'].attrs['clip']).ravel()[0]):
                box = None
        status, idx = g['status'][()], g['start_indices'][()]
        for r in range(len(status)):
            rows.append((int(idx[r]), g, r, gradient_of))
    seen, chosen = set(), []
    for row in sorted(rows, key=lambda t: t[0]):
        if row[0] in seen:
            continue
        seen.add(row[0])
        chosen.append(row)
    if indices:
        chosen = [t for t in chosen if t[0] in indices]
    else:
        chosen = chosen[:limit]
    x0 = torch.tensor(np.stack([t[1]['start_points'][t[2]] for t in chosen])).double()
    start = torch.tensor([int(t[1]['start_class'][t[2]]) for t in chosen])
    status = np.array([int(t[1]['status'][t[2]]) for t in chosen])
    alpha = np.array([float(t[1]['extras']['alpha'][t[2]]) for t in chosen])
    reported = np.array([float(t[1]['extras']['l2'][t[2]]) for t in chosen])
    x = x0.clone().requires_grad_(True)
    z = model(x)
    out = torch.softmax(z, 1) if chosen and chosen[0][3] == 'probability' else z
    (grad,) = torch.autograd.grad(out.gather(1, start[:, None]).sum(), x)
    n = len(chosen)
    flat_g, flat_x = grad.reshape(n, -1), x0.reshape(n, -1)

    def ray(a):
        y = flat_x - a[:, None] * flat_g
        if box is not None:
            y = y.clamp(box[0], box[1])
        return y.reshape(x0.shape)

    ends = torch.tensor(alpha, dtype=torch.float64)
    if box is not None:
        room = torch.where(flat_g > 0, flat_x - box[0], box[1] - flat_x).clamp(min=0) / flat_g.abs()
        saturation = torch.where(flat_g != 0, room, torch.zeros_like(room)).max(1).values
    else:
        saturation = torch.full((n,), 1e10, dtype=torch.float64)
    never = torch.tensor(status == 2)
    ends = torch.where(never, saturation, ends)
    grids = torch.tensor(np.stack([path_grid(flat_x[i].numpy(), flat_g[i].numpy(), box, float(ends[i]), steps)
                                   if ends[i] > 0 else np.zeros(steps) for i in range(n)]))
    first = torch.full((n,), float('nan'), dtype=torch.float64)
    with torch.no_grad():
        for j in range(steps):
            open_rows = torch.isnan(first) & (ends > 0)
            if not open_rows.any():
                break
            a = grids[:, j]
            pred = model(ray(a)).argmax(1)
            newly = open_rows & (pred != start)
            first[newly] = a[newly]
        crossing = ray(torch.nan_to_num(first, nan=0.0))
    first_l2 = (crossing - x0).reshape(n, -1).norm(dim=1).numpy()
    flipped = status != 2
    has = ~np.isnan(first.numpy())
    earlier = flipped & has & (first_l2 < reported * (1 - 1e-3) - 1e-6)
    beyond = flipped & has & (reported > 1.5 * first_l2)
    crossing_never = (~flipped) & has
    print(f'jacobian-flip dense scan in PyTorch (float64, {steps} steps per ray, box {box}): {n} images, '
          f'{int(flipped.sum())} reported flipped, {int(earlier.sum())} with a class change on the ray before the reported flip point '
          f'(> 0.1 % shorter), {int(beyond.sum())} reported farther than 1.5x the first grid crossing; '
          f'{int((~flipped).sum())} reported never flipped, {int(crossing_never.sum())} of them change class on their ray; '
          f'median first grid crossing L2 {np.median(first_l2[flipped & has]) if (flipped & has).any() else float("nan"):.4g}, '
          f'median reported L2 {np.median(reported[flipped]) if flipped.any() else float("nan"):.4g}')
    if earlier.any():
        ratio = reported[earlier] / first_l2[earlier]
        print(f'  reported / first grid crossing where earlier: median {np.median(ratio):.4g}, max {ratio.max():.4g} '
              f'(data-set indices {sorted(int(chosen[i][0]) for i in np.where(earlier)[0])[:20]})')
    return int(earlier.sum() + crossing_never.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', required=True, help='run folder (holds results.h5)')
    ap.add_argument('--model', default='Models/fashion-cnn.h5')
    ap.add_argument('--probers', default='deepfool,jacobian-flip')
    ap.add_argument('--dense-scan', type=int, default=0, metavar='STEPS',
                    help='also check jacobian-flip against a dense scan of each ray with STEPS points (0: off)')
    ap.add_argument('--limit', type=int, default=200, help='--dense-scan: the first LIMIT images by data-set index')
    ap.add_argument('--indices', default='', help='--dense-scan: these data-set indices (comma-separated) instead, '
                    'e.g. the run\'s jacobian_never_flipped_indices; "never" for exactly those')
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
    if args.dense_scan > 0:
        indices = None
        if args.indices == 'never':
            a = root['all']['flip-distances']
            indices = set(int(i) for i in a['jacobian_never_flipped_indices'][()]) if 'jacobian_never_flipped_indices' in a else set()
            if not indices:
                print('jacobian-flip dense scan: the run reports no never-flipped image')
        elif args.indices:
            indices = set(int(i) for i in args.indices.split(','))
        if indices is None or indices:
            bad_any += dense_scan(model64, root, args.dense_scan, args.limit, input_box(args.model), indices)
    sys.exit(1 if bad_any else 0)


if __name__ == '__main__':
    main()
