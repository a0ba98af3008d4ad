"""Benchmarks of the compiler (issue 4): training-step speed against nn.Sequential, the
dense/sparse crossover, compile/recompile/sync times at scale.

Run by hand from the repository root (not a test)::

    .venv/bin/python benchmarks/bench_compile.py                 # everything (~10 minutes)
    .venv/bin/python benchmarks/bench_compile.py --only mlp,dag  # some sections
    .venv/bin/python benchmarks/bench_compile.py --only mlp --rounds 30 --mlp-repeats 12  # ~5 min

Sections: ``crossover`` (dense vs CSR block, forward+backward, per size and density), ``mlp``
(784-256-128-10: nn.Sequential vs compiled at full density vs compiled at 1%), ``block``
(one 4096x4096 block at 1%: auto vs dense-masked), ``dag`` (20 levels x 50 neurons skip DAG
vs nn.Sequential of 19 Linear(50, 50)), ``compile`` (10^6 edges: compile; recompile after one
new edge, optimizer carried), ``sync`` (10^7 edges: graph -> module -> sync -> graph, peak
memory), ``from_torch`` (784-256-128-10 MLP to a graph).

Training steps are batch 256, cross-entropy, forward + backward + Adam step. Variants that are
compared run interleaved, round after round in one process, and each reports its median step
time, so that the shared machine's drift hits every variant alike. This VM also switches for
minutes at a time between a quiet and a contended state (benchmarks/RESULTS.md): ``--mlp-repeats``
spreads repeats of the mlp section over several minutes and reports their medians.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shapes import deep_skip_dag  # noqa: E402

import graphnet as gn  # noqa: E402

RESULTS: dict[str, object] = {}


def report(name: str, value: str, limit: str = "-", ok: bool | None = None, note: str = ""):
    verdict = "-" if ok is None else ("PASS" if ok else "FAIL")
    print(f"  {name:<58} {value:>22}  {limit:<14} {verdict:<5} {note}", flush=True)


def trainer(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(model(x), y).backward()
        opt.step()

    return step


def interleaved(steps: dict, rounds: int = 15, per_round: int = 20) -> dict[str, float]:
    """Median seconds per call of each function, measured round-robin."""
    for f in steps.values():
        for _ in range(5):
            f()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, f in steps.items():
            t = time.perf_counter()
            for _ in range(per_round):
                f()
            times[name].append((time.perf_counter() - t) / per_round)
    return {k: float(np.median(v)) for k, v in times.items()}


class WholeNetwork(torch.nn.Module):
    """A compiled model that computes every neuron, dead ends included (no elimination)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model._run_all(x)


def sequential(sizes, act=torch.nn.ReLU):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), act()]
    return torch.nn.Sequential(*layers[:-1])


# ----------------------------------------------------------------------------------- sections
def bench_crossover(args):
    print("\n[crossover] one block, batch 256, forward + backward (median ms): dense-masked vs CSR")
    table = []
    for size in (256, 1024, 4096):
        row = {"size": size}
        for d in (0.01, 0.03, 0.1, 0.2, 0.3, 0.5):
            g = gn.mlp([size, size], density=d, seed=0)
            x = torch.randn(256, size)
            models = {m: gn.compile(g, m) for m in ("dense", "sparse")}
            fb = {m: (lambda mm=mm, x=x: mm(x).sum().backward()) for m, mm in models.items()}
            t = interleaved(fb, rounds=7, per_round=5 if size == 4096 else 20)
            row[d] = (t["dense"] * 1e3, t["sparse"] * 1e3)
            print(
                f"  {size:>5} x {size:<5} density {d:<5} dense {t['dense'] * 1e3:8.3f} ms   "
                f"csr {t['sparse'] * 1e3:8.3f} ms   dense/csr {t['dense'] / t['sparse']:6.2f}",
                flush=True,
            )
        table.append(row)
    RESULTS["crossover"] = table


def bench_mlp(args):
    print("\n[mlp] 784-256-128-10, batch 256, Adam step (median of interleaved rounds)")
    torch.manual_seed(0)
    x, y = torch.randn(256, 784), torch.randint(0, 10, (256,))
    seq = sequential([784, 256, 128, 10])
    full = gn.compile(gn.mlp([784, 256, 128, 10], density=1.0, seed=0))
    g1 = gn.mlp([784, 256, 128, 10], density=0.01, seed=0)
    sparse = gn.compile(g1)
    whole = WholeNetwork(gn.compile(g1))  # the same, dead ends computed too (for the record)
    steps = {
        "seq": trainer(seq, x, y),
        "full": trainer(full, x, y),
        "1%": trainer(sparse, x, y),
        "1% whole": trainer(whole, x, y),
    }
    repeats = []
    for i in range(args.mlp_repeats):
        if i:
            time.sleep(args.mlp_pause)  # spread the repeats over the host's quiet/busy spells
        t = interleaved(steps, rounds=args.rounds)
        repeats.append(t)
        if args.mlp_repeats > 1:
            print(
                f"  repeat {i + 1}: nn.Sequential {t['seq'] * 1e3:.3f} ms, full "
                f"{t['full'] * 1e3:.3f} ms, 1% {t['1%'] * 1e3:.3f} ms: "
                f"{t['full'] / t['1%']:.2f}x (whole network {t['1% whole'] * 1e3:.3f} ms: "
                f"{t['full'] / t['1% whole']:.2f}x)",
                flush=True,
            )
    t = {k: float(np.median([r[k] for r in repeats])) for k in repeats[0]}
    RESULTS["mlp"] = {**t, "repeats": repeats}
    report("nn.Sequential step", f"{t['seq'] * 1e3:.3f} ms")
    report("compiled, full density", f"{t['full'] * 1e3:.3f} ms")
    part = sparse._live
    report(
        "compiled, 1% density",
        f"{t['1%'] * 1e3:.3f} ms",
        note=f"kinds {sparse.kinds}; dead ends left out: {part.dead_neurons} neurons, "
        f"{part.dead_edges} of {sparse.values.numel()} edges, "
        f"{sparse.num_inputs - part.num_inputs} unread inputs",
    )
    report("compiled, 1% density, dead ends computed", f"{t['1% whole'] * 1e3:.3f} ms")
    r = float(np.median([u["full"] / u["seq"] for u in repeats]))
    report("full density / nn.Sequential", f"{r:.3f}x", "<= 1.10x", r <= 1.10)
    r = float(np.median([u["full"] / u["1%"] for u in repeats]))
    note = f"median of {len(repeats)} repeats" if len(repeats) > 1 else ""
    report("1% speed-up over full density", f"{r:.2f}x", ">= 3x", r >= 3.0, note=note)
    r = float(np.median([u["full"] / u["1% whole"] for u in repeats]))
    report("  the same, dead ends computed", f"{r:.2f}x", note=note)


def bench_block(args):
    print("\n[block] one 4096 x 4096 block at 1%, batch 256, Adam step")
    g = gn.mlp([4096, 4096], density=0.01, seed=0)
    x, y = torch.randn(256, 4096), torch.randint(0, 4096, (256,))
    auto, dense = gn.compile(g, "auto"), gn.compile(g, "dense")
    t = interleaved(
        {"auto": trainer(auto, x, y), "dense": trainer(dense, x, y)}, rounds=7, per_round=3
    )
    RESULTS["block"] = t
    report("auto (" + auto.kinds[0] + ")", f"{t['auto'] * 1e3:.2f} ms")
    report("dense-masked", f"{t['dense'] * 1e3:.2f} ms")
    r = t["dense"] / t["auto"]
    report("auto speed-up over dense-masked", f"{r:.1f}x", ">= 10x", r >= 10)


def bench_dag(args):
    print("\n[dag] 20 levels x 50 neurons skip DAG vs nn.Sequential of 19 Linear(50, 50)")
    g = deep_skip_dag()
    torch.manual_seed(0)
    x, y = torch.randn(256, 50), torch.randint(0, 50, (256,))
    dag = gn.compile(g)
    seq = sequential([50] * 20)
    t = interleaved({"seq": trainer(seq, x, y), "dag": trainer(dag, x, y)}, rounds=args.rounds)
    RESULTS["dag"] = t
    report(
        "graph",
        f"{g.num_edges} edges",
        note=f"kinds {dict((k, dag.kinds.count(k)) for k in set(dag.kinds))}",
    )
    report("nn.Sequential step", f"{t['seq'] * 1e3:.3f} ms")
    report("compiled DAG step", f"{t['dag'] * 1e3:.3f} ms")
    r = t["dag"] / t["seq"]
    report("DAG / nn.Sequential", f"{r:.2f}x", "<= 3x (aim 2x)", r <= 3.0)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        step = trainer(dag, x, y)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(20):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def bench_compile(args):
    print("\n[compile] a 10^6-edge graph")
    g = gn.mlp([1000, 2000, 500, 10], density=0.4, seed=0)
    report("graph", f"{g.num_edges:,} edges")
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        model = gn.compile(g)
        ts.append(time.perf_counter() - t)
    report(
        "gn.compile",
        f"{min(ts):.3f} s",
        "<= 1 s",
        min(ts) <= 1.0,
        f"runs {[round(v, 3) for v in ts]}, kinds {model.kinds}",
    )
    x, y = torch.randn(64, 1000), torch.randint(0, 10, (64,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    lossf(model(x), y).backward()
    opt.step()
    rts = []
    rng = np.random.default_rng(0)
    for _ in range(5):
        while True:
            s, d = int(rng.integers(0, 1000)), int(rng.integers(1000, 3000))
            if not g.has_edge(s, d):
                break
        g.add_edge(s, d, 0.0)
        t = time.perf_counter()
        model, opt = gn.recompile(g, model, opt)
        rts.append(time.perf_counter() - t)
    report(
        "gn.recompile after one new edge (Adam carried)",
        f"{np.median(rts) * 1e3:.1f} ms",
        "<= 100 ms",
        np.median(rts) <= 0.1,
        f"runs {[round(v * 1e3, 1) for v in rts]} ms",
    )
    RESULTS["compile"] = {"compile_s": ts, "recompile_s": rts}


_SYNC_CHILD = r"""
import resource, time, json, sys
import torch, graphnet as gn
g = gn.mlp([10000, 100000, 100], density=0.009901, seed=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
model = gn.compile(g)
t1 = time.perf_counter()
with torch.no_grad():
    model.values.mul_(0.5)
gn.sync(g, model)
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"edges": g.num_edges, "compile": t1 - t, "sync": t2 - t1, "kinds": model.kinds,
                  "peak_delta_mib": (peak - before) / 1024}))
"""


def bench_sync(args):
    print("\n[sync] 10^7 edges: graph -> module -> sync -> graph (fresh process)")
    out = subprocess.run(
        [sys.executable, "-c", _SYNC_CHILD], capture_output=True, text=True, check=True
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    RESULTS["sync"] = r
    total = r["compile"] + r["sync"]
    raw = r["edges"] * 20 / 2**20
    dense = 10000 * 100000 * 4 / 2**20
    report("graph", f"{r['edges']:,} edges", note=f"kinds {r['kinds']}")
    report(
        "compile + sync",
        f"{total:.2f} s",
        "<= 5 s",
        total <= 5.0,
        f"compile {r['compile']:.2f} s, sync {r['sync']:.2f} s",
    )
    report(
        "peak memory growth (ru_maxrss)",
        f"{r['peak_delta_mib']:.0f} MiB",
        f"< {dense:.0f} MiB",
        r["peak_delta_mib"] < dense,
        f"a full dense 10^4 x 10^5 float32 block alone is {dense:.0f} MiB; raw edges {raw:.0f} MiB",
    )


def bench_from_torch(args):
    print("\n[from_torch] 784-256-128-10 nn.Sequential to a graph")
    if not hasattr(gn, "from_torch"):
        report("from_torch", "not implemented yet")
        return
    seq = sequential([784, 256, 128, 10])
    ts = []
    for _ in range(7):
        t = time.perf_counter()
        gn.from_torch(seq)
        ts.append(time.perf_counter() - t)
    report(
        "gn.from_torch",
        f"{min(ts) * 1e3:.1f} ms",
        "<= 20 ms",
        min(ts) <= 0.02,
        f"runs {[round(v * 1e3, 1) for v in ts]} ms",
    )
    RESULTS["from_torch"] = ts


SECTIONS = {
    "mlp": bench_mlp,
    "block": bench_block,
    "dag": bench_dag,
    "compile": bench_compile,
    "sync": bench_sync,
    "from_torch": bench_from_torch,
    "crossover": bench_crossover,
}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument(
        "--mlp-repeats", type=int, default=1, help="repeat the mlp section; report the medians"
    )
    ap.add_argument("--mlp-pause", type=float, default=20.0, help="seconds between mlp repeats")
    ap.add_argument("--profile", action="store_true", help="print a profile of the DAG step")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    print(
        f"graphnet compiler benchmarks: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}"
    )
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "-uno"], capture_output=True, text=True
        ).stdout.strip()
        print(f"  source: commit {rev}{' (uncommitted changes)' if dirty else ' (clean)'}")
    except OSError:
        pass
    for name in args.only.split(","):
        SECTIONS[name.strip()](args)
        gc.collect()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)


if __name__ == "__main__":
    main()
