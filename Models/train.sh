#!/usr/bin/env bash
# Retrains the shipped models exactly as they were made (see Models/README.md).
# One BLAS thread makes the floating-point reduction order, and so the weights, reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release/borderline
BORDERLINE_THREADS=1 $B train --architecture cnn --data fashion-mnist --epochs 40 --batch-size 64 --learning-rate 0.01 --decay-rate 0.99 --decay-steps 100 --seed 0 -o Models/fashion-cnn.h5
BORDERLINE_THREADS=1 $B train --architecture fcn --data fashion-mnist --epochs 40 --batch-size 64 --learning-rate 0.01 --decay-rate 0.99 --decay-steps 100 --seed 0 -o Models/fashion-fcn.h5
# The Fashion-MNIST VAE (generator of the latent plugin, docs/latent.md): encoder, decoder and a PNG of samples.
BORDERLINE_THREADS=1 $B train-vae --data fashion-mnist --hidden 512,256 --latent 16 --epochs 20 --batch-size 128 --learning-rate 0.001 --seed 0 --encoder Models/fashion-vae-encoder.h5 --decoder Models/fashion-vae-decoder.h5 --samples Models/fashion-vae-samples.png
BORDERLINE_THREADS=1 $B train --architecture cnn --data fashion-mnist --adversarial pgd-linf --epsilon 0.1 --pgd-steps 7 --pgd-step-size 0.025 --epochs 8 --seed 0 -o Models/fashion-cnn-pgd.h5
