#!/usr/bin/env python3
"""Turns criterion's estimates from `cargo bench --bench decide` into docs/performance.md's table
and plot.

    cargo bench --bench decide
    python3 scripts/performance.py            # prints the Markdown table, writes docs/performance.png

Reads target/criterion/<group>/<function>/<parameter>/new/estimates.json (criterion's own output;
no extra bench code). The plot needs matplotlib (`pip install matplotlib`); the table does not.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRITERION = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "criterion")
PACKS = [("reference", "reference (25)"), ("synthetic-100", "100"), ("synthetic-1000", "1,000"),
         ("synthetic-10000", "10,000")]
SIZES = {"synthetic-100": 100, "synthetic-1000": 1000, "synthetic-10000": 10000}
ENGINES = ["tollgate", "tollgate-no-index", "cedar"]


def estimate(group, function):
    """Median and its 95% confidence bounds in seconds, or None when not measured."""
    base = os.path.join(CRITERION, group, function)
    if not os.path.isdir(base):
        return None
    params = [p for p in os.listdir(base) if p != "report"]
    if len(params) != 1:
        return None
    path = os.path.join(base, params[0], "new", "estimates.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        median = json.load(f)["median"]
    ci = median["confidence_interval"]
    return median["point_estimate"] / 1e9, ci["lower_bound"] / 1e9, ci["upper_bound"] / 1e9


def human(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def table():
    rows = ["| pack (policies) | tollgate | tollgate, no index | plain Cedar | tollgate / Cedar |",
            "|---|---:|---:|---:|---:|"]
    for key, label in PACKS:
        est = {e: estimate(f"decide_{key}", e) for e in ENGINES}
        if not all(est.values()):
            continue
        ratio = est["tollgate"][0] / est["cedar"][0]
        rows.append(f"| {label} | {human(est['tollgate'][0])} | {human(est['tollgate-no-index'][0])} "
                    f"| {human(est['cedar'][0])} | {ratio:.3f}× ({1 / ratio:.1f}× faster) |")
    rows += ["", "| load (parse + validate + index) | median |", "|---|---:|"]
    for n in (100, 1000, 10000):
        est = estimate("load", str(n))
        if est is None:
            base = os.path.join(CRITERION, "load", str(n), "new", "estimates.json")
            if os.path.isfile(base):
                with open(base) as f:
                    est = (json.load(f)["median"]["point_estimate"] / 1e9,)
        if est:
            rows.append(f"| {n:,} policies | {human(est[0])} |")
    return "\n".join(rows)


def plot(path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for engine, style in zip(ENGINES, ["o-", "s--", "^-"]):
        xs, ys, lo, hi = [], [], [], []
        for key, n in SIZES.items():
            est = estimate(f"decide_{key}", engine)
            if est:
                xs.append(n)
                ys.append(est[0] * 1e6)
                lo.append((est[0] - est[1]) * 1e6)
                hi.append((est[2] - est[0]) * 1e6)
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt=style, capsize=3, label=engine)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("policies in the pack")
    ax.set_ylabel("median time per decision (µs)")
    ax.set_title("Per-decision cost against pack size (criterion medians, 95% CI)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main():
    if not os.path.isdir(CRITERION):
        sys.exit(f"{CRITERION} not found: run `cargo bench --bench decide` first")
    print(table())
    out = os.path.join(ROOT, "docs", "performance.png")
    try:
        plot(out)
        print(f"\nwrote {os.path.relpath(out, ROOT)}", file=sys.stderr)
    except ImportError:
        print("\nmatplotlib is not installed: table only (pip install matplotlib)", file=sys.stderr)


if __name__ == "__main__":
    main()
