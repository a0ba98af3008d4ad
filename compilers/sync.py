"""``gn.sync``: trained weights and biases from a compiled module back onto its graph."""

from __future__ import annotations

import weakref

import numpy as np
import torch

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import find_sorted

from .module import CompiledGraph

__all__ = [
    "sync",
    "module_parameters",
    "edits_since_compile",
    "require_current",
    "structure_mismatch",
    "require_compiled_from",
]


def edits_since_compile(g: NeuronGraph, model: CompiledGraph) -> list[str] | None:
    """The operations (other than tags) applied to ``g`` since ``model`` was compiled from it,
    or None when ``g``'s log is shorter than the model's mark (another graph)."""
    if len(g.log) < model.log_mark:
        return None
    return [r.op for r in g.log.since(model.log_mark) if r.op not in ("tag", "untag")]


def structure_mismatch(g: NeuronGraph, model: CompiledGraph) -> str | None:
    """Why ``model`` cannot have been compiled from ``g`` (as it is, or as it was before the
    edits logged since), or None when it can: every edge of the model that ``g`` still holds
    joins the same two neurons in both, and an edge ``g`` lacks was removed by a logged edit.

    Examples
    --------
    >>> import graphnet as gn
    >>> model = gn.compile(gn.mlp([4, 3, 2], density=1.0, seed=1))
    >>> structure_mismatch(gn.mlp([4, 3, 2], density=1.0, seed=0), model) is None
    True
    >>> structure_mismatch(gn.mlp([5, 3, 2], density=1.0, seed=0), model)
    'edge 0 joins neurons 0->4 in the model but 0->5 in the graph'
    """
    eids, src, dst = model.edge_endpoints()
    pos, found = find_sorted(g.edge_attr("id"), eids)
    if g.num_edges:
        g_src, g_dst = g.edge_attr("src")[pos], g.edge_attr("dst")[pos]
    else:
        g_src = g_dst = np.full(eids.size, -1, np.int64)
    wrong = np.flatnonzero(found & ((g_src != src) | (g_dst != dst)))
    if wrong.size:
        i = int(wrong[0])
        return (
            f"edge {int(eids[i])} joins neurons {int(src[i])}->{int(dst[i])} in the model but "
            f"{int(g_src[i])}->{int(g_dst[i])} in the graph"
        )
    missing = np.flatnonzero(~found)
    if missing.size:
        e = int(eids[missing[0]])
        removals = edits_since_compile(g, model) or []
        if e >= g.next_edge_id or not {"remove_edges", "remove_neurons"} & set(removals):
            return f"the model has edge {e}, which the graph never had or lost before the model was compiled"
    nids = model.neuron_ids().cpu().numpy()
    if nids.size and int(nids.max()) >= g.next_neuron_id:
        return f"the model has neuron {int(nids.max())}, which the graph never had"
    return None


def require_compiled_from(g: NeuronGraph, model: CompiledGraph, what: str) -> None:
    """Raise a GraphError naming ``what`` unless ``model`` was compiled from ``g`` (or from
    ``g`` before its logged edits). Checked once per graph and log length (edits are logged).
    """
    seen = getattr(model, "_checked_against", None)
    if seen is not None and seen[0]() is g and seen[1] == len(g.log):
        return
    if len(g.log) < model.log_mark:
        raise GraphError(
            f"{what}: the model was compiled from another graph (it was compiled after "
            f"{model.log_mark} edits, the graph's log holds {len(g.log)})"
        )
    why = structure_mismatch(g, model)
    if why is not None:
        raise GraphError(f"{what}: the model was compiled from another graph: {why}")
    model._checked_against = (weakref.ref(g), len(g.log))


def require_current(g: NeuronGraph, model: CompiledGraph, what: str) -> None:
    """Raise a GraphError naming ``what`` unless ``model`` still computes ``g``."""
    require_compiled_from(g, model, what)
    if edits_since_compile(g, model) != []:
        raise GraphError(
            f"{what}: the model does not match the graph (edited since it was compiled); recompile first"
        )


def module_parameters(model: CompiledGraph) -> tuple[np.ndarray, ...]:
    """``(edge_ids, weights, neuron_ids, biases)`` of a compiled module as numpy arrays.

    Examples
    --------
    >>> import graphnet as gn
    >>> eids, w, nids, b = module_parameters(gn.compile(gn.mlp([2, 1], density=1.0, seed=0)))
    >>> eids.tolist(), nids.tolist()
    ([0, 1], [2])
    """
    with torch.no_grad():
        return (
            model.edge_ids().cpu().numpy(),
            model.values.detach().cpu().numpy(),
            model.neuron_ids().cpu().numpy(),
            model.bias.detach().cpu().numpy(),
        )


def sync(g: NeuronGraph, model: CompiledGraph) -> None:
    """Write the trained weights and biases of ``model`` onto the edges and neurons of ``g``.

    Training state, not an edit: the edit log is not appended to. Call it before editing a
    trained graph, so that growth operators (a clone copies weights) see trained values.

    Raises
    ------
    GraphError
        If the graph was edited since the model was compiled (use :func:`compilers.recompile`,
        which keeps the trained values), the model was compiled from another graph, or a
        trained value is NaN or infinite.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([2, 1], density=1.0, seed=0)
    >>> model = gn.compile(g)
    >>> with torch.no_grad(): _ = model.values.fill_(0.25)
    >>> gn.sync(g, model); g.edge_list()[2].tolist()
    [0.25, 0.25]
    """
    if not isinstance(model, CompiledGraph):
        raise GraphError(f"sync needs a module made by gn.compile, got {type(model).__name__}")
    require_compiled_from(g, model, "sync")
    edited = edits_since_compile(g, model)
    if edited:
        raise GraphError(
            f"the graph was edited since the model was compiled ({', '.join(dict.fromkeys(edited))}); "
            "writing the model's values back would undo those edits: recompile first "
            "(gn.recompile keeps the trained values)"
        )
    eids, w, nids, b = module_parameters(model)
    try:
        g.write_parameters(eids, w, nids, b)
    except GraphError as err:
        if "removed" in str(err) or "unknown" in str(err):
            raise GraphError(
                f"the model does not match the graph ({err}); it was compiled from another "
                "graph, or the graph was edited since: recompile first"
            ) from err
        raise
