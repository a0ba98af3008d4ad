"""Plots of analysis results with matplotlib: each function draws on an axis (a new figure when
none is given), saves to ``path`` when one is given (written atomically), and returns the axis,
so plots show inline in notebooks and land in files from scripts."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

__all__ = ["plot_persistence", "plot_degrees", "plot_activations", "plot_information"]


def _axis(ax: Any, figsize=(5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _save(ax: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        from graphnet.core.atomic import atomic_path

        suffix = os.path.splitext(str(path))[1].lstrip(".") or "png"
        with atomic_path(path) as tmp:
            ax.figure.savefig(tmp, format=suffix, bbox_inches="tight", dpi=120)
    return ax


def plot_persistence(
    diagram: dict[int, np.ndarray], kind: str = "diagram", ax: Any = None, path: Any = None
) -> Any:
    """A persistence diagram (birth against death, one colour per dimension, infinite deaths on
    a line at the top) or a barcode, from :func:`analysis.persistence_diagram`.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import graphnet as gn, analysis
    >>> ax = plot_persistence(analysis.persistence_diagram(gn.mlp([3, 3, 2], 1.0, seed=0)))
    >>> ax.get_xlabel()
    'birth (1 - |w| / max |w|)'
    """
    if kind not in ("diagram", "barcode"):
        raise GraphError(f"plot_persistence: kind is 'diagram' or 'barcode', got {kind!r}")
    ax = _axis(ax)
    finite = [d[np.isfinite(d[:, 1]), 1] for d in diagram.values() if d.size]
    top = max([1.0] + [float(f.max()) for f in finite if f.size])
    if kind == "diagram":
        for dim, d in sorted(diagram.items()):
            if d.size:
                death = np.where(np.isfinite(d[:, 1]), d[:, 1], top * 1.05)
                ax.scatter(d[:, 0], death, s=12, label=f"H{dim}", alpha=0.7)
        ax.plot([0, top * 1.05], [0, top * 1.05], color="grey", lw=0.8)
        ax.axhline(top * 1.05, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("birth (1 - |w| / max |w|)")
        ax.set_ylabel("death (top line: never)")
    else:
        y = 0
        for dim, d in sorted(diagram.items()):
            for b, e in d:
                ax.plot([b, e if np.isfinite(e) else top * 1.05], [y, y], color=f"C{dim}", lw=1.5)
                y += 1
        ax.set_xlabel("birth (1 - |w| / max |w|)")
        ax.set_ylabel("interval")
    if any(d.size for d in diagram.values()):
        ax.legend(
            handles=[ax.plot([], [], color=f"C{k}", label=f"H{k}")[0] for k in sorted(diagram)]
        )
    ax.set_title("persistence " + kind)
    return _save(ax, path)


def plot_degrees(g: NeuronGraph, ax: Any = None, path: Any = None) -> Any:
    """Histograms of the in-degree of each non-input level, overlaid.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import graphnet as gn
    >>> ax = plot_degrees(gn.mlp([8, 6, 3], density=0.5, seed=0))
    >>> len(ax.get_legend().get_texts())
    2
    """
    from .metrics import degree_by_level

    ax = _axis(ax)
    for lv, d in sorted(degree_by_level(g).items()):
        if lv == 0:
            continue
        ax.hist(d["in"], bins=np.arange(d["in"].max() + 2) - 0.5, alpha=0.5, label=f"level {lv}")
    ax.set_xlabel("in-degree")
    ax.set_ylabel("neurons")
    ax.legend()
    ax.set_title("in-degree per level")
    return _save(ax, path)


def plot_activations(
    activations: dict[int, np.ndarray],
    neuron_ids: dict[int, np.ndarray] | None = None,
    extrema: Any = None,
    ax: Any = None,
    path: Any = None,
) -> Any:
    """Heatmap of activations (neurons down, samples across; levels stacked and separated by
    lines) from :func:`analysis.level_activations`; with ``extrema`` (and the ids of each
    level's neurons, ``neuron_ids``) dead neurons are marked with a black and saturated ones
    with a red tick on the left edge.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> ax = plot_activations({1: np.zeros((5, 3)), 2: np.ones((5, 2))})
    >>> ax.images[0].get_array().shape
    (5, 5)
    """
    if not activations:
        raise GraphError("plot_activations: no activations to draw")
    ax = _axis(ax, figsize=(6, 5))
    levels = sorted(activations)
    mat = np.vstack([activations[lv].T for lv in levels])
    im = ax.imshow(mat, aspect="auto", interpolation="nearest", cmap="viridis")
    ax.figure.colorbar(im, ax=ax, label="activation")
    row = 0
    for lv in levels:
        n = activations[lv].shape[1]
        if extrema is not None and neuron_ids is not None:
            for j, nid in enumerate(np.asarray(neuron_ids[lv]).tolist()):
                if nid in extrema.dead:
                    ax.plot(-1, row + j, marker=">", color="black", ms=4, clip_on=False)
                if nid in extrema.saturated:
                    ax.plot(-1, row + j, marker=">", color="red", ms=4, clip_on=False)
        row += n
        ax.axhline(row - 0.5, color="white", lw=0.8)
    ax.set_xlabel("sample")
    ax.set_ylabel("neuron (levels stacked)")
    ax.set_title("activations")
    return _save(ax, path)


def plot_information(flow: dict, ax: Any = None, path: Any = None) -> Any:
    """Bars of the information about the labels per level (best and mean neuron) from
    :func:`analysis.information_flow`; bottleneck levels in red.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> f = {"per_level": {0: 1.0, 1: 0.2, 2: 0.8}, "mean_per_level": {0: 0.5, 1: 0.1, 2: 0.4},
    ...      "bottlenecks": [1]}
    >>> len(plot_information(f).patches)
    6
    """
    ax = _axis(ax)
    levels = sorted(flow["per_level"])
    best = [flow["per_level"][lv] for lv in levels]
    mean = [flow["mean_per_level"][lv] for lv in levels]
    x = np.arange(len(levels))
    colors = ["tab:red" if lv in flow["bottlenecks"] else "tab:blue" for lv in levels]
    ax.bar(x - 0.2, best, 0.4, color=colors, label="best neuron")
    ax.bar(x + 0.2, mean, 0.4, color="tab:grey", label="mean neuron")
    ax.set_xticks(x, [str(lv) for lv in levels])
    ax.set_xlabel("level (bottlenecks in red)")
    ax.set_ylabel("information about the labels (nats)")
    ax.legend()
    ax.set_title("information flow")
    return _save(ax, path)
