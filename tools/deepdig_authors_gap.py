#!/usr/bin/env python3
"""Where do Borderline's DeepDIG metrics and the DeepDIG authors' code part? (issue 19 item 3)

Computes, on one model and the two borderline sets of a boundary (s→t and t→s), with PyTorch and
scikit-learn exactly as the authors' `characterization.py` does:
  - IDC per direction with both segment samplings on the *same* anchors and partners:
    'paper' τ = p/(m−1) (Borderline's default, both ends) and 'authors' τ = p/m, p < m
    (the anchor x_i left out); k = m = 50;
  - EDC1/EDC2 of the test images and of the two sets pooled (s→t labelled s, t→s labelled t),
    LinearSVC(C=1, max_iter=10000) on the training embeddings of s and t, distances
    decision_function/‖w‖, EDC1 = mean|d|/(1 + mean|d|), EDC2 = accuracy in %;
  - per direction: mean signed SVM distance of the borderline points (positive = on t's side).

A set is either a Borderline run folder's results.h5 group (`RUN:pair_1_2/deepdig`) or a file
written by tools/deepdig_torch_reference.py --save (`FILE.h5`). For example:

    python3 tools/deepdig_authors_gap.py --model ../shared/fixtures/authors-cnn/state_dict.h5 \
        --st /tmp/run:pair_1_2/deepdig --ts /tmp/run:pair_2_1/deepdig --source 1 --target 2
"""
import argparse, gzip, json, random
import numpy as np, h5py, torch, torch.nn as nn, torch.nn.functional as F
from sklearn import svm

def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)

class CNN(nn.Module):
    """The shipped CNN's / the authors' architecture; forward returns (logits, relu(fc1)) as theirs does."""
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
        e = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(e), e

def load_set(spec):
    """Successful borderline points [n, 784] of a set."""
    if ':' in spec:
        run, group = spec.split(':', 1)
        with h5py.File(run + '/results.h5') as f:
            g = f['/boundary_sets/' + group] if '/boundary_sets/' + group in f else f[group]
            ok = g['succeeded'][()].astype(bool)
            return g['points'][()].reshape(len(ok), -1)[ok]
    with h5py.File(spec) as f:
        ok = f['success'][()].astype(bool)
        return f['points'][()].reshape(len(ok), -1)[ok]

def predict(model, x, batch=8192):
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(model(x[i:i + batch])[0].argmax(1))
    return torch.cat(out)

def idc(model, points, k, m, anchors, rng):
    """Mean O over (anchor, partner) for both samplings, the same anchors and partners."""
    n = len(points)
    chosen = rng.sample(range(n), min(anchors, n)) if anchors > 0 else list(range(n))
    taus = {'paper': torch.arange(m, dtype=torch.float32) / (m - 1), 'authors': torch.arange(m, dtype=torch.float32) / m}
    total = {key: 0.0 for key in taus}; count = 0
    x = torch.tensor(points)
    for i in chosen:
        partners = rng.sample([j for j in range(n) if j != i], min(k, n - 1))
        xi, xj = x[i], x[partners]                                  # [d], [k, d]
        for key, tau in taus.items():
            seg = tau[None, :, None] * xi[None, None, :] + (1 - tau[None, :, None]) * xj[:, None, :]   # [k, m, d]
            c = predict(model, seg.reshape(-1, x.shape[1])).reshape(len(partners), m)
            total[key] += ((c[:, 1:] != c[:, :-1]).sum(1).float() / m).sum().item()
        count += len(partners)
    return {key: v / count for key, v in total.items()}, len(chosen)

def main():
    a = argparse.ArgumentParser()
    a.add_argument('--model', required=True); a.add_argument('--st', required=True); a.add_argument('--ts', required=True)
    a.add_argument('--source', type=int, default=1); a.add_argument('--target', type=int, default=2)
    a.add_argument('--k', type=int, default=50); a.add_argument('--m', type=int, default=50)
    a.add_argument('--anchors', type=int, default=500, help='anchors per set (0: all, as the authors)')
    a.add_argument('--seed', type=int, default=0); a.add_argument('--json')
    args = a.parse_args()
    torch.set_num_threads(1)
    h5 = h5py.File(args.model)
    model = CNN(h5['parameters'] if 'parameters' in h5 else h5).eval()
    s, t = args.source, args.target
    root = '/usr/share/datasets/fashion-mnist/'
    def split(images, labels):
        X = torch.tensor(idx(root + images), dtype=torch.float32).reshape(-1, 784) / 255
        Y = torch.tensor(idx(root + labels).astype(np.int64))
        return X, Y
    Xtr, Ytr = split('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz')
    Xte, Yte = split('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
    def emb(x):
        with torch.no_grad():
            return torch.cat([model(x[i:i + 4096])[1] for i in range(0, len(x), 4096)]).numpy()
    st, ts = load_set(args.st), load_set(args.ts)
    result = {'borderline_points': [len(st), len(ts)]}
    rng = random.Random(args.seed)
    for name, pts in [('s_t', st), ('t_s', ts)]:
        values, used = idc(model, pts, args.k, args.m, args.anchors, rng)
        result['idc_' + name] = values; result['idc_anchors_' + name] = used
    train = (Ytr == s) | (Ytr == t); test = (Yte == s) | (Yte == t)
    clf = svm.LinearSVC(C=1.0, max_iter=10000).fit(emb(Xtr[train]), Ytr[train].numpy())
    w = np.linalg.norm(clf.coef_)
    def edc(e, y):
        d = clf.decision_function(e) / w
        return float(np.mean(np.abs(d)) / (1 + np.mean(np.abs(d)))), float(100 * np.mean(clf.predict(e) == y)), float(np.mean(d))
    result['edc_test'] = edc(emb(Xte[test]), Yte[test].numpy())[:2]
    eb = np.concatenate([emb(torch.tensor(st)), emb(torch.tensor(ts))])
    yb = np.array([s] * len(st) + [t] * len(ts))
    result['edc_borderline_pooled'] = edc(eb, yb)[:2]
    result['svm_classes'] = clf.classes_.tolist()
    for name, pts, side in [('s_t', st, s), ('t_s', ts, t)]:
        e1, e2, mean_signed = edc(emb(torch.tensor(pts)), np.array([side] * len(pts)))
        result['edc_' + name] = [e1, e2]; result['mean_signed_distance_' + name] = mean_signed
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, 'w') as f: json.dump(result, f, indent=1)

if __name__ == '__main__':
    main()
