"""``gn.add_edges``: new edges in bulk, function-preserving at weight 0."""

from __future__ import annotations

from typing import Any

from graphnet.core.graph import NeuronGraph

from .report import GrowthReport

__all__ = ["add_edges"]


def add_edges(
    g: NeuronGraph,
    src: Any,
    dst: Any,
    weight: Any = 0.0,
    *,
    lift: bool = False,
    reason: str = "grow: add edges",
) -> GrowthReport:
    """Add edges ``src[i] -> dst[i]`` (weight 0 by default, so the network computes the same);
    ``lift=True`` raises targets that would not lie above their source.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=0.5, seed=0)
    >>> gn.add_edges(g, [0, 1], [7, 8])  # input -> output skips
    GrowthReport(add_edges: +2 edges)
    """
    before = g.neuron_attr("level").copy()
    ids_before = g.neuron_ids
    ids = g.add_edges(src, dst, weight, lift=lift, reason=reason)
    moved = ids_before[g.neuron_attr("level", ids_before) != before]
    return GrowthReport("add_edges", edges_added=ids, lifted=moved)
