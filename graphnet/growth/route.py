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
    gap = t_level[None, :] - s_level[:, None]  # sources x targets
    ok = (gap >= 1) & (gap <= radius) & (targets[None, :] != sources[:, None])
    si, ti = np.nonzero(ok)
    if si.size:  # one lookup for every candidate pair: skip the pairs already joined
        joined = g.edge_ids(sources[si], targets[ti]) >= 0
        ok[si[joined], ti[joined]] = False
    tie = rng.random(ok.shape)
    new_s: list[np.ndarray] = []
    new_t: list[np.ndarray] = []
    skipped = []
    for i, s in enumerate(sources.tolist()):
        cand = np.flatnonzero(ok[i] & (taken < fan_in))
        order = cand[np.lexsort((tie[i, cand], gap[i, cand]))]
        chosen = order[:fan_out]
        taken[chosen] += 1
        new_s.append(np.full(chosen.size, s, np.int64))
        new_t.append(targets[chosen])
        if chosen.size < fan_out:
            why = (
                "no free target within the radius" if not ok[i].any() else "targets at their fan-in"
            )
            skipped.append((s, int(chosen.size), why))
    new_s = np.concatenate(new_s) if new_s else np.empty(0, np.int64)
    new_t = np.concatenate(new_t) if new_t else np.empty(0, np.int64)
    why = reason or f"route {sources.size} source(s) to {targets.size} target(s)"
    added = g.add_edges(new_s, new_t, weight, reason=why) if new_s.size else np.empty(0, np.int64)
    return GrowthReport("route", edges_added=added, skipped=skipped)
