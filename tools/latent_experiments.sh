#!/usr/bin/env bash
# The runs behind docs/latent.md: shipped VAE + shipped CNN, 100 test images per pair, seed 0.
# Usage: tools/latent_experiments.sh OUTDIR   (release build first: swift build -c release)
# RHO (identity weight of ascent-identity, 0.05) and MU (smoothness of the path-*-smooth runs, 1) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release/borderline
OUT=${1:-/tmp/latent-experiments}
mkdir -p "$OUT"
PAIRS="Trouser:Pullover,T-shirt/top:Shirt,Sneaker:Ankle boot"
# ONLY="ascent path" runs just those; the table is printed for every run folder in OUTDIR.
run() { local name=$1; shift; if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi; echo "== $name: $*"; $B run --no-defaults --plugin latent --pairs "$PAIRS" --samples 100 --seed 0 --out "$OUT/$name" --overwrite --quiet "$@" > /dev/null; }
run ascent                                                        # defaults: Adam, η = 0.1, 2000 steps
run ascent-blackbox --black-box                                   # latent finite differences
run ascent-normalized --set latent.step-rule=normalized --set latent.max-steps=300
run ascent-normalized-monotone --set latent.step-rule=normalized --set latent.max-steps=300 --set latent.line-search=true
run ascent-adam-monotone --set latent.line-search=true
run ascent-paper --set latent.step-rule=paper --set latent.step-size=10 --set latent.max-steps=300
run path --set latent.method=path                                 # λ = 0.05, latent identity
run path-pixel --set latent.method=path --set latent.identity=pixel
run path-long --set latent.method=path --set latent.path-steps=600 --set latent.path-learning-rate=0.1
run ascent-unfiltered --set latent.start-filter=none
run path-from-ascent --set latent.method=path --set latent.path-init=ascent
run ascent-identity --set latent.identity-weight=${RHO:-0.05}          # identity term towards G⁻¹(x) (issue 19)
run path-smooth --set latent.method=path --set latent.smoothness=${MU:-1}
run path-smooth-0.1 --set latent.method=path --set latent.smoothness=0.1
run path-from-ascent-smooth --set latent.method=path --set latent.path-init=ascent --set latent.smoothness=${MU:-1}
run ascent-identity-blackbox --black-box --set latent.identity-weight=${RHO:-0.05}
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
keys = ["crossed_share", "start_in_target_share", "start_filter_rejected_share", "crossing_point_share", "boundary_point_share", "crossing_gap_max", "monotonicity_violations_mean", "monotone_share",
        "crossing_step_mean", "final_f_target_mean", "identity_latent_mean", "identity_pixel_mean", "queries_per_trajectory", "seconds",
        "straight_path_max_reconstruction_mse_mean", "latent_path_max_reconstruction_mse_mean",
        "off_prior_share", "on_prior_crossed_share", "latent_norm_mean", "latent_norm_max", "prior_log_likelihood_mean", "start_latent_norm_mean", "off_prior_threshold"]
print("| run | pair | " + " | ".join(keys) + " |")
for name in sorted(os.listdir(out)):
    try: s = json.load(open(os.path.join(out, name, "summary.json")))
    except Exception: continue
    for pair, v in sorted(s["plugins"]["latent"]["pairs"].items()):
        t = v["trajectory"]
        f = lambda x: "—" if x is None else ("%.3g" % x)
        print("| %s | %s | " % (name, pair) + " | ".join(f(t.get(k)) for k in keys) + " |")
PY
