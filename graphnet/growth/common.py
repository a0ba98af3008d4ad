"""Small helpers shared by the growth operators (reading the graph, validating arguments)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import as_ids, first_repeat
from graphnet.core.vocab import HIDDEN

__all__ = [
    "incoming",
    "outgoing",
    "hidden_neurons",
    "check_activation",
    "rng_for",
    "finite32",
    "distinct",
]


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


def check_activation(name: str, what: str) -> str:
    """``name`` if it is a known activation, else a GraphError naming ``what``."""
    from graphnet.core.vocab import ACTIVATIONS

    if name not in ACTIVATIONS:
        raise GraphError(
            f"{what}: unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
        )
    return name


def rng_for(seed: Any, what: str) -> np.random.Generator:
    """A numpy generator for ``seed``, or a GraphError naming ``what``."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise GraphError(
            f"{what}: seed must be a non-negative whole number, got {seed!r}"
        ) from None


def finite32(values: Any, what: str) -> np.ndarray:
    """``values`` as float32, refusing anything that is not finite after the cast (before any
    edit is made, so that a refused operator leaves the graph as it was)."""
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.asarray(values, dtype=np.float64).astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise GraphError(f"{what} would be {arr.reshape(-1)[bad[0]]} (not finite in float32)")
    return arr


def distinct(ids: np.ndarray, what: str) -> np.ndarray:
    """Refuse an id given twice."""
    twice = first_repeat(ids)
    if twice is not None:
        raise GraphError(f"{what}: neuron {twice} is given twice")
    return ids
