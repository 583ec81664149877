#!/usr/bin/env bash
# DeepDIG's robustness to the run seed and to the loss variant (docs/deepdig.md, "Robustness"):
# the shipped CNN and FCN, Trouser <-> Pullover, seeds 0-2, three losses, paper settings otherwise;
# metric work cut down (200 test images per class, IDC on 20 points with k = m = 10), which does
# not touch components I-III. Then prints the table. About 45 min on 2 cores.
#   bash tools/deepdig_robustness.sh [OUT_DIR]      (default /tmp/deepdig-robustness)
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release/borderline
OUT=${1:-/tmp/deepdig-robustness}
mkdir -p "$OUT"
for seed in 0 1 2; do
  for model in cnn fcn; do
    for variant in imagesum mean authors; do
      case $variant in
        imagesum) extra=();;                                                   # Eq. 1 as printed (default)
        mean) extra=(--set deepdig.reconstruction-reduction=mean);;            # squared error averaged over pixels
        authors) extra=(--set deepdig.reconstruction=bce --set deepdig.classification=bce
                        --set deepdig.reconstruction-reduction=mean);;         # the authors' code
      esac
      run="$OUT/$model-$variant-s$seed"
      [ -f "$run/summary.json" ] && continue
      $B run --model "Models/fashion-$model.h5" --no-defaults --plugin deepdig --pairs Trouser:Pullover,Pullover:Trouser \
        --seed $seed --images-per-class 200 --set deepdig.points=20 --set deepdig.k=10 --set deepdig.m=10 \
        "${extra[@]}" --out "$run" --overwrite --quiet
    done
  done
done
python3 tools/deepdig_robustness_table.py "$OUT"
