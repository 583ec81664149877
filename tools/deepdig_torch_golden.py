#!/usr/bin/env python3
"""Golden for DeepDIGTests.testAutoencoderTrainingMatchesPyTorch: 40 Adam steps of DeepDIG's
component-I autoencoder (paper Table 2) through the shipped FCN (Models/fashion-fcn.h5), in PyTorch.

Deterministic inputs both sides can rebuild without a shared RNG: the first 128 Pullover (class 2)
images of the Fashion-MNIST training split, one fixed batch of all 128 every step, target Trouser (1),
and autoencoder weights w[i] = bound * sin(1.7 * i + 0.3 * layer) (bias the same with offset 0.5),
bound = 1/sqrt(fan_in) as PyTorch's default. Records the loss terms of every step for three losses: Eq. 1 as printed
('eq1': ||x - A(x)||^2 summed over each image's pixels, averaged over the batch, + 0.8 * softmax CE; the
plugin's default), the same with the squared error averaged over pixels too ('paper-mean': mean MSE +
0.8 * softmax CE, the plugin's earlier default) and the authors' code's (BCE + 0.8 * BCE(softmax, one-hot)).

    python3 tools/deepdig_torch_golden.py   # writes Tests/DeepDIGTests/Golden/deepdig-autoencoder.json
"""
import json, math, numpy as np, h5py, torch, torch.nn as nn, torch.nn.functional as F
from deepdig_torch_reference import idx   # same folder

def pattern(count, bound, layer, offset=0.0):
    i = torch.arange(count, dtype=torch.float64)
    return (bound * torch.sin(1.7 * i + 0.3 * layer + offset)).float()

def autoencoder():
    ae = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 784), nn.Sigmoid())
    for layer, m in enumerate([ae[0], ae[2], ae[4]]):
        bound = 1 / math.sqrt(m.in_features)
        m.weight.data = pattern(m.weight.numel(), bound, layer).reshape(m.weight.shape)
        m.bias.data = pattern(m.bias.numel(), bound, layer, 0.5)
    return ae

def main():
    torch.set_num_threads(1)
    root = '/usr/share/datasets/fashion-mnist/'
    X = torch.tensor(idx(root + 'train-images-idx3-ubyte.gz'), dtype=torch.float32).reshape(-1, 784) / 255
    Y = torch.tensor(idx(root + 'train-labels-idx1-ubyte.gz').astype(np.int64))
    x = X[Y == 2][:128]
    p = h5py.File('Models/fashion-fcn.h5')['parameters']
    lin = [nn.Linear(784, 50), nn.Linear(50, 50), nn.Linear(50, 10)]
    for m, n in zip(lin, ['fc1', 'fc2', 'fc3']):
        m.weight.data = torch.tensor(p[n + '.weight'][()]); m.bias.data = torch.tensor(p[n + '.bias'][()])
    f = lambda v: lin[2](F.relu(lin[1](F.relu(lin[0](v)))))
    for m in lin: m.requires_grad_(False)
    labels = torch.full((128,), 1)
    out = {'steps': 40, 'source_class': 2, 'target_class': 1, 'images': 128, 'alpha': 0.8, 'learning_rate': 0.01, 'runs': {}}
    for name, rec_kind, reduction, cls_kind in [('eq1', 'mse', 'image-sum', 'ce'), ('paper-mean', 'mse', 'mean', 'ce'),
                                                ('authors', 'bce', 'mean', 'bce')]:
        ae = autoencoder()
        opt = torch.optim.Adam(ae.parameters(), lr=0.01)
        recs, clss = [], []
        for step in range(out['steps']):
            r = ae(x)
            if rec_kind == 'mse':
                rec = F.mse_loss(r, x, reduction='sum') / x.shape[0] if reduction == 'image-sum' else F.mse_loss(r, x)
            else:
                rec = F.binary_cross_entropy(r, x)
            z = f(r)
            cls = F.cross_entropy(z, labels) if cls_kind == 'ce' else F.binary_cross_entropy(F.softmax(z, 1), F.one_hot(labels, 10).float())
            loss = rec + 0.8 * cls
            opt.zero_grad(); loss.backward(); opt.step()
            recs.append(rec.item()); clss.append(cls.item())
        with torch.no_grad():
            final = ae(x)
        out['runs'][name] = {'reconstruction': rec_kind, 'reduction': reduction, 'classification': cls_kind, 'rec': recs, 'cls': clss,
                             'final_output_spread': final.std(0).mean().item(),
                             'final_target_share': (f(final).argmax(1) == 1).float().mean().item()}
    json.dump(out, open('Tests/DeepDIGTests/Golden/deepdig-autoencoder.json', 'w'), indent=1)

main()
