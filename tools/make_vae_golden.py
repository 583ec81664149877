#!/usr/bin/env python3
"""Golden for the VAE loss (Tests/BorderlineCoreTests/Golden/vae.json), made with PyTorch.

A tiny dense VAE (encoder Linear(6,5)-ReLU-Linear(5,4) → μ | log σ² with L = 2, decoder
Linear(2,5)-ReLU-Linear(5,6)-Sigmoid) with weights from a fixed pattern, a batch of 3 inputs in
[0, 1] and a fixed ε. The loss is BCE summed over pixels plus KL = −½ Σ(1 + log σ² − μ² − σ²),
both averaged over the batch — what `VariationalAutoencoder.batchLoss` computes. Writes the
weights, inputs, ε, the loss terms and every parameter gradient.

    python3 tools/make_vae_golden.py
"""
import json, math, os
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def pattern(shape, a, b, m, scale):
    n = math.prod(shape)
    return torch.tensor([((i * a + b) % m) / m * 2 * scale - scale for i in range(n)]).reshape(shape)


L = 2
params = {
    "enc1.weight": pattern([5, 6], 7, 3, 11, 0.6), "enc1.bias": pattern([5], 3, 1, 7, 0.2),
    "enc.stats.weight": pattern([4, 5], 5, 2, 13, 0.5), "enc.stats.bias": pattern([4], 2, 1, 5, 0.3),
    "dec1.weight": pattern([5, 2], 3, 4, 7, 0.8), "dec1.bias": pattern([5], 5, 2, 9, 0.2),
    "dec.out.weight": pattern([6, 5], 4, 1, 9, 0.7), "dec.out.bias": pattern([6], 3, 2, 5, 0.3),
}
for p in params.values():
    p.requires_grad_(True)
x = (pattern([3, 6], 5, 1, 17, 0.5) + 0.5).clamp(0, 1)
eps = pattern([3, L], 7, 2, 11, 1.2)

h = F.relu(x @ params["enc1.weight"].T + params["enc1.bias"])
stats = h @ params["enc.stats.weight"].T + params["enc.stats.bias"]
mu, logvar = stats[:, :L], stats[:, L:]
z = mu + torch.exp(0.5 * logvar) * eps
g = F.relu(z @ params["dec1.weight"].T + params["dec1.bias"])
p = torch.sigmoid(g @ params["dec.out.weight"].T + params["dec.out.bias"])
n = x.shape[0]
rec = F.binary_cross_entropy(p, x, reduction="sum") / n
kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
(rec + kl).backward()

out = {
    "latent": L, "x": x.flatten().tolist(), "eps": eps.flatten().tolist(),
    "reconstruction": rec.item(), "kl": kl.item(),
    "params": {k: v.detach().flatten().tolist() for k, v in params.items()},
    "grads": {k: v.grad.flatten().tolist() for k, v in params.items()},
    "z": z.detach().flatten().tolist(),
}
path = os.path.join(os.path.dirname(__file__), "..", "Tests", "BorderlineCoreTests", "Golden", "vae.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path), "loss", rec.item() + kl.item())
