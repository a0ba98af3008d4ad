"""``gn.route``: extrema routing — new edges from sources to targets a few levels above."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import as_ids
from graphnet.core.vocab import INPUT, OUTPUT

from .report import GrowthReport

__all__ = ["route"]


def route(
    g: NeuronGraph,
    sources: Any,
    targets: Any,
    fan_out: int = 4,
    fan_in: int = 5,
    radius: int = 3,
    *,
    weight: float = 0.0,
    seed: int = 0,
    reason: str = "",
) -> GrowthReport:
    """Route each source (e.g. a saturated neuron) to up to ``fan_out`` targets (e.g. dead or
    unsaturated neurons) that lie 1 to ``radius`` levels above it, nearest levels first, ties
    broken at random (seeded); no target receives more than ``fan_in`` of the new edges, and
    pairs already joined are skipped. New edges start at ``weight`` (0: the network computes
    the same). Every source that got fewer than ``fan_out`` edges is listed in
    ``report.skipped`` as ``(source, placed, reason)`` — nothing is dropped silently.

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([4, 6, 6, 2], density=0.3, seed=0)
    >>> rep = gn.route(g, [4, 5], [10, 11, 12, 13], fan_out=2, fan_in=1)
    >>> rep.edges_added.size, rep.skipped
    (4, [])
    """
    sources, targets = as_ids(sources, "sources"), as_ids(targets, "targets")
    for name, v in (("fan_out", fan_out), ("fan_in", fan_in), ("radius", radius)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise GraphError(f"route: {name} must be a positive whole number, got {v!r}")
    if sources.size and np.any(g.neuron_attr("role", sources) == OUTPUT):
        raise GraphError("route: outputs feed nothing and cannot be sources")
    if targets.size and np.any(g.neuron_attr("role", targets) == INPUT):
        raise GraphError("route: inputs take no edges and cannot be targets")
    rng = np.random.default_rng(seed)
    s_level = g.neuron_attr("level", sources)
    t_level = g.neuron_attr("level", targets) if targets.size else np.empty(0, np.int64)
    taken = np.zeros(targets.size, np.int64)
    new_s: list[int] = []
    new_t: list[int] = []
    skipped = []
    for s, ls in zip(sources.tolist(), s_level.tolist()):
        gap = t_level - ls
        ok = (gap >= 1) & (gap <= radius) & (taken < fan_in) & (targets != s)
        cand = np.flatnonzero(ok)
        if cand.size:
            cand = cand[g.edge_ids(np.full(cand.size, s), targets[cand]) < 0]
        order = cand[np.lexsort((rng.random(cand.size), gap[cand]))]
        chosen = order[:fan_out]
        taken[chosen] += 1
        new_s += [s] * chosen.size
        new_t += targets[chosen].tolist()
        if chosen.size < fan_out:
            why = "no free target within the radius" if not cand.size else "targets at their fan-in"
            skipped.append((s, int(chosen.size), why))
    why = reason or f"route {sources.size} source(s) to {targets.size} target(s)"
    added = g.add_edges(new_s, new_t, weight, reason=why) if new_s else np.empty(0, np.int64)
    return GrowthReport("route", edges_added=added, skipped=skipped)
