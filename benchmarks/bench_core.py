"""Benchmarks of graphnet.core at scale (issue 3): build, convert, save/load, check.

Run by hand from the repository root (this file is not a test; pytest's testpaths are
``tests graphnet compilers analysis`` and do not include ``benchmarks/``)::

    .venv/bin/python benchmarks/bench_core.py          # full: 10^7 edges, 10^6 for networkx
    .venv/bin/python benchmarks/bench_core.py --quick  # small sizes (10^5 / 10^4 edges)

Options: ``--only mlp,pyg,io,nx,check`` runs some sections; ``--repeats N`` (default 3) sets the
repeats (the best is reported); ``--tmpdir DIR`` is where the HDF5 file goes (default: a fresh
directory under /tmp, removed afterwards); ``--json PATH`` also writes all figures as JSON.

Targets (full sizes):

1. ``gn.mlp`` with ~10^7 edges: wall time <= 3 s; peak memory <= 3x the raw edge arrays
   (20 bytes/edge: int64 src + int64 dst + float32 weight). Peak memory is measured in a fresh
   subprocess per case, twice: with tracemalloc (numpy reports its buffers to it) and as the
   growth of the process's peak RSS (``ru_maxrss`` after the build minus RSS before it).
2. ``to_pyg`` + ``from_pyg`` of 10^7 edges: total <= 2 s.
3. ``gn.save`` and ``gn.load`` of 10^7 edges: each <= 3 s.
4. ``from_networkx`` of a 10^6-edge DAG: <= 3x the time of
   ``for u, v, d in G.edges(data=True): pass`` on the same graph.
5. ``g.check()`` on 10^7 edges: <= 1 s.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

RAW_BYTES_PER_EDGE = 20  # int64 src + int64 dst + float32 weight

# ---------------------------------------------------------------------------- cases
FULL = {"edges": 10_000_000, "nx_edges": 1_000_000}
QUICK = {"edges": 100_000, "nx_edges": 10_000}


def mlp_cases(edges: int) -> dict[str, tuple[list[int], float]]:
    """The two ``gn.mlp`` shapes, scaled so that each has about ``edges`` edges."""
    scale = edges / 10_000_000
    a, b, c = max(2, round(10_000 * scale**0.5)), max(2, round(100_000 * scale**0.5)), 100
    sparse_density = min(1.0, edges / (a * b + b * c))
    side = round(edges**0.5)  # 3162 -> 9,998,244 edges; 3163 -> 10,004,569
    side = 3163 if edges == 10_000_000 else side
    return {"sparse": ([a, b, c], sparse_density), "dense": ([side, side], 1.0)}


# ---------------------------------------------------------------------------- helpers
def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``repeats`` times; return (best seconds, all seconds, last result)."""
    times, out = [], None
    for _ in range(repeats):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def fmt_s(x: float) -> str:
    return f"{x:.3f} s"


def rss_now() -> int:
    """Current resident set size in bytes (Linux /proc)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def graph_bytes(g) -> int:
    """Bytes held by a graph's arrays (edge and neuron columns plus the edge lookup index)."""
    total = sum(a.nbytes for a in g._edges._data.values()) + sum(
        a.nbytes for a in g._neurons._data.values()
    )
    if g._index is not None:
        total += g._index.keys.nbytes + (0 if g._index.pos is None else g._index.pos.nbytes)
    return total


ROWS: list[dict[str, Any]] = []


def row(target: str, figure: str, limit: str, ok: bool | None, note: str = "") -> None:
    ROWS.append(
        {
            "target": target,
            "figure": figure,
            "limit": limit,
            "result": "-" if ok is None else ("PASS" if ok else "FAIL"),
            "note": note,
        }
    )
    print(f"  {target:<44} {figure:>22}  {limit:<14} {ROWS[-1]['result']:<5} {note}", flush=True)


# ---------------------------------------------------------------------------- 1. mlp
def _mem_child(case: str, mode: str, edges: int) -> None:
    """Run in a fresh interpreter: build one mlp case and print its memory figures as JSON."""
    import graphnet as gn

    sizes, density = mlp_cases(edges)[case]
    gn.mlp([3, 4, 2], density=0.5, seed=0)  # warm up lazy imports (scipy etc.)
    gc.collect()
    out: dict[str, Any] = {"case": case, "mode": mode}
    if mode == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        t = time.perf_counter()
        g = gn.mlp(sizes, density=density, seed=0)
        out["seconds_traced"] = time.perf_counter() - t
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.update(peak=peak - base, retained=cur - base)
    else:
        rss0 = rss_now()
        max0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        try:  # reset the kernel's peak-RSS mark (VmHWM) so that it measures the build alone
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            hwm_reset = True
        except OSError:
            hwm_reset = False
        t = time.perf_counter()
        g = gn.mlp(sizes, density=density, seed=0)
        out["seconds"] = time.perf_counter() - t
        max1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        hwm = 0
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
        out.update(
            rss_before=rss0,
            maxrss_before=max0,
            maxrss_after=max1,
            maxrss_delta=max1 - rss0,
            hwm_delta=(hwm - rss0) if hwm_reset else None,
            rss_after_delta=rss_now() - rss0,
        )
    out["edges"] = g.num_edges
    out["graph_bytes"] = graph_bytes(g)
    print(json.dumps(out))


def run_mem_child(case: str, mode: str, edges: int) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--_mem-child", case, mode, str(edges)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_mlp(edges: int, repeats: int, quick: bool) -> dict[str, Any]:
    import graphnet as gn

    print(
        f"\n[1] gn.mlp, ~{edges:,} edges (time: best of {repeats} in this process; memory: fresh "
        "subprocess per case and per method)"
    )
    # Memory first, while this process is still small: a child started by fork/vfork + exec
    # inherits the parent's peak RSS as its initial ru_maxrss, which would mask its own peak.
    mem = {
        case: (run_mem_child(case, "tracemalloc", edges), run_mem_child(case, "rss", edges))
        for case in mlp_cases(edges)
    }
    figures = {}
    for case, (sizes, density) in mlp_cases(edges).items():
        build = functools.partial(gn.mlp, sizes, density=density, seed=0)
        best, times, g = best_of(build, repeats)
        E = g.num_edges
        del g
        gc.collect()
        tm, rs = mem[case]
        raw = RAW_BYTES_PER_EDGE * E
        label = f"mlp {case} {sizes} d={density:.4g}"
        print(
            f"  {label}: {E:,} edges; times {[round(t, 3) for t in times]}; fresh process "
            f"{rs['seconds']:.3f} s"
        )
        row(
            f"{label}: time",
            fmt_s(best),
            "<= 3 s",
            best <= 3.0 if not quick else None,
            f"fresh process {rs['seconds']:.3f} s",
        )
        ratio_tm = tm["peak"] / raw
        ratio_rs = rs["maxrss_delta"] / raw
        row(
            f"mlp {case}: peak (tracemalloc)",
            f"{tm['peak'] / 2**20:,.0f} MiB = {ratio_tm:.2f}x",
            "<= 3.00x raw",
            ratio_tm <= 3.0 if not quick else None,
            f"raw {raw / 2**20:,.0f} MiB; retained "
            f"{tm['retained'] / 2**20:,.0f} MiB = {tm['retained'] / raw:.2f}x",
        )
        hwm = rs.get("hwm_delta")
        valid = rs["maxrss_before"] <= rs["rss_before"]
        row(
            f"mlp {case}: peak (ru_maxrss delta)",
            f"{rs['maxrss_delta'] / 2**20:,.0f} MiB = {ratio_rs:.2f}x",
            "<= 3.00x raw",
            ratio_rs <= 3.0 if not quick else None,
            (f"VmHWM delta {hwm / 2**20:,.0f} MiB; " if hwm is not None else "")
            + f"RSS after +{rs['rss_after_delta'] / 2**20:,.0f} MiB"
            + ("" if valid else "; INVALID: ru_maxrss was already above RSS before the build"),
        )
        figures[case] = {
            "sizes": sizes,
            "density": density,
            "edges": E,
            "times": times,
            "best": best,
            "tracemalloc": tm,
            "rss": rs,
            "raw_bytes": raw,
        }
    return figures


# ---------------------------------------------------------------------------- 2. PyG
def bench_pyg(g, repeats: int, quick: bool) -> dict[str, Any]:
    import graphnet as gn

    print(f"\n[2] to_pyg + from_pyg, {g.num_edges:,} edges (best of {repeats})")
    t_to, times_to, data = best_of(lambda: gn.to_pyg(g), repeats)
    t_from, times_from, back = best_of(lambda: gn.from_pyg(data), repeats)
    same = back.equals(g)
    total = t_to + t_from
    row("to_pyg", fmt_s(t_to), "", None, f"times {[round(t, 3) for t in times_to]}")
    row("from_pyg", fmt_s(t_from), "", None, f"times {[round(t, 3) for t in times_from]}")
    row(
        "to_pyg + from_pyg",
        fmt_s(total),
        "<= 2 s",
        total <= 2.0 if not quick else None,
        f"round trip equal: {same}",
    )
    return {"to_pyg": times_to, "from_pyg": times_from, "total_best": total, "equal": same}


# ---------------------------------------------------------------------------- 3. HDF5
def bench_io(g, repeats: int, quick: bool, tmpdir: str) -> dict[str, Any]:
    import graphnet as gn

    path = os.path.join(tmpdir, "bench_core.h5")
    print(f"\n[3] gn.save / gn.load, {g.num_edges:,} edges, file {path} (best of {repeats})")
    t_save, times_save, _ = best_of(lambda: gn.save(g, path), repeats)
    size = os.path.getsize(path)
    t_load, times_load, back = best_of(lambda: gn.load(path), repeats)
    same = back.equals(g)
    row(
        "gn.save",
        fmt_s(t_save),
        "<= 3 s",
        t_save <= 3.0 if not quick else None,
        f"times {[round(t, 3) for t in times_save]}; file {size / 2**20:,.0f} MiB",
    )
    row(
        "gn.load",
        fmt_s(t_load),
        "<= 3 s",
        t_load <= 3.0 if not quick else None,
        f"times {[round(t, 3) for t in times_load]}; equal: {same} (file in page cache)",
    )
    return {"save": times_save, "load": times_load, "file_bytes": size, "equal": same}


# ---------------------------------------------------------------------------- 4. networkx
def layered_dag(edges: int, seed: int = 0, weights: bool = True):
    """A random layered DAG with integer labels ``0..V-1``: 10 layers of ``edges/100`` nodes;
    each edge goes one layer up (80%) or two (20%), endpoints uniform, duplicates dropped."""
    import networkx as nx

    rng = np.random.default_rng(seed)
    layers, width = 10, max(2, edges // 100)
    m = int(edges * 1.02) + 100
    lo = rng.integers(0, layers - 1, m)
    hi = np.minimum(lo + 1 + (rng.random(m) < 0.2), layers - 1)
    src = lo * width + rng.integers(0, width, m)
    dst = hi * width + rng.integers(0, width, m)
    keys = np.unique(src * (layers * width) + dst)[:edges]
    keys = keys[rng.permutation(keys.size)]
    src, dst = (keys // (layers * width)).tolist(), (keys % (layers * width)).tolist()
    G = nx.DiGraph()
    G.add_nodes_from(range(layers * width))
    if weights:
        w = rng.standard_normal(len(src)).tolist()
        G.add_edges_from((u, v, {"weight": x}) for u, v, x in zip(src, dst, w))
    else:
        G.add_edges_from(zip(src, dst))
    return G


def bench_nx(edges: int, repeats: int, quick: bool) -> dict[str, Any]:
    import graphnet as gn

    print(
        f"\n[4] from_networkx vs 'for u, v, d in G.edges(data=True): pass', ~{edges:,} edges "
        f"(best of {repeats})"
    )

    def iterate(G):
        for _u, _v, _d in G.edges(data=True):
            pass

    out = {}
    for weights in (True, False):
        G = layered_dag(edges, weights=weights)
        t_it, times_it, _ = best_of(functools.partial(iterate, G), repeats)
        t_fx, times_fx, g = best_of(functools.partial(gn.from_networkx, G), repeats)
        ratio = t_fx / t_it
        label = "weighted" if weights else "no weights"
        print(
            f"  DAG {label}: {G.number_of_nodes():,} nodes, {G.number_of_edges():,} edges -> {g!r}"
        )
        row(
            f"edges(data=True) loop, {label}",
            fmt_s(t_it),
            "",
            None,
            f"times {[round(t, 3) for t in times_it]}",
        )
        row(
            f"from_networkx, {label}",
            f"{fmt_s(t_fx)} = {ratio:.2f}x",
            "<= 3x loop",
            ratio <= 3.0 if not quick else None,
            f"times {[round(t, 3) for t in times_fx]}",
        )
        out[label] = {
            "nodes": G.number_of_nodes(),
            "edges": G.number_of_edges(),
            "loop": times_it,
            "from_networkx": times_fx,
            "ratio": ratio,
        }
        del G, g
        gc.collect()
    return out


# ---------------------------------------------------------------------------- 5. check
def bench_check(g, repeats: int, quick: bool, seed: int = 0) -> dict[str, Any]:
    import graphnet as gn

    print(f"\n[5] g.check(), {g.num_edges:,} edges")
    out = {}
    src, dst, w = g.edge_list()
    perm = np.random.default_rng(seed).permutation(src.size)
    t = time.perf_counter()
    shuffled = gn.from_edges(
        src[perm],
        dst[perm],
        w[perm],
        num_neurons=g.next_neuron_id,
        role=g._neurons.view("role"),
        level=g._neurons.view("level"),
    )
    t_build = time.perf_counter() - t
    print(f"  (gn.from_edges of the shuffled edges took {t_build:.3f} s, its own check included)")
    for label, graph in (("sorted (mlp)", g), ("shuffled (from_edges)", shuffled)):
        gc.collect()
        t = time.perf_counter()
        graph.check()
        first = time.perf_counter() - t
        rep, times, _ = best_of(graph.check, repeats)
        saved = graph._index
        cold = []
        for _ in range(repeats):  # as if the lookup index had never been built (bench-only poke)
            graph._index = None
            gc.collect()
            t = time.perf_counter()
            graph.check()
            cold.append(time.perf_counter() - t)
        graph._index = saved
        ok = lambda x: (x <= 1.0) if not quick else None  # noqa: E731
        row(
            f"check {label}: first call",
            fmt_s(first),
            "<= 1 s",
            ok(first),
            "index already built by the constructor",
        )
        row(
            f"check {label}: repeat",
            fmt_s(rep),
            "<= 1 s",
            ok(rep),
            f"times {[round(x, 3) for x in times]}",
        )
        # Not a state a user's g.check() can meet: every constructor checks (and so indexes)
        # its result, and every edit keeps the index. This is part of construction's cost.
        row(
            f"check {label}: index not built yet (inside constructors)",
            fmt_s(min(cold)),
            "",
            None,
            f"times {[round(x, 3) for x in cold]}; part of from_edges/load/from_pyg on unsorted edges",
        )
        out[label] = {"first": first, "repeat": times, "cold": cold}
    out["from_edges_seconds"] = t_build
    return out


# ---------------------------------------------------------------------------- main
def source_state() -> str:
    """The commit measured, and which tracked files under graphnet/ differ from it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        run = lambda *a: subprocess.run(
            ["git", *a],
            cwd=root,
            capture_output=True,  # noqa: E731
            text=True,
            check=True,
        ).stdout.strip()
        head = run("rev-parse", "--short", "HEAD")
        dirty = run("diff", "--name-only", "HEAD", "--", "graphnet").split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (
        f" + uncommitted changes in {', '.join(dirty)}" if dirty else " (clean)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="small sizes (10^5 edges, 10^4 for networkx)"
    )
    p.add_argument("--only", default="mlp,pyg,io,nx,check", help="comma-separated sections")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--tmpdir", default=None, help="directory for the HDF5 file (default: fresh under /tmp)"
    )
    p.add_argument("--json", default=None, help="also write all figures to this JSON file")
    p.add_argument(
        "--_mem-child", nargs=3, metavar=("CASE", "MODE", "EDGES"), help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)
    if args._mem_child:
        case, mode, edges = args._mem_child
        _mem_child(case, mode, int(edges))
        return 0

    from importlib.metadata import version

    sizes = QUICK if args.quick else FULL
    only = set(args.only.split(","))
    print(
        f"graphnet core benchmarks ({'quick' if args.quick else 'full'}): python "
        f"{sys.version.split()[0]}, numpy {np.__version__}, torch {version('torch')}, networkx "
        f"{version('networkx')}, h5py {version('h5py')}, torch_geometric "
        f"{version('torch_geometric')}; {os.cpu_count()} CPUs"
    )
    git = source_state()
    print(f"  source: {git}")
    if args.quick:
        print("  (quick sizes: targets are shown but not judged)")
    results: dict[str, Any] = {"sizes": sizes, "quick": args.quick, "source": git}
    if "mlp" in only:  # first, so that its memory subprocesses start from a small parent
        results["mlp"] = bench_mlp(sizes["edges"], args.repeats, args.quick)

    import graphnet as gn

    g = None
    if only & {"pyg", "io", "check"}:
        shape, density = mlp_cases(sizes["edges"])["sparse"]
        g = gn.mlp(shape, density=density, seed=0)
        print(
            f"\nsubject of [2] [3] [5]: gn.mlp({shape}, density={density:.4g}) -> {g!r}, "
            f"{graph_bytes(g) / g.num_edges:.0f} bytes/edge held"
        )
    if "pyg" in only:
        results["pyg"] = bench_pyg(g, args.repeats, args.quick)
    if "io" in only:
        tmp = args.tmpdir or tempfile.mkdtemp(prefix="graphnet_bench_", dir="/tmp")
        try:
            results["io"] = bench_io(g, args.repeats, args.quick, tmp)
        finally:
            if args.tmpdir is None:
                shutil.rmtree(tmp, ignore_errors=True)
    if "nx" in only:
        results["nx"] = bench_nx(sizes["nx_edges"], args.repeats, args.quick)
    if "check" in only:
        results["check"] = bench_check(g, args.repeats, args.quick)

    print("\nSummary")
    w = max(len(r["target"]) for r in ROWS)
    print(f"  {'target':<{w}}  {'figure':>22}  {'limit':<14} result")
    for r in ROWS:
        print(f"  {r['target']:<{w}}  {r['figure']:>22}  {r['limit']:<14} {r['result']}")
    results["rows"] = ROWS
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
