"""Profiles behind the failing targets of ``bench_core.py`` (issue 3); run by hand.

    .venv/bin/python benchmarks/profile_core.py                  # all sections, 10^7 edges
    .venv/bin/python benchmarks/profile_core.py mlp-mem nx       # some sections
    .venv/bin/python benchmarks/profile_core.py --quick          # small sizes

Sections:

* ``mlp-time``: cProfile of ``gn.mlp`` (sparse case) and the time spent per internal function.
* ``mlp-mem``: tracemalloc, per phase of ``gn.mlp``: bytes/edge held at entry, peak inside,
  held at exit (phases are the internal functions of build/validate/keyindex, wrapped by name).
* ``nx``: cProfile of ``gn.from_networkx`` on the 10^6-edge layered DAG, with and without weights.
* ``check``: cProfile of ``g.check()`` on shuffled edges with the lookup index not built yet.
* ``pyg``: cProfile of ``gn.from_pyg``.

Wrapping is by attribute name and skips names that a refactor removed, so this keeps running
as the core changes; it only observes, it does not change the library.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
import tracemalloc
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_core  # noqa: E402

import graphnet as gn  # noqa: E402


def show_profile(pr: cProfile.Profile, n: int = 12) -> None:
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(n)
    print("\n".join(line for line in s.getvalue().splitlines() if line.strip()))


def wrap_all(targets, enter, leave):
    """Wrap ``module.name`` for each (module, name) present; return an undo function."""
    saved = []
    for mod, name in targets:
        f = getattr(mod, name, None)
        if f is None:
            continue
        label = f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"

        def w(*a, __f=f, __label=label, **k):
            token = enter(__label)
            try:
                return __f(*a, **k)
            finally:
                leave(__label, token)

        saved.append((mod, name, f))
        setattr(mod, name, w)

    def undo():
        for mod, name, f in saved:
            setattr(mod, name, f)

    return undo


def _modules():
    import importlib

    names = ["build", "assemble", "validate", "keyindex", "levels", "columns"]
    mods = {}
    for n in names:
        try:
            mods[n] = importlib.import_module(f"graphnet.core.{n}")
        except ImportError:
            pass
    return mods


def mlp_targets():
    m = _modules()
    t = []
    for mod, names in (
        ("build", ["_distinct_sorted", "_sample_block", "init_weights", "assemble", "_assemble"]),
        ("assemble", ["init_weights"]),
        (
            "validate",
            [
                "check_known",
                "check_rising",
                "check_finite",
                "_check_neurons",
                "_check_index",
                "_check_tags",
                "edge_keys",
            ],
        ),
    ):
        if mod in m:
            t += [(m[mod], n) for n in names]
    return t


def section_mlp_time(edges: int) -> None:
    sizes, density = bench_core.mlp_cases(edges)["sparse"]
    print(f"\n== mlp-time: gn.mlp({sizes}, density={density:.4g})")
    gn.mlp([3, 4, 2], density=0.5, seed=0)
    pr = cProfile.Profile()
    pr.enable()
    t = time.perf_counter()
    gn.mlp(sizes, density=density, seed=0)
    print(f"  total under cProfile {time.perf_counter() - t:.3f} s")
    pr.disable()
    show_profile(pr)
    # Inclusive wall time per wrapped function (nested calls are counted in each level).
    spent = defaultdict(float)
    calls = defaultdict(int)
    undo = wrap_all(
        mlp_targets(),
        lambda label: time.perf_counter(),
        lambda label, t0: (
            spent.__setitem__(label, spent[label] + time.perf_counter() - t0),
            calls.__setitem__(label, calls[label] + 1),
        ),
    )
    try:
        t = time.perf_counter()
        gn.mlp(sizes, density=density, seed=0)
        total = time.perf_counter() - t
    finally:
        undo()
    print(f"  inclusive time per function (total {total:.3f} s):")
    for label, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"    {label:<28} {s:7.3f} s  {calls[label]:>4} calls")
    # np.sort / ndarray.sort inside the sampler, by caller line.
    pr = cProfile.Profile()
    pr.enable()
    gn.mlp(sizes, density=density, seed=0)
    pr.disable()
    st = pstats.Stats(pr)
    print("  callers of the sorts:")
    for func, (_cc, _nc, _tt, _ct, callers) in st.stats.items():
        if func[2] in ("sort", "<method 'sort' of 'numpy.ndarray' objects>"):
            for caller, (_a, _b, _tt2, ct2) in sorted(callers.items(), key=lambda kv: -kv[1][3]):
                print(
                    f"    {func[2]:<45} from {os.path.basename(caller[0])}:{caller[1]} "
                    f"({caller[2]}): {ct2:.3f} s"
                )


def section_mlp_mem(edges: int) -> None:
    print("\n== mlp-mem: tracemalloc per phase, bytes per edge above the start (raw = 20 B/edge)")
    gn.mlp([3, 4, 2], density=0.5, seed=0)
    import graphnet.core.keyindex as K

    for case, (sizes, density) in bench_core.mlp_cases(edges).items():
        rows = []

        def enter(label):
            cur, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            return cur

        def leave(label, cur0, rows=rows):
            cur1, peak = tracemalloc.get_traced_memory()
            rows.append((label, cur0, peak, cur1))

        undo = wrap_all(mlp_targets(), enter, leave)
        orig_build = K.KeyIndex.__dict__["build"]

        def build(cls, keys, __f=orig_build.__func__):
            c0 = enter("KeyIndex.build")
            r = __f(cls, keys)
            leave("KeyIndex.build", c0)
            return r

        K.KeyIndex.build = classmethod(build)
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        try:
            g = gn.mlp(sizes, density=density, seed=0)
            cur, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            undo()
            K.KeyIndex.build = orig_build
        E = g.num_edges
        print(f"  {case} {sizes} d={density:.4g}: {E:,} edges")
        print(f"    {'phase (in call order)':<28} {'entry':>7} {'peak':>7} {'exit':>7}")
        for label, c0, p, c1 in rows:
            entry, peak, leave_ = ((x - base) / E for x in (c0, p, c1))
            print(f"    {label:<28} {entry:7.1f} {peak:7.1f} {leave_:7.1f}")
        cols = {k: v.nbytes / E for k, v in g._edges._data.items()}
        idx = (g._index.keys.nbytes + g._index.pos.nbytes) / E if g._index is not None else 0
        held = (cur - base) / E
        print(f"    retained {held:.1f} B/edge: edge columns {cols}, lookup index {idx:.0f}")
        del g


def section_nx(edges: int) -> None:
    for weights in (True, False):
        G = bench_core.layered_dag(edges, weights=weights)
        print(f"\n== nx: gn.from_networkx, {G.number_of_edges():,} edges, weights={weights}")
        t = time.perf_counter()
        for _u, _v, _d in G.edges(data=True):
            pass
        print(f"  reference loop {time.perf_counter() - t:.3f} s")
        pr = cProfile.Profile()
        pr.enable()
        t = time.perf_counter()
        gn.from_networkx(G)
        print(f"  from_networkx under cProfile {time.perf_counter() - t:.3f} s")
        pr.disable()
        show_profile(pr, 14)


def _shuffled(edges: int):
    sizes, density = bench_core.mlp_cases(edges)["sparse"]
    g = gn.mlp(sizes, density=density, seed=0)
    s, d, w = g.edge_list()
    p = np.random.default_rng(0).permutation(s.size)
    return g, s[p], d[p], w[p]


def section_check(edges: int) -> None:
    g, s, d, w = _shuffled(edges)
    print(f"\n== check: gn.from_edges of {s.size:,} shuffled edges, then check() with no index")
    pr = cProfile.Profile()
    pr.enable()
    t = time.perf_counter()
    h = gn.from_edges(
        s,
        d,
        w,
        num_neurons=g.next_neuron_id,
        role=g._neurons.view("role"),
        level=g._neurons.view("level"),
    )
    print(f"  from_edges under cProfile {time.perf_counter() - t:.3f} s")
    pr.disable()
    show_profile(pr, 8)
    h._index = None
    pr = cProfile.Profile()
    pr.enable()
    t = time.perf_counter()
    h.check()
    print(f"  check() with no index under cProfile {time.perf_counter() - t:.3f} s")
    pr.disable()
    show_profile(pr, 8)
    from graphnet.core.keyindex import edge_keys

    keys = edge_keys(h._edges.view("src"), h._edges.view("dst"))
    for label, fn in (
        ("np.argsort(keys, kind='stable')", lambda: np.argsort(keys, kind="stable")),
        ("np.sort(keys) (values only)", lambda: np.sort(keys)),
    ):
        t = time.perf_counter()
        fn()
        print(f"  {label:<34} {time.perf_counter() - t:.3f} s")


def section_pyg(edges: int) -> None:
    sizes, density = bench_core.mlp_cases(edges)["sparse"]
    g = gn.mlp(sizes, density=density, seed=0)
    data = gn.to_pyg(g)
    gn.from_pyg(data)
    print(f"\n== pyg: gn.from_pyg of {g.num_edges:,} edges")
    pr = cProfile.Profile()
    pr.enable()
    t = time.perf_counter()
    gn.from_pyg(data)
    print(f"  from_pyg under cProfile {time.perf_counter() - t:.3f} s")
    pr.disable()
    show_profile(pr, 8)


SECTIONS = {
    "mlp-time": section_mlp_time,
    "mlp-mem": section_mlp_mem,
    "nx": section_nx,
    "check": section_check,
    "pyg": section_pyg,
}


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or list(SECTIONS)
    sizes = bench_core.QUICK if quick else bench_core.FULL
    print(f"source: {bench_core.source_state()}")
    for name in names:
        SECTIONS[name](sizes["nx_edges"] if name == "nx" else sizes["edges"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
