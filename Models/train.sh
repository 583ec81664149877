#!/usr/bin/env bash
# Retrains the shipped models exactly as they were made (see Models/README.md).
# One BLAS thread makes the floating-point reduction order, and so the weights, reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release/borderline
BORDERLINE_THREADS=1 $B train --architecture cnn --data fashion-mnist --epochs 40 --batch-size 64 --learning-rate 0.01 --decay-rate 0.99 --decay-steps 100 --seed 0 -o Models/fashion-cnn.h5
BORDERLINE_THREADS=1 $B train --architecture fcn --data fashion-mnist --epochs 40 --batch-size 64 --learning-rate 0.01 --decay-rate 0.99 --decay-steps 100 --seed 0 -o Models/fashion-fcn.h5
