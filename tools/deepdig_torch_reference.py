#!/usr/bin/env python3
"""PyTorch reference of DeepDIG components I–III on a shipped Borderline model (Models/*.h5).

Used to check the Swift plugin's FCN behaviour against an independent implementation with
PyTorch's default Linear initialisation: same paper settings (alpha 0.8, 5000 steps, batch 128,
Adam lr 0.01 x0.95 every 1000 steps, 80/20 split), mean-MSE reconstruction + alpha * softmax CE.

    python3 tools/deepdig_torch_reference.py --model Models/fashion-fcn.h5 --source 2 --target 1

The model may also be a PyTorch state_dict saved with h5py (one dataset per key at the root, e.g.
../shared/fixtures/authors-cnn/state_dict.h5). --save OUT.h5 writes the pairs that entered
component III (x_hat_t, x_hat_s), the borderline points and a success flag per pair, so
tools/deepdig_authors_gap.py can compute IDC/EDC on them.
"""
import argparse, gzip, time
import numpy as np, h5py, torch, torch.nn as nn, torch.nn.functional as F

def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)

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

def autoencoder(d):
    return nn.Sequential(nn.Linear(d, 100), nn.ReLU(), nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, d), nn.Sigmoid())

def train(ae, f, x, target, args, gen, tag):
    opt = torch.optim.Adam(ae.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1000, 0.95)
    n = len(x); order = torch.randperm(n, generator=gen); cur = 0
    labels = torch.full((args.batch,), target)
    for step in range(args.steps):
        if cur + args.batch > n:
            order = torch.randperm(n, generator=gen); cur = 0
        xb = x[order[cur:cur + args.batch]]; cur += args.batch
        r = ae(xb)
        rec = F.binary_cross_entropy(r, xb) if args.bce else F.mse_loss(r, xb)
        if args.bce_class:   # authors' code: BCE between softmax probabilities and the one-hot target
            ce = F.binary_cross_entropy(F.softmax(f(r), 1), F.one_hot(labels, 10).float())
        else:
            ce = F.cross_entropy(f(r), labels)
        loss = rec + args.alpha * ce
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        if step % 500 == 0 or step == args.steps - 1 or step in (1, 2, 3, 5, 10, 20, 50, 100, 200):
            with torch.no_grad():
                cls = torch.bincount(f(r).argmax(1), minlength=10).tolist()
                h1 = F.relu(ae[0](xb)); h2 = F.relu(ae[2](h1))
                dead1 = ((h1 > 0).sum(0) == 0).float().mean().item(); dead2 = ((h2 > 0).sum(0) == 0).float().mean().item()
                spread = r.std(0).mean().item()
                sat = ((r < 1e-3) | (r > 1 - 1e-3)).float().mean().item()
                gnorm = [p.grad.norm().item() for p in ae.parameters()]
            print(f'{tag} step {step:5d} loss {loss.item():.4f} rec {rec.item():.4f} ce {ce.item():.4f} classes {cls} '
                  f'dead enc1 {dead1:.2f} dead dec1 {dead2:.2f} output spread {spread:.2e} saturated {sat:.2f} '
                  f'|grad| enc1.w {gnorm[0]:.2e} dec2.w {gnorm[4]:.2e}', flush=True)

def bisect(f, xs, xt, s, t, beta=1e-4, cap=40):
    lo, hi = xs.clone(), xt.clone()
    n = len(xs); ok = torch.zeros(n, dtype=torch.bool); failed = torch.zeros(n, dtype=torch.bool); point = xs.clone()
    active = torch.ones(n, dtype=torch.bool)
    third = torch.zeros(10, dtype=torch.long)
    for _ in range(cap):
        ia = active.nonzero().squeeze(1)
        if len(ia) == 0: break
        mid = (lo[ia] + hi[ia]) / 2
        p = F.softmax(f(mid), 1); c = p.argmax(1)
        done = (p[:, s] - p[:, t]).abs() < beta
        toS = (c == s) & ~done; toT = (c == t) & ~done; bad = (c != s) & (c != t) & ~done
        lo[ia[toS]] = mid[toS]; hi[ia[toT]] = mid[toT]
        point[ia] = mid
        ok[ia[done]] = True; failed[ia[bad]] = True
        third += torch.bincount(c[bad], minlength=10)
        active[ia[done | bad]] = False
    return ok, third, point

def main():
    a = argparse.ArgumentParser()
    a.add_argument('--model', default='Models/fashion-fcn.h5'); a.add_argument('--source', type=int, default=2)
    a.add_argument('--target', type=int, default=1); a.add_argument('--steps', type=int, default=5000)
    a.add_argument('--batch', type=int, default=128); a.add_argument('--lr', type=float, default=0.01)
    a.add_argument('--alpha', type=float, default=0.8); a.add_argument('--bce', action='store_true')
    a.add_argument('--seed', type=int, default=0); a.add_argument('--a1-only', action='store_true')
    a.add_argument('--bce-class', action='store_true', help="classification term as BCE(softmax, one-hot) (authors' code)")
    a.add_argument('--save', help='HDF5 file for the pairs of component III, the borderline points and their success flags')
    args = a.parse_args()
    torch.set_num_threads(1); torch.manual_seed(args.seed); gen = torch.Generator().manual_seed(args.seed)
    root = '/usr/share/datasets/fashion-mnist/'
    X = torch.tensor(idx(root + 'train-images-idx3-ubyte.gz'), dtype=torch.float32).reshape(-1, 784) / 255
    Y = torch.tensor(idx(root + 'train-labels-idx1-ubyte.gz').astype(np.int64))
    h5 = h5py.File(args.model)
    params = h5['parameters'] if 'parameters' in h5 else h5   # Borderline native file, or an h5py state_dict
    f = (CNN if 'conv1.weight' in params else FCN)(params); f.requires_grad_(False)
    with torch.no_grad():
        grey = torch.full((1, 784), 0.5); z = f(grey)[0]
        print('logits of a grey 0.5 image', [round(v, 1) for v in z.tolist()])
        zr = f(X[:2000]); top2 = zr.topk(2, 1).values
        print('training images: mean max logit %.1f, mean top-1 minus top-2 margin %.1f' % (top2[:, 0].mean(), (top2[:, 0] - top2[:, 1]).mean()))
    s, t = args.source, args.target
    xs_all = X[Y == s]; perm = torch.randperm(len(xs_all), generator=gen); xs_all = xs_all[perm]
    ntr = len(xs_all) - round(0.2 * len(xs_all)); train_part = torch.arange(len(xs_all)) < ntr
    t0 = time.time()
    a1 = autoencoder(784); train(a1, f, xs_all[:ntr], t, args, gen, 'A1')
    with torch.no_grad():
        xt = a1(xs_all); ct = f(xt).argmax(1); c0 = f(xs_all).argmax(1)
    print('A1 outputs classes', torch.bincount(ct, minlength=10).tolist(), 'C1 acc val', (ct[~train_part] == s).float().mean().item())
    k1 = ((c0 == s) & (ct == t)).nonzero().squeeze(1)
    if args.a1_only:
        print('kept1', len(k1), 'mean |x - xt|', (xt - xs_all).abs().mean().item(), 'xt pixel std over images', xt[k1].std(0).mean().item()); return
    print('kept1', len(k1), 'mean |x - xt|', (xt - xs_all).abs().mean().item(), 'xt pixel std over images', xt[k1].std(0).mean().item())
    a2 = autoencoder(784); train(a2, f, xt[k1[train_part[k1]]], s, args, gen, 'A2')
    with torch.no_grad():
        xs = a2(xt[k1]); cs = f(xs).argmax(1)
    print('A2 outputs classes', torch.bincount(cs, minlength=10).tolist(), 'C2 acc', (cs == s).float().mean().item())
    k2 = (cs == s).nonzero().squeeze(1)
    with torch.no_grad():
        ok, third, point = bisect(f, xs[k2], xt[k1][k2], s, t)
    print(f'bisection success {ok.float().mean().item() * 100:.2f}% ({ok.sum().item()}/{len(k2)}), third-class midpoints {third.tolist()}, {time.time() - t0:.0f}s')
    if args.save:
        with h5py.File(args.save, 'w') as out:
            out['x_hat_t'] = xt[k1][k2].numpy(); out['x_hat_s'] = xs[k2].numpy()
            out['points'] = point.numpy(); out['success'] = ok.numpy().astype(np.uint8)
            out.attrs.update(source=s, target=t, seed=args.seed, steps=args.steps, bce=args.bce, bce_class=args.bce_class,
                             component1_kept=len(k1), component2_kept=len(k2))
        print('wrote', args.save)

if __name__ == '__main__':
    main()
