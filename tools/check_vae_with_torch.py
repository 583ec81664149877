#!/usr/bin/env python3
"""Independent check of the shipped VAE with PyTorch (numbers quoted in Models/README.md).

Loads Models/fashion-vae-{encoder,decoder}.h5 and Models/fashion-cnn.h5 with h5py, rebuilds them
in PyTorch and reports, on the 10,000 Fashion-MNIST test images: the reconstruction MSE of
G(μ(x)), the CNN's accuracy on the images and on their reconstructions, per class, and the class
shares the CNN gives 10,000 samples G(z), z ~ N(0, I) (torch seed 0).

    python3 tools/check_vae_with_torch.py
"""
import gzip
import h5py, numpy as np, torch, torch.nn.functional as F

def load(path):
    f = h5py.File(path); out = {}
    f.visititems(lambda n, o: out.__setitem__(n.split('/')[-1], torch.tensor(o[()])) if isinstance(o, h5py.Dataset) else None)
    return out

e = load('Models/fashion-vae-encoder.h5'); d = load('Models/fashion-vae-decoder.h5'); c = load('Models/fashion-cnn.h5')
root = '/usr/share/datasets/fashion-mnist/'
X = np.frombuffer(gzip.open(root + 't10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 1, 28, 28) / 255.
Y = np.frombuffer(gzip.open(root + 't10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
L = e['enc.stats.bias'].shape[0] // 2

def enc(x):
    h = F.relu(F.linear(x.flatten(1), e['enc1.weight'], e['enc1.bias'])); h = F.relu(F.linear(h, e['enc2.weight'], e['enc2.bias']))
    return F.linear(h, e['enc.stats.weight'], e['enc.stats.bias'])[:, :L]

def dec(z):
    h = F.relu(F.linear(z, d['dec1.weight'], d['dec1.bias'])); h = F.relu(F.linear(h, d['dec2.weight'], d['dec2.bias']))
    return torch.sigmoid(F.linear(h, d['dec.out.weight'], d['dec.out.bias'])).reshape(-1, 1, 28, 28)

def cnn(x):
    h = F.relu(F.max_pool2d(F.conv2d(x, c['conv1.weight'], c['conv1.bias']), 2))
    h = F.relu(F.max_pool2d(F.conv2d(h, c['conv2.weight'], c['conv2.bias']), 2))
    h = F.relu(F.linear(h.flatten(1), c['fc1.weight'], c['fc1.bias']))
    return F.linear(h, c['fc2.weight'], c['fc2.bias'])

with torch.no_grad():
    x = torch.tensor(X, dtype=torch.float32)
    r = dec(enc(x))
    pr, prr = cnn(x).argmax(1).numpy(), cnn(r).argmax(1).numpy()
    ps = cnn(dec(torch.randn(10000, L, generator=torch.Generator().manual_seed(0)))).argmax(1).numpy()
print('reconstruction MSE per pixel %.5f' % ((r - x) ** 2).mean().item())
print('CNN accuracy: images %.4f, reconstructions %.4f' % ((pr == Y).mean(), (prr == Y).mean()))
print('class | reconstructions classified as their class | share of prior samples')
for k in range(10):
    print('%d | %.2f | %.3f' % (k, (prr[Y == k] == k).mean(), (ps == k).mean()))
