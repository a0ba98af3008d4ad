"""``gn.sync``: trained weights and biases from a compiled module back onto its graph."""

from __future__ import annotations

import numpy as np
import torch

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph

from .module import CompiledGraph

__all__ = ["sync", "module_parameters", "edits_since_compile", "require_current"]


def edits_since_compile(g: NeuronGraph, model: CompiledGraph) -> list[str] | None:
    """The operations (other than tags) applied to ``g`` since ``model`` was compiled from it,
    or None when ``g``'s log is shorter than the model's mark (another graph)."""
    if len(g.log) < model.log_mark:
        return None
    return [r.op for r in g.log.since(model.log_mark) if r.op not in ("tag", "untag")]


def require_current(g: NeuronGraph, model: CompiledGraph, what: str) -> None:
    """Raise a GraphError naming ``what`` unless ``model`` still computes ``g``."""
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
    edited = edits_since_compile(g, model)
    if edited is None:
        raise GraphError(
            "the model does not match the graph: it was compiled after more edits than the "
            "graph's log holds (another graph?)"
        )
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
