"""``gn.recompile``: a new module for an edited graph that keeps what the old one learned."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from graphnet.core.errors import GraphError
from graphnet.core.graph import NeuronGraph
from graphnet.core.schema import find_sorted

from .layout import BlockLayout, layout_of
from .module import CompiledGraph
from .optimizer_carry import Origin, carry_optimizer

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


class _OldIndex:
    """Sorted ids of the old model's edges (or neurons) with their block and position."""

    def __init__(self, ids: list[np.ndarray]) -> None:
        all_ids = np.concatenate(ids) if ids else np.empty(0, np.int64)
        block = np.repeat(np.arange(len(ids)), [a.size for a in ids])
        pos = np.concatenate([np.arange(a.size) for a in ids]) if ids else np.empty(0, np.int64)
        order = np.argsort(all_ids, kind="stable")
        self.ids, self.block, self.pos = all_ids[order], block[order], pos[order]

    def locate(self, ids: np.ndarray, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Old (block, position) of each id; block -1 where it is new or in ``skip``."""
        at, found = find_sorted(self.ids, ids)
        if skip.size:
            found &= ~np.isin(ids, skip)
        return np.where(found, self.block[at], -1), np.where(found, self.pos[at], -1)


def _carry(
    new_ids: np.ndarray,
    graph_vals: np.ndarray,
    index: _OldIndex,
    skip: np.ndarray,
    old: list[nn.Parameter],
    dtype,
    device,
) -> tuple[nn.Parameter, Origin]:
    blk, pos = index.locate(new_ids, skip)
    used = np.unique(blk[blk >= 0]).tolist()
    offsets = {}
    off = 0
    for j in used:
        offsets[j] = off
        off += old[j].numel()
    source = np.full(new_ids.size, -1, np.int64)
    for j in used:
        sel = blk == j
        source[sel] = offsets[j] + pos[sel]
    values = torch.as_tensor(graph_vals, dtype=dtype).to(device)
    src_t = torch.as_tensor(source, device=device)
    if used:
        flat = torch.cat([old[j].detach().reshape(-1) for j in used])
        have = src_t >= 0
        values[have] = flat[src_t[have]].to(dtype)
    return nn.Parameter(values), Origin(None, [old[j] for j in used], src_t)


def _same(a: torch.Tensor, b: np.ndarray) -> bool:
    return a.numel() == b.size and bool(np.array_equal(a.cpu().numpy(), b))


def recompile(
    g: NeuronGraph, model: CompiledGraph, optimizer: torch.optim.Optimizer | None = None
) -> tuple[CompiledGraph, torch.optim.Optimizer | None]:
    """Compile the edited graph ``g`` again, keeping what ``model`` learned.

    Edges and neurons that survive keep their trained values from ``model``; new ones, and
    those whose weight or bias an edit set since the model was compiled (a clone's split
    weights, for example), take the graph's value. Blocks whose edges and neurons did not
    change keep their very parameter tensors. The ``optimizer`` is updated in place (and
    returned): the model's parameters in it are replaced, per-element state (Adam moments,
    SGD momentum) is carried for surviving edges and is zero for new ones, hyper-parameters,
    other parameters and any scheduler attached stay as they are.

    Raises
    ------
    GraphError
        If ``model`` was not compiled from ``g`` (its log is shorter than the model's mark),
        or the optimizer holds state that cannot be carried.

    Examples
    --------
    >>> import torch, graphnet as gn
    >>> g = gn.mlp([3, 4, 2], density=0.5, seed=0)
    >>> model = gn.compile(g)
    >>> opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    >>> model(torch.randn(8, 3)).sum().backward(); opt.step()
    >>> e = g.add_edge(0, 7, weight=0.0)
    >>> model, opt = gn.recompile(g, model, opt)
    >>> model.num_blocks, len(opt.param_groups[0]["params"])
    (2, 4)
    """
    if not isinstance(model, CompiledGraph):
        raise GraphError(f"recompile needs a module made by gn.compile, got {type(model).__name__}")
    edge_set, bias_set = _edited_since(g, model.log_mark)
    layout = layout_of(g)
    old_values, old_bias = list(model.values), list(model.bias)
    edges = _OldIndex([model.edge_ids(k).cpu().numpy() for k in range(model.num_blocks)])
    neurons = _OldIndex([model.neuron_ids(k).cpu().numpy() for k in range(model.num_blocks)])
    by_first = {
        int(model.neuron_ids(k)[0]): k
        for k in range(model.num_blocks)
        if model.neuron_ids(k).numel()
    }
    dtype, device = old_values[0].dtype if old_values else torch.float32, None
    if old_values:
        device = old_values[0].device
    values, biases, origins = [], [], []
    for b in layout.blocks:
        j = by_first.get(int(b.neuron_ids[0]))
        if j is not None and _reusable(model, j, b, edge_set, bias_set):
            values.append(old_values[j])
            biases.append(old_bias[j])
            origins += [Origin(old_values[j], [], None), Origin(old_bias[j], [], None)]
            continue
        v, ov = _carry(b.edge_ids, b.weight, edges, edge_set, old_values, dtype, device)
        c, oc = _carry(b.neuron_ids, b.bias, neurons, bias_set, old_bias, dtype, device)
        values.append(v)
        biases.append(c)
        origins += [ov, oc]
    new = CompiledGraph(
        layout,
        model.mode,
        dtype=dtype,
        device=device,
        threshold=model.threshold,
        values=values,
        biases=biases,
    )
    new.log_mark = len(g.log)
    new.train(model.training)
    if optimizer is not None:
        old_params = [p for pair in zip(old_values, old_bias) for p in pair]
        new_params = [p for pair in zip(new.values, new.bias) for p in pair]
        carry_optimizer(optimizer, old_params, new_params, origins, [None] * len(new_params))
    return new, optimizer


def _reusable(model: CompiledGraph, j: int, b: BlockLayout, edge_set, bias_set) -> bool:
    if not (_same(model.edge_ids(j), b.edge_ids) and _same(model.neuron_ids(j), b.neuron_ids)):
        return False
    if edge_set.size and np.isin(b.edge_ids, edge_set).any():
        return False
    return not (bias_set.size and np.isin(b.neuron_ids, bias_set).any())
