"""``gn.insert_level`` and ``gn.add_residual_block``: new levels that keep the function."""

from __future__ import annotations

import numpy as np

from graphnet.core.assemble import init_weights
from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

from .common import check_activation, rng_for
from .report import GrowthReport

__all__ = ["insert_level", "add_residual_block", "shift_levels_above"]


def shift_levels_above(g: NeuronGraph, level: int, by: int, reason: str) -> np.ndarray:
    """Raise every neuron above ``level`` by ``by`` levels (room for new levels); returns the
    ids that moved."""
    ids = g.neuron_ids
    above = ids[g.neuron_attr("level", ids) > level]
    return g.lift(above, by, reason=reason) if above.size else np.empty(0, np.int64)


def _check_level(g: NeuronGraph, level: int, what: str) -> int:
    top = g.num_levels - 1
    if not isinstance(level, (int, np.integer)) or not 0 <= level < top:
        raise GraphError(
            f"{what}: level must be a whole number in 0..{top - 1} (below the outputs), got {level!r}"
        )
    return int(level)


def insert_level(g: NeuronGraph, after_level: int, *, reason: str = "") -> GrowthReport:
    """Insert a level right above ``after_level``; the network computes exactly the same.

    Every neuron above ``after_level`` moves up one level. Every source neuron (on
    ``after_level`` or below) with edges crossing into the levels above gets one new identity
    neuron on the new level: the source feeds it with weight 1, and it takes over the source's
    crossing edges with their weights (one relay per source, not per edge: the documented
    equivalent of a neuron on every crossing edge, with far fewer neurons).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> gn.insert_level(g, 1)
    GrowthReport(insert_level: +4 neurons, +12 edges, -8 edges, ^2 lifted)
    >>> g.num_levels
    4
    """
    after_level = _check_level(g, after_level, "insert_level")
    why = reason or f"insert a level after level {after_level}"
    lifted = shift_levels_above(g, after_level, 1, why)
    src, dst, w = g.edge_list()
    level = g._neurons.view("level")
    crossing = np.flatnonzero((level[src] <= after_level) & (level[dst] > after_level + 1))
    eids = g.edge_attr("id")[crossing]
    s, d, wt = src[crossing].copy(), dst[crossing].copy(), w[crossing].copy()
    lr = g.edge_attr("lr")[crossing].copy()
    born = g.edge_attr("born")[crossing].copy()
    pos_of = {e: i for i, e in enumerate(eids.tolist())}
    tags = {}
    for name in g.tag_names("edge"):
        hits = [(pos_of[e], v) for e, v in g.tags("edge", name).items() if e in pos_of]
        if hits:
            tags[name] = (np.array([h[0] for h in hits]), [h[1] for h in hits])
    sources = np.unique(s)
    if sources.size == 0:
        return GrowthReport("insert_level", lifted=lifted)
    relay = g.add_neurons(
        sources.size, level=after_level + 1, activation="identity", bias=0.0, reason=why
    )
    relay_of = dict(zip(sources.tolist(), relay.tolist()))
    g.remove_edges(eids, reason=why)
    new_dst = np.fromiter((relay_of[v] for v in s.tolist()), np.int64, s.size)
    added = g.add_edges(
        np.concatenate((sources, new_dst)),
        np.concatenate((relay, d)),
        np.concatenate((np.ones(sources.size), wt)),
        lr=np.concatenate((np.ones(sources.size), lr)),
        reason=why,
    )
    relayed = added[sources.size :]  # edge i of these replaces eids[i]: keep born and tags
    g.set_edge_attr("born", relayed, born, reason=why)
    for name, (old, value) in tags.items():
        g.tag("edge", name, relayed[old], value, reason=why)
    return GrowthReport(
        "insert_level", neurons_added=relay, edges_added=added, edges_removed=eids, lifted=lifted
    )


def add_residual_block(
    g: NeuronGraph,
    at_level: int,
    width: int,
    *,
    activation: str = "relu",
    seed: int = 0,
    reason: str = "",
) -> GrowthReport:
    """Two new levels above ``at_level`` computing ``F(x) = B(act(A x))`` from the neurons
    ``x`` of ``at_level``, added onto everything ``x`` feeds: ``x`` keeps its edges (the skip
    around the block) and the block's output edges start at zero, so the network computes the
    same until they train. ``A`` and ``B`` start with fan-in scaled random weights (seeded).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> rep = gn.add_residual_block(g, 1, width=3)
    >>> rep.neurons_added.size, g.num_levels
    (6, 5)
    """
    at_level = _check_level(g, at_level, "add_residual_block")
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise GraphError(
            f"add_residual_block: width must be a positive whole number, got {width!r}"
        )
    check_activation(activation, "add_residual_block")
    rng = rng_for(seed, "add_residual_block")
    why = reason or f"residual block of width {width} after level {at_level}"
    ids = g.neuron_ids
    x = ids[g.neuron_attr("level", ids) == at_level]
    if x.size == 0:
        raise GraphError(f"add_residual_block: level {at_level} has no neurons")
    src, dst, _ = g.edge_list()
    targets = np.unique(dst[np.isin(src, x)])
    lifted = shift_levels_above(g, at_level, 2, why)
    a = g.add_neurons(width, level=at_level + 1, activation=activation, reason=why)
    b = g.add_neurons(width, level=at_level + 2, activation="identity", reason=why)
    s1, d1 = np.repeat(x, width), np.tile(a, x.size)
    s2, d2 = np.repeat(a, width), np.tile(b, width)
    w1 = init_weights(np.tile(np.arange(width), x.size), width, rng)
    w2 = init_weights(np.tile(np.arange(width), width), width, rng)
    s3, d3 = np.repeat(b, targets.size), np.tile(targets, width)
    added = g.add_edges(
        np.concatenate((s1, s2, s3)),
        np.concatenate((d1, d2, d3)),
        np.concatenate((w1, w2, np.zeros(s3.size))),
        reason=why,
    )
    block = np.concatenate((a, b))
    g.tag("neuron", "residual_block", block, int(a[0]), reason=why)
    return GrowthReport("add_residual_block", neurons_added=block, edges_added=added, lifted=lifted)
