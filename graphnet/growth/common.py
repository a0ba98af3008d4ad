"""Small helpers shared by the growth operators (reading the graph, validating arguments)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import as_ids
from graphnet.core.vocab import HIDDEN

__all__ = ["incoming", "outgoing", "hidden_neurons", "level_of"]


def level_of(g: NeuronGraph, ids: Any) -> np.ndarray:
    """Levels of live neurons ``ids`` (a GraphError names an unknown one)."""
    return g.neuron_attr("level", as_ids(ids, "neurons"))


def incoming(g: NeuronGraph, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(edge ids, sources, weights)`` of the edges into ``n``."""
    src, dst, w = g.edge_list()
    sel = np.flatnonzero(dst == n)
    return g.edge_attr("id")[sel], src[sel], w[sel]


def outgoing(g: NeuronGraph, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(edge ids, targets, weights)`` of the edges out of ``n``."""
    src, dst, w = g.edge_list()
    sel = np.flatnonzero(src == n)
    return g.edge_attr("id")[sel], dst[sel], w[sel]


def hidden_neurons(g: NeuronGraph, ids: Any, what: str) -> np.ndarray:
    """``ids`` as an array, refusing inputs and outputs (which would change the tensor
    contract) with a message naming the neuron and ``what`` was attempted."""
    ids = as_ids(ids, "neurons")
    role = g.neuron_attr("role", ids)
    bad = np.flatnonzero(role != HIDDEN)
    if bad.size:
        kind = "an input" if role[bad[0]] == 0 else "an output"
        raise GraphError(f"{what}: neuron {int(ids[bad[0]])} is {kind}; only hidden neurons can be")
    return ids
