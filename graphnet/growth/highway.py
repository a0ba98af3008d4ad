"""``gn.add_highway``: zero-weight skip edges around dead neurons, or from inputs to outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

from .common import hidden_neurons
from .report import GrowthReport

__all__ = ["add_highway"]


def add_highway(
    g: NeuronGraph, neurons: Any, *, weight: float = 0.0, reason: str = ""
) -> GrowthReport:
    """Skip edges that carry information past neurons that do not pass it on.

    ``neurons`` (hidden neuron ids, typically dead ones): an edge from each of their sources to
    each of their targets. ``"inputs->outputs"``: an edge from every input to every output.
    Edges that already exist are left alone; new ones start at ``weight`` (0: the network
    computes the same).

    Examples
    --------
    >>> import graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=1.0, seed=0)
    >>> gn.add_highway(g, "inputs->outputs")
    GrowthReport(add_highway: +6 edges)
    >>> gn.add_highway(g, [3])  # its sources already reach its targets now
    GrowthReport(add_highway: no change)
    """
    if isinstance(neurons, str):
        if neurons.replace(" ", "") != "inputs->outputs":
            raise GraphError(
                f"add_highway: unknown highway {neurons!r}; use 'inputs->outputs' or neuron ids"
            )
        s = np.repeat(np.asarray(g.inputs, np.int64), len(g.outputs))
        d = np.tile(np.asarray(g.outputs, np.int64), len(g.inputs))
        why = reason or "highway from the inputs to the outputs"
    else:
        ids = hidden_neurons(g, neurons, "add_highway")
        src, dst, _ = g.edge_list()
        pairs = []
        for n in ids.tolist():
            ins, outs = src[dst == n], dst[src == n]
            pairs.append((np.repeat(ins, outs.size), np.tile(outs, ins.size)))
        s = np.concatenate([p[0] for p in pairs]) if pairs else np.empty(0, np.int64)
        d = np.concatenate([p[1] for p in pairs]) if pairs else np.empty(0, np.int64)
        why = reason or f"highway around {ids.size} neuron(s)"
    if s.size:
        key = np.unique(d * g.next_neuron_id + s)
        s, d = key % g.next_neuron_id, key // g.next_neuron_id
        fresh = g.edge_ids(s, d) < 0
        s, d = s[fresh], d[fresh]
    if s.size == 0:
        return GrowthReport("add_highway")
    return GrowthReport("add_highway", edges_added=g.add_edges(s, d, weight, reason=why))
