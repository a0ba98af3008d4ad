"""The analyses of one finished run's final network, written beside the run: extrema, information
flow, degrees, input-to-output path lengths, neural persistence and Betti numbers per level.

Reads ``summary.json``, ``config.json`` and ``final.h5`` of a run directory (never modifies
them) and the test split of the run's data set (the rows the network never trained on); writes
``analysis.json``, ``analysis.md`` and PNG plots, each atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

import analysis
import compilers
from graphnet.core.atomic import atomic_path
from graphnet.core.errors import GraphError, GraphFileError
from graphnet.core.graph import NeuronGraph
from graphnet.core.io_hdf5 import load
from graphnet.evolution.records import RunSummary, read_summary
from graphnet.train import Dataset, digits

__all__ = ["analyze_run"]

_PLOTS = {
    "extrema": "extrema.png",
    "information": "information_flow.png",
    "degrees": "degrees.png",
    "persistence": "neural_persistence.png",
}


def analyze_run(run_dir: Path, out: Path | None = None, *, samples: int = 512) -> dict:
    """Analyse the final network of a run and write ``analysis.json``, ``analysis.md`` and plots.

    The final graph (``final.h5``) is compiled and fed ``samples`` rows of its data set's test
    split (a seeded draw, the run's seed), which :func:`analysis.extrema` and
    :func:`analysis.information_flow` read. The graph-only analyses are
    :func:`analysis.degree_by_level`, :func:`analysis.io_path_lengths`,
    :func:`analysis.neural_persistence` and :func:`analysis.betti_numbers` (skipped, with the
    reason, when its flag complex is past the size guard or gudhi is missing).

    The returned dict is exactly what ``analysis.json`` holds: levels keyed ``"0"``, ``"1"``,
    ...; level pairs ``"0->1"``; outputs by neuron id; an unreachable output's path lengths
    ``null``. Keys: ``run``, ``graph``, ``samples``, ``test_rows`` (the test rows read),
    ``test_acc`` (on the whole test split), ``levels``, ``extrema`` (``dead`` and
    ``saturated`` counts per level, and their ids), ``information_flow`` (``per_level``,
    ``mean_per_level``, ``between_levels``, ``bottlenecks``), ``degree_by_level`` (per
    level: ``neurons``, ``in_mean``, ``in_max``, ``out_mean``, ``out_max``),
    ``io_path_lengths`` (``{output: [shortest, longest]}``), ``neural_persistence``
    (``pairs``, ``mean``), ``betti_numbers`` (list or None), ``betti_note`` and ``plots``
    (file names in ``out``).

    Parameters
    ----------
    run_dir : Path
        A finished run directory (``summary.json`` and ``final.h5``).
    out : Path, optional
        Where to write; default ``run_dir / "analysis"`` (created if missing).
    samples : int, default 512
        Test rows fed to the network (at most the test split's size); at least 16.

    Returns
    -------
    dict
        The results, as written to ``analysis.json``.

    Raises
    ------
    GraphFileError
        If ``summary.json`` or ``final.h5`` is missing or unreadable, or ``config.json`` is not
        JSON (each message names the file).
    GraphError
        If ``samples < 16``, the data set is unknown, or its features do not match the
        network's inputs.

    Examples
    --------
    >>> import tempfile, graphnet as gn
    >>> run = gn.evolve({"stop": {"max_epochs": 1}, "network": {"hidden": [8]},
    ...                  "progress": False}, dir=tempfile.mkdtemp())
    >>> result = analyze_run(run.dir, samples=32)
    >>> result["levels"], sorted(result["information_flow"]["per_level"])
    ([0, 1, 2], ['0', '1', '2'])
    >>> (run.dir / "analysis" / "analysis.md").is_file()
    True
    """
    run_dir = Path(run_dir)
    if not isinstance(samples, (int, np.integer)) or samples < 16:
        raise GraphError(f"analyze_run: samples must be a whole number >= 16, got {samples!r}")
    summary = read_summary(run_dir)
    final = run_dir / "final.h5"
    if not final.is_file():
        raise GraphFileError(f"{final}: no final graph (the run did not finish)")
    g = load(final)
    data = _run_data(run_dir, summary)
    if data.num_features != len(g.inputs):
        raise GraphError(
            f"{run_dir}: the {summary.dataset} data has {data.num_features} features but the "
            f"final graph has {len(g.inputs)} inputs"
        )
    model = compilers.compile(g)
    model.eval()
    n = data.x_test.shape[0]
    k = min(int(samples), n)
    rows = np.sort(np.random.default_rng(summary.seed).permutation(n)[:k])
    x, y = data.x_test[torch.from_numpy(rows)], data.y_test[torch.from_numpy(rows)]
    with torch.no_grad():
        test_acc = float((model(data.x_test).argmax(1) == data.y_test).double().mean())

    ids = g.neuron_ids
    levels = [int(lv) for lv in np.unique(g.neuron_attr("level", ids))]
    ext = analysis.extrema(g, model, x)
    flow = analysis.information_flow(g, model, x, y)
    degrees = analysis.degree_by_level(g)
    persistence = analysis.neural_persistence(g)
    try:
        betti, note = analysis.betti_numbers(g), ""
    except GraphError as err:  # the flag complex is past the size guard
        betti, note = None, f"not computed: {err}"
    except ImportError:
        betti, note = None, "not computed: gudhi is not installed"

    def per_level(found: set[int]) -> dict[str, int]:
        lv = g.neuron_attr("level", np.array(sorted(found), dtype=np.int64)) if found else []
        counts = np.bincount(np.asarray(lv, dtype=np.int64), minlength=max(levels) + 1)
        return {str(v): int(counts[v]) for v in levels}

    result: dict[str, Any] = {
        "run": {"dir": str(run_dir), "method": summary.method, "dataset": summary.dataset,
                "seed": summary.seed, "label": summary.label},
        "graph": {"neurons": g.num_neurons, "edges": g.num_edges, "levels": g.num_levels},
        "samples": k,
        "test_rows": rows.tolist(),
        "test_acc": test_acc,
        "levels": levels,
        "extrema": {"dead": per_level(ext.dead), "saturated": per_level(ext.saturated),
                    "dead_ids": sorted(ext.dead), "saturated_ids": sorted(ext.saturated)},
        "information_flow": {
            "per_level": {str(lv): v for lv, v in flow["per_level"].items()},
            "mean_per_level": {str(lv): v for lv, v in flow["mean_per_level"].items()},
            "between_levels": {f"{a}->{b}": v for (a, b), v in flow["between_levels"].items()},
            "bottlenecks": [int(b) for b in flow["bottlenecks"]],
        },
        "degree_by_level": {
            str(lv): {"neurons": int(d["ids"].size),
                      "in_mean": float(d["in"].mean()), "in_max": int(d["in"].max()),
                      "out_mean": float(d["out"].mean()), "out_max": int(d["out"].max())}
            for lv, d in sorted(degrees.items())
        },
        "io_path_lengths": {
            str(o): (None if np.isinf(s) else [int(s), int(t)])
            for o, (s, t) in analysis.io_path_lengths(g).items()
        },
        "neural_persistence": {
            "pairs": {f"{a}->{b}": v for (a, b), v in sorted(persistence["pairs"].items())},
            "mean": persistence["mean"],
        },
        "betti_numbers": betti,
        "betti_note": note,
        "plots": list(_PLOTS.values()),
    }  # fmt: skip

    out = Path(out) if out is not None else run_dir / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    _plots(g, result, flow, out)
    with atomic_path(out / "analysis.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2, allow_nan=False))
    with atomic_path(out / "analysis.md") as tmp:
        tmp.write_text(_markdown(result, summary), encoding="utf-8")
    return result


def _run_data(run_dir: Path, summary: RunSummary) -> Dataset:
    """The run's data: from its ``config.json`` when that is an evolution config, else the
    named embedded data set split with the run's seed."""
    from graphnet.evolution.config import EvolutionConfig
    from graphnet.evolution.evolve import load_data

    path = run_dir / "config.json"
    if path.is_file():
        try:
            fields = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise GraphFileError(f"{path}: not valid JSON ({err})") from None
        try:
            config = EvolutionConfig(**fields)
        except (GraphError, TypeError):  # not an evolution config (a baseline's): use summary
            config = None
        if config is not None:
            return load_data(config)[0]
    if summary.dataset == "digits":
        return digits(seed=summary.seed)
    raise GraphError(f"{run_dir}: no loader for data set {summary.dataset!r} (known: digits)")


# ---------------------------------------------------------------------------- output
def _plots(g: NeuronGraph, result: dict, flow: dict, out: Path) -> None:
    from matplotlib.figure import Figure

    def save(draw, name: str) -> None:
        ax = Figure(figsize=(5.5, 4), layout="constrained").subplots()
        draw(ax)
        with atomic_path(out / name) as tmp:
            ax.figure.savefig(tmp, format="png", dpi=110)

    levels = result["levels"]

    def extrema_bars(ax) -> None:
        x = np.arange(len(levels))
        ext = result["extrema"]
        ax.bar(x - 0.2, [ext["dead"][str(v)] for v in levels], 0.4, label="dead")
        ax.bar(x + 0.2, [ext["saturated"][str(v)] for v in levels], 0.4, label="saturated")
        ax.set_xticks(x, [str(v) for v in levels])
        ax.set_xlabel("level")
        ax.set_ylabel("neurons")
        ax.set_title("dead and saturated neurons per level")
        ax.legend()

    def persistence_bars(ax) -> None:
        pairs = result["neural_persistence"]["pairs"]
        ax.bar(range(len(pairs)), list(pairs.values()), color="tab:purple")
        ax.set_xticks(range(len(pairs)), list(pairs), rotation=45 if len(pairs) > 6 else 0)
        ax.set_xlabel("level pair")
        ax.set_ylabel("normalised neural persistence")
        ax.set_title(f"neural persistence (mean {result['neural_persistence']['mean']:.3f})")

    save(extrema_bars, _PLOTS["extrema"])
    save(lambda ax: analysis.plot_information(flow, ax=ax), _PLOTS["information"])
    save(lambda ax: analysis.plot_degrees(g, ax=ax), _PLOTS["degrees"])
    save(persistence_bars, _PLOTS["persistence"])


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _markdown(r: dict, summary: RunSummary) -> str:
    run, graph, ext, flow = r["run"], r["graph"], r["extrema"], r["information_flow"]
    lines = [
        f"# Analysis of `{run['dir']}`",
        "",
        f"{run['method']} on {run['dataset']}, seed {run['seed']}"
        + (f", label {run['label']}" if run["label"] else "")
        + f": {graph['neurons']} neurons, {graph['edges']} edges, {graph['levels']} levels. "
        f"Test accuracy of the final graph {100 * r['test_acc']:.2f}% (summary: "
        f"{100 * summary.test_acc:.2f}%). Extrema and information flow read {r['samples']} "
        "test rows.",
        "",
        "## Per level",
        "",
    ]
    rows = []
    for lv in map(str, r["levels"]):
        d = r["degree_by_level"][lv]
        rows.append([
            lv, str(d["neurons"]), str(ext["dead"][lv]), str(ext["saturated"][lv]),
            f"{d['in_mean']:.2f} ({d['in_max']})", f"{d['out_mean']:.2f} ({d['out_max']})",
            f"{flow['per_level'][lv]:.3f}", f"{flow['mean_per_level'][lv]:.3f}",
        ])  # fmt: skip
    lines += _table(
        ["level", "neurons", "dead", "saturated", "in-degree mean (max)",
         "out-degree mean (max)", "information, best neuron (nats)",
         "information, mean neuron (nats)"], rows,
    )  # fmt: skip
    bottlenecks = ", ".join(map(str, flow["bottlenecks"])) or "none"
    lines += [f"Bottleneck levels: {bottlenecks}.", "", "## Between levels", ""]
    lines += _table(
        ["levels", "information between leading components (nats)"],
        [[k, f"{v:.3f}"] for k, v in flow["between_levels"].items()],
    )
    lines += ["## Neural persistence", ""]
    lines += _table(
        ["level pair", "normalised neural persistence"],
        [[k, f"{v:.4f}"] for k, v in r["neural_persistence"]["pairs"].items()],
    )
    lines += [f"Mean over pairs: {r['neural_persistence']['mean']:.4f}.", ""]
    lines += ["## Paths from the inputs to each output (edges)", ""]
    lines += _table(
        ["output", "shortest", "longest"],
        [
            [o, *(map(str, v) if v else ["unreachable"] * 2)]
            for o, v in r["io_path_lengths"].items()
        ],
    )
    betti = r["betti_numbers"]
    lines += ["## Topology", ""]
    lines += [
        f"Betti numbers of the flag complex: {', '.join(f'b{i} = {b}' for i, b in enumerate(betti))}."
        if betti is not None
        else f"Betti numbers {r['betti_note']}",
        "",
        "## Plots",
        "",
    ]
    lines += [f"![{name.removesuffix('.png')}]({name})\n" for name in r["plots"]]
    return "\n".join(lines)
