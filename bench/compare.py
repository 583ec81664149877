#!/usr/bin/env python3
"""Runs the Borderline benchmark and its PyTorch peer alternately and prints a Markdown table.

    swift build -c release && python3 bench/compare.py --rounds 3 [--quick]

Both programs print `<id> <name> <value> <unit>` lines. Running them in alternation, several
rounds, and taking each side's median makes background load hit both sides alike; on this
shared 2-core VM single runs vary by ±30 %. Throughputs: higher is better; E1 (seconds): lower.
"""
import argparse
import statistics
import subprocess
import sys
from collections import defaultdict

parser = argparse.ArgumentParser()
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--quick", action="store_true")
parser.add_argument("--bench", default=".build/release/borderline-bench")
args = parser.parse_args()

extra = ["--quick"] if args.quick else []
results = {"borderline": defaultdict(list), "pytorch": defaultdict(list)}
units, headers = {}, {}
for r in range(args.rounds):
    for side, cmd in (("borderline", [args.bench] + extra), ("pytorch", [sys.executable, "bench/pytorch_peer.py"] + extra)):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("#"):
                headers[side] = line
                continue
            parts = line.split()
            if len(parts) >= 4 and parts[0][0] in "WE":
                key = (parts[0], parts[1])
                results[side][key].append(float(parts[2]))
                units[key] = parts[3]
        print(f"round {r + 1}/{args.rounds}: {side} done", file=sys.stderr)

for side in ("borderline", "pytorch"):
    print(headers.get(side, ""))
print()
print("| workload | unit | Borderline | PyTorch | Borderline / PyTorch |")
print("| --- | --- | ---: | ---: | ---: |")
for key in results["borderline"]:
    b = statistics.median(results["borderline"][key])
    p = statistics.median(results["pytorch"].get(key, [float("nan")]))
    ratio = (p / b) if units[key] == "s" else (b / p)
    print(f"| {key[0]} {key[1]} | {units[key]} | {b:,.1f} | {p:,.1f} | {ratio:.2f}× |")
