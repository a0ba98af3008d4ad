"""Benchmarks of the growth operators (issue 5) on a 10^6-edge graph.

Run by hand from the repository root (not a test)::

    .venv/bin/python benchmarks/bench_growth.py

Targets: each operator changing <= 1% of the edges in <= 50 ms; operator + gn.recompile +
optimizer carry in <= 100 ms; one SET or RigL step at 10^6 edges in <= 200 ms. Each figure is
the median of 5 runs, each on a fresh copy of the same trained graph.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import torch

import graphnet as gn


def setup():
    g = gn.mlp([1000, 1000, 1000, 10], density=0.5, seed=0)  # ~1.0e6 edges
    model = gn.compile(g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 1000), torch.randint(0, 10, (64,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    gn.sync(g, model)
    return g, model, opt, (x, y)


def ops(rng):
    hidden1 = np.arange(1000, 2000)
    hidden2 = np.arange(2000, 3000)
    return {
        "add_edges (1% of edges, weight 0)": lambda g: gn.add_edges(
            g, *_absent(g, rng, 10000), weight=0.0
        ),
        "clone_neuron (side by side)": lambda g: gn.clone_neuron(
            g, int(rng.choice(hidden1)), noise=0.1
        ),
        "clone_neuron (vertical)": lambda g: gn.clone_neuron(
            g, int(rng.choice(hidden1)), vertical=True, scale=0.7
        ),
        "add_highway (20 dead neurons)": lambda g: gn.add_highway(
            g, rng.choice(hidden2, 20, replace=False)
        ),
        "add_patch (size 8, 50 sources, 50 targets)": lambda g: gn.add_patch(
            g, rng.choice(hidden1, 50, replace=False), rng.choice(hidden2, 50, replace=False), 8
        ),
        "route (50 sources, fan-out 4)": lambda g: gn.route(
            g, rng.choice(hidden1, 50, replace=False), hidden2, 4, 5, 3
        ),
        "prune (1%)": lambda g: gn.prune(g, fraction=0.01, remove_orphans=False),
        "insert_level (after level 2: 1000 relays)": lambda g: gn.insert_level(g, 2),
    }


def _absent(g, rng, k):
    s = rng.integers(0, 1000, 4 * k)
    d = rng.integers(1000, 2000, 4 * k)
    key = np.unique(d * 10**6 + s)
    s, d = key % 10**6, key // 10**6
    fresh = g.edge_ids(s, d) < 0
    return s[fresh][:k], d[fresh][:k]


def main():
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"graphnet growth benchmarks: torch {torch.__version__}, commit {rev}")
    g0, model0, opt0, batch = setup()
    print(f"  graph: {g0!r}")
    rng = np.random.default_rng(0)
    rows = []
    for name, op in ops(rng).items():
        t_op, t_all, changed = [], [], []
        for _ in range(5):
            g = g0.copy()
            model, opt = gn.compile(g), torch.optim.Adam(gn.compile(g).parameters())
            model = gn.compile(g)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            torch.nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
            opt.step()
            n0 = g.num_edges
            t = time.perf_counter()
            rep = op(g)
            t1 = time.perf_counter()
            model, opt = gn.recompile(g, model, opt)
            t2 = time.perf_counter()
            t_op.append(t1 - t)
            t_all.append(t2 - t)
            changed.append((rep.edges_added.size + rep.edges_removed.size) / n0)
        a, b = np.median(t_op) * 1e3, np.median(t_all) * 1e3
        ok = "PASS" if a <= 50 and b <= 100 else "FAIL"
        print(
            f"  {name:<45} op {a:7.1f} ms  + recompile {b:7.1f} ms  ({np.median(changed) * 100:.2f}% of edges)  {ok}",
            flush=True,
        )
        rows.append((name, a, b))
    for method in ("set", "rigl"):
        ts = []
        for _ in range(3):
            g = g0.copy()
            t = time.perf_counter()
            if method == "rigl":
                grads = gn.edge_gradients(
                    g, model0, batch, torch.nn.functional.cross_entropy, top_k=3000
                )
                gn.rewire(g, "rigl", 0.01, grads=grads)
            else:
                gn.rewire(g, "set", 0.01, seed=0)
            ts.append(time.perf_counter() - t)
        m = np.median(ts) * 1e3
        what = f"rewire {method} (1% of 10^6 edges" + (
            ", edge_gradients included)" if method == "rigl" else ")"
        )
        print(f"  {what:<60} {m:7.1f} ms  <= 200 ms  {'PASS' if m <= 200 else 'FAIL'}", flush=True)
    t = time.perf_counter()
    gn.edge_gradients(g0, model0, batch, torch.nn.functional.cross_entropy, top_k=3000)
    print(
        f"  edge_gradients alone (batch 64)                              {(time.perf_counter() - t) * 1e3:7.1f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
