"""Benchmarks of the analysis functions (issue 6).

Run by hand from the repository root (not a test)::

    .venv/bin/python benchmarks/bench_analysis.py

Targets: neural persistence of a 10^6-edge graph <= 2 s; activation capture <= 1.3x a plain
forward pass over the same data; extrema over 10^5 neurons x 10^4 samples, streamed, <= 5 s;
the flag-complex size guard refuses before any computation that would take over 60 s.
"""

from __future__ import annotations

import subprocess
import time

import numpy as np
import torch

import analysis
import graphnet as gn


def _ok(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _r(ts):
    return [round(v, 3) for v in ts]


def best(f, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts), ts


def main():
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"graphnet analysis benchmarks: torch {torch.__version__}, commit {rev}")

    g = gn.mlp([1000, 1000, 1000, 10], density=0.5, seed=0)
    t, ts = best(lambda: analysis.neural_persistence(g))
    print(
        f"  neural_persistence, {g.num_edges:,} edges: {t:.3f} s (runs {_r(ts)})  <= 2 s  {_ok(t <= 2)}"
    )

    g2 = gn.mlp([784, 1024, 1024, 10], density=0.3, seed=0)
    m2 = gn.compile(g2)
    x = torch.randn(8192, 784)

    def forward():
        with torch.no_grad():
            for i in range(0, x.shape[0], 1024):
                m2(x[i : i + 1024])

    forward()
    analysis.capture(g2, m2, x)
    ratios = []
    for _ in range(5):
        a, _ = best(forward, 1)
        b, _ = best(lambda: analysis.capture(g2, m2, x), 1)
        ratios.append(b / a)
    r = float(np.median(ratios))
    runs = np.round(ratios, 2).tolist()
    what = f"capture vs forward, {g2.num_neurons} neurons x 8192 samples"
    print(f"  {what}: {r:.2f}x (runs {runs})  <= 1.3x  {_ok(r <= 1.3)}")

    g3 = gn.mlp([100, 100000, 10], density=0.001, seed=0)  # ~10^5 neurons
    m3 = gn.compile(g3)
    data = torch.randn(10000, 100)
    t, ts = best(lambda: analysis.extrema(g3, m3, data, batch_size=500), 1)
    what = f"extrema, {g3.num_neurons:,} neurons x {data.shape[0]:,} samples (streamed, batch 500)"
    print(f"  {what}: {t:.2f} s  <= 5 s  {_ok(t <= 5)}")

    # A random DAG like the one gudhi needed over 4 minutes for: 2,000 neurons, 80,000 edges
    rng = np.random.default_rng(0)
    pairs = set()
    while len(pairs) < 80000:
        a, c = rng.integers(0, 2000, 2)
        if a != c:
            pairs.add((min(a, c), max(a, c)))
    src, dst = np.array(sorted(pairs)).T
    g4 = gn.from_edges(src, dst, rng.standard_normal(src.size), num_neurons=2000)
    t = time.perf_counter()
    try:
        analysis.persistence_diagram(g4)
        verdict = "ran (no refusal)"
    except gn.GraphError as err:
        verdict = f"refused: {str(err)[:90]}..."
    print(
        f"  size guard on {g4.num_neurons} neurons / {g4.num_edges:,} edges: {verdict} after {time.perf_counter() - t:.3f} s"
    )


if __name__ == "__main__":
    main()
