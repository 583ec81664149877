#!/usr/bin/env python3
"""Prints the robustness table of docs/deepdig.md from the runs of tools/deepdig_robustness.sh.

    python3 tools/deepdig_robustness_table.py /tmp/deepdig-robustness
"""
import glob, json, os, sys

def direction(plugin, key):
    numbers = plugin['pairs'].get(key, {}).get('deepdig', {})
    s = plugin['boundary_sets']['deepdig'].get(key, {})
    attempts, ok = s.get('attempts', 0), s.get('successes', 0)
    rate = f"{100 * ok / attempts:.1f} ({ok}/{attempts})" if attempts else f"— (0 pairs)"
    spread = lambda k: f"{numbers[k]:.3f}" if k in numbers else "—"
    acc = lambda k: f"{numbers[k]:.2f}" if k in numbers else "—"
    return f"{rate} | {acc('component1_accuracy_validation')} / {acc('component2_accuracy')} | {spread('component1_output_spread')} / {spread('component2_output_spread')}"

root = sys.argv[1] if len(sys.argv) > 1 else '/tmp/deepdig-robustness'
print("| model | loss | seed | T→P success % | I / II Acc | A1 / A2 spread | P→T success % | I / II Acc | A1 / A2 spread | EDC1 b / t | EDC2 b / t |")
print("| --- | --- | ---: | ---: | --- | --- | ---: | --- | --- | --- | --- |")
for path in sorted(glob.glob(os.path.join(root, '*-s[0-9]'))):
    summary = os.path.join(path, 'summary.json')
    if not os.path.exists(summary):
        continue
    model, loss, seed = os.path.basename(path).split('-')
    plugin = json.load(open(summary))['plugins']['deepdig']
    b = plugin['pairs'].get('1-2', {}).get('boundary', {}).get('deepdig.deepdig', {})
    f = lambda k, fmt: (fmt % b[k]) if k in b and b[k] == b[k] else "—"
    print(f"| {model.upper()} | {loss} | {seed[1:]} | {direction(plugin, '1-2')} | {direction(plugin, '2-1')} | "
          f"{f('edc1_borderline', '%.3f')} / {f('edc1_test', '%.3f')} | {f('edc2_borderline', '%.1f')} / {f('edc2_test', '%.1f')} |")
