"""``gn.recompile``: a new module for an edited graph that keeps what the old one learned."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import find_sorted

from .layout import layout_of
from .module import CompiledGraph
from .optimizer_carry import Origin, carry_optimizer
from .sync import require_compiled_from

__all__ = ["recompile"]


def _edited_since(g: NeuronGraph, mark: int) -> tuple[np.ndarray, np.ndarray]:
    """Edge ids whose weight and neuron ids whose bias an edit set after log position ``mark``
    (those take the graph's value, not the model's)."""
    if len(g.log) < mark:
        raise GraphError(
            f"the graph's edit log has {len(g.log)} records but the model was compiled after "
            f"{mark}: it was compiled from another graph"
        )
    edges, neurons = [], []
    for rec in g.log.since(mark):
        if rec.op == "set_edge_attr" and rec.data.get("name") == "weight":
            edges.append(rec.ids)
        elif rec.op == "set_neuron_attr" and rec.data.get("name") == "bias":
            neurons.append(rec.ids)
    cat = lambda xs: np.unique(np.concatenate(xs)) if xs else np.empty(0, np.int64)  # noqa: E731
    return cat(edges), cat(neurons)


def _positions_of(old_ids: np.ndarray, new_ids: np.ndarray) -> np.ndarray:
    """Position of each new id among the old ones, -1 where it is new. Ids are small dense
    integers (never reused), so a lookup table is O(n); sparse ids fall back to a search."""
    if old_ids.size == 0:
        return np.full(new_ids.size, -1, np.int64)
    top = int(max(old_ids.max(), new_ids.max(initial=0))) + 1
    if top <= 4 * (old_ids.size + new_ids.size) + 1024:
        table = np.full(top, -1, np.int64)
        table[old_ids] = np.arange(old_ids.size, dtype=np.int64)
        return table[new_ids]
    order = np.argsort(old_ids, kind="stable")
    at, found = find_sorted(old_ids[order], new_ids)
    return np.where(found, order[at], -1)


def _carry_values(
    old_ids: np.ndarray,
    new_ids: np.ndarray,
    graph_vals: np.ndarray,
    skip: np.ndarray,
    old: torch.Tensor,
) -> tuple[nn.Parameter, Origin]:
    """New parameter over ``new_ids``: the old value where the id survives (and is not in
    ``skip``), the graph's value otherwise."""
    source = _positions_of(old_ids, new_ids)
    if skip.size:
        source[np.isin(new_ids, skip)] = -1
    fresh = np.flatnonzero(source < 0)
    src_t = torch.as_tensor(source, device=old.device)
    if old.numel():
        values = old.detach()[src_t.clamp(min=0)]  # one gather, then the few new ones
    else:
        values = torch.zeros(new_ids.size, dtype=old.dtype, device=old.device)
    if fresh.size:
        idx = torch.as_tensor(fresh, device=old.device)
        values[idx] = torch.as_tensor(graph_vals[fresh], dtype=old.dtype).to(old.device)
    return nn.Parameter(values), Origin(None, [old], src_t)


def _check_optimizer(optimizer: object, model: CompiledGraph) -> None:
    """Refuse an optimizer that is not one, or that trains none of the model's parameters
    (the returned optimizer would train nothing)."""
    if optimizer is None:
        return
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise GraphError(
            f"recompile: optimizer must be a torch.optim.Optimizer or None, got "
            f"{type(optimizer).__name__} {optimizer!r:.40}"
        )
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if id(model.values) not in held and id(model.bias) not in held:
        raise GraphError(
            "recompile: the optimizer holds none of the model's parameters (made for another "
            "model?); pass the optimizer that trains this model, or None"
        )


def recompile(
    g: NeuronGraph, model: CompiledGraph, optimizer: torch.optim.Optimizer | None = None
) -> tuple[CompiledGraph, torch.optim.Optimizer | None]:
    """Compile the edited graph ``g`` again, keeping what ``model`` learned.

    Edges and neurons that survive keep their trained values from ``model``; new ones, and
    those whose weight or bias an edit set since the model was compiled (a clone's split
    weights, for example), take the graph's value. When no edge or neuron changed, the very
    parameter tensors are kept. The ``optimizer`` is updated in place (and returned): the
    model's parameters in it are replaced, per-element state (Adam moments, SGD momentum) is
    carried for surviving edges and is zero for new ones, per-parameter counters (Adam's
    step) are kept; hyper-parameters, other parameters and any scheduler attached stay.

    Raises
    ------
    GraphError
        If ``model`` was not compiled from ``g`` (an edge of the model joins other neurons
        in ``g``, or ``g`` never had it), ``optimizer`` is not an optimizer or holds none of
        the model's parameters, or it holds state that cannot be carried.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=0.5, seed=0)
    >>> model = gn.compile(g)
    >>> opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    >>> model(torch.randn(8, 3)).sum().backward(); opt.step()
    >>> e = g.add_edge(0, 7, weight=0.0)
    >>> model, opt = gn.recompile(g, model, opt)
    >>> model.values.numel() == g.num_edges, len(opt.param_groups[0]["params"])
    (True, 2)
    """
    if not isinstance(model, CompiledGraph):
        raise GraphError(f"recompile needs a module made by gn.compile, got {type(model).__name__}")
    require_compiled_from(g, model, "recompile")
    _check_optimizer(optimizer, model)
    edge_set, bias_set = _edited_since(g, model.log_mark)
    layout = layout_of(g)
    blocks = layout.blocks
    cat = lambda xs, dt: np.concatenate(xs) if xs else np.empty(0, dt)  # noqa: E731
    new_eids = cat([b.edge_ids for b in blocks], np.int64)
    new_nids = cat([b.neuron_ids for b in blocks], np.int64)
    old_eids = model.edge_ids().cpu().numpy()
    old_nids = model.neuron_ids().cpu().numpy()
    unchanged = (
        np.array_equal(old_eids, new_eids)
        and np.array_equal(old_nids, new_nids)
        and not (edge_set.size and np.isin(new_eids, edge_set).any())
        and not (bias_set.size and np.isin(new_nids, bias_set).any())
    )
    if unchanged:
        values, bias = model.values, model.bias
        origins = [Origin(values, [], None), Origin(bias, [], None)]
    else:
        values, ov = _carry_values(
            old_eids, new_eids, cat([b.weight for b in blocks], np.float32), edge_set, model.values
        )
        bias, ob = _carry_values(
            old_nids, new_nids, cat([b.bias for b in blocks], np.float32), bias_set, model.bias
        )
        origins = [ov, ob]
    new = CompiledGraph(
        layout,
        model.mode,
        dtype=model.values.dtype,
        device=model.values.device,
        threshold=model.threshold,
        values=values,
        bias=bias,
    )
    new.log_mark = len(g.log)
    new.train(model.training)
    new.values.requires_grad_(model.values.requires_grad)  # frozen stays frozen
    new.bias.requires_grad_(model.bias.requires_grad)
    if optimizer is not None and not unchanged:
        carry_optimizer(
            optimizer, [model.values, model.bias], [new.values, new.bias], origins, [None, None]
        )
    return new, optimizer
