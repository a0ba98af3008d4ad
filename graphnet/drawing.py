"""Draw small neuron graphs with networkx and matplotlib: levels left to right, edge colour by
weight sign, width by magnitude."""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import GraphError, NeuronGraph
from .core.io_networkx import to_networkx

__all__ = ["draw"]


def draw(
    g: NeuronGraph, ax: Any = None, *, max_neurons: int = 2000, with_labels: bool | None = None
) -> Any:
    """Draw ``g`` on a matplotlib axis (a new figure if ``ax`` is None) and return the axis.

    Neurons are placed in columns by level (inputs left, outputs right); edges are blue for
    positive and red for negative weights, wider for larger ``|weight|``.

    Raises
    ------
    GraphError
        If ``g`` has more than ``max_neurons`` neurons: a drawing of thousands of neurons is
        unreadable; draw a part (``gn.from_edges`` on a slice) or raise ``max_neurons``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import graphnet as gn
    >>> ax = gn.draw(gn.mlp([4, 3, 2], density=0.6, seed=0))
    >>> len(ax.collections) >= 2
    True
    """
    import matplotlib.pyplot as plt
    import networkx as nx

    if g.num_neurons > max_neurons:
        raise GraphError(
            f"the graph has {g.num_neurons} neurons, more than max_neurons={max_neurons} "
            "that a drawing can show; draw a part of it or pass a larger max_neurons"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(2 + 1.5 * max(g.num_levels, 1), 5))
    G = to_networkx(g)
    pos = nx.multipartite_layout(G, subset_key="level") if G.number_of_nodes() else {}
    weights = np.array([d["weight"] for _, _, d in G.edges(data=True)], dtype=float)
    scale = float(np.abs(weights).max()) if weights.size and np.abs(weights).max() > 0 else 1.0
    colors = ["tab:blue" if w >= 0 else "tab:red" for w in weights]
    widths = 0.3 + 2.5 * np.abs(weights) / scale if weights.size else []
    role_color = {"input": "tab:green", "hidden": "lightgray", "output": "tab:orange"}
    node_colors = [role_color[G.nodes[n]["role"]] for n in G.nodes]
    labels = g.num_neurons <= 60 if with_labels is None else with_labels
    nx.draw_networkx(
        G,
        pos,
        ax=ax,
        node_color=node_colors,
        edge_color=colors,
        width=widths,
        with_labels=labels,
        node_size=220 if labels else 40,
        font_size=7,
        arrows=False,
    )
    ax.set_title(repr(g), fontsize=9)
    ax.set_axis_off()
    return ax
