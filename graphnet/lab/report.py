"""Reports over run directories: per data set, a table of mean ± std over seeds for each method,
the exact list of runs read, and plots (test accuracy against parameters, test accuracy over
epochs, growth events over time).

A run directory is what :func:`graphnet.evolve` or a baseline writes: ``summary.json`` (a
:class:`~graphnet.evolution.records.RunSummary`), ``metrics.jsonl`` and ``events.jsonl``. Runs
are grouped by ``(dataset, method, label)``, groups in the order their first run was given.
Each number of a group is the mean over its runs and the sample standard deviation
(``ddof=1``; "—" for a single run). The run directories are only read; everything is written
into ``out``, each file atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from graphnet.core.atomic import atomic_path
from graphnet.core.errors import GraphError, GraphFileError
from graphnet.evolution.records import (
    EpochMetrics,
    GrowthEvent,
    RunSummary,
    read_jsonl,
    read_summary,
)

__all__ = ["report"]

_ACCURACY_VS_PARAMETERS = "accuracy_vs_parameters.png"
_ACCURACY_OVER_EPOCHS = "accuracy_over_epochs.png"
_GROWTH_EVENTS = "growth_events.png"

# (header, value of a run, format of mean and std)
_COLUMNS = (
    ("test accuracy (%)", lambda s: 100.0 * s.test_acc, ".2f"),
    ("parameters", lambda s: s.parameters, ",.0f"),
    ("share of dense (%)", lambda s: 100.0 * s.parameter_share, ".2f"),
    ("edges", lambda s: s.edges, ",.0f"),
    ("growth events", lambda s: s.events, ".1f"),
    ("wall time (s)", lambda s: s.wall_time, ".2f"),
)


@dataclass(frozen=True)
class _Run:
    path: Path
    summary: RunSummary
    metrics: list[EpochMetrics]
    events: list[GrowthEvent]


def _read_run(path: Path) -> _Run:
    summary = read_summary(path)  # GraphFileError naming the directory when missing
    metrics, torn = read_jsonl(path / "metrics.jsonl", EpochMetrics)
    if (metrics or torn) and len(metrics) != summary.epochs:
        raise GraphFileError(
            f"{path / 'metrics.jsonl'}: {len(metrics)} epochs, but summary.json counts "
            f"{summary.epochs} (the file was cut or edited); a report from it would plot "
            "other epochs than its table counts"
        )
    events, _ = read_jsonl(path / "events.jsonl", GrowthEvent)
    return _Run(path, summary, metrics, events)


def _mean_std(values) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    v = np.asarray(values, dtype=np.float64)
    return float(np.mean(v)), (float(np.std(v, ddof=1)) if v.size > 1 else None)


def _cell(values, fmt: str) -> str:
    mean, std = _mean_std(values)
    return f"{mean:{fmt}} ± " + ("—" if std is None else f"{std:{fmt}}")


def _name(key: tuple[str, str, str]) -> str:
    _, method, label = key
    return f"{method} ({label})" if label else method


def report(
    run_dirs: list[Path], out: Path, *, title: str = "graphnet report", html: bool = False
) -> Path:
    """Write ``out/report.md`` comparing runs across methods and seeds, with its plots.

    Runs are grouped by ``(dataset, method, label)``. Per data set, a table gives each group's
    number of runs and their seeds, and the mean ± std (``ddof=1``; "—" for one run) of test
    accuracy (%), parameters, parameter share of the dense MLP of the same widths (%), edges,
    growth events and wall time. The report lists every run directory read, and shows three
    PNGs written beside it: ``accuracy_vs_parameters.png`` (group means with std error bars on
    both axes, log x, single runs as faint dots), ``accuracy_over_epochs.png`` (mean test
    accuracy per epoch over the group's runs that reached it, with a ±std band) and, when a
    run has ``method == "grow"``, ``growth_events.png`` (edges over epochs, one marker per
    growth event, coloured by rule).

    Parameters
    ----------
    run_dirs : list of Path
        Run directories, each with a ``summary.json``; a directory given twice counts once.
    out : Path
        Directory to write into (created if missing).
    title : str, default "graphnet report"
        The report's heading.
    html : bool, default False
        Also write ``out/report.html``: the same content as self-contained HTML, images linked
        by relative path.

    Returns
    -------
    Path
        The path of ``report.md``.

    Raises
    ------
    GraphError
        If no run directory is given.
    GraphFileError
        If a directory has no valid ``summary.json`` (the message names it), or a
        ``metrics.jsonl``/``events.jsonl`` line is corrupt.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from graphnet.evolution.records import RunSummary, write_summary
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for seed in (0, 1):
    ...     (root / f"run{seed}").mkdir()
    ...     write_summary(root / f"run{seed}", RunSummary(
    ...         method="dense", dataset="digits", seed=seed, hidden=[16], start_density=1.0,
    ...         density=1.0, parameters=1210, dense_parameters=1210, edges=1184, neurons=90,
    ...         levels=3, events=0, epochs=5, test_acc=0.9 + seed / 100, wall_time=1.0))
    >>> path = report(sorted(root.glob("run*")), root / "report")
    >>> print([line for line in path.read_text().splitlines() if line.startswith("| dense")][0])
    | dense |  | 2 (0, 1) | 90.50 ± 0.71 | 1,210 ± 0 | 100.00 ± 0.00 | 1,184 ± 0 | 0.0 ± 0.0 | 1.00 ± 0.00 |
    """
    paths = list(dict.fromkeys(Path(d).resolve() for d in run_dirs))
    if not paths:
        raise GraphError("report: no run directories given")
    runs = [_read_run(p) for p in paths]
    groups: dict[tuple[str, str, str], list[_Run]] = {}
    for r in runs:
        key = (r.summary.dataset, r.summary.method, r.summary.label)
        groups.setdefault(key, []).append(r)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    datasets = list(dict.fromkeys(key[0] for key in groups))
    colours = {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(map(_name, groups)))}

    blocks: list[tuple] = [("h1", title)]
    blocks.append(
        ("p", f"{len(runs)} runs in {len(groups)} groups (dataset, method, label) over "
              f"{len(datasets)} data set(s). Each cell: mean ± standard deviation over the "
              "group's runs (ddof=1; — for a single run).")
    )  # fmt: skip
    headers = ["method", "label", "n (seeds)", *(c[0] for c in _COLUMNS)]
    for ds in datasets:
        rows = []
        for key, members in groups.items():
            if key[0] != ds:
                continue
            summaries = [r.summary for r in members]
            seeds = ", ".join(str(s.seed) for s in summaries)
            cells = [_cell([get(s) for s in summaries], fmt) for _, get, fmt in _COLUMNS]
            rows.append([key[1], key[2], f"{len(members)} ({seeds})", *cells])
        blocks += [("h2", f"Data set: {ds}"), ("table", headers, rows)]

    blocks.append(("h2", "Plots"))
    _plot_accuracy_vs_parameters(groups, datasets, colours, out / _ACCURACY_VS_PARAMETERS)
    blocks.append(("img", "test accuracy against parameters", _ACCURACY_VS_PARAMETERS))
    _plot_accuracy_over_epochs(groups, datasets, colours, out / _ACCURACY_OVER_EPOCHS)
    blocks.append(("img", "test accuracy over epochs", _ACCURACY_OVER_EPOCHS))
    grown = {k: v for k, v in groups.items() if k[1] == "grow"}
    if grown:
        _plot_growth_events(grown, out / _GROWTH_EVENTS)
        blocks.append(("img", "growth events over time", _GROWTH_EVENTS))
    else:
        blocks.append(("p", "No grown runs (method grow): no growth-event plot."))

    blocks.append(("h2", "Runs"))
    run_headers = ["directory", "dataset", "method", "label", "seed", "epochs", "test acc (%)"]
    run_rows = [
        [f"`{r.path}`", s.dataset, s.method, s.label, str(s.seed), str(s.epochs),
         f"{100.0 * s.test_acc:.2f}"]
        for r in runs
        for s in [r.summary]
    ]  # fmt: skip
    blocks.append(("table", run_headers, run_rows))

    path = out / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text(_markdown(blocks), encoding="utf-8")
    if html:
        with atomic_path(out / "report.html") as tmp:
            tmp.write_text(_html(blocks, title), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- rendering
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(blocks: list[tuple]) -> str:
    lines: list[str] = []
    for kind, *rest in blocks:
        if kind == "h1":
            lines += [f"# {rest[0]}", ""]
        elif kind == "h2":
            lines += [f"## {rest[0]}", ""]
        elif kind == "p":
            lines += [rest[0], ""]
        elif kind == "img":
            lines += [f"![{rest[0]}]({rest[1]})", ""]
        elif kind == "table":
            headers, rows = rest
            lines.append("| " + " | ".join(map(_md_cell, headers)) + " |")
            lines.append("|" + "|".join("---" for _ in headers) + "|")
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


_CSS = (
    "body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}img{max-width:100%}"
)


def _html_cell(text: str) -> str:
    if len(text) > 1 and text.startswith("`") and text.endswith("`"):
        return f"<code>{escape(text[1:-1])}</code>"
    return escape(text)


def _html(blocks: list[tuple], title: str) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{escape(rest[0])}</{kind}>")
        elif kind == "img":
            alt, src = (escape(t) for t in rest)
            parts.append(f'<p><img src="{src}" alt="{alt}"></p>')
        elif kind == "table":
            headers, rows = rest
            parts.append("<table><thead><tr>")
            parts += [f"<th>{escape(h)}</th>" for h in headers]
            parts.append("</tr></thead><tbody>")
            for row in rows:
                parts.append("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>")
            parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------- plots
def _axes(count: int, width: float = 5.5, height: float = 4.0, columns: int = 3):
    """A pyplot-free figure (nothing global changes, nothing is shown) with ``count`` axes."""
    from matplotlib.figure import Figure

    cols = min(count, columns)
    rows = -(-count // cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def _plot_accuracy_vs_parameters(groups, datasets, colours, path: Path) -> None:
    fig, axes = _axes(len(datasets))
    for ax, ds in zip(axes, datasets):
        for key, members in groups.items():
            if key[0] != ds:
                continue
            params = [r.summary.parameters for r in members]
            acc = [100.0 * r.summary.test_acc for r in members]
            (px, sx), (py, sy) = _mean_std(params), _mean_std(acc)
            colour = colours[_name(key)]
            ax.scatter(params, acc, s=12, alpha=0.35, color=colour)
            ax.errorbar(px, py, xerr=sx, yerr=sy, fmt="o", capsize=4, color=colour,
                        label=f"{_name(key)} (n={len(members)})")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("parameters (log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{ds}: accuracy against parameters")
        ax.legend(fontsize="small")
    _save(fig, path)


def _plot_accuracy_over_epochs(groups, datasets, colours, path: Path) -> None:
    fig, axes = _axes(len(datasets))
    for ax, ds in zip(axes, datasets):
        drawn = False
        for key, members in groups.items():
            by_epoch: dict[int, list[float]] = {}
            for r in members if key[0] == ds else []:
                for m in r.metrics:
                    by_epoch.setdefault(m.epoch, []).append(100.0 * m.test_acc)
            if not by_epoch:
                continue
            epochs = np.array(sorted(by_epoch))
            stats = [_mean_std(by_epoch[e]) for e in epochs]
            mean = np.array([m for m, _ in stats])
            std = np.array([np.nan if s is None else s for _, s in stats])
            colour = colours[_name(key)]
            ax.plot(epochs, mean, color=colour, label=f"{_name(key)} (n={len(members)})")
            ax.fill_between(epochs, mean - std, mean + std, where=~np.isnan(std), color=colour,
                            alpha=0.2, lw=0)  # fmt: skip
            drawn = True
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{ds}: test accuracy over epochs (mean ± std)")
        if drawn:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no metrics.jsonl", ha="center", transform=ax.transAxes)
    _save(fig, path)


def _plot_growth_events(grown, path: Path) -> None:
    rules = sorted({e.rule for members in grown.values() for r in members for e in r.events})
    colour = {rule: f"C{i % 10}" for i, rule in enumerate(rules)}
    fig, axes = _axes(len(grown))
    for ax, (key, members) in zip(axes, grown.items()):
        for r in members:
            if not r.metrics:
                continue
            epochs = np.array([m.epoch for m in r.metrics], dtype=np.float64)
            edges = np.array([m.edges for m in r.metrics], dtype=np.float64)
            ax.plot(epochs, edges, color="0.4", lw=1, alpha=0.8)
            for e in r.events:  # edges logged at the event's epoch include its edit
                ax.scatter(e.epoch, np.interp(e.epoch, epochs, edges), color=colour[e.rule],
                           s=28, zorder=3, edgecolors="black", linewidths=0.4)  # fmt: skip
        seeds = ", ".join(str(r.summary.seed) for r in members)
        ax.set_title(f"{key[0]}: {_name(key)}, seeds {seeds}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("edges")
        handles = [ax.scatter([], [], color=colour[rule], label=rule) for rule in rules]
        if handles:
            ax.legend(handles=handles, title="rule", fontsize="small")
    _save(fig, path)
